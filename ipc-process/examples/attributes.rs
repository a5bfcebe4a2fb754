//! Seed 002, "some attributes and methods of Process": start, join(timeout), name, is_alive,
//! daemon, pid, exitcode (0; N from exit(N); 1 on panic; -N on signal N), sentinel, terminate,
//! kill, close.
//!
//! # Output
//!
//! ```text
//! name: Process-1
//! daemon: false
//! pid before start: None
//! is_alive before start: false
//! exitcode before start: None
//! join before start: the process was never started
//! start twice: a process can only be started once
//! pid after start is set: true
//! is_alive after start: true
//! join(timeout=0.05) ended: false
//! exitcode while running: None
//! close while running: cannot close a process that is still running
//! sentinel became ready: true
//! is_alive after join: false
//! exitcode after a normal end: Some(0)
//! join after close: the process handle was closed
//! exitcode after exit(3): Some(3)
//! exitcode after a panic: Some(1) (Some("boom"))
//! exitcode after terminate: Some(-15)
//! exitcode after kill: Some(-9)
//! child sees: name worker, daemon true
//! named daemon exitcode: Some(0)
//! ```

use std::time::Duration;

use multiproc_process::{Daemon, Error, Process, StartMethod};

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn exit_with(code: i32) {
    std::process::exit(code);
}

fn panics(msg: String) {
    panic!("{msg}");
}

fn whoami(_: ()) {
    let me = multiproc_process::current_process();
    println!("child sees: name {}, daemon {}", me.name, me.daemon);
}

fn main() -> Result<(), Error> {
    let p = Process::new(sleep_ms, 300);
    println!("name: {}", p.name());
    println!("daemon: {}", p.daemon());
    println!("pid before start: {:?}", p.pid());
    println!("is_alive before start: {}", p.is_alive());
    println!("exitcode before start: {:?}", p.exitcode());
    println!("join before start: {}", p.join().unwrap_err());
    p.start()?;
    println!("start twice: {}", p.start().unwrap_err());
    println!("pid after start is set: {}", p.pid().is_some());
    println!("is_alive after start: {}", p.is_alive());
    println!(
        "join(timeout=0.05) ended: {}",
        p.join_timeout(Duration::from_millis(50))?
    );
    println!("exitcode while running: {:?}", p.exitcode());
    println!("close while running: {}", p.close().unwrap_err());
    let sentinel = p.sentinel()?;
    let mut fds = [libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&sentinel),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: `fds` is a valid array of one pollfd; the timeout bounds the wait.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, 10_000) };
    println!("sentinel became ready: {}", ready == 1);
    p.join()?;
    println!("is_alive after join: {}", p.is_alive());
    println!("exitcode after a normal end: {:?}", p.exitcode());
    p.close()?;
    println!("join after close: {}", p.join().unwrap_err());

    let p = Process::new(exit_with, 3);
    p.start()?;
    p.join()?;
    println!("exitcode after exit(3): {:?}", p.exitcode());

    let p = Process::new(panics, "boom".to_string());
    p.start()?;
    p.join()?;
    println!(
        "exitcode after a panic: {:?} ({:?})",
        p.exitcode(),
        p.panic_message()
    );

    let p = Process::new(sleep_ms, 10_000);
    p.start()?;
    p.terminate()?;
    p.join()?;
    println!("exitcode after terminate: {:?}", p.exitcode());

    let p = Process::new(sleep_ms, 10_000);
    p.start()?;
    p.kill()?;
    p.join()?;
    println!("exitcode after kill: {:?}", p.exitcode());

    let p = Process::new(whoami, ())
        .with_name("worker")
        .with_daemon(Daemon::Yes)
        .with_start_method(StartMethod::Spawn);
    p.start()?;
    p.join()?;
    println!("named daemon exitcode: {:?}", p.exitcode());
    Ok(())
}
