//! A tour of `multiproc`: every crate at work, each across processes, in one program.
//!
//! ```text
//! cargo run --release --example tour
//! ```
//!
//! # Output
//!
//! ```text
//! multiproc tour (pid *)
//! [core] message round trip: (42, None, "hello")
//! [core] 4 bytes, then a cut-off message is an error: the peer went away in the middle of a message
//! [core] child * woke us through a futex in a shared memfd page after *
//! [core] and wrote through the pipe end we sent: hello from the child
//! [process] fork       child * returned 30 in *
//! [process] spawn      child * returned 30 in *
//! [process] forkserver child * returned 30 in *
//! [sync+shm+queue] 4 children added their squares under one Lock: total 14
//! [queue] their reports: [(0, 0), (1, 1), (2, 4), (3, 9)]
//! [pipe] HELLO THROUGH A PIPE
//! [pool] map(square_of, 1..=8) = [1, 4, 9, 16, 25, 36, 49, 64]
//! [fifo] read from a named pipe: hello through a fifo
//! [pipe] a Client on 127.0.0.1:* passed the key's challenge and said: hello, listener
//! [manager] a list in the manager, after a child appended: [1, 2, 3, 42]
//! [rpc] add(2, 3) over XML-RPC = 5
//! tour done
//! ```

use std::io::Read;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use multiproc::Deadline;
use multiproc::stream::{Endpoint, Framing};
use multiproc::transfer::{PortableFd, inherited_channel, spawn_with_channel};
use multiproc::{SharedMapping, futex};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: when the variable is set, this process was started by `spawn_with_channel` below
    // and nothing else claims the descriptor.
    if let Some(mut ch) = unsafe { inherited_channel() }? {
        return Ok(child(&mut ch)?);
    }
    println!("multiproc tour (pid {})", std::process::id());

    // 1. Messages: a value over a framed endpoint; a message its sender cut off is a typed
    //    error.
    let (mut a, mut b) = Endpoint::pair(Framing::Native)?;
    a.send(&(42u32, None::<u8>, "hello"))?;
    let v: (u32, Option<u8>, String) = b.recv()?;
    println!("[core] message round trip: {v:?}");
    a.send_bytes(b"lost")?;
    let whole = b.recv_bytes_until(multiproc::Deadline::Forever)?;
    // Half of a header, then the sender is gone.
    multiproc::transfer::send_fds(&a, &[9, 0, 0, 0], &[])?;
    drop(a);
    let bad = b.recv::<String>().unwrap_err();
    println!(
        "[core] {} bytes, then a cut-off message is an error: {bad}",
        whole.len()
    );

    // 2. A fresh process (exec, not fork) gets a shared page and a pipe end over a channel,
    //    then wakes us through a futex in that page.
    let page = SharedMapping::memfd("tour", 4096)?;
    let (r, w) = multiproc::core::fd::pipe()?;
    let (mut kid, mut ch) = spawn_with_channel(Command::new(std::env::current_exe()?))?;
    let t = Instant::now();
    ch.send(&(&page, PortableFd::new(w)))?;
    let word = page.atomic_u32(0);
    while word.load(Ordering::Acquire) == 0 {
        futex::wait(word, 0, Deadline::after(Duration::from_secs(10)));
    }
    println!(
        "[core] child {} woke us through a futex in a shared memfd page after {:?}",
        word.load(Ordering::Acquire),
        t.elapsed()
    );
    let mut text = String::new();
    std::fs::File::from(r).read_to_string(&mut text)?;
    println!("[core] and wrote through the pipe end we sent: {text}");
    kid.wait()?;

    // 3. Processes: the same function under each start method, returning a value.
    for method in [
        multiproc::StartMethod::Fork,
        multiproc::StartMethod::Spawn,
        multiproc::StartMethod::Forkserver,
    ] {
        let t = Instant::now();
        let h = multiproc::get_context(method).spawn(square_sum, vec![1, 2, 3, 4])?;
        let pid = h.process().pid().unwrap_or(0);
        let v = h.join()?;
        println!(
            "[process] {:<10} child {pid} returned {v} in {:?}",
            method.name(),
            t.elapsed()
        );
    }
    // 4. A lock, a shared array and a queue, handed to children as plain arguments.
    let lock = multiproc::Lock::new()?;
    let total = multiproc::Value::new(0u64)?;
    let results = multiproc::Queue::<(u32, u64)>::new()?;
    let kids: Vec<multiproc::Process> = (0..4)
        .map(|i| {
            multiproc::Process::new(
                add_square,
                (i, lock.clone(), total.clone(), results.clone()),
            )
        })
        .collect();
    for k in &kids {
        k.start()?;
    }
    let mut got: Vec<(u32, u64)> = (0..4)
        .map(|_| results.get_timeout(Duration::from_secs(10)))
        .collect::<Result<_, _>>()?;
    for k in &kids {
        k.join()?;
    }
    got.sort();
    println!(
        "[sync+shm+queue] 4 children added their squares under one Lock: total {}",
        total.get()
    );
    println!("[queue] their reports: {got:?}");

    // 5. A pipe between two processes.
    let (mut here, there) = multiproc::pipe()?;
    let echo = multiproc::Process::new(echo_upper, there);
    echo.start()?;
    here.send(&"hello through a pipe")?;
    println!("[pipe] {}", here.recv::<String>()?);
    echo.join()?;

    // 6. A pool.
    let pool = multiproc::Pool::new(2)?;
    println!(
        "[pool] map(square_of, 1..=8) = {:?}",
        pool.map(square_of, 1..=8u64)?
    );

    // 7. A named pipe: a child writes a message into a fifo that the parent made.
    let path = std::env::temp_dir().join(format!("ipc-example-tour-{}", std::process::id()));
    let fifo = multiproc::Fifo::create(&path, 0o600)?; // removed when `fifo` drops
    let writer = multiproc::Process::new(fifo_writer, path.to_string_lossy().into_owned());
    writer.start()?;
    let mut r = fifo.open_reader_timeout(Duration::from_secs(10))?;
    println!(
        "[fifo] read from a named pipe: {}",
        r.recv::<String>()?.unwrap_or_default()
    );
    writer.join()?;
    drop(fifo);

    // 8. A Listener and a Client (Python's multiprocessing.connection), authenticated by a key.
    let mut listener = multiproc::pipe::Listener::bind(
        "127.0.0.1:0".parse::<multiproc::pipe::Address>()?,
        multiproc::pipe::Framing::Native,
        Some(b"tour key"),
    )?;
    let client = multiproc::Process::new(listener_client, listener.address().to_string());
    client.start()?;
    let mut conn = listener.accept_timeout(Duration::from_secs(10))?;
    println!(
        "[pipe] a Client on {} passed the key's challenge and said: {}",
        listener.address(),
        conn.recv::<String>()?
    );
    client.join()?;

    // 9. A manager: a list kept by a server process, appended to by a child through a proxy.
    let manager = multiproc::Manager::start()?;
    let list = manager.list([1i64, 2, 3])?;
    let appender = multiproc::Process::new(append_42, list.clone());
    appender.start()?;
    appender.join()?;
    println!(
        "[manager] a list in the manager, after a child appended: {:?}",
        list.to_vec()?
    );
    manager.shutdown()?;

    // 10. XML-RPC, which Python's xmlrpc.client and xmlrpc.server speak too.
    let mut server = multiproc::rpc::Server::bind("127.0.0.1:0")?;
    server.register_function("add", |x: i32, y: i32| x + y);
    let running = server.spawn()?;
    let rpc = multiproc::rpc::Client::new(&running.url())?;
    println!(
        "[rpc] add(2, 3) over XML-RPC = {}",
        rpc.call::<i32>("add", (2, 3))?
    );
    running.shutdown();

    println!("tour done");
    Ok(())
}

fn fifo_writer(path: String) {
    let fifo = multiproc::Fifo::open(&path).expect("the fifo exists");
    let mut w = fifo
        .open_writer_timeout(Duration::from_secs(10))
        .expect("a reader comes");
    w.send("hello through a fifo").expect("send");
}

fn listener_client(address: String) {
    let address: multiproc::pipe::Address = address.parse().expect("an address");
    let mut conn = multiproc::pipe::Client::connect(
        &address,
        multiproc::pipe::Framing::Native,
        Some(b"tour key"),
    )
    .expect("connect with the key");
    conn.send(&"hello, listener".to_string()).expect("send");
}

fn append_42(list: multiproc::manager::ListProxy<i64>) {
    list.append(&42).expect("append");
}

fn add_square(
    (i, lock, total, out): (
        u32,
        multiproc::Lock,
        multiproc::Value<u64>,
        multiproc::Queue<(u32, u64)>,
    ),
) {
    let sq = u64::from(i * i);
    {
        let _g = lock.lock().unwrap_or_else(|died| died.into_inner());
        total.update(|t| *t += sq);
    }
    out.put((i, sq)).expect("queue");
}

fn echo_upper(mut conn: multiproc::Connection) {
    let s: String = conn.recv().expect("recv");
    conn.send(&s.to_uppercase()).expect("send");
}

fn square_of(x: u64) -> u64 {
    x * x
}

fn square_sum(v: Vec<u64>) -> u64 {
    v.iter().map(|x| x * x).sum()
}

fn child(ch: &mut multiproc::transfer::Channel) -> Result<(), multiproc::CoreError> {
    use std::io::Write;
    let (page, pipe): (SharedMapping, PortableFd) = ch.recv_timeout(Duration::from_secs(10))?;
    std::fs::File::from(pipe.into_inner()).write_all(b"hello from the child")?;
    let word = page.atomic_u32(0);
    word.store(std::process::id(), Ordering::Release);
    futex::wake(word, 1);
    Ok(())
}
