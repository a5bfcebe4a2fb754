//! Seed 000's and 002's managers: a Namespace, a list and a dict shared through a server
//! process and changed by a child.
//!
//! # Output
//!
//! ```text
//! PID: *
//! 1
//! ["a", "b", "c"]
//! {"b": 0}
//! {0.25: None, 1: "1", "2": 2}
//! [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
//! ```
use multiproc_manager::{DictProxy, ListProxy, Manager, NamespaceProxy, PyValue};
use multiproc_process::Process;

fn modify((ns, lproxy, dproxy): (NamespaceProxy, ListProxy<String>, DictProxy<String, i64>)) {
    let a: i64 = ns.get("a").unwrap().unwrap();
    ns.set("a", &a.pow(2)).unwrap();
    lproxy.extend(["b".to_string(), "c".to_string()]).unwrap();
    dproxy.set(&"b".to_string(), &0).unwrap();
}

fn f((d, l): (DictProxy<PyValue, PyValue>, ListProxy<i64>)) {
    d.set(&PyValue::Int(1), &PyValue::str("1")).unwrap();
    d.set(&PyValue::str("2"), &PyValue::Int(2)).unwrap();
    d.set(&PyValue::Float(0.25), &PyValue::None).unwrap();
    l.reverse().unwrap();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Seed 000.
    let manager = Manager::start()?;
    let ns = manager.namespace()?;
    ns.set("a", &1)?;
    let lproxy = manager.list(["a".to_string()])?;
    let dproxy = manager.dict::<String, i64>()?;
    dproxy.set(&"b".to_string(), &2)?;
    let p = Process::new(modify, (ns.clone(), lproxy.clone(), dproxy.clone()));
    p.start()?;
    println!("PID: {}", p.pid().unwrap_or(0));
    p.join()?;
    println!("{}", ns.get::<i64>("a")?.unwrap_or(0));
    println!("{:?}", lproxy.to_vec()?);
    println!("{:?}", dproxy.copy::<std::collections::BTreeMap<_, _>>()?);

    // Seed 002.
    let d = manager.dict::<PyValue, PyValue>()?;
    let l = manager.list(0..10)?;
    let p = Process::new(f, (d.clone(), l.clone()));
    p.start()?;
    p.join()?;
    println!("{:?}", d.copy::<std::collections::BTreeMap<_, _>>()?);
    println!("{:?}", l.to_vec()?);
    manager.shutdown()?;
    Ok(())
}
