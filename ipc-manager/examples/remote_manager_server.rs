//! The server of seed 000's remote manager: a list served over TCP with an authkey.
use multiproc_manager::{Registry, Server, ServerObject};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut address = "127.0.0.1:9030".to_string();
    let mut authkey = "secret".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--address" => address = args.next().ok_or("--address needs a value")?,
            "--authkey" => authkey = args.next().ok_or("--authkey needs a value")?,
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let shared_list = ServerObject::list(Vec::new());
    let mut registry = Registry::new();
    registry.register_object("get_list", shared_list);
    let server = Server::bind(address.as_str(), authkey.as_str(), registry)?;
    println!("listening on {}", server.address());
    server.serve_forever()?;
    Ok(())
}
