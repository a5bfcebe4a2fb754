//! The server: shared objects by id with reference counts, sessions of Rust clients, and the
//! conversation on one connection (Python's `Server.handle_request` / `serve_client`).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::objects::{CallCtx, ConnId, Outcome, Raise, Referent, lock};
use crate::protocol::{AddressValue, Codec, Fault, Hello, Reply, Request, Token, decode_hello};
use crate::registry::Registry;
use crate::value::PyValue;

/// One message in, one message out: what the server needs of a connection.
pub(crate) trait Transport {
    /// Sends one whole message.
    fn send(&mut self, bytes: &[u8]) -> Result<(), crate::Error>;
    /// Receives one whole message.
    fn recv(&mut self) -> Result<Vec<u8>, crate::Error>;
    /// Whether the peer has hung up (without reading anything).
    fn peer_gone(&self) -> bool;
}

struct Entry {
    object: Arc<dyn Referent>,
    typeid: String,
    exposed: Arc<Vec<String>>,
    method_to_typeid: Arc<HashMap<String, String>>,
    refs: u64,
}

struct Session {
    pid: u32,
    /// References this session holds, by object id.
    refs: HashMap<String, u64>,
}

#[derive(Default)]
struct State {
    objects: HashMap<String, Entry>,
    sessions: HashMap<u128, Session>,
    /// Connections being served (for `connection_closed`, and `debug_info`).
    connections: u64,
}

/// The shared state of one manager server.
pub(crate) struct Core {
    registry: Registry,
    address: AddressValue,
    state: Mutex<State>,
    next_conn: AtomicU64,
    stopping: AtomicBool,
}

/// What a server method gives back: its value, and whether the server should stop after the
/// reply is sent.
struct Done {
    value: PyValue,
    stop: bool,
}

fn ident_of(obj: &Arc<dyn Referent>) -> String {
    format!("{:x}", Arc::as_ptr(obj) as *const () as usize)
}

fn str_arg(v: Option<&PyValue>, what: &str) -> Result<String, Fault> {
    match v {
        Some(PyValue::Str(s)) => Ok(s.clone()),
        _ => Err(Fault::BadArguments(format!("{what} must be a str"))),
    }
}

impl Core {
    pub(crate) fn new(registry: Registry, address: AddressValue) -> Arc<Core> {
        Arc::new(Core {
            registry,
            address,
            state: Mutex::new(State::default()),
            next_conn: AtomicU64::new(1),
            stopping: AtomicBool::new(false),
        })
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// How many objects have references (Python's `number_of_objects`).
    pub(crate) fn number_of_objects(&self) -> usize {
        lock(&self.state).objects.len()
    }

    /// Makes an object of `typeid`, holding one reference for `session` (or for nobody).
    fn create(
        &self,
        session: Option<u128>,
        typeid: &str,
        args: Vec<PyValue>,
        kwargs: Vec<(String, PyValue)>,
    ) -> Result<(String, Vec<String>), Fault> {
        let entry = self
            .registry
            .types
            .get(typeid)
            .ok_or_else(|| Fault::UnknownTypeid(typeid.to_owned()))?;
        let factory = entry.factory.as_ref().ok_or_else(|| {
            Fault::BadArguments(format!(
                "type id {typeid:?} cannot be created, only returned"
            ))
        })?;
        let made = std::panic::catch_unwind(AssertUnwindSafe(|| factory(args, kwargs)))
            .map_err(|p| Fault::Panicked(panic_text(&*p)))?;
        let object = made.map_err(|r| match r {
            Raise::Exception(e) => Fault::BadArguments(e.to_string()),
            Raise::Fault(f) => f,
            Raise::PeerGone => Fault::Other("the client went away".into()),
        })?;
        Ok(self.adopt(session, typeid, object))
    }

    /// Shares `object` under `typeid` with one reference for `session`; its id and exposed
    /// methods.
    fn adopt(
        &self,
        session: Option<u128>,
        typeid: &str,
        object: Arc<dyn Referent>,
    ) -> (String, Vec<String>) {
        let entry = self.registry.types.get(typeid);
        let mut exposed = entry
            .and_then(|e| e.exposed.clone())
            .unwrap_or_else(|| object.public_methods());
        let m2t = entry
            .map(|e| e.method_to_typeid.clone())
            .unwrap_or_default();
        for m in m2t.keys() {
            if !exposed.contains(m) {
                exposed.push(m.clone());
            }
        }
        let id = ident_of(&object);
        let mut st = lock(&self.state);
        let e = st.objects.entry(id.clone()).or_insert_with(|| Entry {
            object,
            typeid: typeid.to_owned(),
            exposed: Arc::new(exposed.clone()),
            method_to_typeid: Arc::new(m2t),
            refs: 0,
        });
        e.refs += 1;
        let exposed = e.exposed.to_vec();
        if let Some(s) = session.and_then(|s| st.sessions.get_mut(&s)) {
            *s.refs.entry(id.clone()).or_insert(0) += 1;
        }
        (id, exposed)
    }

    fn incref(&self, session: Option<u128>, id: &str) -> Result<(), Fault> {
        let mut st = lock(&self.state);
        let e = st
            .objects
            .get_mut(id)
            .ok_or_else(|| Fault::UnknownObject(id.to_owned()))?;
        e.refs += 1;
        if let Some(s) = session.and_then(|s| st.sessions.get_mut(&s)) {
            *s.refs.entry(id.to_owned()).or_insert(0) += 1;
        }
        Ok(())
    }

    fn decref(&self, session: Option<u128>, id: &str, n: u64) -> Result<(), Fault> {
        let freed = {
            let mut st = lock(&self.state);
            if let Some(s) = session.and_then(|s| st.sessions.get_mut(&s)) {
                let held = s.refs.get_mut(id).ok_or_else(|| {
                    Fault::BadArguments(format!("this session holds no reference to {id:?}"))
                })?;
                *held = held.saturating_sub(n);
                if *held == 0 {
                    s.refs.remove(id);
                }
            }
            let e = st
                .objects
                .get_mut(id)
                .ok_or_else(|| Fault::UnknownObject(id.to_owned()))?;
            e.refs = e.refs.saturating_sub(n);
            if e.refs == 0 {
                st.objects.remove(id)
            } else {
                None
            }
        };
        // The object (which may hold values of any size) is dropped outside the lock.
        drop(freed);
        Ok(())
    }

    fn open_session(&self, id: u128, pid: u32) {
        log::info!("client process {pid} connected");
        lock(&self.state).sessions.insert(
            id,
            Session {
                pid,
                refs: HashMap::new(),
            },
        );
    }

    /// Releases every reference the session held.
    fn close_session(&self, id: u128) {
        let session = lock(&self.state).sessions.remove(&id);
        let Some(Session { pid, refs }) = session else {
            return;
        };
        let held: u64 = refs.values().sum();
        if held == 0 {
            log::info!("client process {pid} disconnected");
        } else {
            // Its connection closed while it held references: it died, or exited without
            // dropping its proxies.
            log::warn!(
                "client process {pid} went away holding {held} reference(s) to {} object(s); \
                 released them",
                refs.len()
            );
        }
        for (obj, n) in refs {
            let _ = self.decref(None, &obj, n);
        }
    }

    fn connection_closed(&self, conn: ConnId) {
        let objects: Vec<Arc<dyn Referent>> = {
            let mut st = lock(&self.state);
            st.connections = st.connections.saturating_sub(1);
            st.objects.values().map(|e| e.object.clone()).collect()
        };
        for o in objects {
            o.connection_closed(conn);
        }
    }

    fn debug_info(&self) -> String {
        let st = lock(&self.state);
        let mut ids: Vec<&String> = st.objects.keys().collect();
        ids.sort();
        let mut out: Vec<String> = ids
            .into_iter()
            .map(|id| {
                let e = &st.objects[id];
                let text: String = e.object.str().chars().take(75).collect();
                format!("  {id}:       refcount={}\n    {text}", e.refs)
            })
            .collect();
        let mut sessions: Vec<_> = st.sessions.values().collect();
        sessions.sort_by_key(|s| s.pid);
        for s in sessions {
            out.push(format!(
                "  session of pid {}: {} references",
                s.pid,
                s.refs.values().sum::<u64>()
            ));
        }
        out.join("\n")
    }

    /// One of the server's own methods (Python's `Server.public`).
    fn server_method(&self, session: Option<u128>, req: Request) -> Result<Done, Fault> {
        let done = |value| Ok(Done { value, stop: false });
        let mut args = req.args;
        match req.method.as_str() {
            "dummy" => done(PyValue::None),
            "create" => {
                if args.is_empty() {
                    return Err(Fault::BadArguments("create needs a type id".into()));
                }
                let typeid = str_arg(Some(&args.remove(0)), "the type id")?;
                let (id, exposed) = self.create(session, &typeid, args, req.kwargs)?;
                done(PyValue::Tuple(vec![
                    PyValue::Str(id),
                    PyValue::Tuple(exposed.into_iter().map(PyValue::Str).collect()),
                ]))
            }
            "incref" => {
                self.incref(session, &str_arg(args.first(), "the id")?)?;
                done(PyValue::None)
            }
            "decref" => {
                self.decref(session, &str_arg(args.first(), "the id")?, 1)?;
                done(PyValue::None)
            }
            "get_methods" => {
                let token = args
                    .first()
                    .and_then(Token::from_py)
                    .ok_or_else(|| Fault::BadArguments("get_methods needs a Token".into()))?;
                let st = lock(&self.state);
                let e = st
                    .objects
                    .get(&token.id)
                    .ok_or_else(|| Fault::UnknownObject(token.id.clone()))?;
                done(PyValue::Tuple(
                    e.exposed.iter().cloned().map(PyValue::Str).collect(),
                ))
            }
            "debug_info" => done(PyValue::Str(self.debug_info())),
            "number_of_objects" => done(PyValue::Int(self.number_of_objects() as i128)),
            "shutdown" => Ok(Done {
                value: PyValue::None,
                stop: true,
            }),
            _ => Err(Fault::UnknownMethod {
                typeid: String::new(),
                method: req.method,
            }),
        }
    }

    /// A call on a shared object.
    fn object_method(
        &self,
        ctx: &CallCtx<'_>,
        session: Option<u128>,
        req: Request,
    ) -> Option<Reply> {
        let Some(id) = req.id else {
            return Some(Reply::Fault(Fault::UnknownObject("None".into())));
        };
        let found = lock(&self.state).objects.get(&id).map(|e| {
            (
                e.object.clone(),
                e.typeid.clone(),
                e.exposed.clone(),
                e.method_to_typeid.clone(),
            )
        });
        let Some((obj, typeid, exposed, m2t)) = found else {
            return Some(Reply::Fault(Fault::UnknownObject(id)));
        };
        let method = req.method;
        if !exposed.contains(&method) {
            // Python's fallbacks, served even when not exposed.
            return Some(match method.as_str() {
                "__repr__" => Reply::Return(PyValue::Str(obj.repr())),
                "__str__" => Reply::Return(PyValue::Str(obj.str())),
                "#GETVALUE" => match obj.value() {
                    Ok(v) => Reply::Return(v),
                    Err(r) => raise_reply(r)?,
                },
                _ => Reply::Fault(Fault::UnknownMethod { typeid, method }),
            });
        }
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
            obj.call(ctx, &method, req.args, req.kwargs)
        }));
        let outcome = match r {
            Err(p) => return Some(Reply::Fault(Fault::Panicked(panic_text(&*p)))),
            Ok(Err(raise)) => return raise_reply(raise),
            Ok(Ok(o)) => o,
        };
        Some(match outcome {
            Outcome::Value(v) => Reply::Return(v),
            Outcome::OwnerDied(v) => Reply::OwnerDied(v),
            Outcome::Object { typeid, object } => {
                let typeid = m2t.get(&method).cloned().unwrap_or(typeid);
                let (id, exposed) = self.adopt(session, &typeid, object);
                Reply::Proxy {
                    exposed,
                    token: Token {
                        typeid,
                        address: self.address.clone(),
                        id,
                    },
                }
            }
        })
    }

    fn next_conn(&self) -> ConnId {
        lock(&self.state).connections += 1;
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

/// The reply for a `Raise`, or `None` when the peer is gone.
fn raise_reply(r: Raise) -> Option<Reply> {
    match r {
        Raise::Exception(e) => Some(Reply::Error(e)),
        Raise::Fault(f) => Some(Reply::Fault(f)),
        Raise::PeerGone => None,
    }
}

pub(crate) fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".into()
    }
}

/// Sends `reply`, or `#UNSERIALIZABLE` when it cannot be encoded; `false` when the peer is gone.
fn send_reply(t: &mut dyn Transport, codec: Codec, reply: &Reply) -> bool {
    let bytes = match codec.encode_reply(reply) {
        Ok(b) => b,
        Err(e) => {
            let f = Reply::Fault(Fault::Unserializable(e.to_string()));
            match codec.encode_reply(&f) {
                Ok(b) => b,
                Err(_) => return false,
            }
        }
    };
    t.send(&bytes).is_ok()
}

/// Serves one accepted, authenticated connection until it closes.
pub(crate) fn serve_connection(core: &Core, t: &mut dyn Transport) {
    let Ok(first) = t.recv() else { return };
    match decode_hello(&first) {
        Some(Ok(Hello::Session { id, pid })) => {
            core.open_session(id, pid);
            if !send_reply(t, Codec::Postcard, &Reply::Return(PyValue::None)) {
                core.close_session(id);
                return;
            }
            // Nothing travels here: the session lasts as long as the connection.
            while t.recv().is_ok() {}
            core.close_session(id);
        }
        Some(Ok(Hello::Requests { session })) => {
            if send_reply(t, Codec::Postcard, &Reply::Return(PyValue::None)) {
                serve_requests(core, t, Codec::Postcard, session);
            }
        }
        Some(Err(_)) => {}
        None => serve_python(core, t, &first),
    }
}

/// A Python peer: one server method per connection, or `accept_connection` and then calls.
fn serve_python(core: &Core, t: &mut dyn Transport, first: &[u8]) {
    let req = match Codec::Pickle.decode_request(first) {
        Ok(r) => r,
        Err(e) => {
            send_reply(
                t,
                Codec::Pickle,
                &Reply::Fault(Fault::BadRequest(e.to_string())),
            );
            return;
        }
    };
    if req.method == "accept_connection" {
        if send_reply(t, Codec::Pickle, &Reply::Return(PyValue::None)) {
            serve_requests(core, t, Codec::Pickle, None);
        }
        return;
    }
    let reply = match core.server_method(None, req) {
        Ok(done) => {
            let ok = send_reply(t, Codec::Pickle, &Reply::Return(done.value));
            if done.stop {
                core.stop();
            }
            let _ = ok;
            return;
        }
        Err(f) => Reply::Fault(f),
    };
    send_reply(t, Codec::Pickle, &reply);
}

/// Requests until the peer closes: object methods, and for Rust peers the server's own too.
fn serve_requests(core: &Core, t: &mut dyn Transport, codec: Codec, session: Option<u128>) {
    let conn = core.next_conn();
    while let Ok(bytes) = t.recv() {
        let req = match codec.decode_request(&bytes) {
            Ok(r) => r,
            Err(e) => {
                if !send_reply(t, codec, &Reply::Fault(Fault::BadRequest(e.to_string()))) {
                    break;
                }
                continue;
            }
        };
        if req.id.is_none() && codec == Codec::Postcard {
            let (reply, stop) = match core.server_method(session, req) {
                Ok(d) => (Reply::Return(d.value), d.stop),
                Err(f) => (Reply::Fault(f), false),
            };
            let sent = send_reply(t, codec, &reply);
            if stop {
                core.stop();
            }
            if !sent {
                break;
            }
            continue;
        }
        let reply = {
            let gone = || t.peer_gone();
            let ctx = CallCtx {
                conn,
                codec,
                peer_gone: &gone,
            };
            core.object_method(&ctx, session, req)
        };
        match reply {
            Some(r) if send_reply(t, codec, &r) => {}
            _ => break,
        }
    }
    core.connection_closed(conn);
}
