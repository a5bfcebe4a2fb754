//! https for the [`Client`](crate::Client): rustls over the TCP stream, checked against the
//! roots the system trusts unless the client was given a configuration of its own.

use std::io;
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::Error;
use crate::http::{Conn, Transport};

impl Transport for StreamOwned<ClientConnection, TcpStream> {
    fn set_read_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(t)
    }
}

/// The configuration a client uses unless given its own: rustls's safe defaults with the
/// `ring` provider, trusting the roots the system trusts (those Python's
/// `ssl.create_default_context()` loads: the system's store, or `SSL_CERT_FILE` /
/// `SSL_CERT_DIR`). Read once per process.
pub(crate) fn default_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, rustls::Error>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            let (added, unusable) = roots.add_parsable_certificates(found.certs);
            log::debug!(
                "tls: {added} root certificates from the system ({unusable} unusable, {} errors)",
                found.errors.len()
            );
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// TLS over `stream` to `host` (a DNS name or an IP address, checked against the server's
/// certificate). The handshake happens on the first write.
pub(crate) fn connect(
    stream: TcpStream,
    host: &str,
    config: Option<&Arc<ClientConfig>>,
) -> Result<Conn, Error> {
    let config = match config {
        Some(c) => Arc::clone(c),
        None => default_config()?,
    };
    let name = ServerName::try_from(host.to_string()).map_err(|_| Error::Url {
        url: host.to_string(),
        reason: "the host is not a valid server name for tls",
    })?;
    let tls = ClientConnection::new(config, name)?;
    Ok(Conn::new(StreamOwned::new(tls, stream)))
}
