//! The table of methods a server publishes, and dispatch with Python's semantics.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::handler::{arg, arity};
use crate::xml::fault_value;
use crate::{Fault, Instance, Value};

pub(crate) type RawFn = Box<dyn Fn(&str, Vec<Value>) -> Result<Value, Fault> + Send + Sync>;

pub(crate) enum Entry {
    User(RawFn, String),
    ListMethods,
    MethodHelp,
    MethodSignature,
    MultiCall,
}

#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) funcs: HashMap<String, Entry>,
    pub(crate) instance: Option<Box<dyn Instance>>,
    /// Whether `a.b` is method `b` of the instance's member `a` (Python's
    /// `allow_dotted_names`).
    pub(crate) allow_dotted_names: bool,
}

/// How deep `system.listMethods` follows members (an `Instance` may hand out itself).
const MAX_MEMBER_DEPTH: usize = 8;

const LIST_HELP: &str = "system.listMethods() => ['add', 'subtract', 'multiple']\n\n\
Returns a list of the methods supported by the server.";
const HELP_HELP: &str = "system.methodHelp('add') => \"Adds two integers together\"\n\n\
Returns a string containing documentation for the specified method.";
const SIG_HELP: &str = "system.methodSignature('add') => [double, int, int]\n\n\
Returns a list describing the signature of the method. In the\n\
above example, the add method takes two integers as arguments\n\
and returns a double result.\n\n\
This server does NOT support system.methodSignature.";
const MULTI_HELP: &str = "system.multicall([{'methodName': 'add', 'params': [2, 2]}, ...]) => \
[[4], ...]\n\n\
Allows the caller to package multiple XML-RPC calls into a single\n\
request.\n\n\
See http://www.xmlrpc.com/discuss/msgReader$1208";

fn panic_fault(method: &str, p: Box<dyn std::any::Any + Send>) -> Fault {
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    log::warn!("method {method:?} panicked: {msg}");
    Fault::python("RuntimeError", format!("the method panicked: {msg}"))
}

impl Registry {
    /// Calls `method` as Python's `SimpleXMLRPCDispatcher._dispatch` would: registered
    /// functions first, then the instance; a panic in user code becomes a fault.
    pub(crate) fn dispatch(&self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        match self.funcs.get(method) {
            Some(Entry::User(f, _)) => catch_unwind(AssertUnwindSafe(|| f(method, params)))
                .unwrap_or_else(|p| Err(panic_fault(method, p))),
            Some(Entry::ListMethods) => {
                arity::<0>(method, params)?;
                Ok(Value::Array(
                    self.list_methods().into_iter().map(Value::String).collect(),
                ))
            }
            Some(Entry::MethodHelp) => {
                let [name] = arity::<1>(method, params)?;
                let name: String = arg(method, 0, name)?;
                Ok(Value::String(self.method_help(&name)))
            }
            Some(Entry::MethodSignature) => {
                let [_] = arity::<1>(method, params)?;
                Ok(Value::from("signatures not supported"))
            }
            Some(Entry::MultiCall) => {
                let [calls] = arity::<1>(method, params)?;
                let calls: Vec<Value> = arg(method, 0, calls)?;
                Ok(Value::Array(
                    calls
                        .into_iter()
                        .map(|c| self.one_of_multicall(c))
                        .collect(),
                ))
            }
            None => match self.resolve(method) {
                Some((inst, name)) => {
                    catch_unwind(AssertUnwindSafe(|| inst.dispatch(name, params)))
                        .unwrap_or_else(|p| Some(Err(panic_fault(method, p))))
                }
                None => None,
            }
            .unwrap_or_else(|| {
                Err(Fault::python(
                    "Exception",
                    format!("method \"{method}\" is not supported"),
                ))
            }),
        }
    }

    /// The object that answers `method`, and the name to ask it for. With dotted names, the
    /// member `a.b` holds method `c` of `a.b.c` (no part may start with `_`); a name whose
    /// members do not exist goes to the instance whole, as without dotted names.
    fn resolve<'a>(&'a self, method: &'a str) -> Option<(&'a dyn Instance, &'a str)> {
        let root = self.instance.as_deref()?;
        if !self.allow_dotted_names {
            return Some((root, method));
        }
        let Some((path, name)) = method.rsplit_once('.') else {
            return Some((root, method));
        };
        if method.split('.').any(|part| part.starts_with('_')) {
            return None;
        }
        let member = path.split('.').try_fold(root, |obj, part| obj.member(part));
        Some(member.map_or((root, method), |m| (m, name)))
    }

    fn one_of_multicall(&self, call: Value) -> Value {
        let r = (|| {
            let Value::Struct(mut m) = call else {
                return Err(Fault::python(
                    "TypeError",
                    format!(
                        "{} indices must be integers or slices, not str",
                        call.type_name()
                    ),
                ));
            };
            let name = match m.remove("methodName") {
                Some(Value::String(s)) => s,
                Some(other) => {
                    return Err(Fault::python(
                        "TypeError",
                        format!("method name must be a string, not {}", other.type_name()),
                    ));
                }
                None => return Err(Fault::python("KeyError", "'methodName'")),
            };
            let params = match m.remove("params") {
                Some(Value::Array(a)) => a,
                Some(other) => {
                    return Err(Fault::python(
                        "TypeError",
                        format!("params must be an array, not {}", other.type_name()),
                    ));
                }
                None => return Err(Fault::python("KeyError", "'params'")),
            };
            self.dispatch(&name, params)
        })();
        match r {
            Ok(v) => Value::Array(vec![v]),
            Err(f) => fault_value(&f),
        }
    }

    pub(crate) fn list_methods(&self) -> Vec<String> {
        let mut all: Vec<String> = self.funcs.keys().cloned().collect();
        if let Some(inst) = &self.instance {
            all.extend(inst.list_methods());
            if self.allow_dotted_names {
                list_members(inst.as_ref(), "", MAX_MEMBER_DEPTH, &mut all);
            }
        }
        all.sort();
        all.dedup();
        all
    }

    fn method_help(&self, name: &str) -> String {
        match self.funcs.get(name) {
            Some(Entry::User(_, help)) => help.clone(),
            Some(Entry::ListMethods) => LIST_HELP.into(),
            Some(Entry::MethodHelp) => HELP_HELP.into(),
            Some(Entry::MethodSignature) => SIG_HELP.into(),
            Some(Entry::MultiCall) => MULTI_HELP.into(),
            None => self
                .resolve(name)
                .and_then(|(inst, name)| inst.method_help(name))
                .unwrap_or_default(),
        }
    }
}

/// Adds `prefix` + `member.method` for every public method of every member of `inst`, down to
/// `depth` levels.
fn list_members(inst: &dyn Instance, prefix: &str, depth: usize, out: &mut Vec<String>) {
    if depth == 0 {
        return;
    }
    for name in inst.member_names() {
        if name.starts_with('_') || name.contains('.') {
            continue;
        }
        let Some(member) = inst.member(&name) else {
            continue;
        };
        let prefix = format!("{prefix}{name}.");
        out.extend(
            member
                .list_methods()
                .into_iter()
                .filter(|m| !m.starts_with('_'))
                .map(|m| format!("{prefix}{m}")),
        );
        list_members(member, &prefix, depth - 1, out);
    }
}
