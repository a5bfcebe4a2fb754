//! The declaration every workload makes next to its function: its id, what it measures, its
//! Python twin(s), the bare limit it is held against, where its processes run. `cargo xtask
//! bench` reads them (`multiproc-bench --describe`) to make the table; nothing else lists the
//! rows.

use crate::place::Placement;
use crate::util::Opts;

/// One workload: a row of the table, or a bare limit (an id starting with `L`).
#[derive(Clone, Copy)]
pub struct Workload {
    /// The id it emits; a limit's starts with `L`.
    pub id: &'static str,
    /// What is measured, and the target if there is one.
    pub what: &'static str,
    /// The ids of `bench/python/bench.py`'s workloads doing the same work: one table row each.
    pub python: &'static [&'static str],
    /// The limit the row is held against (the id of a limit, or one of its `also` ids).
    pub limit: Option<&'static str>,
    /// Further ids a limit emits, with what each means.
    pub also: &'static [(&'static str, &'static str)],
    /// Where its processes run. A round trip and the limit it is held against declare the same.
    pub placement: Placement,
    /// Also run with both processes on one core (ids `….same_core`, held against the limit's
    /// same-core run, which the limit must declare too; no Python twin).
    pub same_core: bool,
    /// Run by `--busy`, beside a process that keeps the peer's core busy (with its limit).
    pub busy: bool,
    /// The function that measures it and emits the id.
    pub run: fn(&Opts),
}

fn nothing(_: &Opts) {}

impl Workload {
    /// The defaults of a row: no Python twin, no limit, placed freely (`..Workload::ROW`).
    pub const ROW: Workload = Workload {
        id: "",
        what: "",
        python: &[],
        limit: None,
        also: &[],
        placement: Placement::Free,
        same_core: false,
        busy: false,
        run: nothing,
    };

    /// The defaults of a bare limit (`..Workload::LIMIT`).
    pub const LIMIT: Workload = Workload::ROW;

    /// Whether this is a bare limit.
    pub fn is_limit(&self) -> bool {
        self.id.starts_with('L')
    }

    /// The runs this declaration makes: as declared, then on one core if it says so.
    pub fn variants(&self) -> Vec<Variant> {
        let mut v = vec![Variant {
            w: *self,
            placement: self.placement,
        }];
        if self.same_core {
            v.push(Variant {
                w: *self,
                placement: Placement::SameCore,
            });
        }
        v
    }
}

/// One run of a workload, under one placement.
#[derive(Clone, Copy)]
pub struct Variant {
    /// The declaration.
    pub w: Workload,
    /// Where it runs.
    pub placement: Placement,
}

impl Variant {
    /// The id it emits.
    pub fn id(&self) -> String {
        format!("{}{}", self.w.id, self.placement.suffix())
    }

    fn limit(&self) -> Option<String> {
        self.w
            .limit
            .map(|l| format!("{l}{}", self.placement.suffix()))
    }

    fn also(&self) -> Vec<(String, &'static str)> {
        let s = self.placement.suffix();
        self.w
            .also
            .iter()
            .map(|(id, what)| (format!("{id}{s}"), *what))
            .collect()
    }

    /// Whether this row is held against `limit` (or one of the ids it also emits).
    pub fn held_against(&self, limit: &Variant) -> bool {
        self.limit()
            .is_some_and(|l| l == limit.id() || limit.also().iter().any(|(id, _)| *id == l))
    }

    /// The declaration as one JSON line, for `cargo xtask bench`.
    pub fn describe(&self) -> serde_json::Value {
        let (what, python): (String, &[&str]) = match self.placement {
            Placement::SameCore => (format!("{} — both processes on one core", self.w.what), &[]),
            _ => (self.w.what.to_string(), self.w.python),
        };
        let placement = match self.placement {
            Placement::Free => "free",
            Placement::Apart => "apart",
            Placement::SameCore => "same core",
        };
        let also: Vec<serde_json::Value> = self
            .also()
            .iter()
            .map(|(id, what)| serde_json::json!({"id": id, "what": what}))
            .collect();
        serde_json::json!({
            "id": self.id(),
            "what": what,
            "python": python,
            "limit": self.limit(),
            "also": also,
            "placement": placement,
        })
    }
}
