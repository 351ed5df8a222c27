//! Settings: the command line, `HOTLOAD_*` environment variables and the config file merged
//! in that order of precedence (command line > environment > file > defaults), each value
//! remembering where it came from. Also what the watcher and the run plan are built from.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::cli::{Cli, ReloadMode};
use crate::config::{ConfigFile, Step};

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(&'static str),
    Cli(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "default"),
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Env(v) => write!(f, "environment {v}"),
            Origin::Cli(flag) => write!(f, "command line {flag}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Sourced<T> {
    fn default(value: T) -> Self {
        Sourced {
            value,
            origin: Origin::Default,
        }
    }
}

/// Everything a session needs to know, merged.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Option<ConfigFile>,
    pub cwd: PathBuf,
    pub target: Sourced<Option<String>>,
    pub args: Sourced<Vec<String>>,
    pub watch: Sourced<Vec<String>>,
    pub ignore: Sourced<Vec<String>>,
    pub ext: Sourced<Vec<String>>,
    /// None: clear when stdout is a terminal.
    pub clear: Sourced<Option<bool>>,
    pub pre: Sourced<Option<String>>,
    pub post: Sourced<Option<String>>,
    pub entrypoint: Sourced<Option<String>>,
    pub poll: Sourced<Option<u64>>,
    pub reload: Sourced<ReloadMode>,
    pub steps: Sourced<Vec<Step>>,
}

impl Settings {
    /// Merges the layers. `config` is the file already loaded (or None).
    pub fn merge(cli: &Cli, config: Option<ConfigFile>, cwd: &Path) -> Result<Settings, String> {
        let mut s = Settings {
            config: None,
            cwd: cwd.to_path_buf(),
            target: Sourced::default(None),
            args: Sourced::default(Vec::new()),
            watch: Sourced::default(Vec::new()),
            ignore: Sourced::default(Vec::new()),
            ext: Sourced::default(vec!["py".into()]),
            clear: Sourced::default(None),
            pre: Sourced::default(None),
            post: Sourced::default(None),
            entrypoint: Sourced::default(None),
            poll: Sourced::default(None),
            reload: Sourced::default(ReloadMode::Changed),
            steps: Sourced::default(Vec::new()),
        };
        if let Some(file) = &config {
            s.apply_file(file);
        }
        s.apply_env()?;
        s.apply_cli(cli);
        s.config = config;
        Ok(s)
    }

    fn apply_file(&mut self, file: &ConfigFile) {
        let v = &file.values;
        let here = || Origin::File(file.path.clone());
        let dir = file.dir();
        // Paths in the file are relative to the file's directory.
        let rel = |p: &String| dir.join(p).display().to_string();
        set(
            &mut self.target,
            v.target.as_ref().map(|t| Some(rel(&t.value))),
            here(),
        );
        set(&mut self.args, v.args.clone(), here());
        set(
            &mut self.watch,
            v.watch.as_ref().map(|w| w.iter().map(rel).collect()),
            here(),
        );
        set(&mut self.ignore, v.ignore.clone(), here());
        set(&mut self.ext, v.ext.clone(), here());
        set(&mut self.clear, v.clear.map(Some), here());
        set(
            &mut self.pre,
            v.pre.as_ref().map(|p| Some(p.value.clone())),
            here(),
        );
        set(
            &mut self.post,
            v.post.as_ref().map(|p| Some(p.value.clone())),
            here(),
        );
        set(
            &mut self.entrypoint,
            v.entrypoint.as_ref().map(|e| Some(e.value.clone())),
            here(),
        );
        set(&mut self.poll, v.poll, here());
        set(&mut self.reload, v.reload, here());
        set(
            &mut self.steps,
            v.steps
                .as_ref()
                .map(|st| st.iter().map(|s| s.value.clone()).collect()),
            here(),
        );
    }

    fn apply_env(&mut self) -> Result<(), String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(v) = var("HOTLOAD_TARGET") {
            set(
                &mut self.target,
                Some(Some(self.cwd.join(v).display().to_string())),
                Origin::Env("HOTLOAD_TARGET"),
            );
        }
        for (name, field) in [
            ("HOTLOAD_WATCH", &mut self.watch),
            ("HOTLOAD_IGNORE", &mut self.ignore),
            ("HOTLOAD_EXT", &mut self.ext),
        ] {
            if let Some(v) = var(name) {
                set(field, Some(split_list(&v)), Origin::Env(name));
            }
        }
        if let Some(v) = var("HOTLOAD_CLEAR") {
            let b = parse_bool(&v)
                .ok_or_else(|| format!("HOTLOAD_CLEAR={v}: expected true or false"))?;
            set(&mut self.clear, Some(Some(b)), Origin::Env("HOTLOAD_CLEAR"));
        }
        if var("HOTLOAD_NO_CLEAR").as_deref() == Some("HOTLOAD_NO_CLEAR") {
            set(
                &mut self.clear,
                Some(Some(false)),
                Origin::Env("HOTLOAD_NO_CLEAR"),
            );
        }
        for (name, field) in [
            ("HOTLOAD_PRE", &mut self.pre),
            ("HOTLOAD_POST", &mut self.post),
        ] {
            if let Some(v) = var(name) {
                crate::config::check_callable_syntax(&v).map_err(|e| format!("{name}: {e}"))?;
                set(field, Some(Some(v)), Origin::Env(name));
            }
        }
        if let Some(v) = var("HOTLOAD_ENTRYPOINT") {
            set(
                &mut self.entrypoint,
                Some(Some(v)),
                Origin::Env("HOTLOAD_ENTRYPOINT"),
            );
        }
        if let Some(v) = var("HOTLOAD_RELOAD") {
            let mode = ReloadMode::parse(&v)
                .ok_or_else(|| format!("HOTLOAD_RELOAD={v}: expected entry, changed or deep"))?;
            set(&mut self.reload, Some(mode), Origin::Env("HOTLOAD_RELOAD"));
        }
        if let Some(v) = var("HOTLOAD_POLL") {
            let ms = match parse_bool(&v) {
                Some(false) => None,
                Some(true) => Some(100),
                None => Some(v.parse::<u64>().ok().filter(|ms| *ms > 0).ok_or_else(|| {
                    format!("HOTLOAD_POLL={v}: expected milliseconds (> 0), or true/false")
                })?),
            };
            set(&mut self.poll, Some(ms), Origin::Env("HOTLOAD_POLL"));
        }
        Ok(())
    }

    fn apply_cli(&mut self, cli: &Cli) {
        let cwd = &self.cwd;
        if let Some(t) = &cli.target {
            set(
                &mut self.target,
                Some(Some(cwd.join(t).display().to_string())),
                Origin::Cli("TARGET"),
            );
        }
        if !cli.args.is_empty() {
            set(
                &mut self.args,
                Some(cli.args.clone()),
                Origin::Cli("-- ARGS"),
            );
        }
        if !cli.watch.is_empty() {
            let w = cli
                .watch
                .iter()
                .map(|p| cwd.join(p).display().to_string())
                .collect();
            set(&mut self.watch, Some(w), Origin::Cli("--watch"));
        }
        if !cli.ignore.is_empty() {
            set(
                &mut self.ignore,
                Some(cli.ignore.clone()),
                Origin::Cli("--ignore"),
            );
        }
        if !cli.ext.is_empty() {
            set(&mut self.ext, Some(cli.ext.clone()), Origin::Cli("--ext"));
        }
        if cli.clear {
            set(&mut self.clear, Some(Some(true)), Origin::Cli("--clear"));
        } else if cli.no_clear {
            set(
                &mut self.clear,
                Some(Some(false)),
                Origin::Cli("--no-clear"),
            );
        }
        for (flag, value, field) in [
            ("--pre", &cli.pre, &mut self.pre),
            ("--post", &cli.post, &mut self.post),
            ("--entrypoint", &cli.entrypoint, &mut self.entrypoint),
        ] {
            if value.is_some() {
                set(field, Some(value.clone()), Origin::Cli(flag));
            }
        }
        if let Some(mode) = cli.reload {
            set(&mut self.reload, Some(mode), Origin::Cli("--reload"));
        }
        if let Some(ms) = cli.poll {
            set(&mut self.poll, Some(Some(ms.max(1))), Origin::Cli("--poll"));
        }
    }

    /// Checks that need no Python: flag syntax, combinations.
    pub fn validate(&self) -> Result<(), String> {
        for s in [&self.pre, &self.post] {
            if let (Some(v), Origin::Cli(flag)) = (&s.value, &s.origin) {
                crate::config::check_callable_syntax(v).map_err(|e| format!("{flag}: {e}"))?;
            }
        }
        if !self.steps.value.is_empty() {
            for (s, key) in [
                (&self.pre, "pre"),
                (&self.post, "post"),
                (&self.entrypoint, "entrypoint"),
            ] {
                if s.value.is_some() && !matches!(s.origin, Origin::File(_)) {
                    return Err(format!(
                        "{}: `{key}` wraps the target's reload, but the config has an explicit `steps` list; add a `call` step instead",
                        s.origin
                    ));
                }
            }
        }
        Ok(())
    }

    /// Something to run: a target, or an explicit step list.
    pub fn require_target(&self) -> Result<(), String> {
        if self.target.value.is_none() && self.steps.value.is_empty() {
            return Err(match &self.config {
                Some(c) => format!("no target: give one (hotload-host lib.py) or set `target` in {}", c.path.display()),
                None => "no target: give a module or file to run (e.g. hotload-host lib.py), or write a config with `hotload-host init`".into(),
            });
        }
        Ok(())
    }

    /// Whether a clear step runs before each run.
    pub fn clears(&self) -> bool {
        use std::io::IsTerminal;
        self.clear.value.unwrap_or(true) && std::io::stdout().is_terminal()
    }

    /// The directory the target is resolved against and that goes on sys.path when the plan
    /// has no target (an explicit step list): the config file's directory, else cwd.
    pub fn project_dir(&self) -> PathBuf {
        self.config
            .as_ref()
            .map(|c| c.dir().to_path_buf())
            .unwrap_or_else(|| self.cwd.clone())
    }

    /// A path as the user wrote it: relative to the config file's directory or to cwd.
    pub fn shown_path(&self, path: &str, origin: &Origin) -> String {
        let base = match (origin, &self.config) {
            (Origin::File(_), Some(c)) => c.dir().to_path_buf(),
            _ => self.cwd.clone(),
        };
        Path::new(path)
            .strip_prefix(&base)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| path.to_string())
    }

    /// The settings, one per line, each with its origin (`--print-config`).
    pub fn describe(&self) -> String {
        let q = |s: &str| format!("{s:?}");
        let list = |v: &[String]| {
            format!(
                "[{}]",
                v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
            )
        };
        let opt = |v: &Option<String>| v.as_deref().map(q).unwrap_or_else(|| "(none)".into());
        let mut rows: Vec<(&str, String, &Origin)> = vec![
            (
                "target",
                opt(&self
                    .target
                    .value
                    .as_ref()
                    .map(|t| self.shown_path(t, &self.target.origin))),
                &self.target.origin,
            ),
            ("args", list(&self.args.value), &self.args.origin),
            (
                "watch",
                if self.watch.value.is_empty() {
                    "(the target's root directory)".into()
                } else {
                    list(&self.watch.value)
                },
                &self.watch.origin,
            ),
            ("ignore", list(&self.ignore.value), &self.ignore.origin),
            ("ext", list(&self.ext.value), &self.ext.origin),
            (
                "clear",
                self.clear
                    .value
                    .map(|b| b.to_string())
                    .unwrap_or_else(|| "auto (when stdout is a terminal)".into()),
                &self.clear.origin,
            ),
            ("pre", opt(&self.pre.value), &self.pre.origin),
            ("post", opt(&self.post.value), &self.post.origin),
            (
                "entrypoint",
                opt(&self.entrypoint.value),
                &self.entrypoint.origin,
            ),
            (
                "poll",
                self.poll
                    .value
                    .map(|ms| format!("{ms} ms"))
                    .unwrap_or_else(|| "off (OS events)".into()),
                &self.poll.origin,
            ),
        ];
        rows.push((
            "reload",
            self.reload.value.name().to_string(),
            &self.reload.origin,
        ));
        let steps: Vec<String> = self.steps.value.iter().map(describe_step).collect();
        rows.push((
            "steps",
            if steps.is_empty() {
                "(implied: clear, pre, reload target, post)".into()
            } else {
                format!("[{}]", steps.join(", "))
            },
            &self.steps.origin,
        ));
        let mut out = match &self.config {
            Some(c) => format!(
                "# config file: {}
",
                c.path.display()
            ),
            None => "# config file: none
"
            .to_string(),
        };
        for (key, value, origin) in rows {
            out.push_str(&format!(
                "{key:<10} = {value:<40} # {origin}
"
            ));
        }
        out
    }
}

fn describe_step(step: &Step) -> String {
    match step {
        Step::Clear => "{ clear = true }".into(),
        Step::Reload(m) => format!("{{ reload = {m:?} }}"),
        Step::Call(c) => format!("{{ call = {c:?} }}"),
        Step::Run(r) => format!("{{ run = {r:?} }}"),
    }
}

fn set<T>(field: &mut Sourced<T>, value: Option<T>, origin: Origin) {
    if let Some(value) = value {
        *field = Sourced { value, origin };
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}
