//! The client side of the protocol: one session per process and manager, one request
//! connection per thread and manager, and Python's ways when the manager is a Python program.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::error::Error;
use crate::net::{self, Link};
use crate::objects::lock;
use crate::protocol::{AddressValue, Codec, Hello, Reply, Request, encode_hello};
use crate::server::Transport;
use crate::value::PyValue;

/// The key a manager's clients authenticate with (Python's `authkey`). Its `Debug` does not
/// show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Authkey(Arc<[u8]>);

impl Authkey {
    /// A key of 32 random bytes from the operating system.
    pub fn random() -> std::io::Result<Authkey> {
        let mut b = [0u8; 32];
        random_bytes(&mut b)?;
        Ok(Authkey(Arc::from(&b[..])))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Authkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Authkey(<{} bytes>)", self.0.len())
    }
}

impl From<&[u8]> for Authkey {
    fn from(b: &[u8]) -> Self {
        Authkey(Arc::from(b))
    }
}

impl<const N: usize> From<&[u8; N]> for Authkey {
    fn from(b: &[u8; N]) -> Self {
        Authkey(Arc::from(&b[..]))
    }
}

impl From<Vec<u8>> for Authkey {
    fn from(b: Vec<u8>) -> Self {
        Authkey(Arc::from(b))
    }
}

impl From<&str> for Authkey {
    fn from(s: &str) -> Self {
        Authkey(Arc::from(s.as_bytes()))
    }
}

/// Fills `buf` from the OS's random source.
pub(crate) fn random_bytes(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// What kind of program serves a manager address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Ours: postcard, sessions, server methods on the request connection.
    Rust,
    /// Python's `multiprocessing.managers.Server`: pickle, a fresh connection per server
    /// method, `accept_connection` before calls.
    Python,
}

struct SessionState {
    pid: u32,
    peer: Peer,
    /// Our session id (Rust peers).
    id: Option<u128>,
    /// The connection that keeps the session alive (Rust peers).
    control: Option<Link>,
}

/// Per process: the session with each manager, and the keys we know.
struct Global {
    sessions: HashMap<AddressValue, SessionState>,
    keys: HashMap<AddressValue, Authkey>,
}

static GLOBAL: Mutex<Option<Global>> = Mutex::new(None);

fn with_global<T>(f: impl FnOnce(&mut Global) -> T) -> T {
    let mut g = lock(&GLOBAL);
    let g = g.get_or_insert_with(|| Global {
        sessions: HashMap::new(),
        keys: HashMap::new(),
    });
    f(g)
}

/// Remembers the key of the manager at `address`, for proxies that arrive without one.
pub(crate) fn remember_key(address: &AddressValue, key: &Authkey) {
    with_global(|g| {
        g.keys.insert(address.clone(), key.clone());
    });
}

/// The key this process knows for `address`.
pub(crate) fn known_key(address: &AddressValue) -> Option<Authkey> {
    with_global(|g| g.keys.get(address).cloned())
}

/// Forgets what this process knows of a manager that was shut down.
pub(crate) fn forget(address: &AddressValue) {
    let old = with_global(|g| g.sessions.remove(address));
    drop(old);
}

/// A link inherited through `fork` belongs to the parent: never close it from here (a close
/// would not reach the peer while the parent holds it, but a shutdown would).
fn abandon(link: Link) {
    std::mem::forget(link);
}

fn new_session_id() -> Result<u128, Error> {
    let mut b = [0u8; 16];
    random_bytes(&mut b)?;
    Ok(u128::from_le_bytes(b))
}

/// The session of this process with the manager at `address` (opened on first use, and again
/// in a forked child): which kind of peer it is, and our session id.
pub(crate) fn session(
    address: &AddressValue,
    key: &Authkey,
) -> Result<(Peer, Option<u128>), Error> {
    let me = std::process::id();
    if let Some(s) = with_global(|g| {
        g.sessions
            .get(address)
            .filter(|s| s.pid == me)
            .map(|s| (s.peer, s.id))
    }) {
        return Ok(s);
    }
    let id = new_session_id()?;
    let mut link = net::dial(address, key)?;
    link.send(&encode_hello(&Hello::Session { id, pid: me }))?;
    let ack = link.recv()?;
    let state = match Codec::Postcard.decode_reply(&ack) {
        Ok(Reply::Return(_)) => SessionState {
            pid: me,
            peer: Peer::Rust,
            id: Some(id),
            control: Some(link),
        },
        // A Python server answers our hello with a pickled traceback: speak Python to it.
        _ if ack.first() == Some(&0x80) => SessionState {
            pid: me,
            peer: Peer::Python,
            id: None,
            control: None,
        },
        Ok(Reply::Fault(f)) => return Err(Error::Fault(f)),
        _ => {
            return Err(Error::Fault(crate::Fault::BadRequest(
                "unexpected answer to hello".into(),
            )));
        }
    };
    let out = (state.peer, state.id);
    let old = with_global(|g| g.sessions.insert(address.clone(), state));
    if let Some(SessionState {
        control: Some(link),
        ..
    }) = old
    {
        abandon(link);
    }
    Ok(out)
}

struct ThreadLink {
    pid: u32,
    link: Link,
}

thread_local! {
    static LINKS: RefCell<HashMap<AddressValue, ThreadLink>> = RefCell::new(HashMap::new());
}

fn take_link(address: &AddressValue) -> Option<Link> {
    let me = std::process::id();
    LINKS
        .try_with(|l| l.borrow_mut().remove(address))
        .ok()
        .flatten()
        .and_then(|t| {
            if t.pid == me {
                Some(t.link)
            } else {
                abandon(t.link);
                None
            }
        })
}

fn put_link(address: &AddressValue, link: Link) {
    let me = std::process::id();
    let _ = LINKS.try_with(|l| {
        l.borrow_mut()
            .insert(address.clone(), ThreadLink { pid: me, link })
    });
}

fn open_link(
    address: &AddressValue,
    key: &Authkey,
    peer: Peer,
    session: Option<u128>,
) -> Result<Link, Error> {
    let mut link = net::dial(address, key)?;
    match peer {
        Peer::Rust => {
            link.send(&encode_hello(&Hello::Requests { session }))?;
            match Codec::Postcard.decode_reply(&link.recv()?) {
                Ok(Reply::Return(_)) => {}
                Ok(Reply::Fault(f)) => return Err(Error::Fault(f)),
                _ => return Err(Error::Disconnected),
            }
        }
        Peer::Python => {
            let name = match std::thread::current().name() {
                Some(n) if n != "main" => format!("{}|{n}", process_name()),
                _ => process_name(),
            };
            let r = Request {
                id: None,
                method: "accept_connection".into(),
                args: vec![PyValue::Str(name)],
                kwargs: Vec::new(),
            };
            into_result(exchange(&mut link, Codec::Pickle, &r)?)?;
        }
    }
    Ok(link)
}

fn process_name() -> String {
    multiproc_process::current_process().name
}

fn exchange(link: &mut Link, codec: Codec, req: &Request) -> Result<Reply, Error> {
    let bytes = codec
        .encode_request(req)
        .map_err(|e| Error::Value(crate::ValueError::new(e.to_string())))?;
    link.send(&bytes)?;
    let reply = link.recv()?;
    codec
        .decode_reply(&reply)
        .map_err(|reason| Error::Corrupt { reason })
}

/// A reply as a plain result: `#RETURN`'s value, or the error.
pub(crate) fn into_result(r: Reply) -> Result<PyValue, Error> {
    match r {
        Reply::Return(v) | Reply::OwnerDied(v) => Ok(v),
        Reply::Error(PyValue::Object(o)) => Err(Error::from_exception(o)),
        Reply::Error(other) => Err(Error::Fault(crate::Fault::Other(other.to_string()))),
        Reply::Fault(f) => Err(Error::Fault(f)),
        Reply::Proxy { .. } => Err(Error::Fault(crate::Fault::Other(
            "a proxy where a value was expected".into(),
        ))),
    }
}

/// Where a request goes: the manager's address and the key to reach it.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub address: AddressValue,
    pub authkey: Authkey,
}

impl Endpoint {
    /// Sends a call on this thread's connection to the manager and waits for the reply.
    pub(crate) fn call(&self, req: &Request) -> Result<Reply, Error> {
        let (peer, session) = session(&self.address, &self.authkey)?;
        let codec = match peer {
            Peer::Rust => Codec::Postcard,
            Peer::Python => Codec::Pickle,
        };
        let mut link = match take_link(&self.address) {
            Some(l) => l,
            None => open_link(&self.address, &self.authkey, peer, session)?,
        };
        let r = exchange(&mut link, codec, req);
        if r.is_ok() {
            put_link(&self.address, link);
        }
        r
    }

    /// Calls one of the server's own methods (`create`, `incref`, ...): on this thread's
    /// connection for our server, on a fresh connection for a Python one (as Python does).
    pub(crate) fn server(&self, method: &str, args: Vec<PyValue>) -> Result<PyValue, Error> {
        let req = Request {
            id: None,
            method: method.into(),
            args,
            kwargs: Vec::new(),
        };
        let (peer, _) = session(&self.address, &self.authkey)?;
        match peer {
            Peer::Rust => into_result(self.call(&req)?),
            Peer::Python => {
                let mut link = net::dial(&self.address, &self.authkey)?;
                into_result(exchange(&mut link, Codec::Pickle, &req)?)
            }
        }
    }

    /// A server method on a fresh connection outside any session (`shutdown`, or a reference
    /// that must outlive this process's session).
    pub(crate) fn server_detached(
        &self,
        method: &str,
        args: Vec<PyValue>,
    ) -> Result<PyValue, Error> {
        let req = Request {
            id: None,
            method: method.into(),
            args,
            kwargs: Vec::new(),
        };
        let (peer, _) = session(&self.address, &self.authkey)?;
        let mut link = net::dial(&self.address, &self.authkey)?;
        match peer {
            Peer::Rust => {
                link.send(&encode_hello(&Hello::Requests { session: None }))?;
                into_result(
                    Codec::Postcard
                        .decode_reply(&link.recv()?)
                        .map_err(|reason| Error::Corrupt { reason })?,
                )?;
                into_result(exchange(&mut link, Codec::Postcard, &req)?)
            }
            Peer::Python => into_result(exchange(&mut link, Codec::Pickle, &req)?),
        }
    }
}
