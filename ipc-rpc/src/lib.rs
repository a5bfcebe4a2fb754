//! An XML-RPC client and server that Python's `xmlrpc.client` and `xmlrpc.server` accept as
//! their own: every value type of the spec plus the `nil` and `i8` extensions, serde
//! conversion to and from your own types, introspection, multicall, faults with Python's codes
//! and strings, HTTP/1.1 keep-alive, and limits that keep bad input from hurting the server.
//!
//! # Hello, world!
//!
//! A server with one function, and a client calling it over a real socket:
//!
//! ```
//! use multiproc_rpc::{Client, Server};
//!
//! let mut server = Server::bind("127.0.0.1:0")?; // port 0: any free port
//! server.register_function("hello", |name: String| format!("Hello, {name}!"));
//! let running = server.spawn()?;
//!
//! let client = Client::new(&running.url())?;
//! let greeting: String = client.call("hello", ("world",))?;
//! assert_eq!(greeting, "Hello, world!");
//! running.shutdown();
//! # Ok::<(), multiproc_rpc::Error>(())
//! ```
//!
//! Python on the other side needs nothing special:
//! `xmlrpc.client.ServerProxy("http://127.0.0.1:8000").hello("world")` calls the server above,
//! and [`Client`] calls a `SimpleXMLRPCServer` the same way.
//!
//! # Using it
//!
//! ```toml
//! [dependencies]
//! multiproc-rpc = "0.1"
//! ```
//!
//! The example above needs nothing else. To pass your own structs as arguments and results,
//! derive serde's traits on them (`serde = { version = "1", features = ["derive"] }`), as the
//! next example does. Features:
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `tls` | off | `https://` URLs on the [`Client`], through `rustls` (`multiproc-rpc = { version = "0.1", features = ["tls"] }`) |
//!
//! The whole workspace is also available as one crate, `multiproc`, whose `rpc` module is this
//! crate.
//!
//! # Functions are plain Rust functions
//!
//! Any `Fn(A, B, ...) -> R` is a method: each XML-RPC parameter is converted into the
//! argument's type with serde, the result back into a value. Return `Result<T, Fault>` to
//! answer with a fault of your own. Wrong arity and wrong types become the `TypeError` faults
//! Python's server gives; an unknown method becomes `method "x" is not supported`.
//!
//! ```
//! use multiproc_rpc::{Fault, Methods, Server, Value};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Point { x: f64, y: f64 }
//!
//! let mut server = Server::new()?;
//! server
//!     .register_introspection_functions()
//!     .register_multicall_functions()
//!     .register_function("norm", |p: Point| (p.x * p.x + p.y * p.y).sqrt())
//!     .register_function("pow", |x: i64, y: u32| {
//!         x.checked_pow(y).ok_or_else(|| Fault::python("OverflowError", "too big"))
//!     })
//!     .register_instance(Methods::new(()).method("mul", |_: &(), x: i64, y: i64| x * y));
//!
//! // Without the network: what a request would answer.
//! let p = Value::Struct([("x".into(), Value::Double(3.0)), ("y".into(), Value::Double(4.0))].into());
//! assert_eq!(server.dispatch("norm", vec![p]), Ok(Value::Double(5.0)));
//! assert_eq!(
//!     server.dispatch("mul", vec![Value::Int(5)]).unwrap_err().string,
//!     "<class 'TypeError'>:mul() argument 2 is missing or None: invalid type: unit value, expected i64",
//! );
//! # Ok::<(), multiproc_rpc::Error>(())
//! ```
//!
//! # Values
//!
//! [`Value`] holds any XML-RPC value; [`to_value`] and [`from_value`] convert serde types.
//! `Option::None` is `nil`, [`DateTime`] is `dateTime.iso8601`, integers that do not fit in 32
//! bits are `i8`, and bytes (`Vec<u8>`, `&[u8]`) are `base64`, which Python reads as `Binary`:
//! no wrapper type is needed (see [`to_value`] for the exact rule).
//!
//! # Limits
//!
//! The server reads a request only within [`Limits`]: the body size is checked against the
//! `Content-Length` before a byte of it is read; XML nesting is bounded; a DTD is refused and
//! no entity beyond the five predefined ones is expanded; a client must send its request
//! within a read timeout and may idle only so long, and a new connection has a short time of
//! its own for its first request; a request with both `Transfer-Encoding` and
//! `Content-Length` is refused. Connections are capped, and a full table drops the connection
//! idle the longest rather than turn a new client away. Each connection has its own thread, so
//! a stalled client delays nobody else.
//!
//! # https
//!
//! With the `tls` feature, [`Client`] takes `https://` URLs: TLS through `rustls`, checked
//! against the roots the system trusts (as Python's default context), or against your own
//! with `Client::tls_config`. The server speaks plain HTTP; put it behind a TLS proxy to
//! serve https.
//!
//! # Logging
//!
//! The server logs through the [`log`](https://docs.rs/log) facade, under targets that start
//! with `multiproc_rpc`; install any logger (`env_logger`, ...) to see them. Every answer is
//! one `info` record, as Python's server writes a line per request:
//! `127.0.0.1:50312 "POST /RPC2 HTTP/1.1" 200 add 0.12 ms` (the peer, the request line,
//! the status, the method or the reason for a refusal, the time it took). A method that
//! panicked and a failing `accept` are `warn`; a connection closed, or dropped for a new one
//! when the table is full, is `debug`. Nothing is written to stderr.
//!
//! # Comparison with Python's `xmlrpc`
//!
//! | Python | `multiproc-rpc` | note |
//! |---|---|---|
//! | `SimpleXMLRPCServer(("localhost", 8000))` | [`Server::bind`] | port 0 allowed; [`Server::new`] binds loopback |
//! | `requestHandler.rpc_paths = ('/RPC2',)` | [`Server::rpc_paths`] | default `/` and `/RPC2` |
//! | `register_function(f, name)` | [`Server::register_function`] | arguments and result converted by serde |
//! | `register_instance(obj)` | [`Server::register_instance`] with [`Methods`] or your own [`Instance`] | |
//! | `register_instance(obj, allow_dotted_names=True)` | [`Server::allow_dotted_names`] + [`Methods::member`] | only members you hand out are reachable; `listMethods` lists them as `member.method` |
//! | `register_introspection_functions()` | [`Server::register_introspection_functions`] | `methodSignature` says "signatures not supported", as Python's |
//! | `register_multicall_functions()` | [`Server::register_multicall_functions`] | |
//! | gzip: `encode_threshold`, `accept_gzip_encoding`, `gzip_decode(max_decode=20 MiB)` | [`Server::encode_threshold`] (1400), [`Client::encode_threshold`] (off), [`Client::accept_gzip_encoding`] (on) | inflated within the body limit: [`Limits::max_body`], [`Client::set_max_message`] |
//! | `allow_none=True` | [`Server::allow_none`], [`Client::allow_none`] | off by default in both, as in Python |
//! | `serve_forever()` / `shutdown()` | [`Server::serve_forever`] / [`Server::spawn`] + [`ServerHandle::shutdown`] | graceful: calls in progress finish |
//! | single-threaded, HTTP/1.0, one connection per request | thread per connection, HTTP/1.1 keep-alive | plus [`Limits`] |
//! | `logRequests=True` (a line on stderr per request) | a `log` record at `info` per answer | see [Logging](#logging) |
//! | `ServerProxy("http://user:pw@host:port/RPC2")` | [`Client::new`] | basic auth from the URL |
//! | `ServerProxy("https://...", context=ctx)` | [`Client::new`] + `Client::tls_config` | feature `tls` (rustls); the system's roots by default |
//! | `proxy.add(2, 3)` | `client.call::<i32>("add", (2, 3))` | typed result |
//! | `xmlrpc.client.Fault` | [`Error::Fault`]([`Fault`]) | code and string |
//! | `xmlrpc.client.ProtocolError` | [`Error::Http`] | |
//! | `ResponseError`, `ExpatError` | [`Error::Corrupt`] with a [`CorruptReason`] | typed: [`MalformedHttp`], [`XmlError`], gzip |
//! | `socket.timeout` | [`Error::Timeout`] | |
//! | `MultiCall(proxy)` | [`MultiCall`] + [`Client::multicall`] | |
//! | `Binary`, `DateTime`, `None` | `Vec<u8>` or `&[u8]` / [`Value::Base64`], [`DateTime`], `Option` / [`Value::Nil`] | bytes need no wrapper |
//! | `python -m xmlrpc.client` | the `xmlrpc` binary of this crate | `xmlrpc URL METHOD ARGS...`, `xmlrpc --list URL` |
//!
//! # Implementation notes
//!
//! No `unsafe` and no async runtime: blocking `std::net` sockets, a thread per connection, a
//! small hand-written HTTP/1.1 layer (`POST` with `Content-Length` or chunked bodies,
//! keep-alive, `Expect: 100-continue`, gzip bodies through `flate2`), and `quick-xml` for
//! parsing.

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

mod client;
mod conns;
mod datetime;
mod de;
mod error;
#[cfg(test)]
mod fuzz;
mod gzip;
mod handler;
mod http;
mod instance;
mod limits;
mod methods;
mod multicall;
mod params;
mod registry;
mod ser;
mod serve;
mod server;
mod server_handle;
#[cfg(feature = "tls")]
mod tls;
mod value;
mod xml;

pub use client::Client;
pub use datetime::DateTime;
pub use de::from_value;
pub use error::{CorruptReason, Error, Fault, MalformedHttp, XmlError};
pub use handler::{Handler, MethodHandler, Reply};
pub use instance::Instance;
pub use limits::Limits;
pub use methods::Methods;
pub use multicall::MultiCall;
pub use params::Params;
pub use ser::to_value;
pub use server::Server;
pub use server_handle::ServerHandle;
pub use value::Value;

/// The TLS crate behind `https://` URLs, for [`Client::tls_config`] (only with the `tls`
/// feature).
#[cfg(feature = "tls")]
pub use rustls;
