//! Python on the other end, under CPython 3.11 (`python3`) and 3.13 (`PYENV_VERSION=3.13.0`):
//! the seed's remote manager both ways, a task queue worked across languages both ways,
//! `SyncManager`'s type ids used from Python against our manager, and Python's reference
//! counting (a dead Python client's references last until shutdown).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use multiproc_manager::{Error, ListProxy, Manager, QueueProxy, Registrar, Registry, ServerObject};
use multiproc_testkit::ChildGuard;

const VERSIONS: &[Option<&str>] = &[None, Some("3.13.0")];

fn python(version: Option<&str>) -> Command {
    let mut c = Command::new("python3");
    if let Some(v) = version {
        c.env("PYENV_VERSION", v);
    }
    c
}

/// Runs a Python script with arguments; its stdout, after checking it succeeded within 60 s.
fn run_python(version: Option<&str>, script: &str, args: &[&str]) -> String {
    let mut c = python(version);
    c.arg("-c").arg(script).args(args);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = ChildGuard(c.spawn().expect("python3"));
    let status = child.wait(Duration::from_secs(60));
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "python {version:?} failed:\n{out}\n{err}");
    out
}

/// Starts a Python server script that prints `listening on HOST:PORT` first; the guard and
/// the address.
fn start_python_server(version: Option<&str>, script: &str) -> (ChildGuard, String) {
    let mut c = python(version);
    c.arg("-c").arg(script).stdout(Stdio::piped());
    let mut child = ChildGuard(c.spawn().expect("python3"));
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server's first line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    (child, addr)
}

const SEED_SERVER: &str = r#"
from multiprocessing.managers import BaseManager
shared_list = []
class RemoteManager(BaseManager):
    pass
RemoteManager.register('get_list', callable=lambda: shared_list)
mgr = RemoteManager(address=('127.0.0.1', 0), authkey=b'secret')
server = mgr.get_server()
print('listening on %s:%d' % server.address, flush=True)
server.serve_forever()
"#;

const SEED_CLIENT: &str = r#"
import sys
from multiprocessing.managers import BaseManager
host, port = sys.argv[1].rsplit(':', 1)
class RemoteManager(BaseManager):
    pass
RemoteManager.register('get_list')
mgr = RemoteManager(address=(host, int(port)), authkey=b'secret')
mgr.connect()
l = mgr.get_list()
print(l)
l.append(1)
print(mgr.get_list())
"#;

struct Seed;

impl Registrar for Seed {
    fn registry() -> Registry {
        let mut r = Registry::new();
        r.register_object("get_list", ServerObject::list(Vec::new()));
        r
    }
}

#[test]
fn the_seeds_python_client_against_our_server() {
    for v in VERSIONS {
        let m = Manager::builder()
            .address("127.0.0.1:0")
            .authkey("secret")
            .start_with::<Seed>()
            .unwrap();
        let out = run_python(*v, SEED_CLIENT, &[&m.address().to_string()]);
        assert_eq!(out, "[]\n[1]\n", "python {v:?}");
        // And the list is ours to read.
        let l: ListProxy<i64> = m.create_as("get_list", ()).unwrap();
        assert_eq!(l.to_vec().unwrap(), [1]);
    }
}

#[test]
fn our_client_against_the_seeds_python_server() {
    for v in VERSIONS {
        let (_server, addr) = start_python_server(*v, SEED_SERVER);
        let m = Manager::connect(addr.as_str(), "secret").unwrap();
        let l: ListProxy<i64> = m.create_as("get_list", ()).unwrap();
        assert_eq!(l.repr().unwrap(), "[]");
        l.append(&1).unwrap();
        let again: ListProxy<i64> = m.create_as("get_list", ()).unwrap();
        assert_eq!(again.repr().unwrap(), "[1]", "python {v:?}");
        assert_eq!(again.to_vec().unwrap(), [1]);
        // Python exposes only a list's public methods for this type id: `l[5]` is refused
        // there, with Python's traceback.
        let r = again.get(5);
        assert!(
            matches!(&r, Err(Error::Fault(multiproc_manager::Fault::Other(tb))) if tb.contains("is not in exposed")),
            "{r:?}"
        );
        assert_eq!(again.pop().unwrap(), Some(1));
        assert_eq!(m.number_of_objects().unwrap(), 1);
        // A wrong key is refused by Python too.
        assert!(matches!(
            Manager::connect(addr.as_str(), "wrong"),
            Err(Error::AuthenticationError(_))
        ));
    }
}

const PY_WORKER: &str = r#"
import sys, queue
from multiprocessing.managers import BaseManager
host, port = sys.argv[1].rsplit(':', 1)
class QueueManager(BaseManager):
    pass
QueueManager.register('get_task_queue')
QueueManager.register('get_result_queue')
m = QueueManager(address=(host, int(port)), authkey=b'abc')
m.connect()
task = m.get_task_queue()
result = m.get_result_queue()
done = 0
while True:
    try:
        n = task.get(timeout=1)
    except queue.Empty:
        print('task queue is empty.')
        break
    result.put('%d * %d = %d' % (n, n, n * n))
    done += 1
print('worker did', done)
"#;

const PY_MASTER: &str = r#"
import queue
from multiprocessing.managers import BaseManager
task_queue = queue.Queue()
result_queue = queue.Queue()
for n in range(1, 11):
    task_queue.put(n)
class QueueManager(BaseManager):
    pass
QueueManager.register('get_task_queue', callable=lambda: task_queue)
QueueManager.register('get_result_queue', callable=lambda: result_queue)
m = QueueManager(address=('127.0.0.1', 0), authkey=b'abc')
s = m.get_server()
print('listening on %s:%d' % s.address, flush=True)
s.serve_forever()
"#;

struct Tasks;

impl Registrar for Tasks {
    fn registry() -> Registry {
        let mut r = Registry::new();
        r.register_object("get_task_queue", ServerObject::queue(0));
        r.register_object("get_result_queue", ServerObject::queue(0));
        r
    }
}

fn squares() -> Vec<String> {
    let mut v: Vec<String> = (1..=10).map(|n| format!("{n} * {n} = {}", n * n)).collect();
    v.sort();
    v
}

#[test]
fn our_task_queue_worked_by_python_until_empty() {
    for v in VERSIONS {
        let m = Manager::builder()
            .address("127.0.0.1:0")
            .authkey("abc")
            .start_with::<Tasks>()
            .unwrap();
        let task: QueueProxy<i64> = m.create_as("get_task_queue", ()).unwrap();
        let result: QueueProxy<String> = m.create_as("get_result_queue", ()).unwrap();
        for n in 1..=10 {
            task.put(&n).unwrap();
        }
        let out = run_python(*v, PY_WORKER, &[&m.address().to_string()]);
        assert_eq!(out, "task queue is empty.\nworker did 10\n");
        let mut got: Vec<String> = (0..10)
            .map(|_| result.get_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        got.sort();
        assert_eq!(got, squares());
    }
}

#[test]
fn pythons_task_queue_worked_by_us_until_empty() {
    for v in VERSIONS {
        let (_server, addr) = start_python_server(*v, PY_MASTER);
        let m = Manager::connect(addr.as_str(), "abc").unwrap();
        let task: QueueProxy<i64> = m.create_as("get_task_queue", ()).unwrap();
        let result: QueueProxy<String> = m.create_as("get_result_queue", ()).unwrap();
        let mut done = 0;
        loop {
            match task.get_timeout(Duration::from_millis(300)) {
                Ok(n) => {
                    result.put(&format!("{n} * {n} = {}", n * n)).unwrap();
                    done += 1;
                }
                Err(Error::Empty) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(done, 10);
        let mut got: Vec<String> = (0..10).map(|_| result.get_nowait().unwrap()).collect();
        got.sort();
        assert_eq!(got, squares());
        assert!(matches!(result.get_nowait(), Err(Error::Empty)));
    }
}

const PY_SYNC: &str = r#"
import sys, queue
from multiprocessing.managers import SyncManager
host, port = sys.argv[1].rsplit(':', 1)
m = SyncManager(address=(host, int(port)), authkey=b'k')
m.connect()
l = m.list(range(3))
l.append('a')
l.extend([None, 2.5])
print(list(l), l[1:3], len(l), 'a' in l, l.index('a'))
print(l)
l.reverse()
print(l.pop(), l.count(2.5))
try:
    l[99]
except IndexError as e:
    print('IndexError', e)
d = m.dict()
d['b'] = 0
d[1] = '1'
d.update({'c': [1, 2]})
print(d.get('b'), d.get('zz'), 'c' in d, sorted(map(str, d.keys())), len(d))
print(d)
print(sorted(str(k) for k in d))
try:
    d['zz']
except KeyError as e:
    print('KeyError', e)
q = m.Queue()
q.put('x')
q.put({'k': (1, 2)})
print(q.qsize(), q.get(), q.get())
try:
    q.get(timeout=0.05)
except queue.Empty:
    print('Empty')
try:
    q.get_nowait()
except queue.Empty:
    print('Empty again')
ns = m.Namespace()
ns.a = 1
ns.a **= 2
print(ns.a, ns)
try:
    ns.missing
except AttributeError as e:
    print('AttributeError', e)
lock = m.Lock()
with lock:
    print('locked', lock.acquire(False))
e = m.Event()
e.set()
print(e.is_set(), e.wait(0))
v = m.Value('i', 7)
v.value = v.value ** 2
print(v.value)
print(m._number_of_objects() >= 6)
"#;

const PY_SYNC_OUT: &str = "\
[0, 1, 2, 'a', None, 2.5] [1, 2] 6 True 3
[0, 1, 2, 'a', None, 2.5]
0 1
IndexError list index out of range
0 None True ['1', 'b', 'c'] 3
{'b': 0, 1: '1', 'c': [1, 2]}
['1', 'b', 'c']
KeyError 'zz'
2 x {'k': (1, 2)}
Empty
Empty again
1 Namespace(a=1)
AttributeError 'Namespace' object has no attribute 'missing'
locked False
True True
49
True
";

#[test]
fn python_uses_syncmanager_typeids_against_our_manager() {
    let m = Manager::builder()
        .address("127.0.0.1:0")
        .authkey("k")
        .start()
        .unwrap();
    for v in VERSIONS {
        let out = run_python(*v, PY_SYNC, &[&m.address().to_string()]);
        assert_eq!(out, PY_SYNC_OUT, "python {v:?}");
    }
}

const PY_DIES: &str = r#"
import sys, os
from multiprocessing.managers import SyncManager
host, port = sys.argv[1].rsplit(':', 1)
m = SyncManager(address=(host, int(port)), authkey=b'k')
m.connect()
l = m.list([1])
d = m.dict()
print(m._number_of_objects(), flush=True)
os._exit(0)
"#;

/// A Python client takes references over connections it closes at once, so the server cannot
/// tell when it dies: its references last until shutdown, as with Python's own server. A
/// Python client that exits normally gives them back.
#[test]
fn a_dead_python_clients_references_last_until_shutdown() {
    let m = Manager::builder()
        .address("127.0.0.1:0")
        .authkey("k")
        .start()
        .unwrap();
    let addr = m.address().to_string();
    assert_eq!(run_python(None, PY_DIES, &[&addr]), "2\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(m.number_of_objects().unwrap(), 2);
    let polite = PY_DIES.replace("os._exit(0)", "del l, d\nprint(m._number_of_objects())");
    assert_eq!(run_python(None, &polite, &[&addr]), "4\n2\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    while m.number_of_objects().unwrap() != 2 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
}
