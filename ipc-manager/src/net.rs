//! Connections to and from a manager: `multiproc-pipe`'s `Listener` and `Client`, with
//! Python's framing and the HMAC handshake, carrying whole messages.

use multiproc_core::stream::Framing;
use multiproc_pipe::{Address, Client, Connection};

use crate::client::Authkey;
use crate::error::Error;
use crate::protocol::AddressValue;
use crate::server::Transport;

/// One authenticated connection to or from a manager.
pub(crate) struct Link(pub(crate) Connection);

impl Transport for Link {
    fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.0.send_bytes(bytes).map_err(Error::from)
    }

    fn recv(&mut self) -> Result<Vec<u8>, Error> {
        self.0.recv_bytes().map_err(Error::from)
    }

    fn peer_gone(&self) -> bool {
        // Nobody sends on a connection while its call runs: readable means closed (or a peer
        // breaking the protocol, which ends the connection too).
        !matches!(self.0.poll(), Ok(false))
    }
}

/// Connects to the manager at `address` and authenticates with `key`.
pub(crate) fn dial(address: &AddressValue, key: &Authkey) -> Result<Link, Error> {
    let a = to_pipe(address)?;
    Client::connect(a, Framing::Python, Some(key.as_bytes()))
        .map(Link)
        .map_err(Error::from)
}

/// A protocol address as `multiproc-pipe` spells it.
pub(crate) fn to_pipe(a: &AddressValue) -> Result<Address, Error> {
    match a {
        AddressValue::Tcp(host, port) => {
            use std::net::ToSocketAddrs;
            let host = if host.is_empty() { "0.0.0.0" } else { host };
            (host, *port)
                .to_socket_addrs()?
                .next()
                .map(Address::Tcp)
                .ok_or_else(|| {
                    Error::Io(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "host resolves to no address",
                    ))
                })
        }
        AddressValue::Unix(p) => Ok(match p.strip_prefix('\0') {
            Some(name) => Address::Abstract(name.as_bytes().to_vec()),
            None => Address::Unix(p.into()),
        }),
    }
}

/// A `multiproc-pipe` address as the protocol carries it.
pub(crate) fn from_pipe(a: &Address) -> AddressValue {
    match a {
        Address::Tcp(s) => AddressValue::Tcp(s.ip().to_string(), s.port()),
        Address::Unix(p) => AddressValue::Unix(p.to_string_lossy().into_owned()),
        Address::Abstract(name) => {
            AddressValue::Unix(format!("\0{}", String::from_utf8_lossy(name)))
        }
        _ => AddressValue::Unix(a.to_string()),
    }
}
