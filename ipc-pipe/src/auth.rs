//! The authentication handshake of Python's `multiprocessing.connection`, both generations:
//! [`deliver_challenge`], [`answer_challenge`], and the non-blocking form the
//! [`Listener`](crate::Listener) runs for many clients at once.
//!
//! One side sends `#CHALLENGE#` followed by a message; the other answers with an HMAC of the
//! message keyed with the shared authkey; the first replies `#WELCOME#` or `#FAILURE#`. As in
//! CPython 3.12 and later:
//! - the challenge we send is always the modern one, `{sha256}` + 40 random bytes, and the MAC
//!   covers the prefix too, so an answer cannot pick a weaker digest than its MAC proves;
//! - an answer is accepted as `{digest}` + MAC (md5, sha256, sha384), or as a bare 16-byte
//!   HMAC-MD5 of the whole message, which is what Python up to 3.11 sends;
//! - a bare 20-byte challenge (Python up to 3.11) is answered with a bare HMAC-MD5, a prefixed
//!   one in kind;
//! - MACs are compared in constant time (`hmac`'s `verify_slice`);
//! - every message before the end of the handshake may hold at most [`PRE_AUTH_MAX`] bytes; a
//!   larger announced length is refused from the header, before anything is allocated.

use std::fmt;
use std::io;

use hmac::{Hmac, Mac};

use crate::connection::Connection;
use crate::error::Error;
use crate::sys;

/// The most bytes a peer may send in one message before it is authenticated (Python reads the
/// challenge and the answers with `recv_bytes(256)`).
pub const PRE_AUTH_MAX: usize = 256;

const CHALLENGE: &[u8] = b"#CHALLENGE#";
const WELCOME: &[u8] = b"#WELCOME#";
const FAILURE: &[u8] = b"#FAILURE#";
/// Random bytes in our challenge (Python's `MESSAGE_LENGTH`).
const MESSAGE_LENGTH: usize = 40;
/// A bare challenge of this length is from Python up to 3.11 (HMAC-MD5, no prefix).
const MD5ONLY_MESSAGE_LENGTH: usize = 20;
/// A bare answer of this length is an HMAC-MD5 from Python up to 3.11.
const MD5_DIGEST_LEN: usize = 16;
/// The longest digest name Python allows (`sha3_256`, `sha3_384`).
const MAX_DIGEST_NAME: usize = 8;

/// Why an authentication handshake failed: the payload of [`Error::AuthenticationError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// The peer's answer to our challenge was wrong: it holds another key.
    WrongDigest,
    /// The peer rejected our answer (`#FAILURE#`, or anything but `#WELCOME#`): it holds
    /// another key.
    Rejected,
    /// A challenge was due and something else came (a peer without a key, or not speaking
    /// this protocol).
    NotAChallenge,
    /// A challenge shorter than 20 bytes.
    ChallengeTooShort,
    /// A message or answer without a known `{digest}` prefix and of no legacy length, or naming
    /// a digest this side does not implement (`sha3_256`, `sha3_384`).
    UnsupportedDigest,
    /// An answer whose MAC has the wrong length for its digest.
    WrongLength,
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthFailure::WrongDigest => "digest received was wrong",
            AuthFailure::Rejected => "digest sent was rejected",
            AuthFailure::NotAChallenge => "protocol error: expected a challenge",
            AuthFailure::ChallengeTooShort => "challenge too short",
            AuthFailure::UnsupportedDigest => {
                "unsupported message length, missing digest prefix, or unsupported digest"
            }
            AuthFailure::WrongLength => "digest of the wrong length",
        })
    }
}

fn fail(why: AuthFailure) -> Error {
    Error::AuthenticationError(why)
}

/// The HMAC digests this side implements.
#[derive(Debug, Clone, Copy)]
enum Digest {
    Md5,
    Sha256,
    Sha384,
}

impl Digest {
    fn from_name(name: &[u8]) -> Result<Digest, AuthFailure> {
        match name {
            b"md5" => Ok(Digest::Md5),
            b"sha256" => Ok(Digest::Sha256),
            b"sha384" => Ok(Digest::Sha384),
            _ => Err(AuthFailure::UnsupportedDigest),
        }
    }

    fn name(self) -> &'static [u8] {
        match self {
            Digest::Md5 => b"md5",
            Digest::Sha256 => b"sha256",
            Digest::Sha384 => b"sha384",
        }
    }

    fn mac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
            // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }
        match self {
            Digest::Md5 => run::<Hmac<md5::Md5>>(key, message),
            Digest::Sha256 => run::<Hmac<sha2::Sha256>>(key, message),
            Digest::Sha384 => run::<Hmac<sha2::Sha384>>(key, message),
        }
    }

    /// Constant-time check that `mac` is the HMAC of `message` under `key`.
    fn verify(self, key: &[u8], message: &[u8], mac: &[u8]) -> Result<(), AuthFailure> {
        fn run<M: Mac + hmac::digest::KeyInit>(
            key: &[u8],
            message: &[u8],
            mac: &[u8],
        ) -> Result<(), AuthFailure> {
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
            m.update(message);
            if mac.len() != <M as hmac::digest::OutputSizeUser>::output_size() {
                return Err(AuthFailure::WrongLength);
            }
            m.verify_slice(mac).map_err(|_| AuthFailure::WrongDigest)
        }
        match self {
            Digest::Md5 => run::<Hmac<md5::Md5>>(key, message, mac),
            Digest::Sha256 => run::<Hmac<sha2::Sha256>>(key, message, mac),
            Digest::Sha384 => run::<Hmac<sha2::Sha384>>(key, message, mac),
        }
    }
}

/// Python's `_get_digest_name_and_payload`: `(None, message)` for a legacy message (16 or 20
/// bytes, no prefix), `(Some(digest), rest)` for `{digest}rest`.
fn digest_and_payload(message: &[u8]) -> Result<(Option<Digest>, &[u8]), AuthFailure> {
    if message.len() == MD5ONLY_MESSAGE_LENGTH || message.len() == MD5_DIGEST_LEN {
        return Ok((None, message));
    }
    if message.first() == Some(&b'{') {
        let window = &message[1..message.len().min(MAX_DIGEST_NAME + 2)];
        if let Some(close) = window.iter().position(|&b| b == b'}') {
            let digest = Digest::from_name(&window[..close])?;
            return Ok((Some(digest), &message[close + 2..]));
        }
    }
    Err(AuthFailure::UnsupportedDigest)
}

/// Our challenge message (without `#CHALLENGE#`): `{sha256}` and 40 bytes from the OS.
fn new_message() -> io::Result<Vec<u8>> {
    let mut random = [0u8; MESSAGE_LENGTH];
    sys::random_bytes(&mut random)?;
    let mut m = b"{sha256}".to_vec();
    m.extend_from_slice(&random);
    Ok(m)
}

/// The answer to a challenge `message` (Python's `_create_response`): a bare HMAC-MD5 for a
/// legacy message, `{digest}` + HMAC of the whole message otherwise.
fn create_response(key: &[u8], message: &[u8]) -> Result<Vec<u8>, AuthFailure> {
    match digest_and_payload(message)?.0 {
        None => Ok(Digest::Md5.mac(key, message)),
        Some(d) => {
            let mut out = Vec::with_capacity(64);
            out.push(b'{');
            out.extend_from_slice(d.name());
            out.push(b'}');
            out.extend_from_slice(&d.mac(key, message));
            Ok(out)
        }
    }
}

/// Checks a peer's answer to our `message` (Python's `_verify_challenge`).
fn verify_response(key: &[u8], message: &[u8], response: &[u8]) -> Result<(), AuthFailure> {
    let (digest, mac) = digest_and_payload(response)?;
    digest.unwrap_or(Digest::Md5).verify(key, message, mac)
}

/// The message of a challenge (after `#CHALLENGE#`), checked as Python checks it.
fn challenge_message(msg: &[u8]) -> Result<&[u8], AuthFailure> {
    let m = msg
        .strip_prefix(CHALLENGE)
        .ok_or(AuthFailure::NotAChallenge)?;
    if m.len() < MD5ONLY_MESSAGE_LENGTH {
        return Err(AuthFailure::ChallengeTooShort);
    }
    Ok(m)
}

fn challenge_bytes(message: &[u8]) -> Vec<u8> {
    [CHALLENGE, message].concat()
}

/// Python's `deliver_challenge(connection, authkey)`: sends a challenge, checks the answer,
/// and replies `#WELCOME#` or `#FAILURE#`. The listener's half of the handshake, run first
/// on a fresh connection (then [`answer_challenge`]).
///
/// The peer's answer may hold at most [`PRE_AUTH_MAX`] bytes.
///
/// # Errors
/// [`Error::AuthenticationError`] when the answer is wrong (the peer was sent `#FAILURE#`);
/// [`Error::TooLarge`] for an answer above [`PRE_AUTH_MAX`] bytes (not read);
/// [`Error::Disconnected`], [`Error::Io`].
pub fn deliver_challenge(conn: &mut Connection, authkey: &[u8]) -> Result<(), Error> {
    let message = new_message()?;
    conn.send_bytes(&challenge_bytes(&message))?;
    let response = conn.recv_pre_auth()?;
    match verify_response(authkey, &message, &response) {
        Ok(()) => conn.send_bytes(WELCOME),
        Err(why) => {
            // The peer may be gone already; the failure to report is ours.
            let _ = conn.send_bytes(FAILURE);
            Err(fail(why))
        }
    }
}

/// Python's `answer_challenge(connection, authkey)`: receives a challenge, answers it, and
/// expects `#WELCOME#`. The client's half of the handshake, run first on a fresh connection
/// (then [`deliver_challenge`]).
///
/// # Errors
/// [`Error::AuthenticationError`] when what came is not a challenge, or our answer was
/// rejected; [`Error::TooLarge`] for a message above [`PRE_AUTH_MAX`] bytes (not read);
/// [`Error::Disconnected`], [`Error::Io`].
pub fn answer_challenge(conn: &mut Connection, authkey: &[u8]) -> Result<(), Error> {
    let msg = conn.recv_pre_auth()?;
    let message = challenge_message(&msg).map_err(fail)?;
    conn.send_bytes(&create_response(authkey, message).map_err(fail)?)?;
    if conn.recv_pre_auth()? != WELCOME {
        return Err(fail(AuthFailure::Rejected));
    }
    Ok(())
}

/// What a peer's message must be at each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The answer to our challenge.
    Response,
    /// The peer's challenge.
    Challenge,
    /// `#WELCOME#` for our answer.
    Welcome,
}

/// The listener delivers first, then answers (Python's `Listener.accept`).
const LISTENER: &[Expect] = &[Expect::Response, Expect::Challenge, Expect::Welcome];
/// The client answers first, then delivers (Python's `Client`).
const CLIENT: &[Expect] = &[Expect::Challenge, Expect::Welcome, Expect::Response];

/// A failed handshake: the error, and the message to send the peer before dropping it.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) reply: Option<&'static [u8]>,
    pub(crate) error: Error,
}

impl From<AuthFailure> for Failed {
    fn from(why: AuthFailure) -> Self {
        Failed {
            reply: None,
            error: fail(why),
        }
    }
}

/// What to do after a peer's handshake message.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The messages to send back (on a failure, best effort).
    pub(crate) replies: Vec<Vec<u8>>,
    /// Why the handshake failed, if it did.
    pub(crate) failed: Option<Error>,
}

impl Answer {
    /// Sends the replies with `send`, then gives the failure, if any.
    pub(crate) fn send_with(
        self,
        mut send: impl FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        for r in &self.replies {
            let sent = send(r);
            if self.failed.is_none() {
                sent?;
            }
        }
        self.failed.map_or(Ok(()), Err)
    }
}

/// Both halves of the handshake as a state machine that is fed whole messages and says what
/// to send, so that one thread can run many handshakes at once.
#[derive(Debug)]
pub(crate) struct Handshake {
    key: Vec<u8>,
    plan: &'static [Expect],
    step: usize,
    /// Our challenge message.
    ours: Vec<u8>,
}

impl Handshake {
    /// The listener's side, and the first message to send (our challenge).
    pub(crate) fn listener(key: &[u8]) -> io::Result<(Handshake, Vec<u8>)> {
        let ours = new_message()?;
        let first = challenge_bytes(&ours);
        let h = Handshake {
            key: key.to_vec(),
            plan: LISTENER,
            step: 0,
            ours,
        };
        Ok((h, first))
    }

    /// The client's side (it waits for the listener's challenge).
    pub(crate) fn client(key: &[u8]) -> io::Result<Handshake> {
        Ok(Handshake {
            key: key.to_vec(),
            plan: CLIENT,
            step: 0,
            ours: new_message()?,
        })
    }

    pub(crate) fn done(&self) -> bool {
        self.step == self.plan.len()
    }

    /// Takes the peer's next message: what to send in reply, and, when the handshake failed,
    /// why (send the replies anyway, then stop).
    pub(crate) fn answer(&mut self, msg: &[u8]) -> Answer {
        match self.feed(msg) {
            Ok(replies) => Answer {
                replies,
                failed: None,
            },
            Err(f) => Answer {
                replies: f.reply.map(<[u8]>::to_vec).into_iter().collect(),
                failed: Some(f.error),
            },
        }
    }

    /// Takes the peer's next message; returns what to send in reply.
    pub(crate) fn feed(&mut self, msg: &[u8]) -> Result<Vec<Vec<u8>>, Failed> {
        let expect = self.plan[self.step];
        self.step += 1;
        match expect {
            Expect::Response => match verify_response(&self.key, &self.ours, msg) {
                Ok(()) => Ok(vec![WELCOME.to_vec()]),
                Err(why) => Err(Failed {
                    reply: Some(FAILURE),
                    error: fail(why),
                }),
            },
            Expect::Challenge => {
                let message = challenge_message(msg)?;
                Ok(vec![create_response(&self.key, message)?])
            }
            Expect::Welcome if msg != WELCOME => Err(AuthFailure::Rejected.into()),
            Expect::Welcome if self.plan.get(self.step) == Some(&Expect::Response) => {
                Ok(vec![challenge_bytes(&self.ours)])
            }
            Expect::Welcome => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_as_python_makes_them() {
        let key = b"secret";
        // Python 3.11 answers any challenge with a bare HMAC-MD5 of the whole message.
        let modern = new_message().unwrap();
        let legacy_answer = Digest::Md5.mac(key, &modern);
        assert_eq!(legacy_answer.len(), 16);
        verify_response(key, &modern, &legacy_answer).unwrap();
        // Python 3.12+ answers a prefixed challenge in kind.
        let answer = create_response(key, &modern).unwrap();
        assert!(answer.starts_with(b"{sha256}") && answer.len() == 8 + 32);
        verify_response(key, &modern, &answer).unwrap();
        assert_eq!(
            verify_response(b"other", &modern, &answer),
            Err(AuthFailure::WrongDigest)
        );
        // A legacy 20-byte challenge gets a bare HMAC-MD5.
        let old = [7u8; 20];
        assert_eq!(create_response(key, &old).unwrap().len(), 16);
        // sha3 is Python's, not ours: refused by name.
        assert_eq!(
            create_response(key, b"{sha3_256}0123456789012345678901234567890123456789"),
            Err(AuthFailure::UnsupportedDigest)
        );
        // A truncated MAC is refused for its length.
        assert_eq!(
            verify_response(key, &modern, &answer[..30]),
            Err(AuthFailure::WrongLength)
        );
    }

    #[test]
    fn the_two_machines_agree() {
        let (mut l, first) = Handshake::listener(b"k").unwrap();
        let mut c = Handshake::client(b"k").unwrap();
        let mut to_client = vec![first];
        let mut to_listener: Vec<Vec<u8>> = Vec::new();
        while !(l.done() && c.done()) {
            for m in std::mem::take(&mut to_client) {
                to_listener.extend(c.feed(&m).unwrap());
            }
            for m in std::mem::take(&mut to_listener) {
                to_client.extend(l.feed(&m).unwrap());
            }
        }
        let (mut l, first) = Handshake::listener(b"k").unwrap();
        let mut c = Handshake::client(b"wrong").unwrap();
        let answer = c.feed(&first).unwrap();
        let failed = l.feed(&answer[0]).unwrap_err();
        assert_eq!(failed.reply, Some(FAILURE));
        assert!(matches!(
            failed.error,
            Error::AuthenticationError(AuthFailure::WrongDigest)
        ));
        assert!(matches!(
            c.feed(FAILURE).unwrap_err().error,
            Error::AuthenticationError(AuthFailure::Rejected)
        ));
    }
}
