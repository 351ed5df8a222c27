//! Settings: each declared once (`keys.rs`), read from four sources — defaults, the config file
//! (`file.rs`), `HOTLOAD_*` variables (`env.rs`) and the command line (`args.rs`) — each source
//! a `Layer`; layers fold in precedence order (command line > environment > file > defaults,
//! `fold.rs`), every value keeping where it was written; the rules are checked once, on the
//! folded result (`check.rs`), each error pointing at where the offending value was written.
//! `--print-config` (`print.rs`) and `hotload-host init` (`init.rs`) live here too.

mod args;
mod check;
mod env;
mod file;
mod fold;
pub mod init;
mod keys;
mod print;
mod settings;
mod text;
mod trust;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub use args::{ArgsError, ColorChoice, Command, Invocation, parse_args};
pub use check::{WatchEntry, watch_entry};
pub use file::ConfigFile;
pub use fold::Layer;
#[allow(unused_imports)]
pub use keys::{ReloadMode, Step};
pub use settings::Settings;

/// A position in a config file: byte range, and 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub span: Range<usize>,
    pub line: usize,
    pub col: usize,
}

impl At {
    pub fn in_text(text: &str, span: Range<usize>) -> At {
        let upto = &text[..span.start.min(text.len())];
        let line = upto.matches('\n').count() + 1;
        let col = upto
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        At { span, line, col }
    }
}

/// Where in which config file a value was written; `items` are the positions of a list's
/// entries (a `watch` entry, a step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub path: PathBuf,
    pub at: At,
    pub items: Vec<At>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(Place),
    Env(&'static str),
    Cli(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "default"),
            Origin::File(p) => write!(f, "{}", p.path.display()),
            Origin::Env(v) => write!(f, "environment {v}"),
            Origin::Cli(flag) => write!(f, "command line {flag}"),
        }
    }
}

impl Origin {
    /// `message` prefixed with where the value was written: `file:line:col` (of list entry
    /// `item` when given), `environment VAR` or `command line --flag`.
    pub fn error(&self, item: Option<usize>, message: &str) -> String {
        match self {
            Origin::Default => message.to_string(),
            Origin::File(p) => {
                let at = item.and_then(|i| p.items.get(i)).unwrap_or(&p.at);
                format!("{}:{}:{}: {message}", p.path.display(), at.line, at.col)
            }
            other => format!("{other}: {message}"),
        }
    }

    /// The directory a relative path written here is relative to: the config file's own
    /// directory for a value from the file, else the directory hotload-host was started in.
    pub fn base(&self, cwd: &Path) -> PathBuf {
        match self {
            Origin::File(p) => p.path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            _ => cwd.to_path_buf(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}

/// Why settings could not be loaded. Every kind is a message for the user; the kinds let a
/// caller (a live edit) tell them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// Bad input: the message says what and where it was written.
    Invalid(String),
    /// The config file has `run` steps the user has not trusted (`hotload-host trust`).
    Untrusted(String),
    /// A live edit found the config file the settings came from deleted.
    Deleted(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Invalid(m) | LoadError::Untrusted(m) | LoadError::Deleted(m) => {
                f.write_str(m)
            }
        }
    }
}

impl From<String> for LoadError {
    fn from(m: String) -> Self {
        LoadError::Invalid(m)
    }
}

impl From<LoadError> for String {
    fn from(e: LoadError) -> Self {
        e.to_string()
    }
}

/// What a load checks besides the rules.
#[derive(Clone, Copy)]
struct Checks {
    /// `watch` paths exist (not for --print-config, which only shows the settings).
    paths: bool,
    /// `run` steps of a config not named with --config are trusted.
    trust: bool,
}

/// Discovers and reads the config file (unless `--no-config`), reads the environment, folds
/// them with the command line and checks the result.
pub fn load(inv: &Invocation, cwd: &Path) -> Result<Settings, LoadError> {
    let checks = Checks {
        paths: !inv.print_config,
        trust: !inv.print_config,
    };
    load_from(inv, cwd, file::choose(inv, cwd), checks)
}

/// Re-reads the config file `previous` was loaded from (a live edit), with the same
/// environment and command line. Never switches to another file: if this one was deleted,
/// that is an error and the caller keeps `previous`.
pub fn reload(inv: &Invocation, previous: &Settings) -> Result<Settings, LoadError> {
    let Some(config) = &previous.config else {
        return load(inv, &previous.cwd);
    };
    if !config.path.exists() {
        return Err(LoadError::Deleted(format!(
            "{} was deleted: the settings read from it stay in force (hotload-host does not \
             switch to another config while it runs; restart it for that)",
            text::shown(&config.path.display().to_string())
        )));
    }
    let checks = Checks {
        paths: true,
        trust: true,
    };
    load_from(inv, &previous.cwd, Some(config.path.clone()), checks).map_err(|e| match e {
        LoadError::Untrusted(m) => {
            LoadError::Untrusted(format!("{m}\nThen save the config again to apply it."))
        }
        other => other,
    })
}

/// `hotload-host trust`: records the `run` steps of the config file that a run from `cwd`
/// would read. Returns what to tell the user.
pub fn trust(inv: &Invocation, cwd: &Path) -> Result<String, LoadError> {
    let Some(path) = file::choose(inv, cwd) else {
        return Err(LoadError::Invalid(if inv.no_config {
            "--no-config: there is no config file to trust".into()
        } else {
            format!(
                "no config file found from {} (hotload.toml, or [tool.hotload] in pyproject.toml): nothing to trust",
                cwd.display()
            )
        }));
    };
    let checks = Checks {
        paths: false,
        trust: false,
    };
    let settings = load_from(inv, cwd, Some(path), checks)?;
    let config = settings.config.as_ref().expect("a config was read");
    let commands = run_commands(&settings);
    let store = trust::record(&trust_key(config), &commands)?;
    let file = text::shown(&config.path.display().to_string());
    Ok(if commands.is_empty() {
        format!(
            "trusted {file}: it has no `run` steps now; adding one will need trust again\n(recorded in {})\n",
            store.display()
        )
    } else {
        format!(
            "trusted {file}: these `run` steps may now run:\n{}(recorded in {}; changing them needs trust again)\n",
            listed(&commands),
            store.display()
        )
    })
}

fn load_from(
    inv: &Invocation,
    cwd: &Path,
    path: Option<PathBuf>,
    checks: Checks,
) -> Result<Settings, LoadError> {
    // A file named with --config is the user's own choice: read whoever owns it, and trust it
    // for this run.
    let named = inv.config.is_some();
    let (config, file_layer) = match path {
        Some(p) => {
            let (c, l) = file::read(&p, !named)?;
            (Some(c), l)
        }
        None => (None, Layer::default()),
    };
    let env_layer = env::layer(|name| std::env::var(name).ok())?;
    let folded = fold::fold(&[&file_layer, &env_layer, &inv.layer], cwd);
    check::validate(&folded, cwd, checks.paths)?;
    let settings = Settings::from_folded(folded, config, cwd);
    if checks.trust && !named {
        require_trust(&settings)?;
    }
    Ok(settings)
}

fn run_commands(settings: &Settings) -> Vec<&str> {
    settings
        .steps
        .value
        .iter()
        .filter_map(|s| match s {
            Step::Run(r) => Some(r.as_str()),
            _ => None,
        })
        .collect()
}

fn listed(commands: &[&str]) -> String {
    commands
        .iter()
        .map(|c| format!("  {}\n", text::shown(c)))
        .collect()
}

/// A trust record names the file by its real path.
fn trust_key(config: &ConfigFile) -> PathBuf {
    std::fs::canonicalize(&config.path).unwrap_or_else(|_| config.path.clone())
}

fn require_trust(settings: &Settings) -> Result<(), LoadError> {
    let Some(config) = &settings.config else {
        return Ok(());
    };
    let commands = run_commands(settings);
    if commands.is_empty() || trust::is_trusted(&trust_key(config), &commands) {
        return Ok(());
    }
    Err(LoadError::Untrusted(format!(
        "{} has `run` steps, shell commands run on every save, that you have not trusted:\n{}\
         To allow them, run: hotload-host trust\n\
         (or name the file with --config to use it for one run)",
        text::shown(&config.path.display().to_string()),
        listed(&commands)
    )))
}
