//! Random and mutated bytes for every decoder of another process's bytes in `multiproc-pipe`:
//! the authentication handshake on both sides and in both framings, the pickle decoder, and
//! a `Connection` handle's envelope. No panic, no hang, a value or a typed error.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use multiproc_core::transfer;
use multiproc_pipe::serde_pickle::{self, HashableValue, Value};
use multiproc_pipe::{
    Address, Client, Connection, Error, Framing, Listener, answer_challenge, deliver_challenge,
    pipe,
};
use multiproc_testkit::unique_name;
use proptest::prelude::*;

const LIMIT: Duration = Duration::from_secs(10);
const KEY: &[u8] = b"fuzz key";

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A message a handshake peer might send: random, or built from the protocol's pieces.
fn handshake_payload() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"#CHALLENGE#".to_vec()),
        Just(b"#WELCOME#".to_vec()),
        Just(b"#FAILURE#".to_vec()),
        Just(b"{sha256}".to_vec()),
        Just(b"{md5}".to_vec()),
        Just(b"{sha3_256}".to_vec()),
        Just(b"{".to_vec()),
        prop::collection::vec(any::<u8>(), 0..48),
    ];
    prop::collection::vec(piece, 0..4).prop_map(|v| v.concat())
}

/// Framed messages (as `framing` frames them, with lengths that may lie) or raw bytes.
fn handshake_bytes(framing: Framing) -> impl Strategy<Value = Vec<u8>> {
    let frame = (
        handshake_payload(),
        prop_oneof![Just(None), Just(Some(-1i64)), any::<i64>().prop_map(Some)],
    )
        .prop_map(move |(p, lie)| {
            let len = lie.unwrap_or(p.len() as i64);
            let mut out = match framing {
                Framing::Python => (len as i32).to_be_bytes().to_vec(),
                _ => {
                    let mut h = (len as u32).to_le_bytes().to_vec();
                    h.extend_from_slice(&[0, 0, 0, 0]);
                    h
                }
            };
            if framing == Framing::Python && len == -1 {
                out.extend_from_slice(&(p.len() as u64).to_be_bytes());
            }
            out.extend_from_slice(&p);
            out
        });
    prop::collection::vec(
        prop_oneof![frame, prop::collection::vec(any::<u8>(), 1..16)],
        0..4,
    )
    .prop_map(|v| v.concat())
}

fn typed(e: &Error) -> bool {
    matches!(
        e,
        Error::AuthenticationError(_)
            | Error::TooLarge { .. }
            | Error::Corrupt { .. }
            | Error::Disconnected
            | Error::Timeout
    )
}

proptest! {
    #![proptest_config(config(1000))]

    /// `deliver_challenge` and `answer_challenge` against a peer that says anything and hangs up.
    #[test]
    fn handshake_halves_on_a_pipe(bytes in handshake_bytes(Framing::Native), deliver in any::<bool>()) {
        let (mut ours, theirs) = pipe().unwrap();
        let mut raw = UnixStream::from(theirs_fd(theirs));
        let _ = raw.write_all(&bytes);
        drop(raw);
        let r = if deliver { deliver_challenge(&mut ours, KEY) } else { answer_challenge(&mut ours, KEY) };
        if let Err(e) = r {
            prop_assert!(typed(&e), "{e:?}");
        }
    }

    /// Our client against a listener that says anything and hangs up, in both framings.
    #[test]
    fn client_handshake(bytes in prop_oneof![handshake_bytes(Framing::Python), handshake_bytes(Framing::Native)], python in any::<bool>()) {
        let framing = if python { Framing::Python } else { Framing::Native };
        let name = unique_name("fuzz-c");
        let server = UnixListener::bind_addr(&abstract_addr(&name)).unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = server.accept().unwrap();
            let _ = s.write_all(&bytes);
        });
        let r = Client::connect_timeout(Address::Abstract(name.into_bytes()), framing, Some(KEY), LIMIT);
        t.join().unwrap();
        if let Err(e) = r {
            prop_assert!(typed(&e), "{e:?}");
        }
    }

    /// Our listener against a client that says anything and hangs up, followed by an honest
    /// client, which must get through.
    #[test]
    fn listener_handshake(bytes in prop_oneof![handshake_bytes(Framing::Python), handshake_bytes(Framing::Native)], python in any::<bool>()) {
        let framing = if python { Framing::Python } else { Framing::Native };
        let address = Address::Abstract(unique_name("fuzz-l").into_bytes());
        let mut l = Listener::bind(address.clone(), framing, Some(KEY)).unwrap();
        let t = std::thread::spawn(move || {
            let mut raw = UnixStream::connect_addr(&abstract_addr_of(&address)).unwrap();
            let _ = raw.write_all(&bytes);
            drop(raw);
            let mut c = Client::connect_timeout(&address, framing, Some(KEY), LIMIT).unwrap();
            c.send_bytes(b"honest").unwrap();
        });
        let mut conn = None;
        for _ in 0..3 {
            match l.accept_timeout(LIMIT) {
                Ok(c) => { conn = Some(c); break; }
                Err(e) => prop_assert!(typed(&e) && !matches!(e, Error::Timeout), "{e:?}"),
            }
        }
        let mut c = conn.expect("the honest client got through");
        prop_assert_eq!(c.recv_bytes_timeout(LIMIT).unwrap(), b"honest");
        t.join().unwrap();
    }
}

fn theirs_fd(c: Connection) -> OwnedFd {
    // A Connection is a handle: its envelope holds its socket.
    let env = transfer::to_envelope(&c).unwrap();
    env.fds.into_iter().next().unwrap()
}

fn abstract_addr(name: &str) -> std::os::unix::net::SocketAddr {
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap()
}

fn abstract_addr_of(a: &Address) -> std::os::unix::net::SocketAddr {
    let Address::Abstract(name) = a else {
        unreachable!()
    };
    abstract_addr(std::str::from_utf8(name).unwrap())
}

/// Plain values, nested a little.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        any::<f64>().prop_map(Value::F64),
        ".{0,8}".prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
            prop::collection::vec((any::<i64>(), inner), 0..3).prop_map(|kv| {
                Value::Dict(
                    kv.into_iter()
                        .map(|(k, v)| (HashableValue::I64(k), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// Pickles as Python writes them (protocol 4, with its frame and memo), to mutate.
const PYTHON_PICKLES: &[&[u8]] = &[
    // [1, 'a', b'b', None, True, 2.5, (3,), {'k': [4]}]
    b"\x80\x04\x95*\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01\x8c\x01a\x94C\x01b\x94N\x88G@\x04\x00\x00\x00\x00\x00\x00K\x03\x85\x94}\x94\x8c\x01k\x94]\x94K\x04ase.",
    // 2**70
    b"\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@.",
    // ['xxx', 'xxx'] (protocol 5, the second through the memo)
    b"\x80\x05\x95\r\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x03xxx\x94h\x01e.",
];

#[test]
fn pythons_own_pickles_decode() {
    for p in PYTHON_PICKLES {
        let (mut a, mut b) = pipe().unwrap();
        a.send_bytes(p).unwrap();
        b.recv_pickle_value_timeout(LIMIT).unwrap();
    }
}

proptest! {
    #![proptest_config(config(3000))]

    /// Random bytes, and mutations of real pickles, through `recv_pickle_value`.
    #[test]
    fn pickle_decoder(
        base in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::sample::select(PYTHON_PICKLES).prop_map(<[u8]>::to_vec),
            value().prop_map(|v| serde_pickle::value_to_vec(&v, Default::default()).unwrap()),
        ],
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = base;
        for (i, b) in &flips {
            if !bytes.is_empty() {
                let i = i.index(bytes.len());
                bytes[i] ^= b;
            }
        }
        if let Some(c) = cut {
            bytes.truncate(c.index(bytes.len() + 1));
        }
        let (mut a, mut b) = pipe().unwrap();
        b.set_max_message(1 << 16);
        a.send_bytes(&bytes).unwrap();
        a.send_bytes(&bytes).unwrap();
        match b.recv_pickle_value_timeout(LIMIT) {
            Ok(_) | Err(Error::Corrupt { .. }) => {}
            Err(e) => prop_assert!(false, "{e:?}"),
        }
        match b.recv_pickle_timeout::<(i64, String)>(LIMIT) {
            Ok(_) | Err(Error::Corrupt { .. }) => {}
            Err(e) => prop_assert!(false, "{e:?}"),
        }
    }

    /// Plain values round-trip through pickle exactly.
    #[test]
    fn pickle_round_trip(v in value()) {
        let (mut a, mut b) = pipe().unwrap();
        a.send_pickle_value(&v).unwrap();
        let back = b.recv_pickle_value_timeout(LIMIT).unwrap();
        // NaN is not equal to itself: compare the encodings.
        prop_assert_eq!(
            serde_pickle::value_to_vec(&back, Default::default()).unwrap(),
            serde_pickle::value_to_vec(&v, Default::default()).unwrap()
        );
    }

    /// A `Connection` handle's envelope: random bytes with random descriptors.
    #[test]
    fn connection_envelope(bytes in prop::collection::vec(any::<u8>(), 0..24), n in 0usize..3) {
        let fds: Vec<OwnedFd> = (0..n).map(|i| if i % 2 == 0 {
            multiproc_core::fd::socketpair().unwrap().0
        } else {
            multiproc_core::fd::pipe().unwrap().0
        }).collect();
        if let Ok(mut c) = transfer::from_envelope::<Connection>(&bytes, fds) {
            // Whatever it claims to be, using it is a value or a typed error.
            let _ = c.send_bytes(b"x");
            let _ = c.poll();
        }
    }
}
