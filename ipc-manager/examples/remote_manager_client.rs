//! The client of seed 000's remote manager: connects, prints the list, appends, prints again.
use multiproc_manager::{ListProxy, Manager};

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
    let mgr = Manager::connect(address.as_str(), authkey.as_str())?;
    let l: ListProxy<i64> = mgr.create_as("get_list", ())?;
    println!("{}", l.repr()?);
    l.append(&1)?;
    let again: ListProxy<i64> = mgr.create_as("get_list", ())?;
    println!("{}", again.repr()?);
    Ok(())
}
