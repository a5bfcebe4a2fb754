//! What crosses between the pool and a worker, and the worker's loop.

use ipc_core::transfer::PortableFd;
use ipc_pipe::{Connection, Error as PipeError};
use ipc_process::RemoteFn;
use serde::{Deserialize, Serialize};

/// What the pool tells a worker.
///
/// `Stop` is explicit rather than the end of the connection: a worker started by `fork`
/// inherits the pool's ends of the workers forked before it, so closing a connection does not
/// always reach its worker.
#[derive(Serialize, Deserialize)]
pub(crate) enum ToWorker {
    Task(Task),
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

/// The worker → pool message: the encoded `Vec<Result<R, String>>`, or why the batch could not
/// run at all.
#[derive(Serialize, Deserialize)]
pub(crate) struct Done {
    pub id: u64,
    pub results: Result<(Vec<u8>, Vec<PortableFd>), String>,
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
        let task: Task = match conn.recv() {
            Ok(ToWorker::Task(t)) => t,
            Ok(ToWorker::Stop) | Err(PipeError::Disconnected) => return,
            Err(e) => {
                eprintln!("ipc-pool worker: {e}");
                std::process::exit(1);
            }
        };
        let fds = task.fds.into_iter().map(PortableFd::into_inner).collect();
        // SAFETY: as for the initializer: `f` comes from `RemoteFn::new_batch` in the pool.
        let results = unsafe { task.f.call(&task.items, fds) }.map(|env| {
            (
                env.bytes,
                env.fds.into_iter().map(PortableFd::new).collect(),
            )
        });
        if conn
            .send(&Done {
                id: task.id,
                results,
            })
            .is_err()
        {
            return;
        }
        done += 1;
        if max_tasks.is_some_and(|m| done >= m) {
            return;
        }
    }
}
