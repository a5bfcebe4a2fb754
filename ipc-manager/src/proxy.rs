//! placeholder
/// A typed proxy.
pub trait Proxy {}
