//! `ShareableList` and `SharedMemory::new`: Python attaching to our lists and we to Python's
//! (CPython 3.11 and 3.13), lists handed to children and opened by name from them under
//! `spawn` and `forkserver`, a generated name removed by the tracker after its creator is
//! killed, and bytes that are not a list giving errors, never a panic.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use multiproc_process::{Process, StartMethod};
use multiproc_shm::{Array, CorruptReason, Error, ListItem, ShareableList, SharedMemory};
use multiproc_sync::Event;
use multiproc_testkit::{ChildGuard, child_line, eventually, unique_name};

const LIMIT: Duration = Duration::from_secs(20);
const PYTHONS: &[Option<&str>] = &[None, Some("3.13.0")];

/// Removes a block's name when dropped (also when a test fails).
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        Name(unique_name(tag))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = SharedMemory::unlink_name(&self.0);
    }
}

fn exists(name: &str) -> bool {
    Path::new("/dev/shm").join(name).exists()
}

fn python(version: Option<&str>) -> Command {
    let mut c = Command::new("python3");
    if let Some(v) = version {
        c.env("PYENV_VERSION", v);
    }
    c
}

/// Runs `script` with `args`; panics with its output unless it succeeds within `LIMIT`.
fn run_python(version: Option<&str>, script: &str, args: &[&str]) {
    let mut c = python(version);
    c.arg("-c").arg(script).args(args);
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut guard = ChildGuard(child);
    let status = guard.wait(LIMIT);
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    guard.0.stdout.take().unwrap().read_to_string(&mut out).ok();
    guard.0.stderr.take().unwrap().read_to_string(&mut err).ok();
    assert!(status.success(), "python {version:?} failed:\n{out}\n{err}");
}

fn sample() -> Vec<ListItem> {
    vec![
        ListItem::Int(7),
        ListItem::Float(2.5),
        ListItem::Bool(true),
        ListItem::Str("héllo".into()),
        ListItem::Bytes(b"by\0tes".to_vec()),
        ListItem::None,
        ListItem::Int(-(1 << 62)),
        ListItem::Bool(false),
    ]
}

/// Python attaches by name (and stops its resource tracker from unlinking what it did not
/// create), checks every item, the format and the size against its own list of the same items,
/// then writes items of other types.
const PY_ATTACH: &str = r#"
import sys
from multiprocessing import resource_tracker, shared_memory
sl = shared_memory.ShareableList(name=sys.argv[1])
resource_tracker.unregister(sl.shm._name, "shared_memory")
expected = [7, 2.5, True, "héllo", b"by\x00tes", None, -(1 << 62), False, ""]
got = list(sl)
assert got == expected and [type(x) for x in got] == [type(x) for x in expected], got
assert sl.format == "qdxxxxxxx?8s8sxxxxxx?xqxxxxxxx?32s", sl.format
twin = shared_memory.ShareableList(expected[:-1] + ["x" * 31])
assert twin.shm.size == sl.shm.size, (twin.shm.size, sl.shm.size)
twin.shm.close(); twin.shm.unlink()
assert sl.count(True) == 1 and sl.index(None) == 5
sl[0] = "py"
sl[1] = None
sl[2] = 12345
sl[3] = b"\x01\x02"
sl[8] = "a longer text of 32 bytes......."
try:
    sl[4] = b"123456789"
    raise SystemExit("a value longer than its room was accepted")
except ValueError:
    pass
sl.shm.close()
"#;

#[test]
fn python_attaches_to_our_list_by_name_reads_it_and_writes_it() {
    for version in PYTHONS {
        let name = Name::new("sl-py-attach");
        let sl = ShareableList::builder()
            .name(&name.0)
            .items(sample())
            .item_with_room("", 32)
            .build()
            .unwrap();
        assert_eq!(sl.format().unwrap(), "qdxxxxxxx?8s8sxxxxxx?xqxxxxxxx?32s");
        run_python(*version, PY_ATTACH, &[&name.0]);
        let got = sl.to_vec().unwrap();
        assert_eq!(got[0], ListItem::Str("py".into()), "{version:?}");
        assert_eq!(got[1], ListItem::None);
        assert_eq!(got[2], ListItem::Int(12345));
        assert_eq!(got[3], ListItem::Bytes(vec![1, 2]));
        assert_eq!(got[4], ListItem::Bytes(b"by\0tes".to_vec()), "unchanged");
        assert_eq!(
            got[8],
            ListItem::Str("a longer text of 32 bytes.......".into())
        );
        assert_eq!(sl.format().unwrap(), "8sxxxxxx?xq8s8sxxxxxx?xqxxxxxxx?32s");
        assert!(exists(&name.0), "Python's tracker removed our block");
    }
}

/// Python creates a list under the name given, says so, waits for us to write, then checks
/// our writes and removes it.
const PY_CREATE: &str = r#"
import sys
from multiprocessing import shared_memory
sl = shared_memory.ShareableList([1, -2.75, False, "text", b"raw", None, "x" * 20], name=sys.argv[1])
print("format:" + sl.format, flush=True)
sys.stdin.readline()
got = list(sl)
expected = ["ours", 3.0, True, None, b"", 99, "é" * 8]
assert got == expected and [type(x) for x in got] == [type(x) for x in expected], got
sl.shm.close(); sl.shm.unlink()
print("ok", flush=True)
"#;

#[test]
fn we_attach_to_a_python_list_by_name_read_it_and_write_it() {
    for version in PYTHONS {
        let name = Name::new("sl-py-create");
        let mut c = python(*version);
        c.arg("-c").arg(PY_CREATE).arg(&name.0);
        c.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut py = ChildGuard(c.spawn().expect("python3"));
        let format = child_line(&mut py.0, "format:", LIMIT);
        let sl = ShareableList::open(&name.0).unwrap();
        assert_eq!(sl.format().unwrap(), format, "{version:?}");
        assert_eq!(
            sl.to_vec().unwrap(),
            [
                ListItem::Int(1),
                ListItem::Float(-2.75),
                ListItem::Bool(false),
                ListItem::Str("text".into()),
                ListItem::Bytes(b"raw".to_vec()),
                ListItem::None,
                ListItem::Str("x".repeat(20)),
            ]
        );
        assert_eq!(sl.room(6).unwrap(), 24);
        sl.set(0, "ours").unwrap();
        sl.set(1, 3.0).unwrap();
        sl.set(2, true).unwrap();
        sl.set(3, ListItem::None).unwrap();
        sl.set(6, "é".repeat(8)).unwrap(); // 16 bytes in a 24-byte room
        assert!(matches!(
            sl.set(6, "é".repeat(13)),
            Err(Error::TooLong {
                capacity: 24,
                got: 26
            })
        ));
        sl.set(4, b"").unwrap();
        sl.set(5, 99).unwrap();
        writeln!(py.0.stdin.as_mut().unwrap(), "go").unwrap();
        assert!(
            py.wait(LIMIT).success(),
            "{version:?}: Python saw other values"
        );
        assert!(!exists(&name.0));
    }
}

fn child_writes(sl: ShareableList) {
    assert_eq!(sl.get(0).unwrap(), ListItem::Int(7));
    sl.set(0, sl.get(0).unwrap().as_int().unwrap() * 6).unwrap();
    sl.set(8, format!("pid {}", std::process::id())).unwrap();
}

fn child_opens(name: String) {
    let sl = ShareableList::open(&name).unwrap();
    sl.set(1, -1.5).unwrap();
    sl.set(5, "by name").unwrap();
}

#[test]
fn children_write_a_list_handed_to_them_or_opened_by_name() {
    for m in [StartMethod::Spawn, StartMethod::Forkserver] {
        let sl = ShareableList::builder()
            .items(sample())
            .item_with_room("", 16)
            .build()
            .unwrap();
        let h = multiproc_process::get_context(m);
        let p = h.process(child_writes, sl.try_clone().unwrap());
        p.start().unwrap();
        assert!(p.join_timeout(LIMIT).unwrap(), "{m:?}: the child hangs");
        assert_eq!(p.exitcode(), Some(0), "{m:?}");
        let q = h.process(child_opens, sl.name().to_string());
        q.start().unwrap();
        assert!(q.join_timeout(LIMIT).unwrap(), "{m:?}: the child hangs");
        assert_eq!(q.exitcode(), Some(0), "{m:?}");
        let got = sl.to_vec().unwrap();
        assert_eq!(got[0], ListItem::Int(42));
        assert_eq!(got[1], ListItem::Float(-1.5));
        let pid = p.pid().unwrap();
        assert_eq!(got[8], ListItem::Str(format!("pid {pid}")));
        assert_eq!(got[5], ListItem::Str("by name".into()));
        let name = sl.name().to_string();
        drop(sl);
        assert!(!exists(&name), "the creator's drop removes the name");
    }
}

#[test]
fn lists_and_blocks_without_a_name_get_python_s_kind_of_generated_name() {
    let a = SharedMemory::new(100).unwrap();
    let b = SharedMemory::new(100).unwrap();
    for n in [a.name(), b.name()] {
        let hex = n.strip_prefix("psm_").expect("psm_ prefix");
        assert!(
            hex.len() == 8 && hex.bytes().all(|c| c.is_ascii_hexdigit()),
            "{n}"
        );
        assert!(exists(n));
    }
    assert_ne!(a.name(), b.name());
    assert_eq!(SharedMemory::open(a.name()).unwrap().size(), 100);
    let sl = ShareableList::new([1, 2, 3]).unwrap();
    assert!(sl.name().starts_with("psm_"));
    let names = [
        a.name().to_string(),
        b.name().to_string(),
        sl.name().to_string(),
    ];
    drop((a, b, sl));
    assert!(
        names.iter().all(|n| !exists(n)),
        "dropped creators remove them"
    );
    assert!(matches!(SharedMemory::new(0), Err(Error::Io(_))));
}

/// A child that creates a block under a generated name, reports the name, and waits to be
/// killed.
fn create_generated_and_hang((out, ready): (Array<u8>, Event)) {
    let block = SharedMemory::new(4096).unwrap();
    out.set_value(block.name().as_bytes()).unwrap();
    ready.set();
    std::thread::sleep(LIMIT * 3);
}

#[test]
fn a_generated_name_is_removed_by_the_tracker_when_its_creator_is_killed() {
    for m in [StartMethod::Spawn, StartMethod::Forkserver] {
        let out = Array::<u8>::zeroed(32).unwrap();
        let ready = Event::new().unwrap();
        let p = Process::new(create_generated_and_hang, (out.clone(), ready.clone()))
            .with_start_method(m);
        p.start().unwrap();
        assert!(
            ready.wait_timeout(LIMIT),
            "{m:?}: the child never got ready"
        );
        let name = String::from_utf8(out.value()).unwrap();
        let _guard = Name(name.clone());
        assert!(name.starts_with("psm_") && exists(&name), "{m:?}: {name}");
        p.kill().unwrap();
        p.join().unwrap();
        assert!(
            eventually(Duration::from_secs(2), || !exists(&name)),
            "{m:?}: /dev/shm/{name} outlived its killed creator"
        );
    }
}

#[test]
fn indices_rooms_and_lookups() {
    let sl = ShareableList::new(sample()).unwrap();
    assert_eq!(sl.len(), 8);
    assert!(!sl.is_empty());
    assert!(matches!(
        sl.get(8),
        Err(Error::OutOfBounds { index: 8, len: 8 })
    ));
    assert!(matches!(sl.set(8, 1), Err(Error::OutOfBounds { .. })));
    assert!(matches!(
        sl.set(4, b"123456789"),
        Err(Error::TooLong {
            capacity: 8,
            got: 9
        })
    ));
    assert_eq!(
        sl.get(4).unwrap(),
        ListItem::Bytes(b"by\0tes".to_vec()),
        "nothing written"
    );
    assert_eq!(sl.count(true).unwrap(), 1);
    assert_eq!(sl.count(ListItem::None).unwrap(), 1);
    assert_eq!(sl.count(7.0).unwrap(), 0, "Rust's equality: 7.0 is not 7");
    assert_eq!(sl.index(false).unwrap(), Some(7));
    assert_eq!(sl.index("missing").unwrap(), None);
    sl.set(4, "trail\0\0").unwrap();
    assert_eq!(
        sl.get(4).unwrap(),
        ListItem::Str("trail".into()),
        "as Python"
    );
    let empty = ShareableList::new(Vec::<ListItem>::new()).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.format().unwrap(), "");
    assert_eq!(empty.to_vec().unwrap(), []);
    assert_eq!(ShareableList::open(empty.name()).unwrap().len(), 0);
    let too_big = ShareableList::builder()
        .item_with_room("", 10_000_000)
        .build();
    assert!(matches!(
        too_big,
        Err(Error::TooLong {
            capacity: 9_999_992,
            ..
        })
    ));
    let name = Name::new("sl-taken");
    let _first = ShareableList::create(&name.0, [1]).unwrap();
    assert!(matches!(
        ShareableList::create(&name.0, [2]),
        Err(Error::AlreadyExists { .. })
    ));
}

/// Writes `bytes` into a fresh block and returns its name guard.
fn block_with(bytes: &[u8]) -> (Name, SharedMemory) {
    let name = Name::new("sl-bad");
    let b = SharedMemory::create(&name.0, bytes.len().max(1)).unwrap();
    b.write(0, bytes).unwrap();
    (name, b)
}

#[test]
fn blocks_that_are_not_lists_are_refused_with_a_reason() {
    // A length far beyond the block.
    let (n, _b) = block_with(&i64::MAX.to_ne_bytes());
    let r = ShareableList::open(&n.0);
    assert!(matches!(
        r,
        Err(Error::Corrupt {
            reason: CorruptReason::Header,
            ..
        })
    ));
    // A negative length, and offsets that go backwards.
    for header in [vec![-1i64, 0], vec![1, 16, 8, 0, 0]] {
        let bytes: Vec<u8> = header.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let (n, _b) = block_with(&[bytes, vec![0; 40]].concat());
        assert!(
            matches!(ShareableList::open(&n.0), Err(Error::Corrupt { .. })),
            "{header:?}"
        );
    }
    // A valid list whose format, code or text another program spoiled.
    let sl = ShareableList::new(["text", "more"]).unwrap();
    let formats = 8 * 4 + 16;
    sl.shm().write(formats, b"zz\0\0\0\0\0\0").unwrap();
    let e = sl.get(0).unwrap_err();
    assert!(matches!(
        e,
        Error::Corrupt {
            reason: CorruptReason::Format { index: 0 },
            ..
        }
    ));
    assert!(
        std::error::Error::source(&e).is_some(),
        "the reason is the source"
    );
    sl.shm().write(formats, b"99s\0\0\0\0\0").unwrap();
    assert!(
        matches!(sl.to_vec(), Err(Error::Corrupt { .. })),
        "room overrun"
    );
    sl.shm().write(formats, b"8s\0\0\0\0\0\0").unwrap();
    sl.shm().write(formats + 16, &[9]).unwrap();
    assert!(matches!(
        sl.get(0),
        Err(Error::Corrupt {
            reason: CorruptReason::Code { index: 0, code: 9 },
            ..
        })
    ));
    sl.shm().write(formats + 16, &[1]).unwrap();
    sl.shm().write(32, &[0xff, 0xfe]).unwrap();
    assert!(matches!(
        sl.get(0),
        Err(Error::Corrupt {
            reason: CorruptReason::Utf8 { index: 0 },
            ..
        })
    ));
    assert_eq!(
        sl.get(1).unwrap(),
        ListItem::Str("more".into()),
        "the others read"
    );
}

mod random {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any bytes, and any change to a real list's bytes, give values or errors.
        #[test]
        fn any_bytes_give_values_or_errors(
            junk in prop::collection::vec(any::<u8>(), 1..300),
            flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..12),
        ) {
            let (n, _b) = block_with(&junk);
            if let Ok(sl) = ShareableList::open(&n.0) {
                let _ = sl.to_vec();
                let _ = sl.format();
                for i in 0..sl.len() {
                    let _ = sl.get(i);
                }
            }
            let sl = ShareableList::new(sample()).unwrap();
            let size = sl.shm().size();
            for (at, byte) in flips {
                sl.shm().write(at % size, &[byte]).unwrap();
            }
            if let Ok(other) = ShareableList::open(sl.name()) {
                let _ = other.to_vec();
                let _ = other.format();
                for i in 0..other.len() {
                    let _ = other.get(i);
                    let _ = other.set(i, "x");
                }
            }
        }
    }
}
