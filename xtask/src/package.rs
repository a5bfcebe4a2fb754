//! `cargo xtask package`: every published package has what crates.io and docs.rs show, and
//! `cargo package` accepts them all (without the verifying build, which would rebuild the
//! workspace once per package).
//!
//! Checked for each package whose `publish` is not `false`:
//! - the manifest: description, license, repository, documentation, readme, keywords (1–5),
//!   categories (1–5), and `[package.metadata.docs.rs]` when the package has features;
//! - a README.md of its own in its folder, which the manifest's `readme` names, and a
//!   `[dependencies]` line in its crate root's docs (how to depend on it).

use serde_json::Value;

use crate::cli::{self, Spec};
use crate::util;

const SPEC: Spec = Spec {
    name: "package",
    about: "Checks every published package's metadata, README and how-to-depend section, then \
            runs `cargo package --no-verify` on all of them.",
    args: &[],
};

/// `cargo xtask package`.
pub fn main(args: &[String]) -> Result<(), cli::Error> {
    SPEC.parse(args)?;
    println!("{}", run()?);
    Ok(())
}

/// One published package, as `cargo metadata` describes it.
struct Package {
    name: String,
    manifest: Value,
}

impl Package {
    fn str(&self, key: &str) -> Option<&str> {
        self.manifest[key].as_str().filter(|s| !s.trim().is_empty())
    }

    fn dir(&self) -> std::path::PathBuf {
        let path = self.str("manifest_path").unwrap_or_default();
        std::path::Path::new(path)
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default()
    }

    /// What its manifest lacks.
    fn manifest_problems(&self) -> Vec<String> {
        let mut missing = Vec::new();
        for key in [
            "description",
            "license",
            "repository",
            "documentation",
            "readme",
        ] {
            if self.str(key).is_none() {
                missing.push(format!("no `{key}`"));
            }
        }
        for key in ["keywords", "categories"] {
            let n = self.manifest[key].as_array().map_or(0, Vec::len);
            if !(1..=5).contains(&n) {
                missing.push(format!("{n} {key} (crates.io takes 1 to 5)"));
            }
        }
        let has_features = self.manifest["features"]
            .as_object()
            .is_some_and(|f| f.keys().any(|k| k != "default"));
        if has_features && self.manifest["metadata"]["docs"]["rs"].is_null() {
            missing.push("features, but no [package.metadata.docs.rs]".into());
        }
        missing
    }

    /// What its README and crate root lack.
    fn readme_problems(&self) -> Vec<String> {
        let mut missing = Vec::new();
        if !self.dir().join("README.md").is_file() {
            missing.push("no README.md in its folder".into());
        } else if self.str("readme") != Some("README.md") {
            missing.push(format!(
                "its manifest's readme is {:?}, not its own README.md",
                self.str("readme").unwrap_or("unset")
            ));
        }
        let root = self.manifest["targets"].as_array().and_then(|ts| {
            ts.iter()
                .find(|t| {
                    t["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "lib" || k == "proc-macro"))
                })
                .and_then(|t| t["src_path"].as_str())
        });
        let text = root
            .and_then(|r| std::fs::read_to_string(r).ok())
            .unwrap_or_default();
        let dependency_line = format!("{} = ", self.name);
        if !text
            .lines()
            .any(|l| l.trim_start().starts_with("//! [dependencies]"))
            || !text.contains(&dependency_line)
        {
            missing.push(format!(
                "no `[dependencies]` / `{dependency_line}…` lines in its crate root's docs"
            ));
        }
        missing
    }
}

/// The packages `cargo publish` would publish.
fn published() -> Result<Vec<Package>, String> {
    let out = util::cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let doc: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok(doc["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| !p["publish"].as_array().is_some_and(Vec::is_empty))
        .map(|p| Package {
            name: p["name"].as_str().unwrap_or_default().to_string(),
            manifest: p.clone(),
        })
        .collect())
}

/// The checks, then `cargo package --no-verify` of every published package; a summary.
pub fn run() -> Result<String, String> {
    let packages = published()?;
    let mut failures = Vec::new();
    for p in &packages {
        for m in p.manifest_problems() {
            failures.push(format!("{}: {m}", p.name));
        }
        for m in p.readme_problems() {
            failures.push(format!("{}: {m}", p.name));
        }
    }
    if !failures.is_empty() {
        return Err(format!(
            "published packages lack:\n  {}",
            failures.join("\n  ")
        ));
    }
    let mut cmd = util::cargo();
    cmd.args(["package", "--quiet", "--no-verify", "--allow-dirty"]);
    for p in &packages {
        cmd.args(["--package", &p.name]);
    }
    util::run_status(&mut cmd)?;
    Ok(format!(
        "{} packages packaged, metadata, README and dependency line complete",
        packages.len()
    ))
}
