//! Interop with Python 3.11's `xmlrpc` (`python3` on the PATH): Python's client against our
//! server, our client against Python's `SimpleXMLRPCServer`, over every value type, faults,
//! multicall and `nil`; and the `xmlrpc` command-line client.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use multiproc_rpc::{Client, DateTime, Error, Fault, Methods, MultiCall, Server, Value};

/// Kills and reaps the child however the test ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a Python script to completion within 30 s; returns its stdout, or panics with its
/// stderr.
fn python(script: &str, args: &[&str]) -> String {
    let child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut g = Guard(child);
    let out = g.0.stdout.take().unwrap();
    let err = g.0.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(out), &mut s);
        let _ = tx.send((0, s));
    });
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(err), &mut s);
        let _ = tx2.send((1, s));
    });
    let mut got = [String::new(), String::new()];
    for _ in 0..2 {
        let (i, s) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("python finished within 30 s");
        got[i] = s;
    }
    let status = g.0.wait().unwrap();
    assert!(status.success(), "python failed:\n{}\n{}", got[0], got[1]);
    got[0].clone()
}

fn every_type() -> Value {
    let mut m = BTreeMap::new();
    m.insert("int".into(), Value::Int(-7));
    m.insert("i8".into(), Value::I8(1 << 40));
    m.insert("bool".into(), Value::Bool(true));
    m.insert(
        "string".into(),
        Value::from("<ünïcödé> & \"q\" \r\n\t \u{85}\u{2028}"),
    );
    m.insert("double".into(), Value::Double(-0.1));
    m.insert(
        "datetime".into(),
        Value::DateTime(DateTime::new(2024, 1, 31, 23, 59, 7).unwrap()),
    );
    m.insert("base64".into(), Value::Base64((0..=255).collect()));
    m.insert(
        "array".into(),
        Value::Array(vec![
            Value::Int(1),
            Value::from("two"),
            Value::Array(vec![]),
        ]),
    );
    m.insert("nil".into(), Value::Nil);
    m.insert("empty".into(), Value::Struct(BTreeMap::new()));
    Value::Struct(m)
}

fn our_server() -> multiproc_rpc::ServerHandle {
    let math = Methods::new(())
        .method("add", |_: &(), x: i32, y: i32| x + y)
        .member(
            "deep",
            Methods::new(()).method_with_help("neg", "Negates x.", |_: &(), x: i32| -x),
        );
    let mut s = Server::new().unwrap();
    s.allow_none(true)
        .allow_dotted_names(true)
        .register_introspection_functions()
        .register_multicall_functions()
        .register_function("echo", |v: Value| v)
        .register_function("every_type", every_type)
        .register_function("add", |x: i32, y: i32| x + y)
        .register_function("fail", || -> Result<i32, Fault> {
            Err(Fault::new(42, "no luck"))
        })
        .register_function("none", || None::<i32>)
        .register_function("bytes_len", |b: Vec<u8>| b.len())
        .register_function("reversed", |mut b: Vec<u8>| {
            b.reverse();
            b
        })
        .register_instance(
            Methods::new(10)
                .method("scale", |k: &i32, x: i32| k * x)
                .member("math", math)
                .member("_hidden", Methods::new(()).method("x", |_: &()| 1)),
        );
    s.spawn().unwrap()
}

#[test]
fn python_client_against_our_server() {
    let server = our_server();
    let script = PYTHON_CLIENT;
    assert_eq!(python(script, &[&server.url()]).trim(), "ok");
    server.shutdown();
}

/// Python's `SimpleXMLRPCServer`, with a handler that notes the encodings of each request.
const PYTHON_SERVER: &str = r#"
import sys
from xmlrpc.server import SimpleXMLRPCServer
from xmlrpc.server import SimpleXMLRPCRequestHandler
seen = []
class Handler(SimpleXMLRPCRequestHandler):
    def decode_request_content(self, data):
        seen.append([self.headers.get("Content-Encoding", ""), self.headers.get("Accept-Encoding", "")])
        return super().decode_request_content(data)
s = SimpleXMLRPCServer(("127.0.0.1", 0), Handler, logRequests=False, allow_none=True)
s.register_function(lambda: seen[-2], "seen_encodings")
s.register_introspection_functions()
s.register_multicall_functions()
s.register_function(lambda v: v, "echo")
s.register_function(lambda x, y: x + y, "add")
s.register_function(lambda v: v == 2**40, "is_big")
import xmlrpc.client
s.register_function(lambda v: isinstance(v, xmlrpc.client.Binary) and v.data, "binary_data")
def fail():
    raise ValueError("bad value")
s.register_function(fail)
def types():
    import xmlrpc.client as x, datetime
    return {"int": 1, "bool": False, "str": "s", "float": 2.5, "none": None,
            "dt": datetime.datetime(2024, 1, 31, 23, 59, 7), "bin": b"\x00\x01", "list": [1, [2]],
            "dict": {"k": "v"}}
s.register_function(types)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// Starts [`PYTHON_SERVER`]; its URL, and the guard that kills it.
fn python_server() -> (String, Guard) {
    let mut child = Command::new("python3")
        .args(["-c", PYTHON_SERVER])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let out = child.stdout.take().unwrap();
    let guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let port = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("python server started");
    (format!("http://127.0.0.1:{}/RPC2", port.trim()), guard)
}

#[test]
fn our_client_against_python_server() {
    let (url, _guard) = python_server();
    let c = Client::new(&url)
        .unwrap()
        .timeout(Duration::from_secs(10))
        .allow_none(true);
    values_both_ways(&c);
    typed_answers(&c);
    faults_and_multicall(&c);
    gzip_both_ways(&url);
    let methods: Vec<String> = c.call("system.listMethods", ()).unwrap();
    assert!(methods.contains(&"system.multicall".to_string()));
    // Python's server speaks HTTP/1.0 and closes after each answer: our client reconnects.
    for i in 0..5 {
        assert_eq!(c.call::<i32>("add", (i, 1)).unwrap(), i + 1);
    }
}

fn values_both_ways(c: &Client) {
    // Every value type there and back (Python cannot send i8 back, but reads it).
    let mut sent = every_type();
    // Python writes a CR back raw, and XML reads a raw CR as LF (Python to Python loses it
    // too); our side escapes it, so it survives the trip out.
    if let Value::Struct(m) = &mut sent {
        m.remove("i8");
        m.insert(
            "string".into(),
            Value::from("<ünïcödé> & \"q\" \n\t \u{85}\u{2028}"),
        );
    }
    let back = c.call_value("echo", vec![sent.clone()]).unwrap();
    assert_eq!(back, sent);
    assert!(c.call::<bool>("is_big", (1i64 << 40,)).unwrap());
    // `Vec<u8>` and `&[u8]` arrive as Python's `Binary`, and come back as bytes.
    let bytes: Vec<u8> = vec![0, 1, 255];
    assert_eq!(c.call::<Vec<u8>>("binary_data", (&bytes,)).unwrap(), bytes);
    assert_eq!(
        c.call::<Vec<u8>>("binary_data", (&b"xyz"[..],)).unwrap(),
        b"xyz"
    );
    assert_eq!(
        c.call::<Value>("echo", (vec![7u8; 3],)).unwrap(),
        Value::Base64(vec![7; 3])
    );
    assert_eq!(c.call::<i32>("add", (2, 3)).unwrap(), 5);
    assert_eq!(c.call::<String>("add", ("a", "b")).unwrap(), "ab");
    assert_eq!(c.call::<Option<i32>>("echo", (None::<i32>,)).unwrap(), None);
}

fn typed_answers(c: &Client) {
    #[derive(serde::Deserialize, Debug)]
    struct Types {
        int: i64,
        bool: bool,
        str: String,
        float: f64,
        none: Option<String>,
        dt: DateTime,
        #[serde(with = "bytes")]
        bin: Vec<u8>,
        list: (i32, Vec<i32>),
        dict: BTreeMap<String, String>,
    }
    mod bytes {
        pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
            serde::Deserialize::deserialize(d)
        }
    }
    let t: Types = c.call("types", ()).unwrap();
    assert_eq!(
        (t.int, t.bool, t.str.as_str(), t.float),
        (1, false, "s", 2.5)
    );
    assert_eq!(t.none, None);
    assert_eq!(t.dt.to_string(), "20240131T23:59:07");
    assert_eq!(t.bin, vec![0, 1]);
    assert_eq!(t.list, (1, vec![2]));
    assert_eq!(t.dict["k"], "v");
}

fn faults_and_multicall(c: &Client) {
    match c.call::<i32>("fail", ()) {
        Err(Error::Fault(f)) => {
            assert_eq!(f.code, 1);
            assert_eq!(f.string, "<class 'ValueError'>:bad value");
        }
        other => panic!("expected a fault, got {other:?}"),
    }
    match c.call::<i32>("nope", ()) {
        Err(Error::Fault(f)) => {
            assert_eq!(
                f.string,
                "<class 'Exception'>:method \"nope\" is not supported"
            )
        }
        other => panic!("expected a fault, got {other:?}"),
    }
    let mut batch = MultiCall::new();
    batch
        .add("add", (2, 3))
        .unwrap()
        .add("fail", ())
        .unwrap()
        .add("echo", (Value::Nil,))
        .unwrap();
    let r = c.multicall(&batch).unwrap();
    assert_eq!(r[0], Ok(Value::Int(5)));
    assert_eq!(
        r[1].as_ref().unwrap_err().string,
        "<class 'ValueError'>:bad value"
    );
    assert_eq!(r[2], Ok(Value::Nil));
}

fn gzip_both_ways(url: &str) {
    // gzip both ways: Python inflates our gzipped request and gzips its answer (above its
    // threshold of 1400 bytes), which we inflate.
    let gz = Client::new(url)
        .unwrap()
        .timeout(Duration::from_secs(10))
        .encode_threshold(Some(100));
    let big = "w".repeat(30_000);
    assert_eq!(gz.call::<String>("echo", (&big,)).unwrap(), big);
    assert_eq!(
        gz.call::<Vec<String>>("seen_encodings", ()).unwrap(),
        ["gzip", "gzip"]
    );
}

#[test]
fn allow_none_is_off_by_default_like_python() {
    let mut s = Server::new().unwrap();
    s.register_function("none", || None::<i32>);
    let h = s.spawn().unwrap();
    let c = Client::new(&h.url()).unwrap();
    match c.call::<Value>("none", ()) {
        Err(Error::Fault(f)) => assert_eq!(
            f.string,
            "<class 'TypeError'>:cannot marshal None unless allow_none is enabled"
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.call::<Value>("none", (None::<i32>,)),
        Err(Error::NilNotAllowed)
    ));
}

#[test]
fn command_line_client() {
    let server = our_server();
    let exe = env!("CARGO_BIN_EXE_xmlrpc");
    let run = |args: &[&str]| {
        let out = Command::new(exe).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let url = server.url();
    assert_eq!(
        run(&[&url, "add", "2", "3"]),
        (true, "5\n".into(), String::new())
    );
    let (ok, out, _) = run(&[
        &url,
        "echo",
        r#"{"a": [1, 2.5, "x", null]}"#,
        "--allow-none",
    ]);
    assert!(ok);
    assert_eq!(out, "{\"a\": [1, 2.5, \"x\", None]}\n");
    let (ok, out, _) = run(&["--list", &url]);
    assert!(ok && out.lines().any(|l| l == "system.multicall"), "{out}");
    let (ok, _, err) = run(&[&url, "fail"]);
    assert!(!ok && err.contains("fault 42: no luck"), "{err}");
}

/// Python's `ServerProxy` against [`our_server`], whose URL is `sys.argv[1]`: every value
/// type, bytes, gzip, dotted names, faults, multicall, introspection. Prints `ok`.
const PYTHON_CLIENT: &str = r#"
import sys, xmlrpc.client as x
p = x.ServerProxy(sys.argv[1], allow_none=True)
v = p.every_type()
assert v["int"] == -7 and type(v["int"]) is int
assert v["i8"] == 2**40
assert v["bool"] is True
assert v["string"] == '<ünïcödé> & "q" \r\n\t \x85\u2028', repr(v["string"])
assert v["double"] == -0.1
assert isinstance(v["datetime"], x.DateTime) and v["datetime"].value == "20240131T23:59:07"
assert isinstance(v["base64"], x.Binary) and v["base64"].data == bytes(range(256))
assert v["array"] == [1, "two", []]
assert v["nil"] is None and v["empty"] == {}
# Everything Python sends comes back the same.
sent = [-2**31, 2**31 - 1, True, False, "", "text", 1e300, float("inf"), -0.0,
        x.DateTime("20000101T00:00:00"), x.Binary(b"\x00\xff"), {"a": [1, {"b": None}]},
        [], None, ("tu", "ple")]
for s in sent:
    r = p.echo(s)
    exp = list(s) if isinstance(s, tuple) else s
    assert r == exp, (s, r)
assert p.add(2, 3) == 5
assert p.scale(4) == 40
assert p.bytes_len(x.Binary(b"abc")) == 3
# Vec<u8> travels as base64 both ways, and still takes a list of small integers.
r = p.reversed(b"\x00\x01\xff")
assert isinstance(r, x.Binary) and r.data == b"\xff\x01\x00", repr(r)
assert p.bytes_len([1, 2, 255]) == 3
assert x.ServerProxy(sys.argv[1], use_builtin_types=True).reversed(b"ab") == b"ba"
# gzip both ways: Python's client gzips requests above its encode_threshold, and takes
# gzipped answers (it asks for them by default).
t = x.Transport(); t.encode_threshold = 0
big = "z" * 20000
assert x.ServerProxy(sys.argv[1], transport=t).echo(big) == big
import gzip, http.client, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
c.request("POST", u.path, gzip.compress(x.dumps((big,), "echo").encode()),
          {"Content-Type": "text/xml", "Content-Encoding": "gzip", "Accept-Encoding": "gzip"})
r = c.getresponse()
assert r.status == 200 and r.getheader("Content-Encoding") == "gzip", r.getheaders()
assert x.loads(gzip.decompress(r.read()))[0][0] == big
assert p.none() is None
try:
    p.fail(); assert False
except x.Fault as f:
    assert f.faultCode == 42 and f.faultString == "no luck"
try:
    p.nope(); assert False
except x.Fault as f:
    assert f.faultCode == 1 and f.faultString == '<class \'Exception\'>:method "nope" is not supported', f
try:
    p.add(1, 2, 3); assert False
except x.Fault as f:
    assert f.faultString == "<class 'TypeError'>:add() takes 2 positional arguments but 3 were given", f
try:
    p.add("a", 2); assert False
except x.Fault as f:
    assert f.faultString.startswith("<class 'TypeError'>:add() argument 1"), f
m = x.MultiCall(p)
m.add(2, 3); m.fail(); m.echo(None); m.nope()
r = m()
assert r[0] == 5 and r[2] is None
for i in (1, 3):
    try:
        r[i]; assert False
    except x.Fault as f:
        assert f.faultCode in (42, 1)
assert p.system.listMethods() == ["add", "bytes_len", "echo", "every_type", "fail", "math.add",
    "math.deep.neg", "none", "reversed", "scale",
    "system.listMethods", "system.methodHelp", "system.methodSignature", "system.multicall"]
# Dotted names reach members (allow_dotted_names), never a private one.
assert p.math.add(2, 3) == 5 and p.math.deep.neg(4) == -4
assert p.system.methodHelp("math.deep.neg") == "Negates x."
for name in ("_hidden.x", "math.nope", "nope.add"):
    try:
        getattr(p, name)(); assert False, name
    except x.Fault as f:
        assert f.faultString == '<class \'Exception\'>:method "%s" is not supported' % name, f
assert p.system.methodSignature("add") == "signatures not supported"
assert "multiple XML-RPC calls" in p.system.methodHelp("system.multicall")
# Without allow_none on our side, None in a result is Python's TypeError fault.
print("ok")
"#;
