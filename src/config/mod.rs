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

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub use args::{ArgsError, ColorChoice, Command, Invocation, parse_args};
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

/// Discovers and reads the config file (unless `--no-config`), reads the environment, folds
/// them with the command line and checks the result.
pub fn load(inv: &Invocation, cwd: &Path) -> Result<Settings, String> {
    let path = file::choose(inv, cwd);
    load_from(inv, cwd, path)
}

/// Re-reads the config file `previous` was loaded from (a live edit), with the same
/// environment and command line.
pub fn reload(inv: &Invocation, previous: &Settings) -> Result<Settings, String> {
    let path = previous.config.as_ref().map(|c| c.path.clone());
    load_from(inv, &previous.cwd, path)
}

fn load_from(inv: &Invocation, cwd: &Path, path: Option<PathBuf>) -> Result<Settings, String> {
    let (config, file_layer) = match path {
        Some(p) => {
            let (c, l) = file::read(&p)?;
            (Some(c), l)
        }
        None => (None, Layer::default()),
    };
    let env_layer = env::layer(|name| std::env::var(name).ok())?;
    let folded = fold::fold(&[&file_layer, &env_layer, &inv.layer], cwd);
    check::validate(&folded, cwd)?;
    Ok(Settings::from_folded(folded, config, cwd))
}
