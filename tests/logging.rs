//! `log_to_stderr`: records of the `multiproc` crates reach standard error as Python prints
//! them (`[LEVEL/ProcessName] message`), here a manager's server seeing a client process
//! connect, and go away (killed by `exit` with a proxy it never dropped) holding a reference.

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use multiproc::log::LevelFilter;
use multiproc::manager::{Manager, Registry, Server};
use multiproc_testkit::{ChildGuard, child_command, role};

const LIMIT: Duration = Duration::from_secs(20);
const TEST: &str = "a_manager_s_clients_are_logged_to_stderr";

/// A client process that connects, takes a reference, and exits without giving it back.
fn hold_and_exit(address: String) {
    let m = Manager::connect(address.as_str(), "secret").unwrap();
    let l = m.list([1i64, 2]).unwrap();
    std::mem::forget(l);
    std::process::exit(0);
}

fn serve_and_report() {
    multiproc::log_to_stderr(LevelFilter::Info).unwrap();
    assert!(
        multiproc::log_to_stderr(LevelFilter::Info).is_err(),
        "one logger per process"
    );
    let address = format!("@multiproc-test-log-{}", std::process::id());
    let server = Server::bind(address.as_str(), "secret", Registry::sync()).unwrap();
    std::thread::spawn(move || server.serve_forever());
    let h = multiproc::spawn(hold_and_exit, address).unwrap();
    let pid = h.process().pid().unwrap();
    h.process().join_timeout(LIMIT).unwrap();
    println!("client:{pid}");
    // The server notices the closed connection on its own thread.
    std::thread::sleep(Duration::from_millis(500));
    multiproc::get_logger().flush();
}

#[test]
fn a_manager_s_clients_are_logged_to_stderr() {
    if role().as_deref() == Some("server") {
        serve_and_report();
        return;
    }
    let mut cmd = child_command(TEST, "server");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = ChildGuard(cmd.spawn().unwrap());
    let mut err = String::new();
    let mut out = String::new();
    let mut stderr = child.0.stderr.take().unwrap();
    let mut stdout = child.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let _ = stderr.read_to_string(&mut err);
    let out = reader.join().unwrap();
    assert!(child.wait(LIMIT).success(), "{out}\n{err}");
    let pid = out
        .lines()
        .find_map(|l| l.strip_prefix("client:"))
        .expect("the child's pid");
    assert!(
        err.contains(&format!(
            "[INFO/MainProcess] client process {pid} connected"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "[WARN/MainProcess] client process {pid} went away holding 1 reference(s) to 1 object(s)"
        )),
        "{err}"
    );
}
