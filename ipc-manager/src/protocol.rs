//! The manager protocol's messages and their two encodings (pickle for Python peers, postcard
//! for Rust peers). See the crate docs, "The protocol", for the conversation.

use serde::de::DeserializeSeed;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::DecodeError;
use crate::pickle;
use crate::value::{PyClass, PyObject, PyValue};
use crate::wire::{Wire, WireSeed};

/// What a Rust peer's first message starts with. No pickle starts with a zero byte (a pickle's
/// first opcode is `PROTO`, 0x80), so the server tells the two kinds of peer apart by it.
pub(crate) const RUST_MAGIC: &[u8; 5] = b"\0MPM1";

/// A `PyValue` field of a postcard message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct W(pub PyValue);

impl Serialize for W {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire(&self.0).serialize(s)
    }
}

impl<'de> Deserialize<'de> for W {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<W, D::Error> {
        WireSeed { depth: 0 }.deserialize(d).map(W)
    }
}

/// A Rust peer's first message on a connection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) enum Hello {
    /// The connection that keeps a session alive: the server releases the session's references
    /// when it closes. Nothing else travels on it.
    Session {
        /// The session's id (random, chosen by the client).
        id: u128,
        /// The client's pid, for `debug_info`.
        pid: u32,
    },
    /// A connection for requests, whose references belong to `session` (or to nobody, as a
    /// Python client's do).
    Requests {
        /// The session, if any.
        session: Option<u128>,
    },
}

/// One request: Python's `(id, methodname, args, kwds)`. `id` `None` addresses the server.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    pub id: Option<String>,
    pub method: String,
    pub args: Vec<PyValue>,
    pub kwargs: Vec<(String, PyValue)>,
}

#[derive(Serialize, Deserialize)]
struct RequestWire {
    id: Option<String>,
    method: String,
    args: Vec<W>,
    kwargs: Vec<(String, W)>,
}

/// What identifies a shared object: Python's `multiprocessing.managers.Token`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Token {
    /// The type id it was created as (`"list"`).
    pub typeid: String,
    /// Where its manager listens, as Python writes it: `('host', port)` or a socket path.
    pub address: AddressValue,
    /// Its id in the manager (a hex string, as Python's).
    pub id: String,
}

/// A manager's address as the protocol carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AddressValue {
    /// A TCP address: host and port (Python's `('127.0.0.1', 9030)`).
    Tcp(String, u16),
    /// A Unix socket path; an abstract name starts with a NUL byte (Python's `'\0name'`).
    Unix(String),
}

impl AddressValue {
    pub(crate) fn to_py(&self) -> PyValue {
        match self {
            AddressValue::Tcp(h, p) => {
                PyValue::Tuple(vec![PyValue::str(h.clone()), PyValue::Int((*p).into())])
            }
            AddressValue::Unix(p) => PyValue::str(p.clone()),
        }
    }

    pub(crate) fn from_py(v: &PyValue) -> Option<AddressValue> {
        match v {
            PyValue::Tuple(t) | PyValue::List(t) => match t.as_slice() {
                [PyValue::Str(h), PyValue::Int(p)] => {
                    Some(AddressValue::Tcp(h.clone(), u16::try_from(*p).ok()?))
                }
                _ => None,
            },
            PyValue::Str(s) => Some(AddressValue::Unix(s.clone())),
            PyValue::Bytes(b) => Some(AddressValue::Unix(String::from_utf8(b.clone()).ok()?)),
            _ => None,
        }
    }
}

impl std::fmt::Display for AddressValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddressValue::Tcp(h, p) if h.contains(':') => write!(f, "[{h}]:{p}"),
            AddressValue::Tcp(h, p) => write!(f, "{h}:{p}"),
            AddressValue::Unix(p) => match p.strip_prefix('\0') {
                Some(name) => write!(f, "@{name}"),
                None => f.write_str(p),
            },
        }
    }
}

impl Token {
    pub(crate) fn to_py(&self) -> PyValue {
        PyValue::Object(PyObject::new(
            PyClass::TOKEN,
            vec![
                PyValue::str(self.typeid.clone()),
                self.address.to_py(),
                PyValue::str(self.id.clone()),
            ],
        ))
    }

    pub(crate) fn from_py(v: &PyValue) -> Option<Token> {
        let PyValue::Object(o) = v else { return None };
        if o.class != PyClass::TOKEN {
            return None;
        }
        match o.args.as_slice() {
            [PyValue::Str(typeid), address, PyValue::Str(id)] => Some(Token {
                typeid: typeid.clone(),
                address: AddressValue::from_py(address)?,
                id: id.clone(),
            }),
            _ => None,
        }
    }
}

/// Why the server could not do what a Rust peer asked. Python peers get the same as
/// `#TRACEBACK` text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Fault {
    /// No type id of that name is registered.
    UnknownTypeid(String),
    /// The object does not expose that method (or the server has no such method).
    UnknownMethod {
        /// The object's type id (empty for the server itself).
        typeid: String,
        /// The method asked for.
        method: String,
    },
    /// No object has that id (it was freed, or never existed).
    UnknownObject(String),
    /// The arguments do not fit the method.
    BadArguments(String),
    /// The method panicked; the message. The server goes on.
    Panicked(String),
    /// The request does not decode.
    BadRequest(String),
    /// The result could not be encoded for this peer.
    Unserializable(String),
    /// Anything else the server reports (a Python server's traceback text).
    Other(String),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::UnknownTypeid(t) => write!(f, "unknown type id {t:?}"),
            Fault::UnknownMethod { typeid, method } if typeid.is_empty() => {
                write!(f, "{method:?} unrecognized")
            }
            Fault::UnknownMethod { typeid, method } => {
                write!(f, "method {method:?} of {typeid:?} object is not exposed")
            }
            Fault::UnknownObject(id) => write!(f, "no shared object with id {id:?}"),
            Fault::BadArguments(why) => write!(f, "bad arguments: {why}"),
            Fault::Panicked(msg) => write!(f, "the method panicked: {msg}"),
            Fault::BadRequest(why) => write!(f, "bad request: {why}"),
            Fault::Unserializable(why) => write!(f, "unserializable result: {why}"),
            Fault::Other(text) => f.write_str(text.trim_end()),
        }
    }
}

impl Fault {
    /// The exception a Python peer is told about, as the last line of a traceback.
    fn python_line(&self) -> String {
        match self {
            Fault::UnknownTypeid(t) => format!("KeyError: {}", PyValue::str(t.clone())),
            Fault::UnknownMethod { typeid, method } if typeid.is_empty() => format!(
                "AssertionError: {} unrecognized",
                PyValue::str(method.clone())
            ),
            Fault::UnknownMethod { typeid, method } => format!(
                "AttributeError: method {} of {} object is not in exposed",
                PyValue::str(method.clone()),
                PyValue::str(typeid.clone())
            ),
            Fault::UnknownObject(id) => format!("KeyError: {}", PyValue::str(id.clone())),
            Fault::BadArguments(why) => format!("TypeError: {why}"),
            Fault::Panicked(msg) => format!("RuntimeError: the method panicked: {msg}"),
            Fault::BadRequest(why) => format!("ValueError: bad request: {why}"),
            Fault::Unserializable(why) => format!("TypeError: {why}"),
            Fault::Other(text) => text.clone(),
        }
    }

    /// Text in the shape of a Python traceback, which Python's `RemoteError` prints.
    pub(crate) fn traceback(&self) -> String {
        if let Fault::Other(text) = self {
            return text.clone();
        }
        format!(
            "Traceback (most recent call last):\n  File \"<multiproc-manager server>\"\n{}\n",
            self.python_line()
        )
    }
}

/// One reply: Python's `(kind, result)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// `#RETURN`: the method's result.
    Return(PyValue),
    /// `#ERROR`: the exception the method raised.
    Error(PyValue),
    /// `#PROXY`: the method returned an object that the server now shares
    /// (`method_to_typeid`); the caller holds one reference to it.
    Proxy {
        /// The methods the new object exposes.
        exposed: Vec<String>,
        /// The new object.
        token: Token,
    },
    /// `#TRACEBACK` (and `#UNSERIALIZABLE`): the server failed; typed for Rust peers.
    Fault(Fault),
    /// Rust peers only: a lock was acquired whose previous holder's connection closed while
    /// holding it. Python peers get `#RETURN` of the value.
    OwnerDied(PyValue),
}

#[derive(Serialize, Deserialize)]
enum ReplyWire {
    Return(W),
    Error(W),
    Proxy { exposed: Vec<String>, token: Token },
    Fault(Fault),
    OwnerDied(W),
}

/// How a connection's messages are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Pickle: a Python peer.
    Pickle,
    /// Postcard: a Rust peer.
    Postcard,
}

/// Why a message cannot be encoded.
#[derive(Debug)]
pub(crate) enum EncodeError {
    Pickle(pickle::Error),
    Postcard(postcard::Error),
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::Pickle(e) => e.fmt(f),
            EncodeError::Postcard(e) => write!(f, "postcard: {e}"),
        }
    }
}

fn kw_dict(kwargs: &[(String, PyValue)]) -> PyValue {
    PyValue::Dict(
        kwargs
            .iter()
            .map(|(k, v)| (PyValue::str(k.clone()), v.clone()))
            .collect(),
    )
}

impl Codec {
    pub(crate) fn encode_request(self, r: &Request) -> Result<Vec<u8>, EncodeError> {
        match self {
            Codec::Pickle => {
                let v = PyValue::Tuple(vec![
                    r.id.clone().map_or(PyValue::None, PyValue::Str),
                    PyValue::str(r.method.clone()),
                    PyValue::Tuple(r.args.clone()),
                    kw_dict(&r.kwargs),
                ]);
                pickle::dumps(&v).map_err(EncodeError::Pickle)
            }
            Codec::Postcard => {
                let w = RequestWire {
                    id: r.id.clone(),
                    method: r.method.clone(),
                    args: r.args.iter().cloned().map(W).collect(),
                    kwargs: r
                        .kwargs
                        .iter()
                        .map(|(k, v)| (k.clone(), W(v.clone())))
                        .collect(),
                };
                postcard::to_allocvec(&w).map_err(EncodeError::Postcard)
            }
        }
    }

    pub(crate) fn decode_request(self, bytes: &[u8]) -> Result<Request, DecodeError> {
        match self {
            Codec::Pickle => {
                let v = pickle::loads(bytes).map_err(DecodeError::Pickle)?;
                let bad = DecodeError::Shape("a request is (id, methodname, args, kwds)");
                let PyValue::Tuple(mut t) = v else {
                    return Err(bad);
                };
                if t.len() != 4 {
                    return Err(bad);
                }
                let kwds = t.pop().unwrap_or(PyValue::None);
                let args = t.pop().unwrap_or(PyValue::None);
                let method = t.pop().unwrap_or(PyValue::None);
                let id = t.pop().unwrap_or(PyValue::None);
                let id = match id {
                    PyValue::None => None,
                    PyValue::Str(s) => Some(s),
                    _ => return Err(bad),
                };
                let PyValue::Str(method) = method else {
                    return Err(bad);
                };
                let args = match args {
                    PyValue::Tuple(a) | PyValue::List(a) => a,
                    _ => return Err(bad),
                };
                let kwargs = match kwds {
                    PyValue::Dict(d) => d
                        .into_iter()
                        .map(|(k, v)| match k {
                            PyValue::Str(k) => Ok((k, v)),
                            _ => Err(DecodeError::Shape("keyword names are strs")),
                        })
                        .collect::<Result<_, _>>()?,
                    PyValue::None => Vec::new(),
                    _ => return Err(bad),
                };
                Ok(Request {
                    id,
                    method,
                    args,
                    kwargs,
                })
            }
            Codec::Postcard => {
                let w: RequestWire = postcard::from_bytes(bytes).map_err(DecodeError::Postcard)?;
                Ok(Request {
                    id: w.id,
                    method: w.method,
                    args: w.args.into_iter().map(|x| x.0).collect(),
                    kwargs: w.kwargs.into_iter().map(|(k, v)| (k, v.0)).collect(),
                })
            }
        }
    }

    pub(crate) fn encode_reply(self, r: &Reply) -> Result<Vec<u8>, EncodeError> {
        match self {
            Codec::Pickle => {
                let (kind, v) = match r {
                    Reply::Return(v) | Reply::OwnerDied(v) => ("#RETURN", v.clone()),
                    Reply::Error(e) => ("#ERROR", e.clone()),
                    Reply::Proxy { exposed, token } => (
                        "#PROXY",
                        PyValue::Tuple(vec![
                            PyValue::Tuple(exposed.iter().cloned().map(PyValue::Str).collect()),
                            token.to_py(),
                        ]),
                    ),
                    Reply::Fault(f @ Fault::Unserializable(_)) => {
                        ("#UNSERIALIZABLE", PyValue::str(f.traceback()))
                    }
                    Reply::Fault(f) => ("#TRACEBACK", PyValue::str(f.traceback())),
                };
                pickle::dumps(&PyValue::Tuple(vec![PyValue::str(kind), v]))
                    .map_err(EncodeError::Pickle)
            }
            Codec::Postcard => {
                let w = match r.clone() {
                    Reply::Return(v) => ReplyWire::Return(W(v)),
                    Reply::Error(v) => ReplyWire::Error(W(v)),
                    Reply::Proxy { exposed, token } => ReplyWire::Proxy { exposed, token },
                    Reply::Fault(f) => ReplyWire::Fault(f),
                    Reply::OwnerDied(v) => ReplyWire::OwnerDied(W(v)),
                };
                postcard::to_allocvec(&w).map_err(EncodeError::Postcard)
            }
        }
    }

    pub(crate) fn decode_reply(self, bytes: &[u8]) -> Result<Reply, DecodeError> {
        match self {
            Codec::Pickle => {
                let v = pickle::loads(bytes).map_err(DecodeError::Pickle)?;
                let bad = DecodeError::Shape("a reply is (kind, result)");
                let PyValue::Tuple(mut t) = v else {
                    return Err(bad);
                };
                if t.len() != 2 {
                    return Err(bad);
                }
                let result = t.pop().unwrap_or(PyValue::None);
                let PyValue::Str(kind) = t.pop().unwrap_or(PyValue::None) else {
                    return Err(bad);
                };
                Ok(match kind.as_str() {
                    "#RETURN" => Reply::Return(result),
                    "#ERROR" => Reply::Error(result),
                    "#PROXY" => {
                        let bad = DecodeError::Shape("#PROXY carries (exposed, token)");
                        let PyValue::Tuple(pair) = result else {
                            return Err(bad);
                        };
                        let [exposed, token] = pair.as_slice() else {
                            return Err(bad);
                        };
                        let exposed = match exposed {
                            PyValue::Tuple(x) | PyValue::List(x) => x
                                .iter()
                                .filter_map(|m| m.as_str().map(str::to_owned))
                                .collect(),
                            _ => Vec::new(),
                        };
                        let token = Token::from_py(token).ok_or(bad)?;
                        Reply::Proxy { exposed, token }
                    }
                    "#TRACEBACK" | "#UNSERIALIZABLE" => {
                        let text = match result {
                            PyValue::Str(s) => s,
                            other => other.to_string(),
                        };
                        Reply::Fault(Fault::Other(text))
                    }
                    _ => return Err(DecodeError::Shape("unknown reply kind")),
                })
            }
            Codec::Postcard => {
                let w: ReplyWire = postcard::from_bytes(bytes).map_err(DecodeError::Postcard)?;
                Ok(match w {
                    ReplyWire::Return(v) => Reply::Return(v.0),
                    ReplyWire::Error(v) => Reply::Error(v.0),
                    ReplyWire::Proxy { exposed, token } => Reply::Proxy { exposed, token },
                    ReplyWire::Fault(f) => Reply::Fault(f),
                    ReplyWire::OwnerDied(v) => Reply::OwnerDied(v.0),
                })
            }
        }
    }
}

/// The first message of a Rust peer: the magic, then the postcard `Hello`.
pub(crate) fn encode_hello(h: &Hello) -> Vec<u8> {
    let mut out = RUST_MAGIC.to_vec();
    // A Hello always encodes (plain integers and an enum).
    if let Ok(b) = postcard::to_allocvec(h) {
        out.extend_from_slice(&b);
    }
    out
}

/// `Some(hello)` when `first` is a Rust peer's first message.
pub(crate) fn decode_hello(first: &[u8]) -> Option<Result<Hello, DecodeError>> {
    let rest = first.strip_prefix(RUST_MAGIC.as_slice())?;
    Some(postcard::from_bytes(rest).map_err(DecodeError::Postcard))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_request_decodes() {
        // ForkingPickler.dumps(('7f', '__setitem__', ('b', 0), {})), CPython 3.11.
        let b = b"\x80\x04\x95\x1e\x00\x00\x00\x00\x00\x00\x00(\x8c\x027f\x94\x8c\x0b__setitem__\x94\x8c\x01b\x94K\x00\x86\x94}\x94t\x94.";
        let r = Codec::Pickle.decode_request(b).unwrap();
        assert_eq!(r.id.as_deref(), Some("7f"));
        assert_eq!(r.method, "__setitem__");
        assert_eq!(r.args, vec![PyValue::str("b"), PyValue::Int(0)]);
    }

    #[test]
    fn replies_round_trip_in_both_codecs() {
        let token = Token {
            typeid: "list".into(),
            address: AddressValue::Tcp("127.0.0.1".into(), 9030),
            id: "7f12".into(),
        };
        for r in [
            Reply::Return(PyValue::Int(1)),
            Reply::Error(PyValue::exception(PyClass::KEY_ERROR, "x")),
            Reply::Proxy {
                exposed: vec!["append".into()],
                token,
            },
        ] {
            for c in [Codec::Pickle, Codec::Postcard] {
                let b = c.encode_reply(&r).unwrap();
                assert_eq!(c.decode_reply(&b).unwrap(), r);
            }
        }
        let f = Reply::Fault(Fault::UnknownTypeid("nope".into()));
        let b = Codec::Postcard.encode_reply(&f).unwrap();
        assert_eq!(Codec::Postcard.decode_reply(&b).unwrap(), f);
    }
}
