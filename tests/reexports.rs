//! Every re-export the umbrella crate promises is there, under the names the docs use.

#[cfg(feature = "core")]
#[test]
fn core_is_reexported() {
    // Modules.
    let _: fn(usize) -> std::io::Result<ipc::core::SharedMapping> =
        ipc::core::SharedMapping::anonymous;
    let _: fn() -> std::io::Result<(ipc::transfer::Channel, ipc::transfer::Channel)> =
        ipc::transfer::Channel::pair;
    let _ = ipc::frame::DEFAULT_MAX_FRAME;
    let _ = ipc::futex::WaitResult::TimedOut;
    // Root names are the same items as the module paths.
    let map: ipc::SharedMapping = ipc::core::SharedMapping::anonymous(64).unwrap();
    assert_eq!(map.len(), 64);
    let err: ipc::CoreError = ipc::core::Error::Closed;
    assert_eq!(err.to_string(), "the peer closed the connection");
}

#[cfg(feature = "rpc")]
#[test]
fn rpc_is_reexported() {
    let _: fn(&str) -> Result<ipc::rpc::Client, ipc::rpc::Error> = ipc::rpc::Client::new;
    let _: fn() -> std::io::Result<ipc::rpc::Server> = ipc::rpc::Server::new;
    let v = ipc::rpc::to_value(&(2, "x")).unwrap();
    assert_eq!(v.to_string(), r#"[2, "x"]"#);
    let f = ipc::rpc::Fault::python("TypeError", "no");
    assert_eq!(f.string, "<class 'TypeError'>:no");
}
