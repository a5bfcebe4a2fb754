//! A fifo whose creator is killed is removed by the resource tracker (unless persisted).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use multiproc_fifo::Fifo;
use multiproc_testkit::{ChildGuard, child_command, child_line, eventually, role, unique_name};

const LIMIT: Duration = Duration::from_secs(20);

/// Removes a path when dropped (also when the test fails).
struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_killed_creator_s_fifo_is_removed_unless_persisted() {
    const TEST: &str = "a_killed_creator_s_fifo_is_removed_unless_persisted";
    if role().as_deref() == Some("creator") {
        let var = |k| PathBuf::from(std::env::var_os(k).unwrap());
        let _gone = Fifo::create(var("IPC_TEST_GONE"), 0o600).unwrap();
        let mut kept = Fifo::create(var("IPC_TEST_KEPT"), 0o600).unwrap();
        kept.persist();
        // A relative path is registered as the absolute one, whatever the directory later.
        std::env::set_current_dir(std::env::temp_dir()).unwrap();
        let _relative = Fifo::create(var("IPC_TEST_RELATIVE").file_name().unwrap(), 0o600).unwrap();
        std::env::set_current_dir("/").unwrap();
        println!("ready:");
        std::thread::sleep(LIMIT * 3);
        panic!("not killed");
    }
    let tmp = |tag| Removed(std::env::temp_dir().join(unique_name(tag)));
    let (gone, kept, relative) = (tmp("fifo-gone"), tmp("fifo-kept"), tmp("fifo-rel"));
    let mut cmd = child_command(TEST, "creator");
    cmd.env("IPC_TEST_GONE", &gone.0)
        .env("IPC_TEST_KEPT", &kept.0)
        .env("IPC_TEST_RELATIVE", &relative.0)
        .stdout(Stdio::piped());
    let mut child = ChildGuard(cmd.spawn().unwrap());
    child_line(&mut child.0, "ready:", LIMIT);
    let exists = |p: &Path| p.symlink_metadata().is_ok();
    assert!(exists(&gone.0) && exists(&kept.0) && exists(&relative.0));
    child.0.kill().unwrap();
    child.wait(LIMIT);
    assert!(
        eventually(Duration::from_secs(1), || !exists(&gone.0)
            && !exists(&relative.0)),
        "a killed creator's fifo outlived it by a second"
    );
    assert!(exists(&kept.0), "a persisted fifo was removed");
}
