//! The `fork` start method, in a test binary without the libtest harness (`harness = false`),
//! so that this process has one thread and forking it is sound. Also the POSIX message queue.

use std::time::Duration;

use multiproc_process::{Process, StartMethod};
use multiproc_queue::{Error, JoinableQueue, MessageQueue, Queue, SimpleQueue};

const LIMIT: Duration = Duration::from_secs(20);

fn child(
    (q, j, s, mq): (
        Queue<String>,
        JoinableQueue<u32>,
        SimpleQueue<u8>,
        MessageQueue,
    ),
) {
    q.put(format!("hello from {}", std::process::id())).unwrap();
    let x = j.get().unwrap();
    j.task_done().unwrap();
    s.put(x as u8 + 1).unwrap();
    mq.send(b"by name", 3).unwrap();
}

fn handles_reach_a_forked_child() {
    let q = Queue::new().unwrap();
    let j = JoinableQueue::new().unwrap();
    let s = SimpleQueue::new().unwrap();
    let name = format!("/{}", multiproc_testkit::unique_name("mq"));
    let mq = MessageQueue::create(&name, 4, 128).unwrap();
    let p = Process::new(
        child,
        (
            q.clone(),
            j.clone(),
            s.clone(),
            MessageQueue::open(&name).unwrap(),
        ),
    )
    .with_start_method(StartMethod::Fork);
    p.start().unwrap();
    j.put(41).unwrap();
    assert!(j.join_timeout(LIMIT));
    assert!(p.join_timeout(LIMIT).unwrap());
    assert_eq!(p.exitcode(), Some(0));
    assert_eq!(
        q.get_nowait().unwrap(),
        format!("hello from {}", p.pid().unwrap())
    );
    assert_eq!(s.get().unwrap(), 42);
    assert_eq!(mq.try_recv_vec().unwrap(), (b"by name".to_vec(), 3));
}

fn message_queue_errors_and_limits() {
    let limits = MessageQueue::limits().unwrap();
    assert!(limits.max_msgs >= 1 && limits.max_msg_size >= 128);
    let name = format!("/{}", multiproc_testkit::unique_name("mq"));
    let mq = MessageQueue::create(&name, 2, 16).unwrap();
    assert!(matches!(
        MessageQueue::create(&name, 2, 16),
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists
    ));
    let a = mq.attributes().unwrap();
    assert_eq!((a.max_msgs, a.msg_size, a.current_msgs), (2, 16, 0));
    assert!(matches!(
        mq.send(&[0; 17], 0),
        Err(Error::TooLarge { len: 17, max: 16 })
    ));
    mq.send(b"a", 0).unwrap();
    mq.try_send(b"b", 5).unwrap();
    assert!(matches!(mq.try_send(b"c", 0), Err(Error::Full)));
    assert!(matches!(
        mq.send_timeout(b"c", 0, Duration::from_millis(20)),
        Err(Error::Full)
    ));
    let mut small = [0u8; 8];
    assert!(matches!(
        mq.recv(&mut small),
        Err(Error::BufferTooSmall { len: 8, need: 16 })
    ));
    let mut buf = [0u8; 16];
    assert_eq!(mq.recv_timeout(&mut buf, LIMIT).unwrap(), (1, 5));
    assert_eq!(mq.try_recv(&mut buf).unwrap(), (1, 0));
    assert!(matches!(
        mq.recv_timeout(&mut buf, Duration::from_millis(20)),
        Err(Error::Empty)
    ));
    let too_many = limits.max_msgs as usize + 1;
    match MessageQueue::create(&format!("{name}-big"), too_many, 16) {
        Err(e @ Error::SizeLimit { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("msg_max"), "{msg}");
        }
        Ok(_) => {} // a privileged user may exceed msg_max
        Err(e) => panic!("{e}"),
    }
    drop(mq);
    assert!(matches!(
        MessageQueue::open(&name),
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound
    ));
    assert!(
        MessageQueue::unlink_name(&name).is_err(),
        "the creator removed it"
    );
}

fn main() {
    multiproc_testkit::run_single_threaded(&[
        ("handles_reach_a_forked_child", handles_reach_a_forked_child),
        (
            "message_queue_errors_and_limits",
            message_queue_errors_and_limits,
        ),
    ]);
}
