//! Every re-export the umbrella crate promises is there, under the names the docs use.

#[cfg(feature = "core")]
#[test]
fn core_is_reexported() {
    // Modules.
    let _: fn(usize) -> std::io::Result<multiproc::core::SharedMapping> =
        multiproc::core::SharedMapping::anonymous;
    let _: fn() -> std::io::Result<(multiproc::transfer::Channel, multiproc::transfer::Channel)> =
        multiproc::transfer::Channel::pair;
    let _ = multiproc::stream::DEFAULT_MAX_MESSAGE;
    let _ = multiproc::futex::WaitResult::TimedOut;
    // Root names are the same items as the module paths.
    let map: multiproc::SharedMapping = multiproc::core::SharedMapping::anonymous(64).unwrap();
    assert_eq!(map.len(), 64);
    let err: multiproc::CoreError = multiproc::core::Error::Disconnected { mid_message: false };
    assert_eq!(err.to_string(), "the peer closed its end");
}

#[cfg(feature = "process")]
#[test]
fn process_is_reexported() {
    fn double(x: u32) -> u32 {
        x * 2
    }
    let ctx: multiproc::Context = multiproc::get_context(multiproc::StartMethod::Forkserver);
    let h: multiproc::JoinHandle<u32> = ctx.spawn(double, 21).unwrap();
    assert_eq!(h.join().unwrap(), 42);
    let p: multiproc::Process = multiproc::process::Process::new(double, 1);
    assert!(p.name().starts_with("Process-"));
    assert_eq!(multiproc::current_process().name, "MainProcess");
    let _: fn(multiproc::StartMethod) -> Result<(), multiproc::process::Error> =
        multiproc::set_start_method;
    let _ = multiproc::spawn::<u32, u32>;
}

#[cfg(feature = "sync")]
#[test]
fn sync_is_reexported() {
    let lock: multiproc::Lock = multiproc::sync::Lock::new().unwrap();
    drop(lock.lock().unwrap());
    let _: fn() -> std::io::Result<multiproc::RLock> = multiproc::sync::RLock::new;
    let _: fn(u32) -> std::io::Result<multiproc::Semaphore> = multiproc::sync::Semaphore::new;
    let _: fn(u32) -> std::io::Result<multiproc::BoundedSemaphore> =
        multiproc::sync::BoundedSemaphore::new;
    let _: fn() -> std::io::Result<multiproc::Event> = multiproc::sync::Event::new;
    let _: fn() -> std::io::Result<multiproc::Condition> = multiproc::sync::Condition::new;
    let _: fn(u32) -> std::io::Result<multiproc::Barrier> = multiproc::sync::Barrier::new;
    let _ = multiproc::BrokenBarrier;
    let died: multiproc::OwnerDied<u8> = multiproc::sync::OwnerDied(1);
    assert_eq!(died.to_string(), "the previous owner died holding the lock");
}

#[cfg(feature = "rpc")]
#[test]
fn rpc_is_reexported() {
    let _: fn(&str) -> Result<multiproc::rpc::Client, multiproc::rpc::Error> =
        multiproc::rpc::Client::new;
    let _: fn() -> std::io::Result<multiproc::rpc::Server> = multiproc::rpc::Server::new;
    let v = multiproc::rpc::to_value(&(2, "x")).unwrap();
    assert_eq!(v.to_string(), r#"[2, "x"]"#);
    let f = multiproc::rpc::Fault::python("TypeError", "no");
    assert_eq!(f.string, "<class 'TypeError'>:no");
}

#[cfg(feature = "pipe")]
#[test]
fn pipe_is_reexported() {
    let (mut a, mut b): (multiproc::Connection, multiproc::Connection) = multiproc::pipe().unwrap();
    a.send(&7u8).unwrap();
    assert_eq!(multiproc::wait(&[&b]).unwrap(), vec![0]);
    assert_eq!(b.recv::<u8>().unwrap(), 7);
    let _ = multiproc::pipe::pipe;
    let _: Option<(multiproc::pipe::Listener, multiproc::pipe::Client)> = None;
}

#[cfg(feature = "fifo")]
#[test]
fn fifo_is_reexported() {
    let path = std::env::temp_dir().join(format!("ipc-test-reexport-fifo-{}", std::process::id()));
    let f: multiproc::Fifo = multiproc::fifo::Fifo::create(&path, 0o600).unwrap();
    assert!(path.exists());
    drop(f);
    assert!(!path.exists());
    let _: fn(
        &str,
        &str,
        std::time::Duration,
    ) -> Result<multiproc::fifo::Duplex, multiproc::fifo::Error> =
        |a, b, t| multiproc::fifo::Duplex::connect_timeout(a, b, t);
}

#[cfg(feature = "queue")]
#[test]
fn queue_is_reexported() {
    let q: multiproc::Queue<u32> = multiproc::queue::Queue::new().unwrap();
    q.put(7).unwrap();
    assert_eq!(q.get().unwrap(), 7);
    let _: fn() -> std::io::Result<multiproc::JoinableQueue<u8>> =
        multiproc::queue::JoinableQueue::new;
    let _: fn() -> std::io::Result<multiproc::SimpleQueue<u8>> = multiproc::queue::SimpleQueue::new;
    let full: multiproc::queue::PutError<u8> = multiproc::queue::PutError::Full(1);
    assert_eq!(full.to_string(), "the queue is full");
    let _ = multiproc::queue::MessageQueue::limits;
}

#[cfg(feature = "shm")]
#[test]
fn shm_is_reexported() {
    let v: multiproc::Value<i32> = multiproc::shm::Value::new(7).unwrap();
    v.set(49);
    assert_eq!(v.get(), 49);
    let a: multiproc::Array<u8> = multiproc::shm::Array::new(b"hi").unwrap();
    assert_eq!(a.value(), b"hi");
    let r: multiproc::RawValue<bool> = multiproc::shm::RawValue::new(true).unwrap();
    assert!(r.get());
    let _: fn(usize) -> std::io::Result<multiproc::RawArray<f64>> =
        multiproc::shm::RawArray::zeroed;
    let _: fn(&str) -> Result<multiproc::SharedMemory, multiproc::shm::Error> =
        multiproc::shm::SharedMemory::open;
    fn shareable<T: multiproc::Shareable>() {}
    fn atomic<T: multiproc::AtomicElement>() {}
    shareable::<[f64; 2]>();
    atomic::<u64>();
    #[derive(multiproc::Shareable, Clone, Copy, Debug, PartialEq)]
    #[shareable(crate = multiproc::shm)]
    #[repr(C)]
    struct Point {
        x: f64,
        y: f64,
    }
    let p = multiproc::Value::new(Point { x: 1.0, y: 2.0 }).unwrap();
    assert_eq!(p.get(), Point { x: 1.0, y: 2.0 });
    let sl: multiproc::ShareableList = multiproc::shm::ShareableList::new([1, 2]).unwrap();
    assert_eq!(sl.get(1).unwrap(), multiproc::ListItem::Int(2));
}

#[cfg(feature = "pool")]
#[test]
fn pool_is_reexported() {
    fn inc(x: u8) -> u8 {
        x + 1
    }
    let pool: multiproc::Pool = multiproc::pool::Pool::new(1).unwrap();
    let r: multiproc::AsyncResult<u8> = pool.apply_async(inc, 1).unwrap();
    assert_eq!(r.get().unwrap(), 2);
    let _ = multiproc::pool::TaskError::Timeout;
}

#[cfg(feature = "manager")]
#[test]
fn manager_is_reexported() {
    let m: multiproc::Manager = multiproc::manager::Manager::start().unwrap();
    let l: multiproc::manager::ListProxy<u8> = m.list([1u8, 2]).unwrap();
    assert_eq!(l.repr().unwrap(), "[1, 2]");
    let v = multiproc::manager::to_value(&("a", None::<u8>)).unwrap();
    assert_eq!(v.to_string(), "('a', None)");
    let _: fn() -> multiproc::manager::Registry = multiproc::manager::Registry::sync;
    m.shutdown().unwrap();
}

/// A type served by a manager, written against the umbrella crate alone.
#[cfg(feature = "manager")]
pub struct Tally(u32);

#[cfg(feature = "manager")]
#[multiproc::shared(crate = multiproc::manager)]
impl Tally {
    /// Counts one.
    pub fn bump(&mut self) -> u32 {
        self.0 += 1;
        self.0
    }
}

#[cfg(feature = "manager")]
#[test]
fn shared_works_through_the_umbrella() {
    struct R;
    impl multiproc::manager::Registrar for R {
        fn registry() -> multiproc::manager::Registry {
            let mut r = multiproc::manager::Registry::new();
            r.register(|start: u32| Tally(start));
            r
        }
    }
    let m = multiproc::Manager::builder().start_with::<R>().unwrap();
    let t: TallyProxy = m.create::<Tally, _>(41).unwrap();
    assert_eq!(t.bump().unwrap(), 42);
}
