//! The declaration every workload makes next to its function: its id, what it measures, its
//! Python twin(s), the bare limit it is held against. `cargo xtask bench` reads them
//! (`multiproc-bench --describe`) to make the table; nothing else lists the rows.

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
    /// The function that measures it and emits the id.
    pub run: fn(&Opts),
}

fn nothing(_: &Opts) {}

impl Workload {
    /// The defaults of a row: no Python twin, no limit (`..Workload::ROW`).
    pub const ROW: Workload = Workload {
        id: "",
        what: "",
        python: &[],
        limit: None,
        also: &[],
        run: nothing,
    };

    /// The defaults of a bare limit (`..Workload::LIMIT`).
    pub const LIMIT: Workload = Workload::ROW;

    /// Whether this is a bare limit.
    pub fn is_limit(&self) -> bool {
        self.id.starts_with('L')
    }

    /// Whether this row is held against `limit` (or one of the ids it also emits).
    pub fn held_against(&self, limit: &Workload) -> bool {
        self.limit
            .is_some_and(|l| l == limit.id || limit.also.iter().any(|(id, _)| *id == l))
    }

    /// The declaration as one JSON line, for `cargo xtask bench`.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "what": self.what,
            "python": self.python,
            "limit": self.limit,
            "also": self.also.iter().map(|(id, what)| serde_json::json!({"id": id, "what": what})).collect::<Vec<_>>(),
        })
    }
}
