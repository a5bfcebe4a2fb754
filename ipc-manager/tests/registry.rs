//! Types of your own behind a manager (`#[shared]`, `Registry::register`): typed proxies,
//! methods that return proxies, a method that panics, objects the server program keeps.

use std::time::Duration;

use multiproc_manager::{
    Error, Fault, Manager, QueueProxy, Registrar, Registry, ServerObject, shared,
};
use multiproc_process::{JoinHandle, Process, StartMethod};
use serde::{Deserialize, Serialize};

/// A counter with a history.
pub struct Counter {
    n: i64,
    history: Vec<i64>,
}

/// A step for `Counter::apply`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// Adds.
    Add(i64),
    /// Back to zero.
    Reset,
}

/// One account of a bank.
pub struct Account {
    owner: String,
    balance: u64,
}

#[shared]
impl Account {
    /// Whose it is.
    pub fn owner(&self) -> String {
        self.owner.clone()
    }

    /// Adds money; the new balance.
    pub fn deposit(&mut self, amount: u64) -> u64 {
        self.balance += amount;
        self.balance
    }

    /// Fails without panicking: the `Result` is the method's value.
    pub fn withdraw(&mut self, amount: u64) -> Result<u64, String> {
        if amount > self.balance {
            return Err(format!("only {} left", self.balance));
        }
        self.balance -= amount;
        Ok(self.balance)
    }
}

#[shared]
impl Counter {
    /// Adds `by`; the new count.
    pub fn add(&mut self, by: i64) -> i64 {
        self.n += by;
        self.history.push(by);
        self.n
    }

    /// Applies `step` `times` times (once by default).
    pub fn apply(&mut self, step: Step, times: Option<u32>) -> i64 {
        for _ in 0..times.unwrap_or(1) {
            match step {
                Step::Add(k) => self.n += k,
                Step::Reset => self.n = 0,
            }
        }
        self.n
    }

    /// What was added.
    pub fn history(&self) -> Vec<i64> {
        self.history.clone()
    }

    /// Panics.
    pub fn boom(&self) -> u8 {
        panic!("counter exploded at {}", self.n)
    }

    /// A new object in the manager, returned as its proxy (Python's `method_to_typeid`).
    #[proxy]
    pub fn open_account(&self, owner: String) -> Account {
        Account {
            owner,
            balance: self.n.max(0) as u64,
        }
    }

    fn not_exposed(&self) -> i64 {
        self.n
    }
}

struct Bank;

impl Registrar for Bank {
    fn registry() -> Registry {
        let mut r = Registry::sync();
        r.register(|start: i64| Counter {
            n: start,
            history: Vec::new(),
        });
        r.register_object("get_jobs", ServerObject::queue(0));
        r
    }
}

fn use_counter(c: CounterProxy) -> i64 {
    c.add(100).unwrap()
}

#[test]
fn a_registered_type_has_a_typed_proxy() {
    let m = Manager::builder().start_with::<Bank>().unwrap();
    let c: CounterProxy = m.create::<Counter, _>(5).unwrap();
    assert_eq!(c.add(2).unwrap(), 7);
    assert_eq!(c.apply(Step::Add(3), Some(2)).unwrap(), 13);
    assert_eq!(c.apply(Step::Reset, None).unwrap(), 0);
    assert_eq!(c.history().unwrap(), [2]);
    assert_eq!(c.base_proxy().token().typeid, "Counter");
    assert_eq!(
        c.base_proxy().exposed(),
        ["add", "apply", "history", "boom", "open_account"]
    );
    let _ = Counter::not_exposed;

    // Through a child process.
    let h = JoinHandle::<i64>::start(
        Process::new(use_counter, c.clone()).with_start_method(StartMethod::Spawn),
    )
    .unwrap();
    assert_eq!(h.join().unwrap(), 100);

    // A method that returns a new shared object: its proxy.
    let acct: AccountProxy = c.open_account("ann".into()).unwrap();
    assert_eq!(acct.base_proxy().token().typeid, "Account");
    assert_eq!(acct.owner().unwrap(), "ann");
    assert_eq!(acct.deposit(5).unwrap(), 105);
    assert_eq!(
        acct.withdraw(200).unwrap(),
        Err("only 105 left".to_string())
    );
    assert_eq!(acct.withdraw(5).unwrap(), Ok(100));

    // The SyncManager types are there too, and an object the server program keeps.
    let jobs: QueueProxy<String> = m.create_as("get_jobs", ()).unwrap();
    jobs.put(&"j".into()).unwrap();
    let same: QueueProxy<String> = m.create_as("get_jobs", ()).unwrap();
    assert_eq!(same.get_timeout(Duration::from_secs(1)).unwrap(), "j");
}

#[test]
fn a_method_that_panics_is_a_typed_error_and_the_server_goes_on() {
    let m = Manager::builder().start_with::<Bank>().unwrap();
    let c = m.create::<Counter, _>(1).unwrap();
    let r = c.boom();
    assert!(
        matches!(&r, Err(Error::Fault(Fault::Panicked(msg))) if msg == "counter exploded at 1"),
        "{r:?}"
    );
    // The object and the server go on.
    assert_eq!(c.add(1).unwrap(), 2);
    // Wrong arguments to the factory or a method are typed too.
    let r = m.create::<Counter, _>("not a number");
    assert!(
        matches!(r, Err(Error::Fault(Fault::BadArguments(_)))),
        "{r:?}"
    );
}

#[test]
fn objects_returned_by_methods_are_freed_with_their_proxies() {
    let m = Manager::builder().start_with::<Bank>().unwrap();
    let c = m.create::<Counter, _>(0).unwrap();
    let accounts: Vec<AccountProxy> = (0..3)
        .map(|i| c.open_account(format!("a{i}")).unwrap())
        .collect();
    assert_eq!(m.number_of_objects().unwrap(), 4);
    drop(accounts);
    assert_eq!(m.number_of_objects().unwrap(), 1);
    drop(c);
    assert_eq!(m.number_of_objects().unwrap(), 0);
}
