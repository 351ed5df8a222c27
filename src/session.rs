//! The watch loop: wait (detached from the interpreter) for a save or a signal, gather the
//! saves that belong together, run the target, report, repeat. Ctrl-C while idle ends it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;

use crate::cli::Cli;
use crate::events::Msg;
use crate::project::{self, Project};
use crate::runner::{Report, Runner};
use crate::settings;
use crate::ui::{Outcome, Ui, format_duration};
use crate::watch::{Spec, Watch, WatchError};

/// How long a burst (a checkout, a formatter) must be quiet before its single run.
const BURST_QUIET: Duration = Duration::from_millis(50);
/// A burst that never goes quiet still runs after this long.
const BURST_MAX: Duration = Duration::from_secs(2);

/// Exit status after Ctrl-C while idle, as shells report SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;

pub struct Session<'a, 'py> {
    pub cli: &'a Cli,
    pub host: &'a Bound<'py, PyModule>,
    pub runner: Runner<'py>,
    pub ui: &'a Ui,
    pub project: Project,
    pub watch: Watch,
    /// The file list read from stdin at start, if any.
    pub stdin_list: Option<Vec<PathBuf>>,
    /// What `watch` was started from; a launch script's watch list replaces its files.
    pub spec: Spec,
    pub tx: Sender<Msg>,
    pub rx: Receiver<Msg>,
    pub runs: u64,
}

enum Wake {
    /// Saved files (empty when events were lost and anything may have changed).
    Changed(Vec<PathBuf>, Instant),
    Interrupted,
}

impl Session<'_, '_> {
    /// Runs the target now, then once per save. Ctrl-C while idle exits the process (130);
    /// this returns only a fatal error (the watcher died).
    pub fn run(mut self, py: Python<'_>) -> Result<std::convert::Infallible, String> {
        self.ui.detail(&format!(
            "watching {} in {} ({})",
            plural(self.watch.file_count(), "file"),
            plural(self.watch.dir_count(), "directory"),
            self.watch.backend_name()
        ));
        self.run_once(&[], None);
        self.apply_watch_override()?;
        loop {
            match self.wait(py).map_err(|e| e.to_string())? {
                Wake::Changed(paths, at) => {
                    let config = self.project.settings.config.as_ref().map(|c| c.path.clone());
                    if config.is_some_and(|c| paths.contains(&c)) && !self.reload_config()? {
                        // A broken config keeps the old one; other saves in the batch still run.
                        if paths.len() == 1 {
                            continue;
                        }
                    }
                    self.run_once(&paths, Some(at));
                }
                Wake::Interrupted => exit_interrupted(),
            }
        }
    }

    /// One run: clear, import/reload, report.
    pub fn run_once(&mut self, changed: &[PathBuf], event_at: Option<Instant>) -> Report {
        self.runs += 1;
        if self.ui.verbose() && !changed.is_empty() {
            let names: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
            self.ui.detail(&format!("changed: {}", names.join(", ")));
        }
        let report = self.runner.run(changed, self.runs);
        self.ui.report(self.runner.label(), &report.outcome, report.elapsed, self.runs);
        if self.ui.verbose() {
            let mut parts: Vec<String> = report
                .phases
                .iter()
                .map(|(name, ns)| format!("{name} {}", format_duration(Duration::from_nanos(*ns))))
                .collect();
            if let Some(at) = event_at {
                parts.insert(0, format!("save→done {}", format_duration(at.elapsed())));
            }
            self.ui.detail(&parts.join(", "));
        }
        report
    }

    /// A launch script (`hotload.hotload(watch=[...], steps=[...])`) names exactly the files
    /// to watch, as the original tool did: watch those instead of the default tree.
    fn apply_watch_override(&mut self) -> Result<(), String> {
        if let Some(files) = self.runner.take_watch_override() {
            self.spec.dirs.clear();
            self.spec.files.extend(files);
            self.watch = Watch::start(self.spec.clone(), self.tx.clone()).map_err(|e| e.to_string())?;
            self.ui.detail(&format!(
                "launch script: watching {} listed files",
                self.watch.file_count()
            ));
        }
        Ok(())
    }

    /// The config file was saved: re-read it and apply it without restarting the interpreter.
    /// On any error, show it and keep the previous config. Returns whether it was applied.
    fn reload_config(&mut self) -> Result<bool, String> {
        let loaded = project::settings(self.cli, &self.project.settings.cwd)
            .and_then(|settings| Ok((project::lookup(&settings)?, settings)))
            .and_then(|(lookup, settings)| project::resolve(self.host, settings, lookup));
        let project = match loaded {
            Ok(p) => p,
            Err(e) => {
                self.ui.warn(&format!("config not applied, keeping the previous one:\n{e}"));
                return Ok(false);
            }
        };
        let spec = settings::watch_spec(&project.settings, project.target.as_ref(), self.stdin_list.clone())?;
        project::configure_reload(self.host, &project, &spec)?;
        self.watch = Watch::start(spec.clone(), self.tx.clone()).map_err(|e| e.to_string())?;
        self.spec = spec;
        self.runner.set_plan(project.label.clone(), project.plan.clone());
        self.project = project;
        self.ui.info("config reloaded");
        Ok(true)
    }

    /// Blocks until a save (or a burst of them) is complete, or until Ctrl-C while idle.
    fn wait(&mut self, py: Python<'_>) -> Result<Wake, WatchError> {
        let mut changed = Vec::new();
        let mut lost = false;
        let rx = self.rx.clone();
        // The first save: block with the interpreter released.
        let first_at = loop {
            let msg = py.detach(|| rx.recv()).map_err(|_| WatchError::Other("the file watcher stopped".into()))?;
            let at = Instant::now();
            if self.take(py, msg, &mut changed, &mut lost)? {
                return Ok(Wake::Interrupted);
            }
            if lost || !changed.is_empty() {
                break at;
            }
        };
        // Whatever is already queued belongs to the same save.
        while let Ok(msg) = rx.try_recv() {
            if self.take(py, msg, &mut changed, &mut lost)? {
                return Ok(Wake::Interrupted);
            }
        }
        // Several files at once is a burst: wait for it to go quiet, then run once.
        if changed.len() > 1 || lost {
            let deadline = first_at + BURST_MAX;
            loop {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                let timeout = BURST_QUIET.min(deadline - now);
                match py.detach(|| rx.recv_timeout(timeout)) {
                    Ok(msg) => {
                        if self.take(py, msg, &mut changed, &mut lost)? {
                            return Ok(Wake::Interrupted);
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(WatchError::Other("the file watcher stopped".into()));
                    }
                }
            }
        }
        Ok(Wake::Changed(changed, first_at))
    }

    /// Folds one message into the pending change set. Returns true on Ctrl-C.
    fn take(&mut self, py: Python<'_>, msg: Msg, changed: &mut Vec<PathBuf>, lost: &mut bool) -> Result<bool, WatchError> {
        match msg {
            Msg::Signal => Ok(sigint_pending(py, self.ui)),
            Msg::Fs(Ok(event)) => {
                if !self.watch.saved_paths(&event, changed)? {
                    *lost = true;
                }
                Ok(false)
            }
            Msg::Fs(Err(err)) => {
                self.ui.warn(&format!("file watcher: {err}"));
                Ok(false)
            }
        }
    }
}

/// Ctrl-C while the host is not running user code: flush the module's output and exit at once
/// with 130 (no interpreter finalisation: a user thread must not be able to hold us up).
pub fn exit_interrupted() -> ! {
    Python::attach(|py| {
        if let Ok(host) = py.import("hotload._host") {
            let _ = host.getattr("flush").and_then(|f| f.call0());
        }
    });
    std::process::exit(i32::from(EXIT_INTERRUPTED))
}

/// Lets Python run its pending signal handlers; true if that raised KeyboardInterrupt.
/// A stale wake-up (the Ctrl-C already interrupted user code) finds nothing pending.
fn sigint_pending(py: Python<'_>, ui: &Ui) -> bool {
    // SAFETY: called on the main thread with the interpreter attached.
    if unsafe { pyo3::ffi::PyErr_CheckSignals() } == 0 {
        return false;
    }
    let err = PyErr::fetch(py);
    if err.is_instance_of::<PyKeyboardInterrupt>(py) {
        return true;
    }
    // A user-installed signal handler raised something else: show it and keep going.
    ui.report("signal handler", &Outcome::Failed(format!("{err}\n")), Duration::ZERO, 0);
    false
}

fn plural(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {noun}s"),
    }
}
