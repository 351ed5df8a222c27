//! Command-line definitions (clap). Parsing only: what the flags mean is decided elsewhere.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Import a Python module once, keep the interpreter alive, and reload the module on every save.
#[derive(Debug, Parser)]
#[command(
    name = "hotload-host",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  hotload-host lib.py\n  hotload-host pkg.sub -- --port 8000\n  \
                  find . -name '*.py' | hotload-host lib.py\n  hotload-host app.py --entrypoint main -w conf -e py,toml"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Module to run: a module name (`lib`, `pkg.sub`) or a path (`lib.py`, `pkg/sub.py`, `lib`).
    /// Default: `target` from the config file.
    pub target: Option<String>,

    /// Arguments for the module; it sees them as `sys.argv[1:]`.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,

    /// Import (and call the entrypoint) once, then exit: 0 on success, 1 on failure.
    #[arg(long)]
    pub once: bool,

    /// An interactive Python console on the module's globals, while saves keep reloading it.
    #[arg(long, conflicts_with = "once")]
    pub repl: bool,

    /// Call `FUNC()` of the module after each successful (re)load.
    #[arg(long, value_name = "FUNC")]
    pub entrypoint: Option<String>,

    /// What a save reloads: `entry` (only the target, as the original did), `changed` (the
    /// changed project modules and everything importing them, in order, then the target),
    /// `deep` (as changed, and old functions, classes and instances are patched in place).
    #[arg(long, value_enum, value_name = "MODE")]
    pub reload: Option<ReloadMode>,

    /// Call `module:function` before each reload (teardown).
    #[arg(long, value_name = "MODULE:FUNC")]
    pub pre: Option<String>,

    /// Call `module:function` after each successful (re)load (re-init, main).
    #[arg(long, value_name = "MODULE:FUNC")]
    pub post: Option<String>,

    /// Use this config file instead of discovering hotload.toml / pyproject.toml.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,

    /// Ignore config files.
    #[arg(long)]
    pub no_config: bool,

    /// Print the merged settings and where each value came from, then exit.
    #[arg(long)]
    pub print_config: bool,

    /// Clear the terminal before each run (the default when stdout is a terminal).
    #[arg(long, overrides_with = "no_clear")]
    pub clear: bool,

    /// Never clear the terminal (also: HOTLOAD_NO_CLEAR=HOTLOAD_NO_CLEAR).
    #[arg(long, overrides_with = "clear")]
    pub no_clear: bool,

    /// Watch this file or directory (repeatable). Default: the target's root directory.
    #[arg(short, long = "watch", value_name = "PATH")]
    pub watch: Vec<PathBuf>,

    /// File extensions that trigger a reload, comma-separated (repeatable). Default: py.
    #[arg(short, long = "ext", value_name = "EXTS", value_delimiter = ',')]
    pub ext: Vec<String>,

    /// Ignore paths matching this gitignore-style glob (repeatable), e.g. `data/**` or `*_gen.py`.
    #[arg(short, long = "ignore", value_name = "GLOB")]
    pub ignore: Vec<String>,

    /// Poll the filesystem every MS milliseconds instead of using OS events (for network mounts,
    /// WSL's /mnt, container volumes).
    #[arg(long, value_name = "MS", num_args = 0..=1, default_missing_value = "100")]
    pub poll: Option<u64>,

    /// Wait until no file has changed for MS milliseconds before each run. Default 0: a lone
    /// save runs at once, and only bursts (many files, or saves right after a run) wait 50 ms.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub debounce: u64,

    /// Print only the module's own output and errors; no status lines.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also print changed paths, per-phase timings and the number of watches.
    #[arg(short, long)]
    pub verbose: bool,

    /// When to colour the host's own lines.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter config: `[tool.hotload]` into pyproject.toml if it exists,
    /// else hotload.toml. Never overwrites existing content.
    Init,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReloadMode {
    Entry,
    Changed,
    Deep,
}

impl ReloadMode {
    pub fn name(self) -> &'static str {
        match self {
            ReloadMode::Entry => "entry",
            ReloadMode::Changed => "changed",
            ReloadMode::Deep => "deep",
        }
    }

    pub fn parse(s: &str) -> Option<ReloadMode> {
        <ReloadMode as ValueEnum>::from_str(s, true).ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
