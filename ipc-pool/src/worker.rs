//! What crosses between the pool and a worker, and the worker's loop.

use multiproc_core::transfer::{self, PortableFd};
use multiproc_pipe::{Connection, Error as PipeError};
use multiproc_process::RemoteFn;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::lane::{self, Finished, Region, WorkerLane};

/// What the pool tells a worker over the connection (each message announced in the lane
/// first, see [`lane`]).
///
/// The pool says stop through the lane rather than by closing the connection: a worker
/// started by `fork` inherits the pool's ends of the workers forked before it, so closing a
/// connection does not always reach its worker.
#[derive(Serialize, Deserialize)]
pub(crate) enum ToWorker {
    /// Tasks to run in order; one [`FromWorker::Done`] answers them all.
    Tasks(Vec<Task>),
}

/// A batch of items for one function.
#[derive(Serialize, Deserialize)]
pub(crate) struct Task {
    pub id: u64,
    pub f: RemoteFn,
    /// The encoded `Vec<A>` and the descriptors it owns.
    #[serde(with = "serde_bytes")]
    pub items: Vec<u8>,
    pub fds: Vec<PortableFd>,
}

/// One task's outcome: the encoded `Vec<Result<R, String>>`, or why the batch could not run.
/// (Bytes travel as one block, not as a sequence of numbers.)
pub(crate) type Outcome = Result<(ByteBuf, Vec<PortableFd>), String>;

/// What a worker tells the pool over the connection.
#[derive(Serialize, Deserialize)]
pub(crate) enum FromWorker {
    /// The outcome of each task of one `Tasks` message, by task id.
    Done(Vec<(u64, Outcome)>),
    /// The lane's task is finished and its result is in the lane, and nobody was waiting for it.
    LaneReady,
    /// The lane's task is finished; its result did not fit the lane (or carries descriptors).
    LaneSpilled(Outcome),
}

/// How a worker starts: its connection and lane, an optional initializer, and its task limit.
#[derive(Serialize, Deserialize)]
pub(crate) struct WorkerArgs {
    pub conn: Connection,
    pub lane: Region,
    pub init: Option<crate::dispatch::Init>,
    pub max_tasks: Option<u64>,
}

/// An error and its sources as one line (for a message that crosses to another process).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Runs one task here.
fn run(task: Task) -> Outcome {
    let fds = task.fds.into_iter().map(PortableFd::into_inner).collect();
    // SAFETY: the pool made `f` with `RemoteFn::new_batch` in a process of this executable and
    // sent it over a private connection (or the lane, a private mapping).
    unsafe { task.f.call(&task.items, fds) }
        .map(|env| {
            (
                ByteBuf::from(env.bytes),
                env.fds.into_iter().map(PortableFd::new).collect(),
            )
        })
        // The message crosses to the pool, which has no use for the typed cause.
        .map_err(|e| error_chain(&e))
}

/// Runs the lane's task and hands its result back: in the lane if it fits, over the
/// connection otherwise. `false` when the connection is gone.
fn run_lane_task(lane: &WorkerLane, conn: &mut Connection, seq: u32, bytes: &[u8]) -> bool {
    let outcome = match transfer::from_envelope::<Task>(bytes, Vec::new()) {
        Ok(task) => run(task),
        Err(e) => Err(format!("cannot decode the task: {e}")),
    };
    match outcome {
        Ok((bytes, fds)) if fds.is_empty() && bytes.len() <= lane::CAP => {
            match lane.finish(seq, &bytes) {
                Finished::Woken => true,
                Finished::Unclaimed => conn.send(&FromWorker::LaneReady).is_ok(),
            }
        }
        other => {
            lane.spill(seq);
            conn.send(&FromWorker::LaneSpilled(other)).is_ok()
        }
    }
}

/// The worker's main loop: run the initializer, then tasks until the pool says stop (or the
/// task limit is reached). It sleeps only in the lane, on its doorbell.
pub(crate) fn worker_main(args: WorkerArgs) {
    let WorkerArgs {
        mut conn,
        lane,
        init,
        max_tasks,
    } = args;
    if let Some((f, bytes, fds)) = init {
        let fds = fds.into_iter().map(PortableFd::into_inner).collect();
        // SAFETY: the pool made `f` with `RemoteFn::new` in a process of this executable and
        // sent it over a private connection.
        if let Err(e) = unsafe { f.call(&bytes, fds) } {
            eprintln!("multiproc-pool: initializer failed: {}", error_chain(&e));
            std::process::exit(1);
        }
    }
    let lane = WorkerLane::new(lane);
    let mut done = 0u64;
    let limit_reached = |done: u64| max_tasks.is_some_and(|m| done >= m);
    loop {
        let seen = lane.bell();
        let messages = lane.take_messages();
        for _ in 0..messages {
            let tasks: Vec<Task> = match conn.recv() {
                Ok(ToWorker::Tasks(t)) => t,
                Err(PipeError::Disconnected) => return,
                Err(e) => {
                    eprintln!("multiproc-pool worker: {e}");
                    std::process::exit(1);
                }
            };
            done += tasks.len() as u64;
            let results = tasks.into_iter().map(|t| (t.id, run(t))).collect();
            if conn.send(&FromWorker::Done(results)).is_err() || limit_reached(done) {
                return;
            }
        }
        if let Some((seq, bytes)) = lane.take_task() {
            done += 1;
            if !run_lane_task(&lane, &mut conn, seq, &bytes) || limit_reached(done) {
                return;
            }
            continue;
        }
        if lane.stopped() {
            return;
        }
        if messages == 0 {
            lane.sleep(seen);
        }
    }
}
