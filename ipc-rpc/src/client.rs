//! [`Client`]: Python's `ServerProxy`.

use multiproc_core::Deadline;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use serde::de::DeserializeOwned;

use crate::gzip::GzipError;
use crate::http::{Coding, Conn, ReadError};
use crate::{
    CorruptReason, Error, Fault, MalformedHttp, MultiCall, Params, Value, from_value, xml,
};

/// An XML-RPC client, like Python's `xmlrpc.client.ServerProxy`: one URL, typed calls,
/// faults as [`Error::Fault`], a timeout, and one kept-alive connection that is reused from
/// call to call (and re-opened once, transparently, if the server had closed it).
///
/// A `Client` can be shared between threads; calls through one client take turns on its one
/// connection. Give each thread its own client for calls in parallel.
///
/// ```no_run
/// use multiproc_rpc::Client;
/// let client = Client::new("http://user:secret@localhost:8000/RPC2")?;
/// let sum: i32 = client.call("add", (2, 3))?;
/// let methods: Vec<String> = client.call("system.listMethods", ())?;
/// # Ok::<(), multiproc_rpc::Error>(())
/// ```
pub struct Client {
    addr: String,
    /// The host alone (no port, no brackets), for the certificate check.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    host: String,
    /// `https://`: TLS over the connection.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    https: bool,
    #[cfg(feature = "tls")]
    tls_config: Option<std::sync::Arc<rustls::ClientConfig>>,
    host_header: String,
    path: String,
    auth: Option<String>,
    timeout: Option<Duration>,
    allow_none: bool,
    accept_gzip: bool,
    encode_threshold: Option<usize>,
    max_depth: usize,
    max_body: usize,
    conn: Mutex<Option<Conn>>,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(hex) = std::str::from_utf8(&b[i + 1..i + 3])
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Client {
    /// A client for `url`: `http://[user:password@]host[:port][/path]`. The port defaults to
    /// 80 and the path to `/RPC2`, as in Python. No connection is made until the first call.
    ///
    /// # Errors
    ///
    /// [`Error::Url`] for a URL that is not `http://` or `https://` (`https://` only with the
    /// `tls` feature), or has no host.
    pub fn new(url: &str) -> Result<Client, Error> {
        let scheme = |prefix: &str| {
            url.get(..prefix.len())
                .filter(|p| p.eq_ignore_ascii_case(prefix))
                .map(|_| &url[prefix.len()..])
        };
        let (https, rest) = match (scheme("http://"), scheme("https://")) {
            (Some(rest), _) => (false, rest),
            (_, Some(rest)) => (true, rest),
            _ => {
                return Err(url_error(
                    url,
                    "only http:// and https:// URLs are supported",
                ));
            }
        };
        if https && cfg!(not(feature = "tls")) {
            return Err(url_error(
                url,
                "https needs the `tls` feature of multiproc-rpc",
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if hostport.is_empty() {
            return Err(url_error(url, "no host"));
        }
        let has_port = match hostport.rfind(':') {
            Some(i) => !hostport[i..].contains(']'),
            None => false,
        };
        let (host, addr) = if has_port {
            let i = hostport.rfind(':').unwrap_or(hostport.len());
            (&hostport[..i], hostport.to_string())
        } else {
            (
                hostport,
                format!("{hostport}:{}", if https { 443 } else { 80 }),
            )
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let auth = userinfo.map(|u| {
            let plain = percent_decode(u);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(plain)
            )
        });
        Ok(Client {
            addr,
            host,
            https,
            #[cfg(feature = "tls")]
            tls_config: None,
            host_header: hostport.to_string(),
            path: if path.is_empty() { "/RPC2" } else { path }.to_string(),
            auth,
            timeout: None,
            allow_none: false,
            accept_gzip: true,
            encode_threshold: None,
            max_depth: 256,
            max_body: 256 << 20,
            conn: Mutex::new(None),
        })
    }

    /// The TLS configuration for an `https://` URL (Python's `ServerProxy(url,
    /// context=...)`), for instance to trust a private certificate authority or to present
    /// a client certificate. Without it the client trusts the roots the system trusts, as
    /// Python's default context does. Only with the `tls` feature.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use multiproc_rpc::{Client, rustls};
    ///
    /// // The CA certificate that signed the server's, in DER form.
    /// let my_ca = rustls::pki_types::CertificateDer::from(std::fs::read("my-ca.der")?);
    /// let mut roots = rustls::RootCertStore::empty();
    /// roots.add(my_ca)?;
    /// let provider = Arc::new(rustls::crypto::ring::default_provider());
    /// let config = rustls::ClientConfig::builder_with_provider(provider)
    ///     .with_safe_default_protocol_versions()?
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let client = Client::new("https://rpc.internal:8443/RPC2")?.tls_config(Arc::new(config));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls_config = Some(config);
        self
    }

    /// Gives up on connecting, sending or waiting for an answer after `timeout` (Python's
    /// socket timeout); the call then fails with [`Error::Timeout`]. Without
    /// it a call waits as long as the server takes.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether `Nil` may be sent (Python's `allow_none`; default `false`, when a call with
    /// `None` among its arguments fails with [`Error::NilNotAllowed`] before anything is sent).
    /// `nil` in an answer is always accepted.
    pub fn allow_none(mut self, allow: bool) -> Self {
        self.allow_none = allow;
        self
    }

    /// Whether to ask for gzipped answers (`Accept-Encoding: gzip`; Python's
    /// `accept_gzip_encoding`, default `true`). A gzipped answer is inflated within the same
    /// limit as a plain one, so a gzip bomb fails the call instead of filling memory.
    pub fn accept_gzip_encoding(mut self, accept: bool) -> Self {
        self.accept_gzip = accept;
        self
    }

    /// Gzips a request larger than `threshold` bytes (Python's `encode_threshold`; default
    /// `None`, never, as in Python). Python's server and this crate's accept gzipped requests.
    pub fn encode_threshold(mut self, threshold: Option<usize>) -> Self {
        self.encode_threshold = threshold;
        self
    }

    /// The largest answer this client accepts, in bytes, gzipped answers counted once
    /// inflated (default 256 MiB).
    pub fn max_message(&self) -> usize {
        self.max_body
    }

    /// Sets the largest answer this client accepts; a larger one fails the call before it is
    /// read whole (or inflated past the limit).
    pub fn set_max_message(&mut self, bytes: usize) {
        self.max_body = bytes;
    }

    /// Calls `method` with `args` (a tuple, see [`Params`]) and converts the answer into `R`.
    ///
    /// # Errors
    ///
    /// [`Error::Fault`] if the server answered with a fault; [`Error::Type`] if an argument
    /// cannot be sent or the answer is not an `R`, [`Error::NilNotAllowed`] for `nil` without
    /// `allow_none`; [`Error::Http`], [`Error::Corrupt`], [`Error::TooLarge`],
    /// [`Error::Timeout`], [`Error::Disconnected`], [`Error::Io`] (or `Error::Tls`) if the
    /// exchange itself failed.
    pub fn call<R: DeserializeOwned + 'static>(
        &self,
        method: &str,
        args: impl Params,
    ) -> Result<R, Error> {
        from_value(self.call_value(method, args.into_params()?)?)
    }

    /// Calls `method` with parameters given as values, and returns the answer as a value.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub fn call_value(&self, method: &str, params: Vec<Value>) -> Result<Value, Error> {
        if !self.allow_none && params.iter().any(Value::contains_nil) {
            return Err(Error::NilNotAllowed);
        }
        let body = xml::call(method, &params);
        let answer = self.post(body.as_bytes())?;
        match xml::parse_response(&answer, self.max_depth) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(f)) => Err(Error::Fault(f)),
            Err(e) => Err(CorruptReason::Xml(e).into()),
        }
    }

    /// Sends every call of `calls` in one request through `system.multicall` and returns one
    /// result per call, in order (Python's `MultiCall`).
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call), for the request as a whole; [`Error::Corrupt`] if the answer
    /// does not have the shape `system.multicall` gives.
    pub fn multicall(&self, calls: &MultiCall) -> Result<Vec<Result<Value, Fault>>, Error> {
        let answer = self.call_value(
            "system.multicall",
            vec![Value::Array(calls.calls().to_vec())],
        )?;
        let Value::Array(items) = answer else {
            return Err(CorruptReason::MultiCall.into());
        };
        items
            .into_iter()
            .map(|item| match item {
                Value::Array(mut one) if one.len() == 1 => Ok(Ok(one.pop().expect("one"))),
                other => match xml::value_fault(&other) {
                    Some(f) => Ok(Err(f)),
                    None => Err(CorruptReason::MultiCall.into()),
                },
            })
            .collect()
    }

    fn connect(&self) -> Result<Conn, Error> {
        let stream = match self.timeout {
            None => TcpStream::connect(&self.addr)?,
            Some(t) => {
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                let mut found = None;
                for a in self.addr.to_socket_addrs()? {
                    match TcpStream::connect_timeout(&a, t) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                found.ok_or(last)?
            }
        };
        stream.set_nodelay(true)?;
        stream.set_write_timeout(self.timeout)?;
        #[cfg(feature = "tls")]
        if self.https {
            return crate::tls::connect(stream, &self.host, self.tls_config.as_ref());
        }
        Ok(Conn::new(stream))
    }

    /// The whole request for `body`: head and body (gzipped above the threshold).
    fn request_bytes(&self, body: &[u8]) -> Vec<u8> {
        use std::fmt::Write as _;
        let gzipped = match self.encode_threshold {
            Some(t) if body.len() > t => crate::gzip::encode(body),
            _ => None,
        };
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: multiproc-rpc/{}\r\nContent-Type: text/xml\r\n",
            self.path,
            self.host_header,
            env!("CARGO_PKG_VERSION"),
        );
        if self.accept_gzip {
            head.push_str("Accept-Encoding: gzip\r\n");
        }
        if gzipped.is_some() {
            head.push_str("Content-Encoding: gzip\r\n");
        }
        if let Some(a) = &self.auth {
            let _ = write!(head, "Authorization: {a}\r\n");
        }
        let body = gzipped.as_deref().unwrap_or(body);
        let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
        let mut req = Vec::with_capacity(head.len() + body.len());
        req.extend_from_slice(head.as_bytes());
        req.extend_from_slice(body);
        req
    }

    /// Sends one POST and returns the 200 answer's body.
    fn post(&self, body: &[u8]) -> Result<Vec<u8>, Error> {
        let req = self.request_bytes(body);

        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut retried = false;
        loop {
            let (mut conn, reused) = match slot.take() {
                Some(c) => (c, true),
                None => (self.connect()?, false),
            };
            match self.exchange(&mut conn, &req) {
                Ok((answer, keep)) => {
                    if keep {
                        *slot = Some(conn);
                    }
                    return answer;
                }
                // A kept-alive connection the server has closed meanwhile: try once anew.
                Err(Stale) if reused && !retried => retried = true,
                Err(Failed(e)) => return Err(e),
                Err(Stale) => return Err(Error::Disconnected),
            }
        }
    }

    /// One request and its answer on `conn`. `Ok((answer, keep_alive))`.
    fn exchange(
        &self,
        conn: &mut Conn,
        req: &[u8],
    ) -> Result<(Result<Vec<u8>, Error>, bool), Exchange> {
        if let Err(e) = conn.write_all(req) {
            return Err(match e.kind() {
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => Stale,
                _ => Failed(e.into()),
            });
        }
        let r = read_response(conn, self.timeout, self.max_body)?;
        if r.status != 200 {
            let e = Error::Http {
                status: r.status,
                reason: r.reason,
            };
            return Ok((Err(e), r.keep_alive));
        }
        Ok((Ok(r.body), r.keep_alive))
    }
}

/// An answer read whole.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) body: Vec<u8>,
    /// Whether the connection may carry another request.
    pub(crate) keep_alive: bool,
}

/// Reads an answer: its head within `timeout` of its first byte (which may take `timeout`
/// too), its body within `timeout` of the head, at most `max_body` bytes.
pub(crate) fn read_response(
    conn: &mut Conn,
    timeout: Option<Duration>,
    max_body: usize,
) -> Result<Response, Exchange> {
    let head = match conn.read_head(timeout, timeout, 64 << 10) {
        Ok(h) => h,
        Err(ReadError::Closed) => return Err(Stale),
        // Closed under us (over TLS, maybe without a close_notify).
        Err(ReadError::Io(e))
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
            ) =>
        {
            return Err(Stale);
        }
        Err(e) => return Err(Failed(read_error(e, 64 << 10))),
    };
    let deadline = Deadline::from_timeout(timeout);
    let status: u16 = head
        .b
        .parse()
        .map_err(|_| Failed(corrupt(MalformedHttp::Status)))?;
    let http11 = head.a == "HTTP/1.1";
    let mut keep_alive = !head.close && (http11 || head.keep_alive);
    let body = if head.chunked {
        conn.read_chunked(max_body, deadline)
    } else if let Some(n) = head.content_length {
        if n > max_body {
            return Err(Failed(Error::TooLarge {
                len: n,
                max: max_body,
            }));
        }
        conn.read_body(n, deadline)
    } else {
        keep_alive = false;
        conn.read_to_end(max_body, deadline)
    }
    .map_err(|e| Failed(read_error(e, max_body)))?;
    let body = match head.content_encoding {
        Coding::Identity => body,
        Coding::Gzip => crate::gzip::decode(&body, max_body).map_err(|e| {
            Failed(match e {
                GzipError::TooLarge => Error::TooLarge {
                    len: max_body + 1,
                    max: max_body,
                },
                GzipError::Corrupt(e) => CorruptReason::Gzip(e).into(),
            })
        })?,
        Coding::Other(_) => return Err(Failed(corrupt(MalformedHttp::Encoding))),
    };
    Ok(Response {
        status,
        reason: head.c,
        body,
        keep_alive,
    })
}

/// How one exchange failed.
#[derive(Debug)]
pub(crate) enum Exchange {
    /// A kept-alive connection the server had closed: worth one more try on a new one.
    Stale,
    /// Anything else.
    Failed(Error),
}
use Exchange::{Failed, Stale};

/// A failed read of an answer as the caller sees it; `max` is the limit that applied.
fn read_error(e: ReadError, max: usize) -> Error {
    match e {
        ReadError::TimedOut => Error::Timeout,
        ReadError::Io(e) => e.into(),
        ReadError::Closed => Error::Disconnected,
        ReadError::TooLarge => Error::TooLarge { len: max + 1, max },
        ReadError::Malformed(m) => corrupt(m),
    }
}

fn corrupt(m: MalformedHttp) -> Error {
    CorruptReason::Http(m).into()
}

fn url_error(url: &str, reason: &'static str) -> Error {
    Error::Url {
        url: url.to_string(),
        reason,
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr)
            .field("https", &self.https)
            .field("path", &self.path)
            .field("auth", &self.auth.as_ref().map(|_| "<hidden>"))
            .field("timeout", &self.timeout)
            .field("allow_none", &self.allow_none)
            .field("accept_gzip_encoding", &self.accept_gzip)
            .field("encode_threshold", &self.encode_threshold)
            .field("max_message", &self.max_body)
            .finish_non_exhaustive()
    }
}
