//! The crate's errors: [`Fault`] (what the server answered), [`Error`] (everything a call can
//! end with), and the typed reasons a peer's bytes are refused.

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
///
/// `Display` is a short phrase; the cause, where there is one, is its
/// [`source`](std::error::Error::source).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a fault (Python: `xmlrpc.client.Fault`).
    Fault(Fault),
    /// The server answered with an HTTP status other than 200 (Python: `ProtocolError`).
    Http {
        /// The status code, e.g. 404.
        status: u16,
        /// The reason phrase the server gave, e.g. `Not Found`.
        reason: String,
    },
    /// The peer's bytes are not a well-formed HTTP exchange, XML-RPC document or gzip body
    /// (Python: `ResponseError`, `ExpatError`).
    Corrupt {
        /// What was wrong.
        reason: CorruptReason,
    },
    /// An answer larger than the client accepts ([`Client::set_max_message`](crate::Client::set_max_message)),
    /// refused before it was read whole or inflated past the limit.
    TooLarge {
        /// The length the answer declared, or, without one (chunked, gzip), the bytes it had
        /// reached when it went over.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The call did not finish within the client's timeout
    /// ([`Client::timeout`](crate::Client::timeout)).
    Timeout,
    /// The server closed the connection without answering.
    Disconnected,
    /// A value could not be converted to or from the type asked for (Python: `TypeError`),
    /// with serde's description of why.
    Type(String),
    /// A call's arguments hold `nil` while the client's `allow_none` is off (Python: "cannot
    /// marshal None unless allow_none is enabled").
    NilNotAllowed,
    /// The URL cannot be used.
    Url {
        /// The URL given.
        url: String,
        /// Why: not `http://` or `https://`, no host, ...
        reason: &'static str,
    },
    /// The socket failed.
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
            Error::Corrupt { .. } => f.write_str("corrupt message from the peer"),
            Error::TooLarge { len, max } => {
                write!(f, "answer of {len} bytes is over the limit of {max}")
            }
            Error::Timeout => f.write_str("timed out"),
            Error::Disconnected => {
                f.write_str("the server closed the connection without answering")
            }
            Error::Type(m) => write!(f, "type error: {m}"),
            Error::NilNotAllowed => f.write_str("cannot marshal None unless allow_none is enabled"),
            Error::Url { url, reason } => write!(f, "cannot use url {url:?}: {reason}"),
            Error::Io(_) => f.write_str("i/o error"),
            #[cfg(feature = "tls")]
            Error::Tls(_) => f.write_str("tls error"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Corrupt { reason } => Some(reason),
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
        // A socket timeout surfaces as WouldBlock on Linux; name it for what it is.
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout,
            _ => Error::Io(e),
        }
    }
}

/// For callers who only propagate: the nearest `io::ErrorKind`, this error as the payload.
impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        use io::ErrorKind as K;
        if let Error::Io(inner) = e {
            return inner;
        }
        let kind = match &e {
            Error::Timeout => K::TimedOut,
            Error::Disconnected => K::ConnectionAborted,
            Error::Corrupt { .. } | Error::TooLarge { .. } => K::InvalidData,
            Error::Type(_) | Error::NilNotAllowed | Error::Url { .. } => K::InvalidInput,
            #[cfg(feature = "tls")]
            Error::Tls(_) => K::InvalidData,
            Error::Io(_) | Error::Fault(_) | Error::Http { .. } => K::Other,
        };
        io::Error::new(kind, e)
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

impl From<CorruptReason> for Error {
    fn from(reason: CorruptReason) -> Self {
        Error::Corrupt { reason }
    }
}

/// What was wrong with a peer's bytes, in [`Error::Corrupt`].
#[derive(Debug)]
#[non_exhaustive]
pub enum CorruptReason {
    /// Not HTTP as this crate reads it.
    Http(MalformedHttp),
    /// Not an XML-RPC document.
    Xml(XmlError),
    /// A gzip body that does not inflate.
    Gzip(io::Error),
    /// A `system.multicall` answer that is not one result or fault per call.
    MultiCall,
}

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptReason::Http(h) => h.fmt(f),
            CorruptReason::Xml(x) => x.fmt(f),
            CorruptReason::Gzip(_) => f.write_str("a gzip body that does not inflate"),
            CorruptReason::MultiCall => {
                f.write_str("a system.multicall answer that is not one result or fault per call")
            }
        }
    }
}

impl std::error::Error for CorruptReason {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CorruptReason::Xml(x) => x.source(),
            CorruptReason::Gzip(e) => Some(e),
            CorruptReason::Http(_) | CorruptReason::MultiCall => None,
        }
    }
}

/// How an HTTP message broke the protocol, in [`CorruptReason::Http`]; the server answers
/// these with `400 Bad Request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedHttp {
    /// The first line is not `METHOD PATH VERSION` (or `VERSION STATUS REASON`).
    StartLine,
    /// A header line without a colon.
    HeaderLine,
    /// The head is not UTF-8.
    NotUtf8,
    /// A `Content-Length` that is not a number, or two that differ.
    ContentLength,
    /// Both `Transfer-Encoding` and `Content-Length` (RFC 9112 section 6.1).
    LengthAndTransferEncoding,
    /// A chunk size that is not hexadecimal, or a chunk longer than its size.
    Chunk,
    /// A status code that is not a number.
    Status,
    /// A `Content-Encoding` other than gzip.
    Encoding,
    /// The connection closed inside the head or the body.
    Truncated,
}

impl fmt::Display for MalformedHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MalformedHttp::StartLine => "bad first line",
            MalformedHttp::HeaderLine => "bad header line",
            MalformedHttp::NotUtf8 => "head is not UTF-8",
            MalformedHttp::ContentLength => "bad Content-Length",
            MalformedHttp::LengthAndTransferEncoding => "both Transfer-Encoding and Content-Length",
            MalformedHttp::Chunk => "bad chunk",
            MalformedHttp::Status => "bad status code",
            MalformedHttp::Encoding => "unsupported Content-Encoding",
            MalformedHttp::Truncated => "connection closed inside the message",
        })
    }
}

/// Why a document is not XML-RPC: not well-formed XML, an element where another belongs, a
/// value that does not parse, nesting past the limit, a DTD. `Display` reads like expat's
/// message where it can; the parser's own error, if any, is the
/// [`source`](std::error::Error::source).
#[derive(Debug)]
pub struct XmlError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl XmlError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        XmlError {
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        XmlError {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The message and its source in one line, for a fault string.
    pub(crate) fn full(&self) -> String {
        match &self.source {
            Some(s) => format!("{}: {s}", self.message),
            None => self.message.clone(),
        }
    }
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for XmlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
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
    /// Whether this is [`Error::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout)
    }
}
