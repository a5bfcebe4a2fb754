//! [`Address`]: where a [`Listener`](crate::Listener) listens and a [`Client`](crate::Client)
//! connects.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Where a [`Listener`](crate::Listener) listens: Python's `address` argument, with its family
/// spelled out.
///
/// | Python | `Address` | text form ([`FromStr`], [`Display`](fmt::Display)) |
/// |---|---|---|
/// | `'/tmp/sock'` (`AF_UNIX`) | [`Unix`](Address::Unix) | `/tmp/sock`, `./sock` (anything else) |
/// | `'\0name'` (Linux abstract) | [`Abstract`](Address::Abstract) | `@name` |
/// | `('127.0.0.1', 5000)` (`AF_INET`) | [`Tcp`](Address::Tcp) | `127.0.0.1:5000`, `[::1]:0`, `localhost:0` |
///
/// Port 0 asks the kernel for a free port; [`Listener::address`](crate::Listener::address)
/// then tells the real one.
///
/// ```
/// use multiproc_pipe::Address;
/// let a: Address = "127.0.0.1:0".parse()?;
/// assert!(matches!(a, Address::Tcp(_)));
/// assert_eq!("@demo".parse::<Address>()?, Address::Abstract(b"demo".to_vec()));
/// assert_eq!("/tmp/x.sock".parse::<Address>()?.to_string(), "/tmp/x.sock");
/// # Ok::<(), multiproc_pipe::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Address {
    /// A Unix socket at a path in the file system (removed again by the listener that made it).
    /// An empty path is an unnamed socket (what [`Listener::last_accepted`](crate::Listener::last_accepted)
    /// reports for most Unix clients, as Python reports `''`).
    Unix(PathBuf),
    /// A Linux abstract Unix socket: a name with no file behind it, gone with the last socket
    /// (Python writes it with a leading NUL byte).
    Abstract(Vec<u8>),
    /// A TCP address.
    Tcp(SocketAddr),
}

impl Address {
    /// Whether this is a TCP address (which carries no file descriptors).
    pub fn is_tcp(&self) -> bool {
        matches!(self, Address::Tcp(_))
    }
}

impl FromStr for Address {
    type Err = Error;

    /// `@name` is abstract; `host:port` (resolved now, first address) is TCP; anything else
    /// is a path.
    fn from_str(s: &str) -> Result<Self, Error> {
        if let Some(name) = s.strip_prefix('@') {
            return Ok(Address::Abstract(name.as_bytes().to_vec()));
        }
        let looks_tcp = !s.contains('/')
            && s.rsplit_once(':')
                .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
        if looks_tcp {
            let addr = s.to_socket_addrs()?.next().ok_or_else(|| {
                Error::Io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{s} resolves to no address"),
                ))
            })?;
            return Ok(Address::Tcp(addr));
        }
        Ok(Address::Unix(PathBuf::from(s)))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "{}", p.display()),
            Address::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
            Address::Tcp(a) => write!(f, "{a}"),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Self {
        Address::Tcp(a)
    }
}

impl From<PathBuf> for Address {
    fn from(p: PathBuf) -> Self {
        Address::Unix(p)
    }
}

impl From<&Path> for Address {
    fn from(p: &Path) -> Self {
        Address::Unix(p.to_path_buf())
    }
}

impl From<&Address> for Address {
    fn from(a: &Address) -> Self {
        a.clone()
    }
}
