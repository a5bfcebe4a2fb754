//! What crosses between the pool and a worker, and the worker's loop.

use multiproc_core::transfer::PortableFd;
use multiproc_pipe::{Connection, Error as PipeError};
use multiproc_process::RemoteFn;
use serde::{Deserialize, Serialize};

/// What the pool tells a worker.
///
/// `Stop` is explicit rather than the end of the connection: a worker started by `fork`
/// inherits the pool's ends of the workers forked before it, so closing a connection does not
/// always reach its worker.
#[derive(Serialize, Deserialize)]
pub(crate) enum ToWorker {
    /// Tasks to run in order; one [`Done`] answers them all.
    Tasks(Vec<Task>),
    Stop,
}

/// A batch of items for one function.
#[derive(Serialize, Deserialize)]
pub(crate) struct Task {
    pub id: u64,
    pub f: RemoteFn,
    /// The encoded `Vec<A>` and the descriptors it owns.
    pub items: Vec<u8>,
    pub fds: Vec<PortableFd>,
}

/// One task's outcome: the encoded `Vec<Result<R, String>>`, or why the batch could not run.
pub(crate) type Outcome = Result<(Vec<u8>, Vec<PortableFd>), String>;

/// The worker → pool message: the outcome of each task of one `Tasks` message, by task id.
#[derive(Serialize, Deserialize)]
pub(crate) struct Done {
    pub results: Vec<(u64, Outcome)>,
}

/// How a worker starts: its connection, an optional initializer, and its task limit.
#[derive(Serialize, Deserialize)]
pub(crate) struct WorkerArgs {
    pub conn: Connection,
    pub init: Option<(RemoteFn, Vec<u8>, Vec<PortableFd>)>,
    pub max_tasks: Option<u64>,
}

/// The worker's main loop: run the initializer, then tasks until the pool closes the
/// connection (or the task limit is reached).
pub(crate) fn worker_main(args: WorkerArgs) {
    let WorkerArgs {
        mut conn,
        init,
        max_tasks,
    } = args;
    if let Some((f, bytes, fds)) = init {
        let fds = fds.into_iter().map(PortableFd::into_inner).collect();
        // SAFETY: the pool made `f` with `RemoteFn::new` in a process of this executable and
        // sent it over a private connection.
        if let Err(e) = unsafe { f.call(&bytes, fds) } {
            eprintln!("ipc-pool: initializer failed: {e}");
            std::process::exit(1);
        }
    }
    let mut done = 0u64;
    loop {
        let tasks: Vec<Task> = match conn.recv() {
            Ok(ToWorker::Tasks(t)) => t,
            Ok(ToWorker::Stop) | Err(PipeError::Disconnected) => return,
            Err(e) => {
                eprintln!("ipc-pool worker: {e}");
                std::process::exit(1);
            }
        };
        let mut results = Vec::with_capacity(tasks.len());
        for task in tasks {
            let fds = task.fds.into_iter().map(PortableFd::into_inner).collect();
            // SAFETY: as for the initializer: `f` comes from `RemoteFn::new_batch` in the pool.
            let r = unsafe { task.f.call(&task.items, fds) }.map(|env| {
                (
                    env.bytes,
                    env.fds.into_iter().map(PortableFd::new).collect(),
                )
            });
            results.push((task.id, r));
            done += 1;
        }
        if conn.send(&Done { results }).is_err() {
            return;
        }
        if max_tasks.is_some_and(|m| done >= m) {
            return;
        }
    }
}
