//! One connection of a [`Server`](crate::Server): read a request, check it, answer it, and
//! again while the client keeps the connection alive.

use multiproc_core::Deadline;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::Limits;
use crate::gzip::{self, GzipError};
use crate::http::{Coding, Conn, Head, ReadError, reason, response_bytes};
use crate::server::Shared;
use crate::{Fault, xml};

/// Why a connection ends before a request was answered.
#[derive(Debug)]
pub(crate) enum Stop {
    /// Close without a word: the peer left, or sent nothing in time.
    Quietly,
    /// Answer with this status and a short explanation, then close.
    Refuse(u16, String),
}

impl Stop {
    fn refuse(status: u16, msg: impl Into<String>) -> Self {
        Stop::Refuse(status, msg.into())
    }
}

/// What becomes of a connection after an answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    KeepAlive,
    Close,
}

/// Serves requests on `stream` until the client closes, idles out, breaks the protocol or
/// asks to close, or the server stops. Each answer is logged (see [`log_answer`]).
pub(crate) fn serve_connection(shared: &Shared, stream: TcpStream, id: u64) {
    let limits = &shared.limits;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(limits.write_timeout));
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "-".to_string(), |a| a.to_string());
    let mut conn = Conn::new(stream);
    // Until its first request has arrived whole, a connection has a short time of its own.
    let mut first_by = Some(Instant::now() + limits.first_request_timeout);
    while !shared.stopping.load(Ordering::Acquire) {
        shared.conns.mark_idle(id);
        let started = Instant::now();
        let head = match read_head(&mut conn, limits, &mut first_by) {
            Ok(h) => h,
            Err(stop) => return refuse(&mut conn, &peer, None, stop, started),
        };
        shared.conns.mark_busy(id);
        let started = Instant::now();
        let body = check_head(&head, limits, &shared.rpc_paths)
            .and_then(|()| read_body(&mut conn, &head, limits));
        let body = match body {
            Ok(b) => b,
            Err(stop) => return refuse(&mut conn, &peer, Some(&head), stop, started),
        };
        let after = if head.close
            || (head.c == "HTTP/1.0" && !head.keep_alive)
            || shared.stopping.load(Ordering::Acquire)
        {
            After::Close
        } else {
            After::KeepAlive
        };
        let (doc, method) = answer(shared, &body);
        let response = encode_response(shared, &head, doc.as_bytes(), after);
        let sent = conn.write_all(&response);
        log_answer(
            &peer,
            Some(&head),
            200,
            method.as_deref().unwrap_or("-"),
            started,
        );
        if sent.is_err() || after == After::Close {
            return;
        }
    }
}

/// Ends a connection on `stop`: answers with the error page it calls for, and logs it.
fn refuse(conn: &mut Conn, peer: &str, head: Option<&Head>, stop: Stop, started: Instant) {
    match stop {
        Stop::Quietly => {
            log::debug!("{peer}: connection closed");
        }
        Stop::Refuse(status, msg) => {
            error_page(conn, status, &msg);
            log_answer(peer, head, status, &msg, started);
        }
    }
}

/// One line per answer, at `info`, as Python's server logs each request (with the time it
/// took, and the XML-RPC method or the reason for a refusal):
/// `127.0.0.1:50312 "POST /RPC2 HTTP/1.1" 200 add 0.12 ms`.
fn log_answer(peer: &str, head: Option<&Head>, status: u16, what: &str, started: Instant) {
    let ms = started.elapsed().as_secs_f64() * 1e3;
    match head {
        Some(h) => log::info!(
            "{peer} \"{} {} {}\" {status} {what} {ms:.2} ms",
            h.a.escape_debug(),
            h.b.escape_debug(),
            h.c.escape_debug()
        ),
        None => log::info!("{peer} \"-\" {status} {what} {ms:.2} ms"),
    }
}

/// The 200 response carrying `doc`: gzipped, as Python's server does, when the client
/// accepts gzip and `doc` is larger than the server's `encode_threshold`.
fn encode_response(shared: &Shared, head: &Head, doc: &[u8], after: After) -> Vec<u8> {
    let mut headers = vec![("Content-Type", "text/xml")];
    if after == After::Close {
        headers.push(("Connection", "close"));
    }
    let gzipped = match shared.encode_threshold {
        Some(t) if head.accepts_gzip && doc.len() > t => gzip::encode(doc),
        _ => None,
    };
    match gzipped {
        Some(body) => {
            headers.push(("Content-Encoding", "gzip"));
            response_bytes(200, &headers, &body)
        }
        None => response_bytes(200, &headers, doc),
    }
}

/// Answers `status` with a short text page; the connection is closed after it.
fn error_page(conn: &mut Conn, status: u16, msg: &str) {
    let body = format!("{status} {}: {msg}\n", reason(status));
    let headers = [("Content-Type", "text/plain"), ("Connection", "close")];
    let _ = conn.write_all(&response_bytes(status, &headers, body.as_bytes()));
}

/// Waits for the next request and reads its head: the first request of a connection by
/// `first_by` (then cleared), a later one after at most [`Limits::idle_timeout`] of silence
/// and within [`Limits::read_timeout`] of its first byte.
pub(crate) fn read_head(
    conn: &mut Conn,
    limits: &Limits,
    first_by: &mut Option<Instant>,
) -> Result<Head, Stop> {
    let idle = match *first_by {
        Some(by) => by.saturating_duration_since(Instant::now()),
        None => limits.idle_timeout,
    };
    // Idle too long (or never a byte): just close.
    conn.wait_first_byte(Some(idle))
        .map_err(|_| Stop::Quietly)?;
    let mut head_by = Instant::now() + limits.read_timeout;
    if let Some(by) = first_by.take() {
        head_by = head_by.min(by);
    }
    conn.read_head_by(Deadline::Until(head_by), limits.max_head)
        .map_err(|e| match e {
            ReadError::Closed | ReadError::Io(_) => Stop::Quietly,
            ReadError::TimedOut => Stop::refuse(408, "the request did not arrive in time"),
            ReadError::TooLarge => Stop::refuse(431, "head too large"),
            ReadError::Malformed(m) => Stop::refuse(400, m.to_string()),
        })
}

/// Refuses what this server does not serve: other methods, paths, encodings, and bodies
/// over the limit or of unknown length.
pub(crate) fn check_head(head: &Head, limits: &Limits, rpc_paths: &[String]) -> Result<(), Stop> {
    if head.a != "POST" {
        return Err(Stop::refuse(
            501,
            format!("Unsupported method ({:?})", head.a),
        ));
    }
    if !rpc_paths.is_empty() && !rpc_paths.contains(&head.b) {
        return Err(Stop::refuse(404, "No such page"));
    }
    if head.other_transfer_encoding {
        return Err(Stop::refuse(501, "transfer encoding not supported"));
    }
    if let Coding::Other(name) = &head.content_encoding {
        return Err(Stop::refuse(
            501,
            format!("encoding {name:?} not supported"),
        ));
    }
    if head.content_length.is_some_and(|n| n > limits.max_body) {
        return Err(Stop::refuse(413, "request body too large"));
    }
    if head.content_length.is_none() && !head.chunked {
        return Err(Stop::refuse(411, "Content-Length required"));
    }
    Ok(())
}

/// Reads the body of a request whose head passed [`check_head`], within
/// [`Limits::read_timeout`], and inflates it if it is gzipped: to at most
/// [`Limits::max_body`], the same limit as a plain body.
pub(crate) fn read_body(conn: &mut Conn, head: &Head, limits: &Limits) -> Result<Vec<u8>, Stop> {
    let deadline = Deadline::after(limits.read_timeout);
    if head.expect_continue && conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
        return Err(Stop::Quietly);
    }
    let body = match head.content_length {
        Some(n) => conn.read_body(n, deadline),
        None => conn.read_chunked(limits.max_body, deadline),
    };
    let body = body.map_err(|e| match e {
        ReadError::TimedOut => Stop::refuse(408, "the request did not arrive in time"),
        ReadError::TooLarge => Stop::refuse(413, "request body too large"),
        ReadError::Malformed(m) => Stop::refuse(400, m.to_string()),
        ReadError::Closed | ReadError::Io(_) => Stop::Quietly,
    })?;
    if head.content_encoding != Coding::Gzip {
        return Ok(body);
    }
    gzip::decode(&body, limits.max_body).map_err(|e| match e {
        GzipError::TooLarge => Stop::refuse(413, "request body too large once decoded"),
        GzipError::Corrupt(_) => Stop::refuse(400, "error decoding gzip content"),
    })
}

/// Parses the call, runs it, and writes the `methodResponse` (a fault for a document that is
/// not a call, and for `nil` in a result without `allow_none`); also the method's name, if
/// the document named one.
fn answer(shared: &Shared, body: &[u8]) -> (String, Option<String>) {
    let (result, method) = match xml::parse_call(body, shared.limits.max_depth) {
        Ok((method, params)) => (shared.registry.dispatch(&method, params), Some(method)),
        Err(e) => (
            Err(Fault::python("xml.parsers.expat.ExpatError", e.full())),
            None,
        ),
    };
    let result = match result {
        Ok(v) if !shared.allow_none && v.contains_nil() => Err(Fault::python(
            "TypeError",
            "cannot marshal None unless allow_none is enabled",
        )),
        r => r,
    };
    (xml::response(&result), method)
}
