//! Property tests: random and mutated bytes for every decoder of another machine's bytes
//! (HTTP request and response heads and bodies, chunked included; XML-RPC values, calls and
//! responses; values into typed arguments). Each must end, without a panic, in a value or a
//! typed error, and allocate no more than its limits allow.
//!
//! The allocation bound is measured with a counting global allocator (this test binary only):
//! the bytes allocated and not yet freed by the decoding thread, at their peak.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::client::{Exchange, read_response};
use crate::http::{Conn, Transport};
use crate::serve::{Stop, check_head, read_body, read_head};
use crate::{DateTime, Fault, Limits, Value, from_value, xml};

// ------------------------------------------------------------------------------------------
// Measuring allocation
// ------------------------------------------------------------------------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(n: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(n);
        live.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

fn shrank(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(n)));
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; the counting touches only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which `System.alloc` shares.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (so from `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator (so from `System`) with `layout`; the caller
        // upholds the rest of `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Runs `f` and returns its result with the most bytes it had allocated at once (on this
/// thread, beyond what was allocated before).
fn peak_of<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    (r, PEAK.with(Cell::get) - base)
}

// ------------------------------------------------------------------------------------------
// Running
// ------------------------------------------------------------------------------------------

/// Runs `cases` cases of `test` on inputs from the strategy `make` builds, on a thread of its
/// own that must finish within 120 s (a hang fails the test instead of wedging the suite).
fn check<S: Strategy<Value: 'static>>(
    cases: u32,
    make: impl FnOnce() -> S + Send + 'static,
    test: fn(S::Value) -> Result<(), TestCaseError>,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let strategy = make();
        let config = Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        };
        let r = TestRunner::new(config).run(&strategy, test);
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e}"),
        Err(_) => panic!("the cases did not finish within 120 s: a decoder hangs"),
    }
}

// ------------------------------------------------------------------------------------------
// Inputs
// ------------------------------------------------------------------------------------------

/// Pieces that make a decoder take another branch when spliced in.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b":",
    b" ",
    b";",
    b"0",
    b"-1",
    b"+5",
    b"ffffffffffffffff",
    b"99999999999999999999",
    b"Content-Length: ",
    b"Content-Length: 3\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip\r\n",
    b"Content-Encoding: gzip\r\n",
    b"Connection: close\r\n",
    b"Expect: 100-continue\r\n",
    b"chunked",
    b"HTTP/1.0",
    b"<value>",
    b"</value>",
    b"<value/>",
    b"<array><data>",
    b"</data></array>",
    b"<struct><member><name>",
    b"</name>",
    b"</member></struct>",
    b"<int>",
    b"</int>",
    b"<i8>",
    b"<double>",
    b"<boolean>",
    b"<base64>",
    b"</base64>",
    b"<dateTime.iso8601>",
    b"<nil/>",
    b"<params><param>",
    b"<fault>",
    b"&amp;",
    b"&bogus;",
    b"&#x0;",
    b"&#1114112;",
    b"&#xD800;",
    b"<![CDATA[",
    b"]]>",
    b"<!DOCTYPE x [<!ENTITY e 'e'>]>",
    b"<?xml version='1.0'?>",
    b"<!--",
    b"-->",
    b"\xff",
    b"\xc3",
    b"\0",
    b"====",
];

#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Insert(Index, usize),
    Delete(Index, usize),
    Repeat(Index, usize, usize),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<Index>(), 0..TOKENS.len()).prop_map(|(i, t)| Mutation::Insert(i, t)),
        (any::<Index>(), 1..16usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1..32usize, 2..8usize).prop_map(|(i, n, k)| Mutation::Repeat(i, n, k)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let at = |i: &Index| {
            if b.is_empty() {
                0
            } else {
                i.index(b.len() + 1)
            }
        };
        match m {
            Mutation::Flip(i, x) if !b.is_empty() => {
                let i = i.index(b.len());
                b[i] ^= x;
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(i, t) => {
                let i = at(i);
                b.splice(i..i, TOKENS[*t].iter().copied());
            }
            Mutation::Delete(i, n) => {
                let i = at(i);
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Mutation::Repeat(i, n, k) => {
                let i = at(i);
                let end = (i + n).min(b.len());
                let piece = b[i..end].to_vec();
                for _ in 1..*k {
                    b.splice(end..end, piece.iter().copied());
                }
            }
            Mutation::Truncate(i) => {
                let i = at(i);
                b.truncate(i);
            }
        }
    }
    b
}

/// One of `corpus`, mutated 0 to 8 times, or random bytes.
fn mutated(corpus: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (proptest::sample::select(corpus), vec(mutation(), 0..8))
            .prop_map(|(b, ms)| apply(b, &ms)),
        1 => vec(any::<u8>(), 0..512),
    ]
}

/// XML 1.0 text (no control characters but tab, LF and CR).
fn xml_text() -> impl Strategy<Value = String> {
    "[\t\n\r\u{20}-\u{d7ff}\u{e000}-\u{fffd}\u{10000}-\u{10ffff}]{0,12}"
}

fn datetime() -> impl Strategy<Value = DateTime> {
    (
        0..=9999u16,
        1..=12u8,
        1..=31u8,
        0..=23u8,
        0..=59u8,
        0..=60u8,
    )
        .prop_map(|(y, mo, d, h, mi, s)| DateTime::new(y, mo, d, h, mi, s).expect("in range"))
}

/// Any value the writer can send (no NaN, which is not equal to itself).
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i32>().prop_map(Value::Int),
        any::<i64>().prop_map(Value::I8),
        any::<bool>().prop_map(Value::Bool),
        xml_text().prop_map(Value::String),
        any::<f64>()
            .prop_filter("NaN", |d| !d.is_nan())
            .prop_map(Value::Double),
        datetime().prop_map(Value::DateTime),
        vec(any::<u8>(), 0..48).prop_map(Value::Base64),
        Just(Value::Nil),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(xml_text(), inner, 0..6).prop_map(Value::Struct),
        ]
    })
}

// ------------------------------------------------------------------------------------------
// HTTP
// ------------------------------------------------------------------------------------------

/// Bytes handed out in the given read sizes, then end-of-file; writes are kept.
struct Scripted {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    next: usize,
    written: Vec<u8>,
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.next % self.sizes.len()];
        self.next += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(&buf[..buf.len().min(4096)]);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Scripted {
    fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

fn scripted(data: Vec<u8>, sizes: Vec<usize>) -> Conn {
    Conn::new(Scripted {
        data,
        pos: 0,
        sizes,
        next: 0,
        written: Vec::new(),
    })
}

/// Read sizes: one large read, or many small ones (the decoders must not care).
fn read_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![Just(vec![1 << 20]), vec(1..64usize, 1..16)]
}

const MAX_HEAD: usize = 1024;
const MAX_BODY: usize = 4096;

fn fuzz_limits() -> Limits {
    Limits {
        max_head: MAX_HEAD,
        max_body: MAX_BODY,
        ..Limits::default()
    }
}

/// What reading a request or response may hold at once: its input, the read buffer
/// (16 KiB at a time), a body up to the limit, each with room to grow, and for a gzipped body
/// the inflater's state (about 80 KiB) and the inflated body, up to the limit too.
fn http_bound(input: usize) -> usize {
    192 * 1024 + 4 * (input + MAX_BODY)
}

fn requests() -> Vec<Vec<u8>> {
    let call = xml::call("add", &[Value::Int(2), Value::Int(3)]);
    vec![
        format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{call}",
            call.len()
        )
        .into_bytes(),
        format!(
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\n<?xml\r\n{:x};ext=1\r\n{}\r\n0\r\nTrailer: x\r\n\r\n",
            call.len() - 5,
            &call[5..]
        )
        .into_bytes(),
        b"POST /RPC2 HTTP/1.0\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
    ]
}

fn responses() -> Vec<Vec<u8>> {
    let doc = xml::response(&Ok(Value::Int(5)));
    vec![
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{doc}",
            doc.len()
        )
        .into_bytes(),
        format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{doc}\r\n0\r\n\r\n",
            doc.len()
        )
        .into_bytes(),
        format!("HTTP/1.0 200 OK\r\n\r\n{doc}").into_bytes(),
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
    ]
}

fn request_case((input, sizes): (Vec<u8>, Vec<usize>)) -> Result<(), TestCaseError> {
    let len = input.len();
    let limits = fuzz_limits();
    let mut conn = scripted(input, sizes);
    let (r, peak) = peak_of(|| {
        let mut first_by = Some(Instant::now() + Duration::from_secs(5));
        let head = read_head(&mut conn, &limits, &mut first_by)?;
        check_head(&head, &limits, &[])?;
        read_body(&mut conn, &head, &limits)
    });
    match r {
        Ok(body) => prop_assert!(body.len() <= MAX_BODY),
        Err(Stop::Quietly) => {}
        Err(Stop::Refuse(status, _)) => {
            prop_assert!([400, 408, 411, 413, 431, 501].contains(&status), "{status}")
        }
    }
    prop_assert!(peak <= http_bound(len), "{peak} bytes for {len}");
    Ok(())
}

fn response_case((input, sizes): (Vec<u8>, Vec<usize>)) -> Result<(), TestCaseError> {
    let len = input.len();
    let mut conn = scripted(input, sizes);
    let (r, peak) = peak_of(|| read_response(&mut conn, None, MAX_BODY));
    match r {
        Ok(resp) => prop_assert!(resp.body.len() <= MAX_BODY),
        Err(Exchange::Stale | Exchange::Failed(_)) => {}
    }
    prop_assert!(peak <= http_bound(len), "{peak} bytes for {len}");
    Ok(())
}

#[test]
fn http_requests_from_random_and_mutated_bytes() {
    check(3000, || (mutated(requests()), read_sizes()), request_case);
}

#[test]
fn http_responses_from_random_and_mutated_bytes() {
    check(3000, || (mutated(responses()), read_sizes()), response_case);
}

/// Every `Content-Length` and chunk size, however large, is checked against the limit before
/// anything is allocated for it.
#[test]
fn http_declared_sizes_never_allocate_past_the_limit() {
    fn case((n, chunked): (u64, bool)) -> Result<(), TestCaseError> {
        let req = if chunked {
            format!("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{n:x}\r\nabc")
        } else {
            format!("POST / HTTP/1.1\r\nContent-Length: {n}\r\n\r\nabc")
        };
        request_case((req.into_bytes(), vec![1 << 20]))
    }
    let sizes = || prop_oneof![0..2 * MAX_BODY as u64, any::<u64>()];
    check(2000, move || (sizes(), any::<bool>()), case);
}

/// A chunk size declared after some body already arrived: the sum must not overflow.
#[test]
fn http_chunk_sizes_after_a_first_chunk() {
    fn case((n, text): (u64, String)) -> Result<(), TestCaseError> {
        let req = format!(
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n{}\r\nabc",
            if text.is_empty() {
                format!("{n:x}")
            } else {
                text
            }
        );
        request_case((req.into_bytes(), vec![1 << 20]))
    }
    let sizes = || {
        prop_oneof![
            Just(u64::MAX),
            u64::MAX - 8..=u64::MAX,
            0..2 * MAX_BODY as u64,
            any::<u64>()
        ]
    };
    let text = || prop_oneof![3 => Just(String::new()), 1 => "[-+ 0-9a-fA-FxX;=]{1,24}"];
    check(2000, move || (sizes(), text()), case);
}

// ------------------------------------------------------------------------------------------
// XML-RPC
// ------------------------------------------------------------------------------------------

/// What parsing a document may hold at once: values take more room than their text, but in
/// proportion to it.
fn xml_bound(input: usize) -> usize {
    64 * 1024 + 64 * input
}

fn documents() -> Vec<Vec<u8>> {
    let mut m = BTreeMap::new();
    m.insert(
        "a".to_string(),
        Value::Array(vec![Value::Int(1), Value::Nil]),
    );
    m.insert("b".to_string(), Value::Base64(b"\x00\xff".to_vec()));
    let v = Value::Struct(m);
    vec![
        xml::call("m.x", &[v.clone(), Value::Double(0.5), Value::Bool(true)]).into_bytes(),
        xml::call(
            "d",
            &[Value::DateTime("20240131T23:59:07".parse().expect("date"))],
        )
        .into_bytes(),
        xml::response(&Ok(v)).into_bytes(),
        xml::response(&Err(Fault::new(3, "no & <way>"))).into_bytes(),
        b"<methodCall><methodName>f</methodName><params><param><value>bare</value></param>\
          <param><value><i8>-9</i8></value></param><param><value><![CDATA[x]]></value></param>\
          </params></methodCall>"
            .to_vec(),
    ]
}

fn xml_case(input: Vec<u8>) -> Result<(), TestCaseError> {
    let len = input.len();
    let (_, peak) = peak_of(|| {
        let _ = xml::parse_call(&input, 16);
        let _ = xml::parse_response(&input, 16);
    });
    prop_assert!(peak <= xml_bound(len), "{peak} bytes for {len}");
    Ok(())
}

#[test]
fn xml_documents_from_random_and_mutated_bytes() {
    check(4000, || mutated(documents()), xml_case);
}

/// Whatever the writer sends, the reader reads back the same: calls, responses and faults.
#[test]
fn xml_values_round_trip() {
    fn case(
        (name, params, code, string): (String, Vec<Value>, i32, String),
    ) -> Result<(), TestCaseError> {
        let doc = xml::call(&name, &params);
        let (n, p) =
            xml::parse_call(doc.as_bytes(), 64).map_err(|e| TestCaseError::fail(e.full()))?;
        prop_assert_eq!(n, name);
        prop_assert_eq!(&p, &params);
        for v in params {
            let doc = xml::response(&Ok(v.clone()));
            let back = xml::parse_response(doc.as_bytes(), 64)
                .map_err(|e| TestCaseError::fail(e.full()))?;
            prop_assert_eq!(back, Ok(v));
        }
        let f = Fault::new(code, string);
        let doc = xml::response(&Err(f.clone()));
        let back =
            xml::parse_response(doc.as_bytes(), 64).map_err(|e| TestCaseError::fail(e.full()))?;
        prop_assert_eq!(back, Err(f));
        Ok(())
    }
    let name = "[A-Za-z_][A-Za-z0-9_.:]{0,16}";
    check(
        2000,
        move || (name, vec(value(), 0..4), any::<i32>(), xml_text()),
        case,
    );
}

/// Nesting is refused past the limit however deep it goes, without exhausting the stack.
#[test]
fn xml_nesting_is_bounded() {
    fn case((depth, max, arrays): (usize, usize, bool)) -> Result<(), TestCaseError> {
        let (open, close) = if arrays {
            ("<array><data><value>", "</value></data></array>")
        } else {
            (
                "<struct><member><name>k</name><value>",
                "</value></member></struct>",
            )
        };
        let doc = format!(
            "<methodCall><methodName>f</methodName><params><param><value>{}<int>1</int>{}</value></param></params></methodCall>",
            open.repeat(depth),
            close.repeat(depth)
        );
        let r = xml::parse_call(doc.as_bytes(), max);
        prop_assert_eq!(r.is_ok(), depth <= max, "depth {} max {}", depth, max);
        Ok(())
    }
    check(300, || (0..3000usize, 0..100usize, any::<bool>()), case);
}

/// Values from a peer, converted into the argument types a method asks for: a value or a
/// typed error, never a panic.
#[test]
fn values_into_typed_arguments() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Point {
        x: f64,
        y: Option<i32>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    enum Shape {
        Dot,
        Circle(f64),
        Rect { w: u16, h: u16 },
    }
    fn case(v: Value) -> Result<(), TestCaseError> {
        let _ = from_value::<i32>(v.clone());
        let _ = from_value::<u8>(v.clone());
        let _ = from_value::<u64>(v.clone());
        let _ = from_value::<f32>(v.clone());
        let _ = from_value::<char>(v.clone());
        let _ = from_value::<String>(v.clone());
        let _ = from_value::<Vec<u8>>(v.clone());
        let _ = from_value::<(i32, String)>(v.clone());
        let _ = from_value::<[u8; 4]>(v.clone());
        let _ = from_value::<BTreeMap<String, Value>>(v.clone());
        let _ = from_value::<Option<Vec<bool>>>(v.clone());
        let _ = from_value::<Point>(v.clone());
        let _ = from_value::<Vec<Shape>>(v.clone());
        let _ = from_value::<DateTime>(v.clone());
        let _ = from_value::<()>(v);
        Ok(())
    }
    check(2000, value, case);
}

#[test]
fn datetimes_from_random_text() {
    fn case(s: String) -> Result<(), TestCaseError> {
        if let Ok(t) = s.parse::<DateTime>() {
            prop_assert_eq!(t.to_string().parse::<DateTime>().ok(), Some(t));
        }
        Ok(())
    }
    let text = || {
        prop_oneof![
            "[0-9T:+.Z -]{0,24}",
            any::<String>(),
            datetime().prop_map(|t| t.to_string()),
        ]
    };
    check(3000, text, case);
}

// ------------------------------------------------------------------------------------------
// gzip
// ------------------------------------------------------------------------------------------

fn gzipped() -> Vec<Vec<u8>> {
    let docs = documents();
    let mut out: Vec<Vec<u8>> = docs
        .iter()
        .map(|d| crate::gzip::encode(d).expect("gzip"))
        .collect();
    // Two members, and a small bomb (64 KiB of zeros).
    out.push([out[0].clone(), out[1].clone()].concat());
    out.push(crate::gzip::encode(&[0; 64 << 10]).expect("gzip"));
    out
}

fn gzip_case(input: Vec<u8>) -> Result<(), TestCaseError> {
    let len = input.len();
    let (r, peak) = peak_of(|| crate::gzip::decode(&input, MAX_BODY));
    if let Ok(out) = r {
        prop_assert!(out.len() <= MAX_BODY);
    }
    // The inflater's own state (its 32 KiB window and input buffer) is about 80 KiB.
    prop_assert!(
        peak <= 3 * MAX_BODY + 128 * 1024 + 2 * len,
        "{peak} bytes for {len}"
    );
    Ok(())
}

#[test]
fn gzip_bodies_from_random_and_mutated_bytes() {
    check(3000, || mutated(gzipped()), gzip_case);
}

/// 64 MiB of zeros in 64 KiB of gzip: refused at a 1 MiB limit, having held little more.
#[test]
fn a_gzip_bomb_is_refused_at_the_limit() {
    let bomb = crate::gzip::encode(&vec![0; 1 << 20])
        .expect("gzip")
        .repeat(64);
    let (r, peak) = peak_of(|| crate::gzip::decode(&bomb, 1 << 20));
    assert!(matches!(r, Err(crate::gzip::GzipError::TooLarge)), "{r:?}");
    assert!(peak <= 3 << 20, "{peak}");
}
