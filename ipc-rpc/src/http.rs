//! A small HTTP/1.1 layer over a byte stream (a TCP socket, or TLS over one): just what
//! XML-RPC needs (POST with a `Content-Length` or chunked body, keep-alive), with every read
//! bounded in size and time.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use multiproc_core::Deadline;

use crate::MalformedHttp;

/// What a [`Conn`] reads from and writes to: a byte stream whose reads can time out.
pub(crate) trait Transport: Read + Write + Send {
    /// Sets how long one read may wait (`None`: for ever).
    fn set_read_timeout(&mut self, t: Option<Duration>) -> io::Result<()>;
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, t)
    }
}

/// A connection with its own read buffer, so that the socket's timeout can be changed between
/// reads without losing buffered bytes.
pub(crate) struct Conn {
    stream: Box<dyn Transport>,
    /// Read bytes are `buf[pos..end]`; the rest of `buf` is room for more.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    timeout: Option<Duration>,
}

/// A parsed request or response head.
#[derive(Debug, Default)]
pub(crate) struct Head {
    /// Request: method; response: version.
    pub a: String,
    /// Request: path; response: status code.
    pub b: String,
    /// Request: version; response: reason.
    pub c: String,
    pub content_length: Option<usize>,
    pub chunked: bool,
    pub other_transfer_encoding: bool,
    /// `Content-Encoding`.
    pub content_encoding: Coding,
    /// `Accept-Encoding` names `gzip` with a quality above zero.
    pub accepts_gzip: bool,
    /// `Connection: close` seen.
    pub close: bool,
    /// `Connection: keep-alive` seen.
    pub keep_alive: bool,
    pub expect_continue: bool,
}

/// A `Content-Encoding`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) enum Coding {
    #[default]
    Identity,
    Gzip,
    /// Any other, by its name.
    Other(String),
}

impl Coding {
    fn parse(value: &str) -> Coding {
        let v = value.trim();
        if v.is_empty() || v.eq_ignore_ascii_case("identity") {
            Coding::Identity
        } else if v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip") {
            Coding::Gzip
        } else {
            Coding::Other(v.chars().take(40).collect())
        }
    }
}

/// Whether an `Accept-Encoding` value accepts gzip: `gzip` is named with no quality, or with
/// a quality other than zero (as Python's server reads it; `*` does not count).
fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        if !coding.eq_ignore_ascii_case("gzip") {
            return false;
        }
        parts.all(|p| {
            let Some((k, q)) = p.split_once('=') else {
                return true;
            };
            !k.trim().eq_ignore_ascii_case("q") || q.trim().parse::<f32>().is_ok_and(|q| q > 0.0)
        })
    })
}

/// Why reading a head or body failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed before sending anything (a normal end of a kept-alive connection).
    Closed,
    /// The read timed out.
    TimedOut,
    /// The head is larger than allowed.
    TooLarge,
    /// Not HTTP.
    Malformed(MalformedHttp),
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ReadError::TimedOut,
            _ => ReadError::Io(e),
        }
    }
}

impl Conn {
    pub(crate) fn new(stream: impl Transport + 'static) -> Self {
        Conn {
            stream: Box::new(stream),
            buf: Vec::new(),
            pos: 0,
            end: 0,
            timeout: None,
        }
    }

    fn set_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        let t = t.map(|d| d.max(Duration::from_millis(1)));
        if self.timeout != t {
            self.stream.set_read_timeout(t)?;
            self.timeout = t;
        }
        Ok(())
    }

    /// Buffered bytes not yet consumed.
    fn pending(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Reads more bytes, waiting at most until `deadline`. Returns how many (0 at EOF).
    fn fill(&mut self, deadline: Deadline) -> Result<usize, ReadError> {
        match deadline.left() {
            None => return Err(ReadError::TimedOut),
            Some(Some(left)) => self.set_timeout(Some(left))?,
            // No limit: the socket keeps the timeout it has.
            Some(None) => {}
        }
        if self.pos == self.end {
            (self.pos, self.end) = (0, 0);
        }
        if self.end == self.buf.len() {
            // Full: move the unread bytes to the front, or grow if they fill it.
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.end, 0);
                (self.pos, self.end) = (0, self.end - self.pos);
            } else {
                let len = (self.buf.len() * 2).max(16384);
                self.buf.resize(len, 0);
            }
        }
        let n = loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        self.end += n;
        Ok(n)
    }

    /// Waits up to `idle` for the first byte of a message (returns `Closed` on a clean EOF),
    /// then reads the whole head within `read_timeout`.
    pub(crate) fn read_head(
        &mut self,
        idle: Option<Duration>,
        read_timeout: Option<Duration>,
        max_head: usize,
    ) -> Result<Head, ReadError> {
        self.wait_first_byte(idle)?;
        self.read_head_by(Deadline::from_timeout(read_timeout), max_head)
    }

    /// Waits up to `idle` for the first byte of a message; `Closed` on a clean EOF,
    /// `TimedOut` if none came. Returns at once if bytes are already buffered.
    pub(crate) fn wait_first_byte(&mut self, idle: Option<Duration>) -> Result<(), ReadError> {
        if self.pending().is_empty() {
            self.set_timeout(idle)?;
            if self.fill(Deadline::Forever)? == 0 {
                return Err(ReadError::Closed);
            }
        }
        Ok(())
    }

    /// Reads a whole head (request or status line and headers) by `deadline`.
    pub(crate) fn read_head_by(
        &mut self,
        deadline: Deadline,
        max_head: usize,
    ) -> Result<Head, ReadError> {
        let end = loop {
            if let Some(i) = find(self.pending(), b"\r\n\r\n") {
                break i;
            }
            if self.pending().len() > max_head {
                return Err(ReadError::TooLarge);
            }
            if self.fill(deadline)? == 0 {
                return Err(ReadError::Malformed(MalformedHttp::Truncated));
            }
        };
        if end > max_head {
            return Err(ReadError::TooLarge);
        }
        let head = parse_head(&self.pending()[..end])?;
        self.pos += end + 4;
        Ok(head)
    }

    /// Reads exactly `n` body bytes within `deadline`.
    pub(crate) fn read_body(&mut self, n: usize, deadline: Deadline) -> Result<Vec<u8>, ReadError> {
        let mut out = Vec::with_capacity(n.min(1 << 20));
        while out.len() < n {
            if self.pending().is_empty() && self.fill(deadline)? == 0 {
                return Err(ReadError::Malformed(MalformedHttp::Truncated));
            }
            let take = (n - out.len()).min(self.pending().len());
            out.extend_from_slice(&self.pending()[..take]);
            self.pos += take;
        }
        Ok(out)
    }

    /// Reads a chunked body of at most `max` bytes.
    pub(crate) fn read_chunked(
        &mut self,
        max: usize,
        deadline: Deadline,
    ) -> Result<Vec<u8>, ReadError> {
        let mut out = Vec::new();
        loop {
            let line = self.read_line(deadline)?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size =
                parse_chunk_size(size_text).ok_or(ReadError::Malformed(MalformedHttp::Chunk))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line(deadline)?.is_empty() {}
                return Ok(out);
            }
            if size > max - out.len() {
                return Err(ReadError::TooLarge);
            }
            out.extend(self.read_body(size, deadline)?);
            if !self.read_line(deadline)?.is_empty() {
                return Err(ReadError::Malformed(MalformedHttp::Chunk));
            }
        }
    }

    fn read_line(&mut self, deadline: Deadline) -> Result<String, ReadError> {
        loop {
            if let Some(i) = find(self.pending(), b"\r\n") {
                let line = String::from_utf8_lossy(&self.pending()[..i]).into_owned();
                self.pos += i + 2;
                return Ok(line);
            }
            if self.pending().len() > 4096 {
                return Err(ReadError::TooLarge);
            }
            if self.fill(deadline)? == 0 {
                return Err(ReadError::Malformed(MalformedHttp::Truncated));
            }
        }
    }

    /// Reads until EOF, at most `max` bytes.
    pub(crate) fn read_to_end(
        &mut self,
        max: usize,
        deadline: Deadline,
    ) -> Result<Vec<u8>, ReadError> {
        loop {
            if self.pending().len() > max {
                return Err(ReadError::TooLarge);
            }
            if self.fill(deadline)? == 0 {
                let out = self.pending().to_vec();
                self.pos = self.end;
                return Ok(out);
            }
        }
    }

    /// Writes all of `bytes`.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `1*DIGIT` (RFC 9110 section 8.6): no sign, no space inside, no list.
fn parse_content_length(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `1*HEXDIG` (RFC 9112 section 7.1): no sign, no `0x`.
fn parse_chunk_size(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    usize::from_str_radix(text, 16).ok()
}

fn parse_head(bytes: &[u8]) -> Result<Head, ReadError> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| ReadError::Malformed(MalformedHttp::NotUtf8))?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.splitn(3, ' ');
    let mut h = Head {
        a: parts.next().unwrap_or("").to_string(),
        b: parts.next().unwrap_or("").to_string(),
        c: parts.next().unwrap_or("").to_string(),
        ..Head::default()
    };
    if h.a.is_empty() || h.b.is_empty() {
        return Err(ReadError::Malformed(MalformedHttp::StartLine));
    }
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or(ReadError::Malformed(MalformedHttp::HeaderLine))?;
        let value = value.trim();
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(value)
                .ok_or(ReadError::Malformed(MalformedHttp::ContentLength))?;
            if h.content_length.is_some_and(|m| m != n) {
                return Err(ReadError::Malformed(MalformedHttp::ContentLength));
            }
            h.content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if value.eq_ignore_ascii_case("chunked") {
                h.chunked = true;
            } else if !value.eq_ignore_ascii_case("identity") {
                h.other_transfer_encoding = true;
            }
        } else if name.eq_ignore_ascii_case("content-encoding") {
            h.content_encoding = Coding::parse(value);
        } else if name.eq_ignore_ascii_case("accept-encoding") {
            h.accepts_gzip |= accepts_gzip(value);
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',') {
                let t = token.trim();
                h.close |= t.eq_ignore_ascii_case("close");
                h.keep_alive |= t.eq_ignore_ascii_case("keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            h.expect_continue |= value.eq_ignore_ascii_case("100-continue");
        }
    }
    // RFC 9112 section 6.1: a message with both is a smuggling attempt or a broken peer.
    if h.content_length.is_some() && (h.chunked || h.other_transfer_encoding) {
        return Err(ReadError::Malformed(
            MalformedHttp::LengthAndTransferEncoding,
        ));
    }
    Ok(h)
}

/// The reason phrase of a status code this crate sends.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// A whole response, head and body, in one buffer (one `write` on the socket): the status
/// line, `Server`, `headers`, `Content-Length`, then `body`.
pub(crate) fn response_bytes(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nServer: multiproc-rpc/{}\r\n",
        reason(status),
        env!("CARGO_PKG_VERSION"),
    );
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_parsing() {
        let h = parse_head(
            b"POST /RPC2 HTTP/1.1\r\nHost: x\r\ncontent-length: 12\r\nConnection: Keep-Alive",
        )
        .unwrap();
        assert_eq!(
            (h.a.as_str(), h.b.as_str(), h.c.as_str()),
            ("POST", "/RPC2", "HTTP/1.1")
        );
        assert_eq!(h.content_length, Some(12));
        assert!(h.keep_alive && !h.close);
        assert!(parse_head(b"POST / HTTP/1.1\r\nContent-Length: x").is_err());
        assert!(parse_head(b"POST / HTTP/1.1\r\nno colon").is_err());
    }
}
