//! A POSIX message queue whose creator is killed is removed by the resource tracker (unless
//! persisted).

use std::process::Stdio;
use std::time::Duration;

use multiproc_queue::MessageQueue;
use multiproc_testkit::{ChildGuard, child_command, child_line, eventually, role, unique_name};

const LIMIT: Duration = Duration::from_secs(20);

/// Removes a queue's name when dropped (also when the test fails).
struct Name(String);

impl Name {
    fn exists(&self) -> bool {
        MessageQueue::open(&self.0).is_ok()
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = MessageQueue::unlink_name(&self.0);
    }
}

#[test]
fn a_killed_creator_s_message_queue_is_removed_unless_persisted() {
    const TEST: &str = "a_killed_creator_s_message_queue_is_removed_unless_persisted";
    if role().as_deref() == Some("creator") {
        let var = |k| std::env::var(k).unwrap();
        let _gone = MessageQueue::create(&var("IPC_TEST_GONE"), 2, 16).unwrap();
        let mut kept = MessageQueue::create(&var("IPC_TEST_KEPT"), 2, 16).unwrap();
        kept.persist();
        println!("ready:");
        std::thread::sleep(LIMIT * 3);
        panic!("not killed");
    }
    let (gone, kept) = (Name(unique_name("mq-gone")), Name(unique_name("mq-kept")));
    let mut cmd = child_command(TEST, "creator");
    cmd.env("IPC_TEST_GONE", &gone.0)
        .env("IPC_TEST_KEPT", &kept.0)
        .stdout(Stdio::piped());
    let mut child = ChildGuard(cmd.spawn().unwrap());
    child_line(&mut child.0, "ready:", LIMIT);
    assert!(gone.exists() && kept.exists());
    child.0.kill().unwrap();
    child.wait(LIMIT);
    assert!(
        eventually(Duration::from_secs(1), || !gone.exists()),
        "a killed creator's message queue outlived it by a second"
    );
    assert!(kept.exists(), "a persisted message queue was removed");
}
