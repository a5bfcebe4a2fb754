//! A worker of the distributed task queue served by `task_master` (or by the same program in
//! Python): takes tasks until the queue stays empty for a second, puts each result.
mod common;

use std::time::Duration;

use multiproc_manager::{Error, Manager, QueueProxy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (address, authkey) =
        common::address_and_authkey("127.0.0.1:5000", "abc", &mut common::no_other)?;
    println!("Connect to server {address}...");
    let m = Manager::connect(address.as_str(), authkey.as_str())?;
    let task: QueueProxy<i64> = m.create_as("get_task_queue", ())?;
    let result: QueueProxy<String> = m.create_as("get_result_queue", ())?;
    loop {
        match task.get_timeout(Duration::from_secs(1)) {
            Ok(n) => {
                println!("run task {n} * {n}...");
                match result.put(&format!("{n} * {n} = {}", n * n)) {
                    Ok(()) | Err(Error::Disconnected) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(Error::Empty) => {
                println!("task queue is empty.");
                break;
            }
            // The master got every result and shut its manager down.
            Err(Error::Disconnected) => {
                println!("the master is done.");
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Tell a master that waits for its workers (`--workers N`) that this one is done.
    if let Ok(done) = m.create_as::<QueueProxy<u32>, _>("get_done_queue", ()) {
        let _ = done.put(&std::process::id());
    }
    println!("worker exit.");
    Ok(())
}
