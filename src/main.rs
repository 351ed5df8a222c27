//! hotload-host: import a Python module once in an embedded interpreter and reload it on every
//! save. This file only wires the pieces together; each module says what it owns.

mod cli;
mod events;
mod interpreter;
mod runner;
mod session;
mod settings;
mod target;
mod ui;
mod watch;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use pyo3::prelude::*;

use crate::runner::Runner;
use crate::session::Session;
use crate::target::{Lookup, Target};
use crate::ui::{Outcome, Ui};
use crate::watch::{Watch, WatchError};

/// Bad input of any kind (usage, environment, a target that does not exist).
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            ui::fatal(&msg);
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn run(cli: cli::Cli) -> Result<u8, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let lookup = target::resolve(&cli.target, &cwd)?;
    let ui = Ui::new(&cli);
    let stdin_list = if cli.watch.is_empty() && !cli.once {
        settings::read_stdin_list(&cwd, |m| ui.warn(m))
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
        let target = locate(&host, lookup, &cwd)?;
        let argv: Vec<&str> = std::iter::once(target.argv0.as_str())
            .chain(cli.args.iter().map(String::as_str))
            .collect();
        call(&host, "prepare", (target.root.display().to_string(), argv))?;
        if let Some(why) = call(&host, "shadowed_by", (&target.module, target.root.display().to_string()))?
            .extract::<Option<String>>()
            .unwrap_or(None)
        {
            return Err(format!(
                "cannot run {}: {why}.\nRename {} so that its module name is not taken.",
                cli.target,
                target.file.display()
            ));
        }
        let runner = Runner::new(host.clone(), target.module.clone(), cli.entrypoint.clone());

        if cli.once {
            let report = runner.run(&[], 1);
            ui.report(runner.module(), &report.outcome, report.elapsed, 1);
            return Ok(if matches!(report.outcome, Outcome::Ok) { 0 } else { 1 });
        }

        let (tx, rx) = events::channel_pair();
        let wakeup_fd = events::signal_wakeups(tx.clone()).map_err(|e| format!("cannot set up signal handling: {e}"))?;
        call(&host, "set_wakeup_fd", (wakeup_fd,))?;
        // Watch before the first import, so that a save during a slow first import still counts.
        let spec = settings::watch_spec(&cli, &target, &cwd, stdin_list)?;
        let watch = Watch::start(spec.clone(), tx.clone()).map_err(|e| match e {
            WatchError::Limit(m) | WatchError::Other(m) => m,
        })?;
        let session = Session {
            runner: &runner,
            ui: &ui,
            watch,
            spec,
            tx,
            rx,
            runs: 0,
        };
        let code = session.run(py)?;
        call(&host, "flush", ())?;
        Ok(code)
    })
}

/// A module name that is not a file under the current directory may still be importable
/// (installed in site-packages): ask Python where it is.
fn locate(host: &Bound<'_, PyModule>, lookup: Lookup, cwd: &Path) -> Result<Target, String> {
    match lookup {
        Lookup::Found(target) => Ok(target),
        Lookup::NotLocal(name) => {
            let origin: Option<String> = call(host, "find_origin", (&name,))?.extract().unwrap_or(None);
            match origin {
                Some(file) => {
                    let mut target = target::from_file(Path::new(&file))?;
                    // Importable already: sys.path[0] is the current directory, as with `python -m`.
                    target.module = name;
                    target.root = cwd.to_path_buf();
                    Ok(target)
                }
                None => Err(format!(
                    "no module named '{name}': there is no {name}.py under {} and Python cannot import it",
                    cwd.display()
                )),
            }
        }
    }
}

fn call<'py>(host: &Bound<'py, PyModule>, name: &str, args: impl pyo3::call::PyCallArgs<'py>) -> Result<Bound<'py, PyAny>, String> {
    host.getattr(name)
        .and_then(|f| f.call1(args))
        .map_err(|e| format!("internal error in hotload-host ({name}): {e}"))
}
