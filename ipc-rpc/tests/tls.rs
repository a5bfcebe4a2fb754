//! `https://` on the client (the `tls` feature), against Python's `SimpleXMLRPCServer` behind
//! `ssl`, with a self-signed certificate made here: trusted through `Client::tls_config`, and
//! refused when it is not trusted or not for the host asked for.
#![cfg(feature = "tls")]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use multiproc_rpc::{Client, Error, rustls};

/// Kills and reaps the server however the test ends.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory of our own, removed however the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SERVER: &str = r#"
import ssl, sys
from xmlrpc.server import SimpleXMLRPCServer
s = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.register_function(lambda x, y: x + y, "add")
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// Starts Python's server with `key`'s certificate; its port, and the guards that stop it and
/// remove the certificate's files.
fn python_tls_server(key: &rcgen::CertifiedKey<rcgen::KeyPair>) -> (String, Reap, TempDir) {
    let dir = TempDir(std::env::temp_dir().join(format!(
        "multiproc-rpc-tls-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    )));
    std::fs::create_dir_all(&dir.0).unwrap();
    let (cert, priv_key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&cert, key.cert.pem()).unwrap();
    std::fs::write(&priv_key, key.signing_key.serialize_pem()).unwrap();

    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SERVER)
        .arg(&cert)
        .arg(&priv_key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let out = child.stdout.take().unwrap();
    let server = Reap(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let port = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("python server started");
    (port.trim().to_string(), server, dir)
}

/// A client configuration that trusts `cert` alone.
fn trusting(cert: &rcgen::Certificate) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

#[test]
fn https_against_python() {
    // A certificate for "localhost" only.
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (port, _server, _dir) = python_tls_server(&key);
    let config = trusting(&key.cert);

    // Trusted, and for this name: calls go through, each on a new connection (Python's
    // server closes after every answer).
    let c = Client::new(&format!("https://localhost:{port}/RPC2"))
        .unwrap()
        .timeout(Duration::from_secs(10))
        .tls_config(Arc::clone(&config));
    for i in 0..3 {
        assert_eq!(c.call::<i32>("add", (i, 2)).unwrap(), i + 2);
    }

    // Trusted, but not for this name.
    let wrong_name = Client::new(&format!("https://127.0.0.1:{port}/RPC2"))
        .unwrap()
        .timeout(Duration::from_secs(10))
        .tls_config(config);
    match wrong_name.call::<i32>("add", (1, 2)) {
        Err(Error::Tls(rustls::Error::InvalidCertificate(e))) => {
            assert!(
                matches!(e, rustls::CertificateError::NotValidForNameContext { .. }),
                "{e:?}"
            )
        }
        other => panic!("{other:?}"),
    }

    // Not trusted: the system's roots do not know a self-signed certificate.
    let untrusted = Client::new(&format!("https://localhost:{port}/RPC2"))
        .unwrap()
        .timeout(Duration::from_secs(10));
    match untrusted.call::<i32>("add", (1, 2)) {
        Err(Error::Tls(rustls::Error::InvalidCertificate(e))) => {
            assert_eq!(e, rustls::CertificateError::UnknownIssuer)
        }
        other => panic!("{other:?}"),
    }
}
