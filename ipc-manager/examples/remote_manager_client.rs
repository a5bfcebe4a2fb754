//! The client of seed 000's remote manager: connects, prints the list, appends, prints again.
mod common;

use multiproc_manager::{ListProxy, Manager};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (address, authkey) =
        common::address_and_authkey("127.0.0.1:9030", "secret", &mut common::no_other)?;
    let mgr = Manager::connect(address.as_str(), authkey.as_str())?;
    let l: ListProxy<i64> = mgr.create_as("get_list", ())?;
    println!("{}", l.repr()?);
    l.append(&1)?;
    let again: ListProxy<i64> = mgr.create_as("get_list", ())?;
    println!("{}", again.repr()?);
    Ok(())
}
