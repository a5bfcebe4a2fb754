use multiproc_manager::*;

#[test]
fn smoke() {
    let m = Manager::start().unwrap();
    let l = m.list(["a".to_string()]).unwrap();
    l.append(&"b".to_string()).unwrap();
    assert_eq!(l.repr().unwrap(), "['a', 'b']");
    let d = m.dict::<String, i64>().unwrap();
    d.set(&"x".into(), &1).unwrap();
    assert_eq!(d.get(&"x".into()).unwrap(), Some(1));
    assert_eq!(m.number_of_objects().unwrap(), 2);
    drop(l);
    assert_eq!(m.number_of_objects().unwrap(), 1);
    m.shutdown().unwrap();
}
