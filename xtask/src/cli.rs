//! The command lines of the tasks: each task declares its flags, options and positional
//! arguments with their help; `--help` prints them and anything else is refused.

/// How a task ends other than with success.
#[derive(Debug)]
pub enum Error {
    /// `--help` was asked for: print this and exit 0.
    Help(String),
    /// The command line is wrong: print this and exit 2.
    Usage(String),
    /// The task ran and failed.
    Failed(String),
}

impl From<String> for Error {
    fn from(e: String) -> Self {
        Error::Failed(e)
    }
}

/// One thing a task accepts.
pub struct Arg {
    /// `--quick` (a flag), `--from` (an option taking a value), or `FILTER` (positional).
    pub name: &'static str,
    /// The value's name, for an option (`STEP`); `None` for a flag or a positional.
    pub value: Option<&'static str>,
    /// What it does.
    pub help: &'static str,
}

/// A task's command line.
pub struct Spec {
    /// `cargo xtask NAME`.
    pub name: &'static str,
    /// One paragraph on what the task does.
    pub about: &'static str,
    /// What it accepts.
    pub args: &'static [Arg],
}

/// The parsed command line: flags given, options' values, positionals.
#[derive(Debug, Default)]
pub struct Parsed {
    flags: Vec<&'static str>,
    options: Vec<(&'static str, String)>,
    positionals: Vec<String>,
}

impl Parsed {
    /// Whether the flag was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    /// The option's value, if given.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The positional argument, if given.
    pub fn positional(&self) -> Option<&str> {
        self.positionals.first().map(String::as_str)
    }
}

impl Spec {
    /// The `--help` text.
    pub fn help(&self) -> String {
        let mut usage = format!("usage: cargo xtask {}", self.name);
        let mut lines = String::new();
        for a in self.args {
            let shown = match a.value {
                Some(v) => format!("{} {v}", a.name),
                None => a.name.to_string(),
            };
            usage.push_str(&format!(" [{shown}]"));
            lines.push_str(&format!("  {shown:<14} {}\n", a.help));
        }
        format!(
            "{usage}\n\n{}\n\noptions:\n{lines}  {:<14} this text",
            self.about, "-h, --help"
        )
    }

    /// Parses `args`: `--help` anywhere gives [`Error::Help`]; an unknown option, a missing
    /// value or a second positional gives [`Error::Usage`].
    pub fn parse(&self, args: &[String]) -> Result<Parsed, Error> {
        if args.iter().any(|a| a == "-h" || a == "--help") {
            return Err(Error::Help(self.help()));
        }
        let usage = |why: String| Error::Usage(format!("{why}\n\n{}", self.help()));
        let positional = self.args.iter().find(|a| !a.name.starts_with('-'));
        let mut parsed = Parsed::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if a.starts_with('-') {
                let Some(spec) = self.args.iter().find(|s| s.name == a) else {
                    return Err(usage(format!("unknown option {a:?}")));
                };
                match spec.value {
                    None => parsed.flags.push(spec.name),
                    Some(v) => {
                        let value = it
                            .next()
                            .ok_or_else(|| usage(format!("{a} needs a value ({v})")))?;
                        parsed.options.push((spec.name, value.clone()));
                    }
                }
            } else if positional.is_some() && parsed.positionals.is_empty() {
                parsed.positionals.push(a.clone());
            } else {
                return Err(usage(format!("unexpected argument {a:?}")));
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        name: "demo",
        about: "A demo.",
        args: &[
            Arg {
                name: "--quick",
                value: None,
                help: "fewer iterations",
            },
            Arg {
                name: "--from",
                value: Some("STEP"),
                help: "start at STEP",
            },
            Arg {
                name: "FILTER",
                value: None,
                help: "only these",
            },
        ],
    };

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_options_and_a_positional() {
        let p = SPEC
            .parse(&args(&["--quick", "sync", "--from", "doc"]))
            .unwrap();
        assert!(p.flag("--quick"));
        assert_eq!(p.option("--from"), Some("doc"));
        assert_eq!(p.positional(), Some("sync"));
        let p = SPEC.parse(&[]).unwrap();
        assert!(!p.flag("--quick") && p.option("--from").is_none() && p.positional().is_none());
    }

    #[test]
    fn help_anywhere_is_help() {
        for a in [&["--help"][..], &["--quick", "-h"], &["--bogus", "--help"]] {
            match SPEC.parse(&args(a)) {
                Err(Error::Help(text)) => assert!(text.contains("--from STEP")),
                other => panic!("{a:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_options_and_extra_arguments_are_refused() {
        for a in [&["--quik"][..], &["--from"], &["a", "b"]] {
            assert!(
                matches!(SPEC.parse(&args(a)), Err(Error::Usage(_))),
                "{a:?} was accepted"
            );
        }
    }
}
