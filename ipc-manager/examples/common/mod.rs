//! What the manager examples share: `--address ADDR` and `--authkey KEY` on the command line.

/// Handles one argument other than `--address` / `--authkey`, taking its value from the rest.
pub type Extra<'a> = dyn FnMut(&str, &mut dyn Iterator<Item = String>) -> Result<(), String> + 'a;

/// The `--address` and `--authkey` arguments, with defaults; `extra` takes any other.
pub fn address_and_authkey(
    address: &str,
    authkey: &str,
    extra: &mut Extra<'_>,
) -> Result<(String, String), String> {
    let (mut address, mut authkey) = (address.to_string(), authkey.to_string());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--address" => address = args.next().ok_or("--address needs a value")?,
            "--authkey" => authkey = args.next().ok_or("--authkey needs a value")?,
            other => extra(other, &mut args)?,
        }
    }
    Ok((address, authkey))
}

/// For examples with no other argument.
#[allow(dead_code)]
pub fn no_other(a: &str, _: &mut dyn Iterator<Item = String>) -> Result<(), String> {
    Err(format!("unknown argument {a}"))
}
