//! `cargo xtask examples`: runs every example of the workspace and checks what it prints.
//!
//! What an example must print is written beside it, in an `# Output` section of the `//!` doc
//! block at the top of its file: each fenced block in that section is one checked run.
//!
//! ````text
//! //! # Output
//! //!
//! //! ```text
//! //! hello world
//! //! pid *
//! //! ```
//! ````
//!
//! - A block's lines are what the example, run without arguments, must print: each on a whole
//!   line of its own, in that order, other lines allowed between them. `*` matches any run of
//!   characters (pids, timings).
//! - A line `$ NAME ARGS…` runs the example `NAME` of the same package with those arguments
//!   (words split as a shell would, with `"…"` and `'…'` quoting); the lines after it, up to the
//!   next `$` line, are what that program must print. A comment `# any order` at the end of a `$`
//!   line lets its lines come in any order (output of several processes).
//! - A `$` line ending in `&` starts its program in the background, and the next `$` line starts
//!   300 ms later, so that the programs start in the order written. A background program whose
//!   first expected line starts with `listening on ` is a server: the runner waits (up to 30 s)
//!   for that line and substitutes what follows `listening on ` for `$ADDRESS` in later lines.
//! - `$DIR` is a fresh temporary directory of the block's own, which must be empty when the block
//!   ends. `$ wait` waits for every background program (each must exit 0 within 60 s); `$ kill`
//!   kills them (each must still be running then, and must die of the signal). A block that
//!   starts background programs ends with one of the two.
//!
//! So a server and its client, or two programs that find each other through the file system, are
//! declared in one block, conventionally in the server's (or the first program's) file. Every
//! example file must have an `# Output` section or be named in another's block.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cli::{self, Arg, Spec};
use crate::util::{self, run_captured};

const SPEC: Spec = Spec {
    name: "examples",
    about: "Builds every example of the workspace, runs each run its `# Output` doc section \
            declares, and checks what it prints (see xtask/src/examples.rs for the format).",
    args: &[
        Arg {
            name: "--list",
            value: None,
            help: "list the declared runs instead of running them",
        },
        Arg {
            name: "PACKAGE",
            value: None,
            help: "only the examples of this package (multiproc-queue, …)",
        },
    ],
};

/// `cargo xtask examples …`.
pub fn main(args: &[String]) -> Result<(), cli::Error> {
    let p = SPEC.parse(args)?;
    if p.flag("--list") {
        return Ok(list()?);
    }
    let n = run_all(p.positional())?;
    println!("{n} example runs printed what they must");
    Ok(())
}

/// How long any one program may run.
const LIMIT: Duration = Duration::from_secs(60);
/// How long a server may take to print its `listening on` line.
const LISTEN_LIMIT: Duration = Duration::from_secs(30);
/// The gap between two background starts, so that they start in the order written.
const START_GAP: Duration = Duration::from_millis(300);

/// One example file of the workspace.
#[derive(Debug)]
pub struct ExampleFile {
    /// The package that owns it.
    pub package: String,
    /// Its name (`examples/<name>.rs`).
    pub name: String,
    /// The file, for messages.
    pub path: PathBuf,
    /// The runs its `# Output` section declares.
    pub runs: Vec<Run>,
}

/// One checked run: a fenced block of an `# Output` section.
#[derive(Debug, Default)]
pub struct Run {
    /// Its steps, in order.
    pub steps: Vec<Step>,
    /// The line of the file its block starts on.
    pub line: usize,
}

/// One `$` line and the lines under it.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// A program to run.
    Program(Program),
    /// `$ wait`: every background program must exit 0.
    Wait,
    /// `$ kill`: every background program must still run, and is killed.
    Kill,
}

/// A program a run starts and what it must print.
#[derive(Debug, PartialEq)]
pub struct Program {
    /// The example's name.
    pub name: String,
    /// Its arguments (`$ADDRESS` and `$DIR` not yet substituted).
    pub args: Vec<String>,
    /// Started with `&`.
    pub background: bool,
    /// `# any order`.
    pub any_order: bool,
    /// The lines it must print.
    pub expect: Vec<String>,
}

impl Program {
    fn is_server(&self) -> bool {
        self.background
            && self
                .expect
                .first()
                .is_some_and(|l| l.starts_with("listening on "))
    }
}

/// The `//!` block at the top of a file, without the `//!` (and one space), with the line number
/// of each line.
fn leading_doc(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_start()))
        .take_while(|(_, l)| l.starts_with("//!"))
        .map(|(i, l)| {
            let l = &l[3..];
            (i, l.strip_prefix(' ').unwrap_or(l))
        })
        .collect()
}

/// The runs of a file's `# Output` section (none if it has no such section).
pub fn parse_runs(name: &str, text: &str) -> Result<Vec<Run>, String> {
    let doc = leading_doc(text);
    let mut runs = Vec::new();
    let mut in_section = false;
    let mut block: Option<(usize, Vec<&str>)> = None;
    for (n, line) in doc {
        if let Some((start, lines)) = block.as_mut() {
            if line.starts_with("```") {
                runs.push(parse_block(name, *start, lines).map_err(|e| format!("line {n}: {e}"))?);
                block = None;
            } else {
                lines.push(line);
            }
            continue;
        }
        if line.starts_with('#') {
            in_section = line.trim_start_matches('#').trim() == "Output";
        } else if in_section && line.starts_with("```") {
            block = Some((n, Vec::new()));
        }
    }
    if block.is_some() {
        return Err("an `# Output` block is not closed".into());
    }
    Ok(runs)
}

fn parse_block(name: &str, line: usize, lines: &[&str]) -> Result<Run, String> {
    let mut steps: Vec<Step> = Vec::new();
    for l in lines {
        if let Some(cmd) = l.strip_prefix("$ ") {
            steps.push(parse_command(cmd)?);
        } else {
            match steps.last_mut() {
                Some(Step::Program(p)) => p.expect.push(l.trim_end().to_string()),
                Some(_) => return Err(format!("`$ wait` / `$ kill` print nothing: {l:?}")),
                None => steps.push(Step::Program(Program {
                    name: name.to_string(),
                    args: Vec::new(),
                    background: false,
                    any_order: false,
                    expect: vec![l.trim_end().to_string()],
                })),
            }
        }
    }
    let mut pending = false;
    for s in &steps {
        match s {
            Step::Program(p) => pending |= p.background,
            Step::Wait | Step::Kill => pending = false,
        }
    }
    if pending {
        return Err(
            "background programs are left running: end the block with `$ wait` or `$ kill`".into(),
        );
    }
    if steps.is_empty() {
        return Err("an empty `# Output` block".into());
    }
    Ok(Run { steps, line })
}

/// Splits a `$` line into words as a shell would (quotes, a trailing `&`, a `#` comment).
fn parse_command(cmd: &str) -> Result<Step, String> {
    let mut words: Vec<String> = Vec::new();
    let mut comment = "";
    let mut chars = cmd.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            comment = cmd[i + 1..].trim();
            break;
        }
        let mut word = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c == '"' || c == '\'' {
                loop {
                    match chars.next() {
                        Some((_, q)) if q == c => break,
                        Some((_, x)) => word.push(x),
                        None => return Err(format!("unclosed quote in `$ {cmd}`")),
                    }
                }
            } else {
                word.push(c);
            }
        }
        words.push(word);
    }
    let any_order = match comment {
        "" => false,
        "any order" => true,
        other => return Err(format!("unknown comment `# {other}` (only `# any order`)")),
    };
    let background = words.last().is_some_and(|w| w == "&");
    if background {
        words.pop();
    }
    let Some(name) = words.first().cloned() else {
        return Err("a `$` line without a command".into());
    };
    match name.as_str() {
        "wait" | "kill" if words.len() > 1 || background || any_order => {
            Err(format!("`$ {name}` takes nothing else"))
        }
        "wait" => Ok(Step::Wait),
        "kill" => Ok(Step::Kill),
        _ => Ok(Step::Program(Program {
            name,
            args: words[1..].to_vec(),
            background,
            any_order,
            expect: Vec::new(),
        })),
    }
}

/// The `name` of a `Cargo.toml`'s `[package]`.
fn package_name(manifest: &Path) -> Result<String, String> {
    let text =
        std::fs::read_to_string(manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(v) = line.strip_prefix("name")
            && let Some(v) = v.trim_start().strip_prefix('=')
        {
            return Ok(v.trim().trim_matches('"').to_string());
        }
    }
    Err(format!("{}: no [package] name", manifest.display()))
}

/// Every example file of the workspace (`examples/*.rs` of the root and of each member folder),
/// with its declared runs; checks that every example is covered by a run and that every `$` line
/// names an example of its own package.
pub fn discover() -> Result<Vec<ExampleFile>, String> {
    let root = util::root();
    let mut dirs = vec![root.clone()];
    let mut members = Vec::new();
    for entry in std::fs::read_dir(&root).map_err(|e| e.to_string())? {
        let p = entry.map_err(|e| e.to_string())?.path();
        if p.join("Cargo.toml").exists() && p.join("examples").is_dir() {
            members.push(p);
        }
    }
    members.sort();
    dirs.extend(members);
    let mut files = Vec::new();
    for dir in dirs {
        let package = package_name(&dir.join("Cargo.toml"))?;
        let Ok(rd) = std::fs::read_dir(dir.join("examples")) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".rs"))
            else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let runs = parse_runs(name, &text).map_err(|e| format!("{}: {e}", path.display()))?;
            files.push(ExampleFile {
                package: package.clone(),
                name: name.to_string(),
                path,
                runs,
            });
        }
    }
    check_coverage(&files)?;
    Ok(files)
}

fn check_coverage(files: &[ExampleFile]) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut named: BTreeMap<(&str, &str), ()> = BTreeMap::new();
    for f in files {
        for run in &f.runs {
            for step in &run.steps {
                if let Step::Program(p) = step {
                    if !files
                        .iter()
                        .any(|g| g.package == f.package && g.name == p.name)
                    {
                        problems.push(format!(
                            "{}:{}: `$ {}` is no example of {}",
                            f.path.display(),
                            run.line,
                            p.name,
                            f.package
                        ));
                    }
                    named.insert((f.package.as_str(), p.name.as_str()), ());
                }
            }
        }
    }
    for f in files {
        if f.runs.is_empty() && !named.contains_key(&(f.package.as_str(), f.name.as_str())) {
            problems.push(format!(
                "{}: no `# Output` section, and no other example's runs it",
                f.path.display()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "examples without checks:\n  {}",
            problems.join("\n  ")
        ))
    }
}

/// `*`-glob match of a whole line.
pub fn glob(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if line.len() < first.len() + last.len() || !line.starts_with(first) || !line.ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Checks that `expect` appears in `output` in order; returns the first line not found.
pub fn check_output<'a>(expect: &'a [String], output: &str) -> Result<(), &'a str> {
    let mut lines = output.lines();
    for want in expect {
        if !lines.by_ref().any(|l| glob(want, l.trim_end())) {
            return Err(want);
        }
    }
    Ok(())
}

/// Checks that each line of `expect` matches its own line of `output`, in any order; returns
/// the first one not found.
pub fn check_output_any_order<'a>(expect: &'a [String], output: &str) -> Result<(), &'a str> {
    let mut lines: Vec<Option<&str>> = output.lines().map(|l| Some(l.trim_end())).collect();
    for want in expect {
        match lines.iter_mut().find(|l| l.is_some_and(|l| glob(want, l))) {
            Some(slot) => *slot = None,
            None => return Err(want),
        }
    }
    Ok(())
}

fn check_program(p: &Program, stdout: &str, stderr: &str) -> Result<(), String> {
    let check = if p.any_order {
        check_output_any_order
    } else {
        check_output
    };
    check(&p.expect, stdout).map_err(|l| {
        format!(
            "{} did not print {l:?}\n    --- stdout ---\n{stdout}\n    --- stderr ---\n{stderr}",
            p.name
        )
    })
}

/// A program running in the background, its output collected by two threads.
struct Background<'a> {
    program: &'a Program,
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Background<'_> {
    /// Joins the output threads (at most 5 s each: a grandchild may hold the pipes).
    fn output(&mut self) -> (String, String) {
        let join = |h: Option<JoinHandle<String>>| {
            let Some(h) = h else {
                return String::new();
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if h.is_finished() {
                h.join().unwrap_or_default()
            } else {
                "<output still open: a process outlived the example>".into()
            }
        };
        (join(self.stdout.take()), join(self.stderr.take()))
    }

    fn wait(mut self) -> Result<(), String> {
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(st) = self.child.try_wait().map_err(|e| e.to_string())? {
                break st;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!(
                    "{} did not exit within {LIMIT:?}",
                    self.program.name
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let p = self.program;
        let (out, err) = self.output();
        if !status.success() {
            return Err(format!("{} exited with {status}:\n{out}\n{err}", p.name));
        }
        check_program(p, &out, &err)
    }

    fn kill(mut self) -> Result<(), String> {
        if let Ok(Some(st)) = self.child.try_wait() {
            let (out, err) = self.output();
            return Err(format!("exited early: {st}:\n{out}\n{err}"));
        }
        let _ = self.child.kill();
        let st = self.child.wait().map_err(|e| e.to_string())?;
        let p = self.program;
        let (out, err) = self.output();
        if st.code().is_some() {
            return Err(format!("{} did not stop when killed: {st}", p.name));
        }
        check_program(p, &out, &err)
    }
}

impl Drop for Background<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn reader(
    r: impl Read + Send + 'static,
    first: Option<mpsc::Sender<String>>,
) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(r);
        let mut all = String::new();
        if let Some(tx) = first {
            let _ = r.read_line(&mut all);
            let _ = tx.send(all.clone());
        }
        let _ = r.read_to_string(&mut all);
        all
    })
}

/// The substitutions of one run.
struct Vars {
    address: Option<String>,
    dir: Option<PathBuf>,
}

impl Vars {
    fn apply(&mut self, args: &[String], run_id: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for a in args {
            let mut a = a.clone();
            if a.contains("$DIR") {
                let dir = self.dir.get_or_insert_with(|| {
                    std::env::temp_dir()
                        .join(format!("ipc-example-{}-{run_id}", std::process::id()))
                });
                std::fs::create_dir_all(&*dir).map_err(|e| e.to_string())?;
                a = a.replace("$DIR", &dir.display().to_string());
            }
            if a.contains("$ADDRESS") {
                let addr = self
                    .address
                    .as_deref()
                    .ok_or("`$ADDRESS` before a server printed `listening on`")?;
                a = a.replace("$ADDRESS", addr);
            }
            out.push(a);
        }
        Ok(out)
    }
}

/// Runs one block's steps.
fn execute(dir: &Path, run: &Run, run_id: &str) -> Result<(), String> {
    let mut vars = Vars {
        address: None,
        dir: None,
    };
    let verdict = execute_steps(dir, run, run_id, &mut vars);
    if let Some(tmp) = vars.dir {
        let left: Vec<String> = std::fs::read_dir(&tmp)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let _ = std::fs::remove_dir_all(&tmp);
        if verdict.is_ok() && !left.is_empty() {
            return Err(format!("left behind in $DIR: {}", left.join(", ")));
        }
    }
    verdict
}

fn execute_steps(dir: &Path, run: &Run, run_id: &str, vars: &mut Vars) -> Result<(), String> {
    let mut background: Vec<Background<'_>> = Vec::new();
    for step in &run.steps {
        match step {
            Step::Wait => {
                for b in background.drain(..) {
                    b.wait()?;
                }
            }
            Step::Kill => {
                for b in background.drain(..) {
                    let name = b.program.name.clone();
                    b.kill().map_err(|e| format!("{name}: {e}"))?;
                }
            }
            Step::Program(p) => {
                let mut cmd = Command::new(dir.join(&p.name));
                cmd.args(vars.apply(&p.args, run_id)?)
                    .current_dir(util::root());
                if p.background {
                    background.push(start_background(&mut cmd, p, vars)?);
                } else {
                    let out = run_captured(&mut cmd, LIMIT)?;
                    if out.timed_out {
                        return Err(format!("{} timed out after {LIMIT:?}", p.name));
                    }
                    if !out.success {
                        return Err(format!(
                            "{} exited with failure\n    --- stdout ---\n{}\n    --- stderr ---\n{}",
                            p.name, out.stdout, out.stderr
                        ));
                    }
                    check_program(p, &out.stdout, &out.stderr)?;
                }
            }
        }
    }
    Ok(())
}

fn start_background<'a>(
    cmd: &mut Command,
    p: &'a Program,
    vars: &mut Vars,
) -> Result<Background<'a>, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", p.name))?;
    let (tx, rx) = mpsc::channel();
    let server = p.is_server();
    let stdout = reader(child.stdout.take().expect("piped"), server.then_some(tx));
    let stderr = reader(child.stderr.take().expect("piped"), None);
    let bg = Background {
        program: p,
        child,
        stdout: Some(stdout),
        stderr: Some(stderr),
    };
    if server {
        let first = rx
            .recv_timeout(LISTEN_LIMIT)
            .map_err(|_| format!("{} printed no first line within {LISTEN_LIMIT:?}", p.name))?;
        let address = first
            .trim_end()
            .strip_prefix("listening on ")
            .ok_or_else(|| {
                format!(
                    "{}'s first line is {first:?}, not `listening on ADDRESS`",
                    p.name
                )
            })?;
        vars.address = Some(address.to_string());
    } else {
        std::thread::sleep(START_GAP);
    }
    Ok(bg)
}

/// A short description of a run, for the report: its programs' names (and its number, for a
/// file with several runs).
fn describe(f: &ExampleFile, i: usize) -> String {
    let mut names: Vec<&str> = Vec::new();
    for s in &f.runs[i].steps {
        if let Step::Program(p) = s {
            names.push(&p.name);
        }
    }
    let nth = if f.runs.len() > 1 {
        format!(" (run {} of {})", i + 1, f.runs.len())
    } else {
        String::new()
    };
    format!("{}/{}{nth}", f.package, names.join(" + "))
}

/// Builds every example once, runs each declared run (optionally only those of `package`) and
/// checks its output. Returns how many runs passed.
pub fn run_all(package: Option<&str>) -> Result<usize, String> {
    let files = discover()?;
    if let Some(p) = package
        && !files.iter().any(|f| f.package == p)
    {
        return Err(format!("no package {p:?} has examples"));
    }
    util::run_status(util::cargo().args(["build", "--quiet", "--workspace", "--examples"]))?;
    let dir = util::target_dir().join("debug").join("examples");
    let mut failures = Vec::new();
    let mut ran = 0;
    for f in files
        .iter()
        .filter(|f| package.is_none_or(|p| p == f.package))
    {
        for (i, run) in f.runs.iter().enumerate() {
            let what = describe(f, i);
            let t = Instant::now();
            ran += 1;
            match execute(&dir, run, &format!("{}-{i}", f.name)) {
                Ok(()) => println!("    example {what}: ok ({})", util::secs(t.elapsed())),
                Err(why) => {
                    println!(
                        "    example {what}: FAILED ({}:{}): {why}",
                        f.path.display(),
                        run.line
                    );
                    failures.push(what);
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(ran)
    } else {
        Err(format!("examples failed: {}", failures.join(", ")))
    }
}

/// `cargo xtask examples --list`: every declared run.
pub fn list() -> Result<(), String> {
    for f in discover()? {
        for (i, run) in f.runs.iter().enumerate() {
            println!("{}  ({}:{})", describe(&f, i), f.path.display(), run.line);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn glob_matches_whole_lines() {
        assert!(glob("pid *", "pid 42"));
        assert!(glob("a * b * c", "a 1 b 2 c"));
        assert!(!glob("a * b", "a 1 c"));
        assert!(!glob("abc", "abcd"));
        assert!(glob("*", ""));
        assert!(!glob("x*x", "x"));
    }

    #[test]
    fn output_lines_in_order() {
        let out = "one\nnoise\ntwo 2\nthree\n";
        assert!(check_output(&lines(&["one", "two *", "three"]), out).is_ok());
        assert_eq!(check_output(&lines(&["two *", "one"]), out), Err("one"));
    }

    #[test]
    fn output_lines_in_any_order() {
        let out = "b\na\nnoise\n";
        assert!(check_output_any_order(&lines(&["a", "b"]), out).is_ok());
        assert_eq!(check_output_any_order(&lines(&["a", "a"]), out), Err("a"));
    }

    #[test]
    fn a_plain_block_is_the_example_itself() {
        let text = "//! Hello.\n//!\n//! # Output\n//!\n//! ```text\n//! hi *\n//! # not a heading\n//! ```\n\nfn main() {}\n";
        let runs = parse_runs("hello", text).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(
            runs[0].steps,
            vec![Step::Program(Program {
                name: "hello".into(),
                args: vec![],
                background: false,
                any_order: false,
                expect: lines(&["hi *", "# not a heading"]),
            })]
        );
    }

    #[test]
    fn blocks_outside_the_output_section_are_not_runs() {
        let text = "//! # Usage\n//!\n//! ```text\n//! cargo run\n//! ```\n//!\n//! # Output\n//!\n//! ```text\n//! x\n//! ```\n//!\n//! # Notes\n//!\n//! ```text\n//! y\n//! ```\n";
        let runs = parse_runs("e", text).unwrap();
        assert_eq!(runs.len(), 1);
        assert!(matches!(&runs[0].steps[0], Step::Program(p) if p.expect == ["x"]));
    }

    #[test]
    fn servers_clients_and_comments() {
        let text = "//! # Output\n//!\n//! ```text\n//! $ server --authkey \"a key\" &  # any order\n//! listening on *\n//! $ client --address $ADDRESS\n//! ok\n//! $ kill\n//! ```\n";
        let runs = parse_runs("server", text).unwrap();
        let steps = &runs[0].steps;
        assert_eq!(steps.len(), 3);
        let Step::Program(s) = &steps[0] else {
            panic!("{steps:?}")
        };
        assert_eq!(s.args, ["--authkey", "a key"]);
        assert!(s.background && s.any_order && s.is_server());
        let Step::Program(c) = &steps[1] else {
            panic!("{steps:?}")
        };
        assert_eq!(
            (c.name.as_str(), c.args.as_slice()),
            ("client", &lines(&["--address", "$ADDRESS"])[..])
        );
        assert!(!c.background);
        assert_eq!(steps[2], Step::Kill);
    }

    #[test]
    fn malformed_blocks_are_refused() {
        let unended = "//! # Output\n//! ```text\n//! $ a &\n//! ```\n";
        assert!(
            parse_runs("a", unended)
                .unwrap_err()
                .contains("left running")
        );
        let unclosed = "//! # Output\n//! ```text\n//! x\n";
        assert!(parse_runs("a", unclosed).is_err());
        let comment = "//! # Output\n//! ```text\n//! $ a # sometimes\n//! ```\n";
        assert!(
            parse_runs("a", comment)
                .unwrap_err()
                .contains("unknown comment")
        );
        let quote = "//! # Output\n//! ```text\n//! $ a \"open\n//! ```\n";
        assert!(parse_runs("a", quote).is_err());
    }
}
