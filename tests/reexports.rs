//! Every re-export the umbrella crate promises is there, under the names the docs use.

#[cfg(feature = "core")]
#[test]
fn core_is_reexported() {
    // Modules.
    let _: fn(usize) -> std::io::Result<ipc::core::SharedMapping> =
        ipc::core::SharedMapping::anonymous;
    let _: fn() -> std::io::Result<(ipc::transfer::Channel, ipc::transfer::Channel)> =
        ipc::transfer::Channel::pair;
    let _ = ipc::frame::DEFAULT_MAX_FRAME;
    let _ = ipc::futex::WaitResult::TimedOut;
    // Root names are the same items as the module paths.
    let map: ipc::SharedMapping = ipc::core::SharedMapping::anonymous(64).unwrap();
    assert_eq!(map.len(), 64);
    let err: ipc::CoreError = ipc::core::Error::Closed;
    assert_eq!(err.to_string(), "the peer closed the connection");
}

#[cfg(feature = "process")]
#[test]
fn process_is_reexported() {
    fn double(x: u32) -> u32 {
        x * 2
    }
    let ctx: ipc::Context = ipc::get_context(ipc::StartMethod::Forkserver);
    let h: ipc::JoinHandle<u32> = ctx.spawn(double, 21).unwrap();
    assert_eq!(h.join().unwrap(), 42);
    let p: ipc::Process = ipc::process::Process::new(double, 1);
    assert!(p.name().starts_with("Process-"));
    assert_eq!(ipc::current_process().name, "MainProcess");
    let _: fn(ipc::StartMethod) = ipc::set_start_method;
    let _ = ipc::spawn::<u32, u32>;
}

#[cfg(feature = "sync")]
#[test]
fn sync_is_reexported() {
    let lock: ipc::Lock = ipc::sync::Lock::new().unwrap();
    drop(lock.lock().unwrap());
    let _: fn() -> std::io::Result<ipc::RLock> = ipc::sync::RLock::new;
    let _: fn(u32) -> std::io::Result<ipc::Semaphore> = ipc::sync::Semaphore::new;
    let _: fn(u32) -> std::io::Result<ipc::BoundedSemaphore> = ipc::sync::BoundedSemaphore::new;
    let _: fn() -> std::io::Result<ipc::Event> = ipc::sync::Event::new;
    let _: fn() -> std::io::Result<ipc::Condition> = ipc::sync::Condition::new;
    let _: fn(u32, Option<std::time::Duration>) -> std::io::Result<ipc::Barrier> =
        ipc::sync::Barrier::new;
    let _ = ipc::BrokenBarrier;
    let died: ipc::OwnerDied<u8> = ipc::sync::OwnerDied(1);
    assert_eq!(died.to_string(), "the previous owner died holding the lock");
}

#[cfg(feature = "rpc")]
#[test]
fn rpc_is_reexported() {
    let _: fn(&str) -> Result<ipc::rpc::Client, ipc::rpc::Error> = ipc::rpc::Client::new;
    let _: fn() -> std::io::Result<ipc::rpc::Server> = ipc::rpc::Server::new;
    let v = ipc::rpc::to_value(&(2, "x")).unwrap();
    assert_eq!(v.to_string(), r#"[2, "x"]"#);
    let f = ipc::rpc::Fault::python("TypeError", "no");
    assert_eq!(f.string, "<class 'TypeError'>:no");
}

#[cfg(feature = "pipe")]
#[test]
fn pipe_is_reexported() {
    let (mut a, mut b): (ipc::Connection, ipc::Connection) = ipc::Pipe(true).unwrap();
    a.send(&7u8).unwrap();
    assert_eq!(ipc::wait(&[&b], None).unwrap(), vec![0]);
    assert_eq!(b.recv::<u8>().unwrap(), 7);
    let _ = ipc::pipe::pipe;
}

#[cfg(feature = "fifo")]
#[test]
fn fifo_is_reexported() {
    let path = std::env::temp_dir().join(format!("ipc-test-reexport-fifo-{}", std::process::id()));
    let f: ipc::Fifo = ipc::fifo::Fifo::create(&path, 0o600).unwrap();
    assert!(path.exists());
    drop(f);
    assert!(!path.exists());
    let _: fn(
        &str,
        &str,
        Option<std::time::Duration>,
    ) -> Result<ipc::fifo::Duplex, ipc::fifo::Error> =
        |a, b, t| ipc::fifo::Duplex::connect(a, b, t);
}

#[cfg(feature = "queue")]
#[test]
fn queue_is_reexported() {
    let q: ipc::Queue<u32> = ipc::queue::Queue::new().unwrap();
    q.put(7).unwrap();
    assert_eq!(q.get().unwrap(), 7);
    let _: fn() -> std::io::Result<ipc::JoinableQueue<u8>> = ipc::queue::JoinableQueue::new;
    let _: fn() -> std::io::Result<ipc::SimpleQueue<u8>> = ipc::queue::SimpleQueue::new;
    let full: ipc::queue::PutError<u8> = ipc::queue::PutError::Full(1);
    assert_eq!(full.to_string(), "the queue is full");
    let _ = ipc::queue::MessageQueue::limits;
}

#[cfg(feature = "shm")]
#[test]
fn shm_is_reexported() {
    let v: ipc::Value<i32> = ipc::shm::Value::new(7).unwrap();
    v.set(49);
    assert_eq!(v.get(), 49);
    let a: ipc::Array<u8> = ipc::shm::Array::new(b"hi").unwrap();
    assert_eq!(a.value(), b"hi");
    let r: ipc::RawValue<bool> = ipc::shm::RawValue::new(true).unwrap();
    assert!(r.get());
    let _: fn(usize) -> std::io::Result<ipc::RawArray<f64>> = ipc::shm::RawArray::zeroed;
    let _: fn(&str) -> Result<ipc::SharedMemory, ipc::shm::Error> = ipc::shm::SharedMemory::open;
    fn shareable<T: ipc::Shareable>() {}
    fn atomic<T: ipc::AtomicElement>() {}
    shareable::<[f64; 2]>();
    atomic::<u64>();
}

#[cfg(feature = "pool")]
#[test]
fn pool_is_reexported() {
    fn inc(x: u8) -> u8 {
        x + 1
    }
    let pool: ipc::Pool = ipc::pool::Pool::new(1).unwrap();
    let r: ipc::AsyncResult<u8> = pool.apply_async(inc, 1).unwrap();
    assert_eq!(r.get().unwrap(), 2);
    let _ = ipc::pool::TaskError::Timeout;
}
