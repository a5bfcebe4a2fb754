//! The crate's errors: [`Fault`] (what the server answered) and [`Error`] (everything a call can
//! end with).

use std::fmt;
use std::io;

/// An XML-RPC fault: the error a server answers with, carrying a code and a string.
///
/// The server of this crate uses the codes and strings of Python's `SimpleXMLRPCServer`:
/// code 1 and `"<class 'Exception'>:method \"x\" is not supported"` for an unknown method,
/// `"<class 'TypeError'>:..."` for arguments of the wrong number or type, and so on, so a
/// Python client sees exactly what it would see from a Python server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// `faultCode`.
    pub code: i32,
    /// `faultString`.
    pub string: String,
}

impl Fault {
    /// The code Python's `SimpleXMLRPCServer` gives every fault it raises itself.
    pub const PYTHON_SERVER: i32 = 1;
    /// `xmlrpc.client.PARSE_ERROR` / `NOT_WELLFORMED_ERROR` from the fault-code spec.
    pub const PARSE_ERROR: i32 = -32700;
    /// `xmlrpc.client.SERVER_ERROR` / `INVALID_XMLRPC`.
    pub const INVALID_XMLRPC: i32 = -32600;
    /// `xmlrpc.client.METHOD_NOT_FOUND`.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// `xmlrpc.client.INVALID_METHOD_PARAMS`.
    pub const INVALID_METHOD_PARAMS: i32 = -32602;
    /// `xmlrpc.client.INTERNAL_ERROR`.
    pub const INTERNAL_ERROR: i32 = -32603;
    /// `xmlrpc.client.APPLICATION_ERROR`.
    pub const APPLICATION_ERROR: i32 = -32500;

    /// A fault with this code and string.
    pub fn new(code: i32, string: impl Into<String>) -> Self {
        Fault {
            code,
            string: string.into(),
        }
    }

    /// What Python's server answers when a function raised `exc_type` with message `msg`:
    /// code 1, string `"<class 'exc_type'>:msg"`.
    ///
    /// ```
    /// let f = multiproc_rpc::Fault::python("ValueError", "bad input");
    /// assert_eq!((f.code, f.string.as_str()), (1, "<class 'ValueError'>:bad input"));
    /// ```
    pub fn python(exc_type: &str, msg: impl fmt::Display) -> Self {
        Fault::new(Self::PYTHON_SERVER, format!("<class '{exc_type}'>:{msg}"))
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault {}: {}", self.code, self.string)
    }
}

impl std::error::Error for Fault {}

/// Everything a call, a conversion or a server can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a fault (Python: `xmlrpc.client.Fault`).
    Fault(Fault),
    /// The server answered with an HTTP status other than 200 (Python: `ProtocolError`).
    Http {
        /// The status code, e.g. 404.
        status: u16,
        /// The reason phrase, e.g. `Not Found`.
        reason: String,
    },
    /// The peer sent something that is not a well-formed XML-RPC message or HTTP exchange
    /// (Python: `ResponseError` or `ExpatError`).
    Protocol(String),
    /// A value could not be converted to or from the type asked for (Python: `TypeError`).
    Type(String),
    /// The URL could not be used (bad syntax, not `http`).
    Url(String),
    /// The socket failed; a timeout is an `io::ErrorKind::TimedOut`.
    Io(io::Error),
    /// The TLS layer of an `https://` call failed: a certificate that is not trusted or not
    /// for this host, a failed handshake, ... (only with the `tls` feature).
    #[cfg(feature = "tls")]
    Tls(rustls::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Fault(fault) => fault.fmt(f),
            Error::Http { status, reason } => write!(f, "http error {status} {reason}"),
            Error::Protocol(m) => write!(f, "protocol error: {m}"),
            Error::Type(m) => write!(f, "type error: {m}"),
            Error::Url(m) => write!(f, "bad url: {m}"),
            Error::Io(e) => write!(f, "i/o error: {e}"),
            #[cfg(feature = "tls")]
            Error::Tls(e) => write!(f, "tls error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Fault(f) => Some(f),
            Error::Io(e) => Some(e),
            #[cfg(feature = "tls")]
            Error::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        // rustls reports through the stream's `io::Error`s: give its error its own variant.
        #[cfg(feature = "tls")]
        if let Some(t) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            return Error::Tls(t.clone());
        }
        // A socket read timeout surfaces as WouldBlock on Linux; name it for what it is.
        if e.kind() == io::ErrorKind::WouldBlock {
            return Error::Io(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
        }
        Error::Io(e)
    }
}

#[cfg(feature = "tls")]
impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Self {
        Error::Tls(e)
    }
}

impl From<Fault> for Error {
    fn from(f: Fault) -> Self {
        Error::Fault(f)
    }
}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Type(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Type(msg.to_string())
    }
}

impl Error {
    /// Whether this is a timeout of the socket.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Io(e) if e.kind() == io::ErrorKind::TimedOut)
    }
}
