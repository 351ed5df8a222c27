//! hotload-host: import a Python module once in an embedded interpreter and reload it on every
//! save. This file only wires the pieces together; each module says what it owns.

mod config;
mod events;
mod interpreter;
mod plan;
mod project;
mod repl;
mod runner;
mod session;
mod target;
mod terminal;
mod ui;
mod watch;

use std::process::ExitCode;

use pyo3::prelude::*;

use crate::project::call;
use crate::runner::Runner;
use crate::session::Session;
use crate::ui::{Outcome, Ui};
use crate::watch::Watch;

/// Bad input of any kind (usage, environment, config, a target that does not exist).
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match config::parse_args(std::env::args_os()) {
        Ok(inv) => inv,
        Err(config::ArgsError::Help(text)) => {
            return match ui::out(&text) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    ui::fatal(&e);
                    ExitCode::from(EXIT_USAGE)
                }
            };
        }
        Err(config::ArgsError::Usage(text)) => {
            ui::fatal(&text);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            ui::fatal(&msg);
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn run(cli: config::Invocation) -> Result<u8, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    match cli.command {
        Some(config::Command::Init) => return ui::out(&config::init::run(&cwd)?).map(|()| 0),
        Some(config::Command::Trust) => {
            return ui::out(&config::trust(&cli, &cwd)?).map(|()| 0);
        }
        Some(config::Command::Test) => return Err("`hotload-host test` is not built yet".into()),
        None => {}
    }
    let settings = config::load(&cli, &cwd)?;
    if cli.print_config {
        return ui::out(&settings.describe()).map(|()| 0);
    }
    settings.require_target()?;
    if cli.repl && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err("--repl needs a terminal on stdin".into());
    }
    let lookup = project::lookup(&settings)?;
    let ui = Ui::new(&cli);
    let stdin_list = if settings.watch.value.is_empty() && !cli.once && !cli.repl {
        watch::spec::read_stdin_list(&cwd, |m| ui.warn(m))
    } else {
        None
    };
    // SAFETY: no other thread exists yet. The original tool sets this for the module to see.
    unsafe { std::env::set_var("HOTLOAD_RUNNING", "HOTLOAD_RUNNING") };
    interpreter::start()?;

    Python::attach(|py| {
        let host = py
            .import("hotload._host")
            .map_err(|e| format!("internal error: cannot load the host helpers: {e}"))?;
        let project = project::resolve(&host, settings, lookup)?;
        let runner = Runner::new(host.clone(), project.label.clone(), project.plan.clone());

        if cli.once {
            let report = runner.run(&[], 1);
            ui.report(runner.label(), &report.outcome, report.elapsed, 1);
            return Ok(if matches!(report.outcome, Outcome::Ok) {
                0
            } else {
                1
            });
        }

        let (tx, rx) = events::channel_pair();
        let wakeup_fd = events::signal_wakeups(tx.clone())
            .map_err(|e| format!("cannot set up signal handling: {e}"))?;
        call(&host, "set_wakeup_fd", (wakeup_fd,))?;
        // Watch before the first import, so that a save during a slow first import still counts.
        let spec = watch::spec::watch_spec(
            &project.settings,
            project.target.as_ref(),
            stdin_list.clone(),
        )?;
        project::configure_reload(&host, &project, &spec)?;
        let watch = Watch::start(spec.clone(), tx.clone()).map_err(|e| e.to_string())?;
        let debounce = std::time::Duration::from_millis(project.settings.debounce.value);
        let session = Session {
            cli: &cli,
            host: &host,
            runner,
            ui: &ui,
            project,
            watch,
            spec,
            stdin_list,
            keys: if cli.repl {
                None
            } else {
                terminal::Keys::start(tx.clone())
            },
            tx,
            rx,
            runs: 0,
            paused: false,
            pending: Vec::new(),
            last_run_end: None,
            debounce,
        };
        let Err(fatal) = session.run(py);
        terminal::restore();
        call(&host, "flush", ())?;
        Err(fatal)
    })
}
