//! The server of seed 000's remote manager: a list served over TCP with an authkey.
//!
//! # Output
//!
//! ```text
//! $ remote_manager_server --address 127.0.0.1:0 --authkey secret &
//! listening on *
//! $ remote_manager_client --address $ADDRESS --authkey secret
//! []
//! [1]
//! $ kill
//! ```
mod common;

use multiproc_manager::{Registry, Server, ServerObject};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (address, authkey) =
        common::address_and_authkey("127.0.0.1:9030", "secret", &mut common::no_other)?;
    let shared_list = ServerObject::list(Vec::new());
    let mut registry = Registry::new();
    registry.register_object("get_list", shared_list);
    let server = Server::bind(address.as_str(), authkey.as_str(), registry)?;
    println!("listening on {}", server.address());
    server.serve_forever()?;
    Ok(())
}
