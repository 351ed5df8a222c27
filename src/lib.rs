//! hotload-host: import a Python module once, keep the interpreter alive, and re-run the module
//! on every save. This crate is the whole program; the binary (`main.rs`) only adds starting an
//! embedded interpreter. Each module says what it owns:
//!
//! - `config`: what the user asked for (flags, environment, file), each setting declared once
//! - `target`, `project`, `plan`: from settings to something runnable (`hotload-host test` is a
//!   session like any other, whose plan is one step: run the tests)
//! - `session`: the loop, the save path, batching, the one `poll`
//! - `watch`: what is watched and what counts as a save
//! - `python`: the interpreter (binary only) and the one typed bridge to the Python side
//! - `ui`: every line the host prints, and the terminal

mod config;
mod plan;
mod project;
pub mod python;
mod session;
mod target;
mod ui;
mod watch;

use std::ffi::OsString;
use std::io::IsTerminal;

use pyo3::prelude::*;

use crate::config::{ArgsError, Command, Invocation};
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
    /// SIGTERM or SIGHUP while the host itself was busy: exit status 128 + the signal.
    Stopped(i32),
}

impl From<String> for Failure {
    fn from(text: String) -> Failure {
        Failure::Fatal(text)
    }
}

/// How the interpreter is had: the binary starts an embedded one and finalises it at exit;
/// inside a Python process (the extension module) it is already there and Python finalises
/// it after `run` returns (the process exits then: `hotload_host.main`).
pub struct Embedding {
    pub start: fn() -> Result<(), String>,
    /// Runs Python's shutdown (atexit handlers, flushing and closing files), if it is ours.
    pub finalize: fn(),
}

/// The extension module of the wheel (`hotload_host._core`): the same program, inside the
/// interpreter that runs the `hotload-host` console script.
#[pyo3::pymodule]
mod _core {
    use std::ffi::OsString;

    use pyo3::prelude::*;

    /// Runs hotload-host with `argv` (the program name first); returns the exit status, after
    /// which the caller exits (Python's shutdown then runs; a watchdog bounds it).
    #[pyfunction]
    fn main(py: Python<'_>, argv: Vec<OsString>) -> u8 {
        let embedding = super::Embedding {
            start: || Ok(()),
            finalize: || {},
        };
        let _ = py;
        super::run(argv, &embedding)
    }
}

/// How long Python's shutdown may take (a non-daemon thread that never ends) before the host
/// says so and exits anyway.
const SHUTDOWN_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

static PYTHON_STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs hotload-host with `args` (the program name first). Returns the exit status, once the
/// terminal is restored and Python has shut down as `python lib.py` would (atexit handlers,
/// files flushed), bounded by `SHUTDOWN_LIMIT`.
pub fn run(args: Vec<OsString>, embedding: &Embedding) -> u8 {
    let code = run_args(args, embedding.start);
    if PYTHON_STARTED.load(std::sync::atomic::Ordering::SeqCst) {
        exit_anyway_after(SHUTDOWN_LIMIT, code);
        (embedding.finalize)();
    }
    code
}

/// A watchdog for the shutdown: if the process still exists after `limit`, say so and exit.
fn exit_anyway_after(limit: std::time::Duration, code: u8) {
    let spawned = std::thread::Builder::new()
        .name("hotload-exit".into())
        .spawn(move || {
            std::thread::sleep(limit);
            ui::late_warning(&format!(
                "Python's shutdown did not finish within {} s (a thread that never ends?); exiting anyway",
                limit.as_secs()
            ));
            ui::terminal::restore();
            // SAFETY: ending the process without running anything else, which is the point.
            unsafe { libc::_exit(i32::from(code)) };
        });
    drop(spawned);
}

fn run_args(args: Vec<OsString>, start_python: fn() -> Result<(), String>) -> u8 {
    let cli = match config::parse_args(args) {
        Ok(inv) => inv,
        Err(ArgsError::Help(text)) => {
            return match ui::out(&text) {
                Ok(()) => 0,
                Err(e) => {
                    ui::fatal(&e);
                    EXIT_USAGE
                }
            };
        }
        Err(ArgsError::Usage(text)) => {
            ui::fatal(&text);
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
        Err(Failure::Stopped(sig)) => session::exit_status_for(sig),
    }
}

fn run_cli(cli: &Invocation, start_python: fn() -> Result<(), String>) -> Result<u8, Failure> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    match cli.command {
        Some(Command::Init) => return Ok(ui::out(&config::init::run(&cwd)?).map(|()| 0)?),
        Some(Command::Trust) => {
            let text = config::trust(cli, &cwd).map_err(String::from)?;
            return Ok(ui::out(&text).map(|()| 0)?);
        }
        // The tests are a session like any other, whose plan runs pytest.
        Some(Command::Test) | None => {}
    }
    let settings = config::load(cli, &cwd).map_err(String::from)?;
    if cli.print_config {
        return Ok(ui::out(&settings.describe()).map(|()| 0)?);
    }
    let kind = project::Kind::of(cli);
    kind.require_target(&settings)?;
    if cli.repl && !std::io::stdin().is_terminal() {
        return Err("--repl needs a terminal on stdin".to_string().into());
    }
    let lookup = project::lookup(&settings, kind)?;
    let ui = Printer::new(cli.quiet, cli.verbose, cli.color, cli.once);
    let stdin_list = if settings.watch.value.is_empty() && !cli.once && !cli.repl {
        watch::spec::StdinList::open(&cwd)
    } else {
        None
    };
    start_python()?;
    PYTHON_STARTED.store(true, std::sync::atomic::Ordering::SeqCst);
    Python::attach(|py| {
        let bridge = Bridge::new(py)?;
        let result = project::resolve(&bridge, settings, lookup, kind)
            .and_then(|project| Session::start(cli, &bridge, &ui, project, stdin_list))
            .and_then(Session::run);
        // The one exit path: the terminal as the user had it, the module's output flushed.
        ui::terminal::restore();
        bridge.flush();
        result
    })
}
