//! The master of a distributed task queue (seed 000's "分布式进程" pattern): serves a task
//! queue and a result queue over TCP, puts ten tasks, and prints every result a worker on
//! another process or machine (`task_worker`) sends back. With `--workers N` it also waits for
//! N workers to say goodbye before it shuts the manager down, so that none meets it gone.
//!
//! # Output
//!
//! ```text
//! $ task_master --address 127.0.0.1:0 --authkey abc --workers 2 &  # any order
//! listening on *
//! Result: 1 * 1 = 1
//! Result: 2 * 2 = 4
//! Result: 3 * 3 = 9
//! Result: 4 * 4 = 16
//! Result: 5 * 5 = 25
//! Result: 6 * 6 = 36
//! Result: 7 * 7 = 49
//! Result: 8 * 8 = 64
//! Result: 9 * 9 = 81
//! Result: 10 * 10 = 100
//! master exit.
//! $ task_worker --address $ADDRESS --authkey abc &
//! Connect to server *
//! worker exit.
//! $ task_worker --address $ADDRESS --authkey abc &
//! Connect to server *
//! worker exit.
//! $ wait
//! ```
mod common;

use std::time::Duration;

use multiproc_manager::{Manager, QueueProxy, Registrar, Registry, ServerObject};

struct QueueManager;

impl Registrar for QueueManager {
    fn registry() -> Registry {
        let mut r = Registry::new();
        r.register_object("get_task_queue", ServerObject::queue(0));
        r.register_object("get_result_queue", ServerObject::queue(0));
        r.register_object("get_done_queue", ServerObject::queue(0));
        r
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut workers = 0usize;
    let (address, authkey) =
        common::address_and_authkey("127.0.0.1:5000", "abc", &mut |a, rest| match a {
            "--workers" => {
                let n = rest.next().ok_or("--workers needs a value")?;
                workers = n.parse().map_err(|e| format!("--workers {n}: {e}"))?;
                Ok(())
            }
            other => common::no_other(other, rest),
        })?;
    let manager = Manager::builder()
        .address(address)
        .authkey(authkey.as_str())
        .start_with::<QueueManager>()?;
    println!("listening on {}", manager.address());
    let task: QueueProxy<i64> = manager.create_as("get_task_queue", ())?;
    let result: QueueProxy<String> = manager.create_as("get_result_queue", ())?;
    for n in 1..=10 {
        println!("Put task {n}...");
        task.put(&n)?;
    }
    println!("Try get results...");
    for _ in 0..10 {
        let r = result.get_timeout(Duration::from_secs(30))?;
        println!("Result: {r}");
    }
    let done: QueueProxy<u32> = manager.create_as("get_done_queue", ())?;
    for _ in 0..workers {
        let pid = done.get_timeout(Duration::from_secs(30))?;
        println!("worker {pid} said goodbye.");
    }
    manager.shutdown()?;
    println!("master exit.");
    Ok(())
}
