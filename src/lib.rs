//! hotload-host: import a Python module once, keep the interpreter alive, and re-run the module
//! on every save. This crate is the whole program; the binary (`main.rs`) only adds starting an
//! embedded interpreter. Each module says what it owns:
//!
//! - `cli`, `settings`, `config`, `init`: what the user asked for (flags, environment, file)
//! - `target`, `project`, `plan`: from settings to something runnable
//! - `session`: the loop, the save path, batching, the one `poll`
//! - `watch`: what is watched and what counts as a save
//! - `python`: the interpreter (binary only) and the one typed bridge to the Python side
//! - `ui`: every line the host prints, and the terminal

pub mod cli;
mod config;
mod init;
mod plan;
mod project;
pub mod python;
mod session;
mod settings;
mod target;
mod ui;
mod watch;

use std::ffi::OsString;
use std::io::IsTerminal;

use clap::Parser;
use pyo3::prelude::*;

use crate::python::bridge::Bridge;
use crate::session::Session;
use crate::ui::Printer;

/// Bad input of any kind (usage, environment, config, a target that does not exist).
pub const EXIT_USAGE: u8 = 2;

/// Why a session could not go on.
#[derive(Debug)]
pub enum Failure {
    /// One complete message for the user; exit status 2.
    Fatal(String),
    /// Ctrl-C while the host itself was busy (not in user code): exit status 130.
    Interrupted,
}

impl From<String> for Failure {
    fn from(text: String) -> Failure {
        Failure::Fatal(text)
    }
}

/// Runs hotload-host with `args` (the program name first). `start_python` brings up the
/// interpreter: the binary starts an embedded one; inside a Python process it is already
/// there. Returns the exit status; the terminal is restored and Python's output flushed.
pub fn run(args: Vec<OsString>, start_python: fn() -> Result<(), String>) -> u8 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return 0;
        }
        Err(e) => {
            let text = e.render().to_string();
            ui::fatal(text.trim_start_matches("error: ").trim_end());
            return EXIT_USAGE;
        }
    };
    match run_cli(&cli, start_python) {
        Ok(code) => code,
        Err(Failure::Fatal(msg)) => {
            ui::fatal(&msg);
            EXIT_USAGE
        }
        Err(Failure::Interrupted) => session::EXIT_INTERRUPTED,
    }
}

fn run_cli(cli: &cli::Cli, start_python: fn() -> Result<(), String>) -> Result<u8, Failure> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    if let Some(cli::Command::Init) = cli.command {
        return init::run(&cwd).map(|()| 0).map_err(Failure::Fatal);
    }
    let settings = project::settings(cli, &cwd)?;
    if cli.print_config {
        print!("{}", settings.describe());
        return Ok(0);
    }
    settings.require_target()?;
    if cli.repl && !std::io::stdin().is_terminal() {
        return Err("--repl needs a terminal on stdin".to_string().into());
    }
    let lookup = project::lookup(&settings)?;
    let ui = Printer::new(cli.quiet, cli.verbose, cli.color, cli.once);
    let stdin_list = if settings.watch.value.is_empty() && !cli.once && !cli.repl {
        watch::spec::StdinList::open(&cwd)
    } else {
        None
    };
    start_python()?;
    Python::attach(|py| {
        let bridge = Bridge::new(py)?;
        let result = project::resolve(&bridge, settings, lookup)
            .and_then(|project| Session::start(cli, &bridge, &ui, project, stdin_list))
            .and_then(Session::run);
        // The one exit path: the terminal as the user had it, the module's output flushed.
        ui::terminal::restore();
        bridge.flush();
        result
    })
}
