//! The state the pool shares between its handle, its submitters and its thread; the workers;
//! and the pool's thread, which hands batches to workers, collects their results, and replaces
//! the dead.
//!
//! A single task whose arguments and result fit the worker's lane goes straight from the
//! submitting thread to an idle worker, and its result straight back to the thread that waits
//! for it (see [`crate::lane`]); the pool's thread only watches for the worker's death then.
//! Everything else (batches of `map`, tasks with descriptors, tasks that find no idle worker)
//! goes through the queue and the pool's thread.

use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use multiproc_core::transfer::{FdRef, PortableFd};
use multiproc_pipe::{Connection, Waitable};
use multiproc_process::{Daemon, Process, RemoteFn, StartMethod};
use serde::Serialize;

use crate::error::{Error, TaskError, os};
use crate::lane::{Lane, Mode, Region};
use crate::worker::{FromWorker, Outcome, WorkerArgs, worker_main};

/// What the pool does with a finished batch: the encoded `Vec<Result<R, String>>`, or why the
/// batch as a whole failed.
pub(crate) type Completion =
    Box<dyn FnOnce(Result<(Vec<u8>, Vec<OwnedFd>), TaskError>) + Send + 'static>;

/// A batch waiting for, or running on, a worker.
pub(crate) struct Pending {
    pub f: RemoteFn,
    pub items: Vec<u8>,
    pub fds: Vec<OwnedFd>,
    pub done: Completion,
}

/// The same serde shape as `worker::ToWorker`, borrowing the batch so a prefetched batch can be
/// sent again to another worker if the first one dies.
#[derive(Serialize)]
enum ToWorkerRef<'a> {
    Tasks(Vec<TaskRef<'a>>),
}

/// The same serde shape as `worker::Task`.
#[derive(Serialize)]
pub(crate) struct TaskRef<'a> {
    pub id: u64,
    pub f: RemoteFn,
    #[serde(with = "serde_bytes")]
    pub items: &'a [u8],
    pub fds: Vec<FdRef<'a>>,
}

pub(crate) struct State {
    pub queue: VecDeque<Pending>,
    pub closed: bool,
    pub terminated: bool,
    /// The lanes of the current workers, for submitters looking for an idle one.
    pub lanes: Vec<Arc<Lane>>,
}

/// The pool's thread, before it is started (on the first task) and after.
enum Thread {
    NotStarted(Box<Dispatcher>),
    Running(JoinHandle<()>),
    Ended,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    wake_w: OwnedFd,
    pub processes: usize,
    pub max_tasks: Option<u64>,
    thread: Mutex<Thread>,
    started: AtomicBool,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn wake(&self) {
        // A full wake pipe already means "look again"; nothing else can go wrong here.
        let _ = multiproc_core::fd::write_nosigpipe(&self.wake_w, &[1]);
    }

    /// Starts the pool's thread if it has not started yet.
    pub(crate) fn ensure_thread(self: &Arc<Self>) -> Result<(), Error> {
        if self.started.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut t = self.thread.lock().unwrap_or_else(|p| p.into_inner());
        if let Thread::NotStarted(_) = &*t {
            let Thread::NotStarted(d) = std::mem::replace(&mut *t, Thread::Ended) else {
                unreachable!("matched above")
            };
            let shared = self.clone();
            let h = std::thread::Builder::new()
                .name("multiproc-pool".into())
                .spawn(move || d.run(&shared))
                .map_err(os)?;
            *t = Thread::Running(h);
            self.started.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Queues a batch for the pool's thread.
    pub(crate) fn submit(self: &Arc<Self>, p: Pending) -> Result<(), Error> {
        self.ensure_thread()?;
        {
            let mut st = self.lock();
            if st.closed || st.terminated {
                return Err(Error::Closed);
            }
            st.queue.push_back(p);
        }
        self.wake();
        Ok(())
    }

    /// Posts an encoded task to an idle worker's lane, if one is idle and nothing is queued
    /// before it; gives `done` back otherwise.
    pub(crate) fn try_lane(
        self: &Arc<Self>,
        task: &[u8],
        mut done: Completion,
    ) -> Result<Result<(Arc<Lane>, u32), Completion>, Error> {
        self.ensure_thread()?;
        let st = self.lock();
        if st.closed || st.terminated {
            return Err(Error::Closed);
        }
        if !st.queue.is_empty() {
            return Ok(Err(done));
        }
        for lane in &st.lanes {
            match lane.try_post(task, done, self.max_tasks) {
                Ok(seq) => return Ok(Ok((lane.clone(), seq))),
                Err(d) => done = d,
            }
        }
        Ok(Err(done))
    }

    /// A lane was freed by a submitter that collected its result: the pool's thread wants to
    /// know if it has work for it, or is waiting for the last task to end.
    pub(crate) fn lane_freed(&self) {
        let st = self.lock();
        if !st.queue.is_empty() || st.closed || st.terminated {
            self.wake();
        }
    }

    /// Marks the pool closed (`terminate: false`) or terminated.
    pub(crate) fn shut(&self, terminate: bool) {
        {
            let mut st = self.lock();
            if terminate {
                st.terminated = true;
            } else {
                st.closed = true;
            }
        }
        self.wake();
    }

    /// Waits for the pool's thread to end (or ends the workers here if it never started).
    pub(crate) fn join_thread(&self) {
        let t = std::mem::replace(
            &mut *self.thread.lock().unwrap_or_else(|p| p.into_inner()),
            Thread::Ended,
        );
        match t {
            Thread::Running(h) => {
                let _ = h.join();
            }
            Thread::NotStarted(mut d) => {
                let terminated = self.lock().terminated;
                if terminated {
                    d.kill_all();
                } else {
                    d.stop_all();
                }
            }
            Thread::Ended => {}
        }
    }
}

/// A worker's initializer as it travels: the function, its encoded arguments, their descriptors.
pub(crate) type Init = (RemoteFn, Vec<u8>, Vec<PortableFd>);

/// Everything a worker is started with.
pub(crate) struct WorkerConfig {
    pub method: StartMethod,
    pub init: Option<(RemoteFn, Vec<u8>, Arc<Vec<OwnedFd>>)>,
    pub max_tasks: Option<u64>,
}

/// A worker as the pool's thread sees it.
pub(crate) struct Worker {
    process: Process,
    conn: Connection,
    sentinel: OwnedFd,
    lane: Arc<Lane>,
    /// Batches sent and not yet answered, oldest (the running one) first.
    inflight: VecDeque<(u64, Pending)>,
    /// Messages sent and not yet answered (each carries one or more batches), with when each
    /// was sent and how many batches it carried.
    sent_at: VecDeque<(Instant, usize)>,
    /// Its last message took at least [`LONG_BATCH`] per batch: give it one batch at a time,
    /// none ahead, so that the others can take the rest (long tasks balance over the workers).
    long: bool,
}

impl Worker {
    /// Whether nothing of the pool's runs on it.
    fn idle(&self) -> bool {
        self.inflight.is_empty() && !self.lane.has_task()
    }
}

/// At most this many messages are on their way to one worker: the one it runs and one more,
/// so it never waits for the next.
const PREFETCH: usize = 2;

/// At most this many batches go in one message.
const MAX_PER_MESSAGE: usize = 64;

/// A batch that takes this long gains nothing from being sent ahead of time, and loses
/// balance: another worker may be free first.
const LONG_BATCH: Duration = Duration::from_millis(2);

fn worker_name(method: StartMethod, n: usize) -> String {
    let kind = match method {
        StartMethod::Fork => "ForkPoolWorker",
        StartMethod::Spawn => "SpawnPoolWorker",
        StartMethod::Forkserver => "ForkServerPoolWorker",
    };
    format!("{kind}-{n}")
}

fn dup_init(cfg: &WorkerConfig) -> Result<Option<Init>, Error> {
    let Some((f, bytes, fds)) = &cfg.init else {
        return Ok(None);
    };
    let fds = fds
        .iter()
        .map(|fd| multiproc_core::fd::dup(fd).map(PortableFd::new))
        .collect::<Result<Vec<_>, _>>()
        .map_err(os)?;
    Ok(Some((*f, bytes.clone(), fds)))
}

/// Starts worker number `n` on lane `region` (whose last task number was `after`).
pub(crate) fn start_worker(
    cfg: &WorkerConfig,
    method: StartMethod,
    n: usize,
    (region, after): (Region, u32),
) -> Result<Worker, Error> {
    let (ours, theirs) = multiproc_pipe::pipe().map_err(os)?;
    let lane = Lane::new(region.clone(), after);
    let args = WorkerArgs {
        conn: theirs,
        lane: region,
        init: dup_init(cfg)?,
        max_tasks: cfg.max_tasks,
    };
    let process = Process::new(worker_main, args)
        .with_name(worker_name(method, n))
        .with_daemon(Daemon::Yes)
        .with_start_method(method);
    process.start()?;
    let sentinel = process.sentinel()?;
    Ok(Worker {
        process,
        conn: ours,
        sentinel,
        lane: Arc::new(lane),
        inflight: VecDeque::new(),
        sent_at: VecDeque::new(),
        long: false,
    })
}

/// Makes the shared state for a pool whose workers have just started.
pub(crate) fn shared(
    processes: usize,
    cfg: WorkerConfig,
    workers: Vec<Worker>,
) -> Result<Arc<Shared>, Error> {
    let (wake_r, wake_w) = multiproc_core::fd::pipe().map_err(os)?;
    multiproc_core::fd::set_nonblocking(&wake_r).map_err(os)?;
    multiproc_core::fd::set_nonblocking(&wake_w).map_err(os)?;
    let lanes = workers.iter().map(|w| w.lane.clone()).collect();
    let max_tasks = cfg.max_tasks;
    let started = workers.len();
    Ok(Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            closed: false,
            terminated: false,
            lanes,
        }),
        wake_w,
        processes,
        max_tasks,
        thread: Mutex::new(Thread::NotStarted(Box::new(Dispatcher {
            wake_r,
            cfg,
            workers,
            next_id: 0,
            started,
        }))),
        started: AtomicBool::new(false),
    }))
}

/// The pool's thread.
pub(crate) struct Dispatcher {
    wake_r: OwnedFd,
    cfg: WorkerConfig,
    workers: Vec<Worker>,
    next_id: u64,
    /// Workers started in all (for their names).
    started: usize,
}

/// What the pool's thread found when it looked at the state.
enum Next {
    Wait,
    Terminate,
    Finish,
}

impl Dispatcher {
    fn run(mut self, shared: &Shared) {
        loop {
            // 1. Hand out queued batches; see whether we are done.
            match self.assign(shared) {
                Next::Terminate => return self.terminate(shared),
                Next::Finish => return self.stop_all(),
                Next::Wait => {}
            }
            // 2. Wait for a result, a death, or news from the submitters.
            let ready = self.wait();
            // 3. Results and deaths.
            let dead = self.receive(&ready);
            for &i in dead.iter().rev() {
                self.bury(shared, i);
            }
            if self.workers.is_empty() && self.fail_queued(shared) {
                return;
            }
        }
    }

    /// Hands queued batches to workers whose lanes are not in use.
    ///
    /// First one message per worker; then, only while a backlog remains (at least one more
    /// batch per worker), a second one each, so a worker never waits for its next batch —
    /// without parking a short task behind a long one. With a long backlog a message carries
    /// several batches (each its own task, result and failure), so small tasks do not each pay
    /// a round of wake-ups.
    fn assign(&mut self, shared: &Shared) -> Next {
        let mut st = shared.lock();
        if st.terminated {
            return Next::Terminate;
        }
        for depth in 1..=PREFETCH {
            if depth > 1 && st.queue.len() < self.workers.len() {
                break;
            }
            let per_msg =
                (st.queue.len() / (PREFETCH * self.workers.len().max(1))).clamp(1, MAX_PER_MESSAGE);
            for w in self.workers.iter_mut() {
                let (depth_max, per_msg) = if w.long { (1, 1) } else { (PREFETCH, per_msg) };
                if w.sent_at.len() < depth && depth <= depth_max {
                    send_batches(
                        w,
                        &mut st.queue,
                        per_msg,
                        self.cfg.max_tasks,
                        &mut self.next_id,
                    );
                }
            }
        }
        let idle = self.workers.iter().all(Worker::idle);
        if st.closed && st.queue.is_empty() && idle {
            Next::Finish
        } else {
            Next::Wait
        }
    }

    fn wait(&self) -> Vec<usize> {
        let mut objs: Vec<&dyn Waitable> = vec![&self.wake_r as &dyn Waitable];
        for w in &self.workers {
            objs.push(&w.conn);
            objs.push(&w.sentinel);
        }
        let ready = multiproc_pipe::wait(&objs).unwrap_or_default();
        if ready.contains(&0) {
            let mut buf = [0u8; 256];
            while matches!(rustix::io::read(&self.wake_r, &mut buf), Ok(n) if n > 0) {}
        }
        ready
    }

    /// Reads what the ready workers sent; returns the indices of the dead ones, ascending.
    fn receive(&mut self, ready: &[usize]) -> Vec<usize> {
        let mut dead = Vec::new();
        for (i, w) in self.workers.iter_mut().enumerate() {
            let conn_ready = ready.contains(&(1 + 2 * i));
            let gone = ready.contains(&(2 + 2 * i));
            // Everything the worker sent before it died counts: read to the end first.
            let broken = (conn_ready || gone) && !drain(w);
            if broken || gone {
                dead.push(i);
            }
        }
        dead
    }

    /// A worker died (or ended at its task limit): fail or requeue what it had, start another.
    fn bury(&mut self, shared: &Shared, i: usize) {
        let mut w = self.workers.remove(i);
        if !w
            .process
            .join_timeout(Duration::from_secs(10))
            .unwrap_or(false)
        {
            // Its connection broke but it lives: it must be gone before another worker takes
            // over its lane.
            let _ = w.process.kill();
            let _ = w.process.join_timeout(Duration::from_secs(10));
        }
        let code = w.process.exitcode();
        w.lane.retire(TaskError::WorkerDied { exitcode: code });
        // The oldest batch was running: it fails, unless the worker ended normally (its task
        // limit), in which case nothing was running. The rest never started: requeue.
        let mut rest: Vec<Pending> = Vec::new();
        if let Some((_, p)) = w.inflight.pop_front() {
            if code == Some(0) {
                rest.push(p);
            } else {
                (p.done)(Err(TaskError::WorkerDied { exitcode: code }));
            }
        }
        rest.extend(w.inflight.drain(..).map(|(_, p)| p));
        let keep_going = {
            let mut st = shared.lock();
            st.lanes.retain(|l| !Arc::ptr_eq(l, &w.lane));
            for p in rest.into_iter().rev() {
                st.queue.push_front(p);
            }
            !st.terminated && (!st.closed || !st.queue.is_empty())
        };
        if keep_going {
            self.replace(shared, w.lane.region());
        }
    }

    /// Starts a worker in the lane of a dead one.
    fn replace(&mut self, shared: &Shared, lane: (Region, u32)) {
        // A process with the pool's thread may not fork: replacements come from the server.
        let method = match self.cfg.method {
            StartMethod::Fork => StartMethod::Forkserver,
            m => m,
        };
        self.started += 1;
        match start_worker(&self.cfg, method, self.started, lane) {
            Ok(nw) => {
                shared.lock().lanes.push(nw.lane.clone());
                self.workers.push(nw);
            }
            Err(e) => eprintln!("multiproc-pool: cannot replace a worker: {e}"),
        }
    }

    /// Nobody is left to run anything (replacements failed): fails what is queued. Whether the
    /// thread should end.
    fn fail_queued(&mut self, shared: &Shared) -> bool {
        let queued: Vec<Pending> = shared.lock().queue.drain(..).collect();
        for p in queued {
            (p.done)(Err(TaskError::NoWorker));
        }
        let st = shared.lock();
        st.closed || st.terminated
    }

    /// `terminate()`: kills the workers; everything queued or running fails.
    fn terminate(mut self, shared: &Shared) {
        self.kill_all();
        let mut failed: Vec<Pending> = Vec::new();
        for w in self.workers.iter_mut() {
            failed.extend(w.inflight.drain(..).map(|(_, p)| p));
        }
        failed.extend(shared.lock().queue.drain(..));
        for p in failed {
            (p.done)(Err(TaskError::Terminated));
        }
    }

    /// Kills every worker and waits for it; lane tasks fail as terminated.
    pub(crate) fn kill_all(&mut self) {
        for w in &self.workers {
            let _ = w.process.kill();
        }
        for w in &self.workers {
            let _ = w.process.join_timeout(Duration::from_secs(10));
            w.lane.retire(TaskError::Terminated);
        }
    }

    /// Tells every worker to stop and waits for it to exit.
    pub(crate) fn stop_all(&mut self) {
        for w in &self.workers {
            w.lane.stop();
        }
        for w in self.workers.drain(..) {
            let p = w.process;
            if !p.join_timeout(Duration::from_secs(10)).unwrap_or(false) {
                let _ = p.kill();
                let _ = p.join_timeout(Duration::from_secs(10));
            }
        }
    }
}

/// Sends `w` up to `per_msg` queued batches in one message, if its lane is not in use and its
/// task limit allows.
fn send_batches(
    w: &mut Worker,
    queue: &mut VecDeque<Pending>,
    per_msg: usize,
    max_tasks: Option<u64>,
    next_id: &mut u64,
) {
    let take = {
        let mut ls = w.lane.lock();
        if matches!(ls.mode, Mode::Fast(_) | Mode::Gone) {
            return;
        }
        let room = max_tasks.map_or(per_msg as u64, |m| m.saturating_sub(ls.sent));
        let take = (room as usize).min(per_msg).min(queue.len());
        if take == 0 {
            return;
        }
        ls.mode = Mode::Busy;
        ls.sent += take as u64;
        take
    };
    let first = w.inflight.len();
    for _ in 0..take {
        let p = queue.pop_front().expect("counted");
        *next_id += 1;
        w.inflight.push_back((*next_id, p));
    }
    w.sent_at.push_back((Instant::now(), take));
    let msg = ToWorkerRef::Tasks(
        w.inflight
            .range(first..)
            .map(|(id, p)| TaskRef {
                id: *id,
                f: p.f,
                items: &p.items,
                fds: p.fds.iter().map(|fd| FdRef(fd.as_fd())).collect(),
            })
            .collect(),
    );
    w.lane.announce_message();
    // A failed send shows up as the worker's death.
    let _ = w.conn.send(&msg);
}

fn outcome(o: Outcome) -> Result<(Vec<u8>, Vec<OwnedFd>), TaskError> {
    o.map(|(b, fds)| {
        (
            b.into_vec(),
            fds.into_iter().map(PortableFd::into_inner).collect(),
        )
    })
    .map_err(TaskError::Failed)
}

/// Reads every message a worker has sent; `false` when its connection broke.
fn drain(w: &mut Worker) -> bool {
    while w.conn.poll().unwrap_or(false) {
        match w.conn.recv::<FromWorker>() {
            Ok(FromWorker::Done(results)) => {
                if let Some((at, batches)) = w.sent_at.pop_front() {
                    w.long = at.elapsed() >= LONG_BATCH * batches as u32;
                }
                for (id, o) in results {
                    let Some(pos) = w.inflight.iter().position(|(i, _)| *i == id) else {
                        continue;
                    };
                    let (_, p) = w.inflight.remove(pos).expect("present");
                    (p.done)(outcome(o));
                }
                if w.inflight.is_empty() {
                    let mut ls = w.lane.lock();
                    if matches!(ls.mode, Mode::Busy) {
                        ls.mode = Mode::Free;
                    }
                }
            }
            Ok(FromWorker::LaneReady) => {
                w.lane.collect(None);
            }
            Ok(FromWorker::LaneSpilled(o)) => {
                if let Some(done) = w.lane.take_spilled() {
                    done(outcome(o));
                }
            }
            Err(_) => return false,
        }
    }
    true
}
