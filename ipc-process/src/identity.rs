//! Who this process is: its name, its place in the tree (for default names like Python's
//! `Process-1:2`), whether it is a daemon.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What a child is told about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Identity {
    pub name: String,
    /// The path of child numbers from the main process: `[]` for the main process, `[1, 2]`
    /// for the second child of the first child.
    pub path: Vec<u32>,
    pub daemon: bool,
    /// The process that started this one (its name and pid); `None` in the main process.
    pub parent: Option<(String, u32)>,
}

struct State {
    me: Identity,
    next_child: u32,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut State) -> T) -> T {
    let mut g = STATE.lock().unwrap_or_else(|p| p.into_inner());
    let s = g.get_or_insert_with(|| State {
        me: Identity {
            name: "MainProcess".into(),
            path: Vec::new(),
            daemon: false,
            parent: None,
        },
        next_child: 1,
    });
    f(s)
}

/// The default name and path for the next child: `Process-<path joined by ':'>`.
pub(crate) fn next_child() -> (String, Vec<u32>) {
    with(|s| {
        let mut path = s.me.path.clone();
        path.push(s.next_child);
        s.next_child += 1;
        let name = format!(
            "Process-{}",
            path.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(":")
        );
        (name, path)
    })
}

/// Becomes `id` (in a freshly started child).
pub(crate) fn become_child(id: Identity) {
    crate::parent::forget();
    with(|s| {
        s.me = id;
        s.next_child = 1;
    });
}

pub(crate) fn me() -> Identity {
    with(|s| s.me.clone())
}

/// The running process, as Python's `multiprocessing.current_process()` describes it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CurrentProcess {
    /// `MainProcess`, or the name the parent gave (`Process-1`, `Process-1:2`, or its own).
    pub name: String,
    /// This process's pid.
    pub pid: u32,
    /// Python's `ident`: the same as [`pid`](Self::pid).
    pub ident: u32,
    /// Whether this process is a daemon (it may not start children, and dies with its parent).
    pub daemon: bool,
}

/// The running process (Python's `multiprocessing.current_process()`).
///
/// ```
/// let me = multiproc_process::current_process();
/// assert_eq!(me.name, "MainProcess");
/// assert_eq!(me.pid, std::process::id());
/// assert_eq!(me.ident, me.pid);
/// ```
pub fn current_process() -> CurrentProcess {
    let id = me();
    let pid = std::process::id();
    CurrentProcess {
        name: id.name,
        pid,
        ident: pid,
        daemon: id.daemon,
    }
}
