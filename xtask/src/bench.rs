//! `cargo xtask bench`: runs each workload in Rust (`multiproc-bench`) and the same workload
//! with Python's `multiprocessing` (`bench/python/bench.py`) in the same run, beside the bare
//! kernel limits, and prints one table; writes it to `target/bench/bench.md` and
//! `target/bench/bench.json`. Records the machine's load before and during the run.
//!
//! The rows are not listed here: each workload declares its Python twin(s), its limit and what it
//! measures next to its function in `bench/src/*.rs`, and this reads the declarations
//! (`multiproc-bench --describe`). To add a row: a function and its declaration there, and its
//! Python twin in `bench/python/bench.py`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{self, Arg, Spec};
use crate::util::{self, run_captured};

const SPEC: Spec = Spec {
    name: "bench",
    about: "Runs the workloads of bench/src in Rust and, in the same run, their twins with \
            Python's multiprocessing (bench/python/bench.py), beside the bare kernel limits; \
            prints the table and writes target/bench/bench.{md,json}. Takes minutes: on a \
            shared machine the figures are indicative only.",
    args: &[
        Arg {
            name: "--quick",
            value: None,
            help: "a tenth of the iterations, one repetition (under a minute)",
        },
        Arg {
            name: "--busy",
            value: None,
            help: "only the rows that declare `busy` and their limits, beside a process that \
                   keeps the peers' core busy (no Python side; writes bench-busy.{md,json})",
        },
        Arg {
            name: "FILTER",
            value: None,
            help: "only the rows whose id contains FILTER (and their limits), e.g. sync or queue.rtt",
        },
    ],
};

/// What a run is asked to do.
#[derive(Default)]
pub struct Options {
    /// `--quick`.
    pub quick: bool,
    /// `--busy`.
    pub busy: bool,
    /// Only the rows whose id contains this (empty: all).
    pub filter: String,
}

/// `cargo xtask bench …`.
pub fn main(args: &[String]) -> Result<(), cli::Error> {
    let p = SPEC.parse(args)?;
    run(&Options {
        quick: p.flag("--quick"),
        busy: p.flag("--busy"),
        filter: p.positional().unwrap_or_default().to_string(),
    })?;
    Ok(())
}

/// One workload as `multiproc-bench --describe` declares it.
#[derive(Debug, Clone)]
pub struct Declared {
    /// The id it emits (a limit's starts with `L`).
    pub id: String,
    /// What it measures.
    pub what: String,
    /// Its Python twins' ids.
    pub python: Vec<String>,
    /// The limit it is held against.
    pub limit: Option<String>,
    /// Further ids (a limit's), with what each means.
    pub also: Vec<(String, String)>,
    /// Where its processes run: `free`, `apart` (two cores), `same core`.
    pub placement: String,
}

impl Declared {
    fn is_limit(&self) -> bool {
        self.id.starts_with('L')
    }
}

fn parse_declared(line: &str) -> Result<Declared, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("{line:?}: {e}"))?;
    let s = |v: &Value| v.as_str().map(str::to_string);
    Ok(Declared {
        id: s(&v["id"]).ok_or_else(|| format!("no id in {line:?}"))?,
        what: s(&v["what"]).unwrap_or_default(),
        python: v["python"]
            .as_array()
            .map(|a| a.iter().filter_map(s).collect())
            .unwrap_or_default(),
        limit: s(&v["limit"]),
        also: v["also"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| Some((s(&x["id"])?, s(&x["what"])?)))
                    .collect()
            })
            .unwrap_or_default(),
        placement: s(&v["placement"]).unwrap_or_else(|| "free".into()),
    })
}

/// The declarations a `multiproc-bench` binary makes.
fn declarations_of(mut cmd: std::process::Command) -> Result<Vec<Declared>, String> {
    let out = cmd
        .arg("--describe")
        .output()
        .map_err(|e| format!("cannot run multiproc-bench: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "multiproc-bench --describe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(parse_declared)
        .collect()
}

/// The declarations, from a debug build (for `test-all`'s check, which needs no release build).
pub fn declarations() -> Result<Vec<Declared>, String> {
    let mut cmd = util::cargo();
    cmd.args(["run", "--quiet", "--package", "multiproc-bench", "--"]);
    declarations_of(cmd)
}

/// The workload ids `bench.py --list` prints.
pub fn python_ids() -> Result<Vec<String>, String> {
    let out = std::process::Command::new("python3")
        .arg(util::root().join("bench/python/bench.py"))
        .arg("--list")
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "bench.py --list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

/// What the declarations name that nothing provides: a Python twin `bench.py` does not list (a
/// listed id is a prefix of the ids it emits: `py.W4.uncontended` emits
/// `py.W4.uncontended/lock_acquire_release`), a limit no limit declares, an id declared twice;
/// and a row whose placement differs from its limit's.
pub fn unmatched(declared: &[Declared], python: &[String]) -> Vec<String> {
    let mut missing = Vec::new();
    let limit_ids: Vec<(&str, &str)> = declared
        .iter()
        .filter(|d| d.is_limit())
        .flat_map(|d| {
            std::iter::once(d.id.as_str())
                .chain(d.also.iter().map(|a| a.0.as_str()))
                .map(|id| (id, d.placement.as_str()))
        })
        .collect();
    for (i, d) in declared.iter().enumerate() {
        if declared[..i].iter().any(|e| e.id == d.id) {
            missing.push(format!("{} is declared twice", d.id));
        }
        for p in &d.python {
            if !python.iter().any(|w| p.starts_with(w.as_str())) {
                missing.push(format!("{}'s Python twin {p} is not in bench.py", d.id));
            }
        }
        if let Some(l) = &d.limit {
            match limit_ids.iter().find(|(id, _)| id == l) {
                None => missing.push(format!("{}'s limit {l} is declared by no limit", d.id)),
                Some((_, placed)) if *placed != d.placement => missing.push(format!(
                    "{} runs {} but its limit {l} runs {placed}",
                    d.id, d.placement
                )),
                Some(_) => {}
            }
        }
    }
    missing
}

#[derive(Clone, Copy)]
struct CpuTimes {
    busy: u64,
    total: u64,
}

fn cpu_times() -> Option<CpuTimes> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some(CpuTimes {
        busy: total - idle,
        total,
    })
}

/// Busy cores between two samples (0.0 = idle machine, `nproc` = every core busy).
fn busy_cores(a: Option<CpuTimes>, b: Option<CpuTimes>) -> f64 {
    let (Some(a), Some(b)) = (a, b) else {
        return f64::NAN;
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let dt = b.total.saturating_sub(a.total).max(1) as f64;
    b.busy.saturating_sub(a.busy) as f64 / dt * cores
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Results by id: value and unit.
type Results = BTreeMap<String, (f64, String)>;

fn parse_results(out: &str) -> Results {
    out.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            Some((
                v["id"].as_str()?.to_string(),
                (v["value"].as_f64()?, v["unit"].as_str()?.to_string()),
            ))
        })
        .collect()
}

fn fmt_num(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 100.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn higher_is_better(unit: &str) -> bool {
    unit.ends_with("/s") || unit == "x"
}

/// A value in its unit's base (seconds for times, the unit itself otherwise), so that rows and
/// limits measured in different units compare.
fn base((value, unit): &(f64, String)) -> f64 {
    match unit.as_str() {
        "ns" => value * 1e-9,
        "us" => value * 1e-6,
        "ms" => value * 1e-3,
        _ => *value,
    }
}

/// How many times better `ours` is than `other` (>1: `ours` wins), in `unit`'s sense.
fn advantage(ours: &(f64, String), other: &(f64, String)) -> f64 {
    let (a, b) = (base(ours), base(other));
    if higher_is_better(&ours.1) {
        a / b
    } else {
        b / a
    }
}

/// "3.2× faster" or "1.4× slower" (two significant digits), from an advantage.
pub fn faster_or_slower(advantage: f64) -> String {
    if !advantage.is_finite() || advantage <= 0.0 {
        return "-".into();
    }
    let (x, word) = if advantage >= 1.0 {
        (advantage, "faster")
    } else {
        (1.0 / advantage, "slower")
    };
    if x >= 10.0 {
        format!("{x:.0}× {word}")
    } else {
        format!("{x:.1}× {word}")
    }
}

/// The filter for `bench.py`: a crate name (`core`, `sync`, `process`, …) selects its group
/// there too; a dotted Rust id (`sync.event_pingpong`) selects the whole group of its crate,
/// whose Python ids differ; a limit id (`L…`) has no Python twin.
fn python_filter(filter: &str) -> String {
    match filter.split_once('.') {
        Some((group, _)) => group.to_string(),
        None if filter.starts_with('L') => "no-python-twin".to_string(),
        None => filter.to_string(),
    }
}

/// The machine's state around the run.
struct Machine {
    background: f64,
    during: f64,
    load_start: String,
    load_end: String,
}

/// Builds the release `multiproc-bench`; its path.
fn build() -> Result<PathBuf, String> {
    println!("==> building multiproc-bench (release)");
    util::run_status(util::cargo().args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "multiproc-bench",
    ]))?;
    Ok(util::target_dir().join("release").join("multiproc-bench"))
}

/// Busy cores while nothing of ours runs, sampled for a moment.
fn background_load(quick: bool) -> f64 {
    let a = cpu_times();
    std::thread::sleep(Duration::from_millis(if quick { 300 } else { 1000 }));
    busy_cores(a, cpu_times())
}

/// Runs a bench program to completion (killed after `limit`); its results.
fn run_side(
    name: &str,
    cmd: &mut std::process::Command,
    limit: Duration,
) -> Result<Results, String> {
    let out = run_captured(cmd, limit)?;
    if !out.success {
        return Err(format!(
            "{name} failed{}:\n{}\n{}",
            if out.timed_out { " (timed out)" } else { "" },
            out.stdout,
            out.stderr
        ));
    }
    Ok(parse_results(&out.stdout))
}

fn time_limit(quick: bool) -> Duration {
    Duration::from_secs(if quick { 120 } else { 900 })
}

fn run_rust(bin: &Path, o: &Options) -> Result<Results, String> {
    println!("==> Rust workloads and bare limits");
    let mut cmd = std::process::Command::new(bin);
    if o.quick {
        cmd.arg("--quick");
    }
    if o.busy {
        cmd.arg("--busy");
    }
    if !o.filter.is_empty() {
        cmd.arg(&o.filter);
    }
    let f = o.filter.as_str();
    if f.is_empty() || f == "pool" || "pool.fib27x8_speedup".contains(f) {
        // The fib row works at equal work: Rust picks its n from Python's serial time.
        if let Some(ms) = python_fib_serial_ms() {
            cmd.env("IPC_BENCH_FIB_SERIAL_MS", format!("{ms:.1}"));
        }
    }
    run_side("multiproc-bench", &mut cmd, time_limit(o.quick))
}

/// Python's eight `fib(27)` in ms, measured now (`bench.py --fib-serial-ms`).
fn python_fib_serial_ms() -> Option<f64> {
    let out = std::process::Command::new("python3")
        .arg(util::root().join("bench/python/bench.py"))
        .arg("--fib-serial-ms")
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Runs `bench.py`; the twins of rows whose processes run apart run apart there too.
fn run_python(o: &Options, declared: &[Declared]) -> Result<Results, String> {
    if o.busy {
        return Ok(Results::new());
    }
    println!("==> Python multiprocessing workloads");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(util::root().join("bench/python/bench.py"));
    if o.quick {
        cmd.arg("--quick");
    }
    let apart: Vec<&str> = declared
        .iter()
        .filter(|d| d.placement == "apart")
        .flat_map(|d| d.python.iter().map(String::as_str))
        .collect();
    cmd.arg(format!("--apart={}", apart.join(",")));
    cmd.arg(python_filter(&o.filter));
    run_side("bench.py", &mut cmd, time_limit(o.quick))
}

/// The rows and the limits, as Markdown and as JSON.
fn table(
    declared: &[Declared],
    rust: &Results,
    python: &Results,
    o: &Options,
    m: &Machine,
) -> (String, Value) {
    let mut md = format!(
        "# cargo xtask bench{}{}\n\nMachine: {} cores; background load before the run {:.2} busy \
         cores; during the run {:.2} busy cores (ours included); loadavg {} -> {}.{}\n\n",
        if o.quick { " --quick" } else { "" },
        if o.busy { " --busy" } else { "" },
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        m.background,
        m.during,
        m.load_start,
        m.load_end,
        if o.busy {
            " Every row and its limit ran beside a process that kept the peers' core busy."
        } else {
            ""
        },
    );
    md.push_str(
        "| workload | unit | Python | multiproc | vs Python | bare limit | limit | vs limit |\n",
    );
    md.push_str("|---|---|---|---|---|---|---|---|\n");
    let mut rows_json = Vec::new();
    for d in declared.iter().filter(|d| !d.is_limit()) {
        let Some(ours) = rust.get(&d.id) else {
            continue;
        };
        let twins: Vec<Option<&String>> = if d.python.is_empty() {
            vec![None]
        } else {
            d.python.iter().map(Some).collect()
        };
        for (i, twin) in twins.into_iter().enumerate() {
            let py = twin.and_then(|p| python.get(p));
            let lim = d.limit.as_ref().and_then(|l| rust.get(l));
            let vs_py = py.map(|p| advantage(ours, p));
            let vs_lim = lim.map(|l| advantage(ours, l));
            let name = match (i, twin) {
                (0, _) | (_, None) => d.id.clone(),
                (_, Some(p)) => format!("{} (vs {})", d.id, p.rsplit('.').next().unwrap_or(p)),
            };
            md.push_str(&format!(
                "| {name} | {} | {} | {} | {} | {} | {} | {} |\n",
                ours.1,
                py.map_or("-".into(), |p| fmt_num(p.0)),
                fmt_num(ours.0),
                vs_py.map_or("-".into(), faster_or_slower),
                d.limit.as_deref().unwrap_or("-"),
                lim.map_or("-".into(), |l| format!("{} {}", fmt_num(l.0), l.1)),
                vs_lim.map_or("-".into(), faster_or_slower),
            ));
            rows_json.push(json!({
                "workload": d.id, "what": d.what, "unit": ours.1,
                "multiproc": ours.0, "python": py.map(|p| p.0), "python_id": twin,
                "vs_python": vs_py, "limit_id": d.limit, "limit": lim.map(|l| l.0),
                "limit_unit": lim.map(|l| l.1.clone()), "vs_limit": vs_lim,
            }));
        }
    }
    md.push_str("\n| bare limit | unit | value | what |\n|---|---|---|---|\n");
    let mut limits_json = Vec::new();
    for d in declared.iter().filter(|d| d.is_limit()) {
        let ids = std::iter::once((&d.id, &d.what)).chain(d.also.iter().map(|(a, b)| (a, b)));
        for (id, what) in ids {
            if let Some((v, unit)) = rust.get(id) {
                md.push_str(&format!("| {id} | {unit} | {} | {what} |\n", fmt_num(*v)));
                limits_json.push(json!({"id": id, "unit": unit, "value": v, "what": what}));
            }
        }
    }
    md.push_str("\nRows:\n\n");
    for d in declared
        .iter()
        .filter(|d| !d.is_limit() && rust.contains_key(&d.id))
    {
        let twins = if d.python.is_empty() {
            String::new()
        } else {
            format!(" (Python: {})", d.python.join(", "))
        };
        let placed = match d.placement.as_str() {
            "apart" => " [two processes pinned to two cores]",
            "same core" => " [pinned to one core]",
            _ => "",
        };
        md.push_str(&format!("- `{}`: {}{twins}{placed}\n", d.id, d.what));
    }
    let doc = json!({
        "quick": o.quick,
        "busy": o.busy,
        "background_busy_cores": m.background,
        "during_busy_cores": m.during,
        "loadavg_start": m.load_start,
        "loadavg_end": m.load_end,
        "rows": rows_json,
        "limits": limits_json,
        "raw": { "rust": rust, "python": python },
    });
    (md, doc)
}

/// Writes `bench.md` and `bench.json` (`bench-busy.*` for `--busy`); the Markdown's path.
fn write(md: &str, doc: &Value, o: &Options) -> Result<PathBuf, String> {
    let dir = util::target_dir().join("bench");
    let stem = if o.busy { "bench-busy" } else { "bench" };
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(format!("{stem}.md")), md).map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(doc).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(format!("{stem}.json")), json).map_err(|e| e.to_string())?;
    Ok(dir.join(format!("{stem}.md")))
}

/// Runs the bench; returns the JSON document it wrote.
pub fn run(o: &Options) -> Result<Value, String> {
    let t_all = Instant::now();
    let bin = build()?;
    let declared = declarations_of(std::process::Command::new(&bin))?;
    let background = background_load(o.quick);
    let load_start = loadavg();
    println!(
        "    background load before the run: {background:.2} busy cores (loadavg {load_start})"
    );
    let during_a = cpu_times();
    let rust = run_rust(&bin, o)?;
    let python = run_python(o, &declared)?;
    let machine = Machine {
        background,
        during: busy_cores(during_a, cpu_times()),
        load_start,
        load_end: loadavg(),
    };
    let (md, doc) = table(&declared, &rust, &python, o, &machine);
    println!("\n{md}");
    let path = write(&md, &doc, o)?;
    println!(
        "wrote {} (and .json) in {}",
        path.display(),
        util::secs(t_all.elapsed())
    );
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_read_faster_or_slower() {
        assert_eq!(faster_or_slower(3.24), "3.2× faster");
        assert_eq!(faster_or_slower(0.23), "4.3× slower");
        assert_eq!(faster_or_slower(1.0), "1.0× faster");
        assert_eq!(faster_or_slower(31.6), "32× faster");
        assert_eq!(faster_or_slower(f64::NAN), "-");
    }

    #[test]
    fn advantage_knows_which_way_is_better() {
        let us = |v: f64| (v, "us".to_string());
        let rate = |v: f64| (v, "items/s".to_string());
        assert!((advantage(&us(2.0), &us(4.0)) - 2.0).abs() < 1e-9);
        assert!((advantage(&rate(2.0), &rate(4.0)) - 0.5).abs() < 1e-9);
        assert!((advantage(&(500.0, "ns".into()), &us(1.0)) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn unmatched_declarations_are_named() {
        let d = |id: &str, py: &[&str], limit: Option<&str>| Declared {
            id: id.into(),
            what: String::new(),
            python: py.iter().map(|s| s.to_string()).collect(),
            limit: limit.map(str::to_string),
            also: vec![("L1.rate".into(), "per second".into())],
            placement: "apart".into(),
        };
        let free = Declared {
            placement: "free".into(),
            ..d("a.w", &[], Some("L1"))
        };
        let declared = [
            d("L1", &[], None),
            d("a.x", &["py.a/x"], Some("L1")),
            d("a.y", &["py.b"], Some("L1.rate")),
            d("a.z", &[], Some("L9")),
            d("a.x", &[], None),
            free,
        ];
        let missing = unmatched(&declared, &["py.a".to_string()]);
        assert_eq!(
            missing,
            [
                "a.y's Python twin py.b is not in bench.py",
                "a.z's limit L9 is declared by no limit",
                "a.x is declared twice",
                "a.w runs free but its limit L1 runs apart",
            ]
        );
    }
}
