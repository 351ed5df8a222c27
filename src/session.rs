//! The watch loop: wait (detached from the interpreter) for a save or a signal, gather the
//! saves that belong together, run the target, report, repeat. Ctrl-C while idle ends it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;

use crate::config::{self, Invocation};
use crate::events::Msg;
use crate::project::{self, Project};
use crate::runner::{Report, Runner};
use crate::terminal::{self, HELP, Key, Keys};
use crate::ui::{Outcome, Ui, format_duration};
use crate::watch::{Spec, Watch, WatchError};

/// How long a burst (a checkout, a formatter) must be quiet before its run.
const BURST_QUIET: Duration = Duration::from_millis(50);
/// A save arriving this soon after the previous run ended continues a burst, not a new edit
/// (no person saves again within 10 ms of seeing a result; a checkout or formatter does).
const BURST_GAP: Duration = Duration::from_millis(10);
/// A burst that never goes quiet still runs after this long.
const BURST_MAX: Duration = Duration::from_secs(2);

/// Exit status after Ctrl-C while idle, as shells report SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;

pub struct Session<'a, 'py> {
    pub cli: &'a Invocation,
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
    /// Single-key commands, when stdin is a terminal.
    pub keys: Option<Keys>,
    /// `p` pressed: saves are collected in `pending` and run once on resume.
    pub paused: bool,
    pub pending: Vec<PathBuf>,
    /// When the last run ended (to tell a burst's later files from a new save).
    pub last_run_end: Option<Instant>,
    /// --debounce: wait this long without events before every run (0: run at once).
    pub debounce: Duration,
}

enum Wake {
    /// Saved files (empty when events were lost, or on `r`: run regardless).
    Changed(Vec<PathBuf>, Instant),
    Interrupted,
    Quit,
}

/// What one message asks of the wait loop besides collecting saves.
enum Control {
    Interrupted,
    Key(Key),
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
        if self.cli.repl {
            let host = self.host.clone();
            let module = self.runner.label().to_string();
            crate::repl::run(&mut self, &host, &module)?;
            terminal::restore();
            let _ = project::call(&host, "flush", ());
            std::process::exit(0);
        }
        loop {
            match self.wait(py).map_err(|e| e.to_string())? {
                Wake::Changed(paths, at) => {
                    let config = self
                        .project
                        .settings
                        .config
                        .as_ref()
                        .map(|c| c.path.clone());
                    if config.is_some_and(|c| paths.contains(&c)) && !self.reload_config()? {
                        // A broken config keeps the old one; other saves in the batch still run.
                        if paths.len() == 1 {
                            continue;
                        }
                    }
                    self.run_once(&paths, Some(at));
                }
                Wake::Interrupted => exit_interrupted(),
                Wake::Quit => {
                    terminal::restore();
                    std::process::exit(0);
                }
            }
        }
    }

    /// One run: clear, import/reload, report.
    pub fn run_once(&mut self, changed: &[PathBuf], event_at: Option<Instant>) -> Report {
        self.runs += 1;
        if let Some(keys) = &mut self.keys {
            keys.busy();
        }
        // In the console, clearing would wipe the session the user is typing in.
        if self.project.settings.clears() && !self.cli.repl {
            self.ui.clear_with_header(&self.header());
        }
        if self.ui.verbose() && !changed.is_empty() {
            let names: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
            self.ui.detail(&format!("changed: {}", names.join(", ")));
        }
        let report = self.runner.run(changed, self.runs);
        self.last_run_end = Some(Instant::now());
        if let Some(keys) = &mut self.keys {
            keys.after_run();
        }
        self.ui.report_after(
            self.runner.label(),
            &report.outcome,
            report.elapsed,
            self.runs,
            &cause(changed),
        );
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

    /// For the console's input hook: the saves that arrived since the last look, without
    /// waiting (Ctrl-C belongs to the console there). None when there is nothing to run.
    pub fn take_saves_now(&mut self, py: Python<'_>) -> Option<Vec<PathBuf>> {
        let mut changed = Vec::new();
        let mut lost = false;
        while let Ok(msg) = self.rx.try_recv() {
            if let Msg::Fs(Ok(event)) = msg
                && matches!(self.watch.saved_paths(&event, &mut changed), Ok(false))
            {
                lost = true;
            }
        }
        let _ = py;
        let config = self
            .project
            .settings
            .config
            .as_ref()
            .map(|c| c.path.clone());
        if config.is_some_and(|c| changed.contains(&c))
            && !self.reload_config().unwrap_or(false)
            && changed.len() == 1
        {
            return None;
        }
        (lost || !changed.is_empty()).then_some(changed)
    }

    /// The dashboard's first line.
    fn header(&self) -> String {
        let keys = if self.keys.is_some() {
            " · ? for keys"
        } else {
            ""
        };
        format!(
            " hotload-host · {} · watching {} · reload: {}{keys} ",
            self.runner.label(),
            plural(self.watch.file_count(), "file"),
            self.project.settings.reload.value.name()
        )
    }

    /// A launch script (`hotload.hotload(watch=[...], steps=[...])`) names exactly the files
    /// to watch, as the original tool did: watch those instead of the default tree.
    fn apply_watch_override(&mut self) -> Result<(), String> {
        if let Some(files) = self.runner.take_watch_override() {
            self.spec.dirs.clear();
            self.spec.files.extend(files);
            self.watch =
                Watch::start(self.spec.clone(), self.tx.clone()).map_err(|e| e.to_string())?;
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
        let loaded = config::reload(self.cli, &self.project.settings)
            .map_err(String::from)
            .and_then(|settings| settings.require_target().map(|()| settings))
            .and_then(|settings| Ok((project::lookup(&settings)?, settings)))
            .and_then(|(lookup, settings)| project::resolve(self.host, settings, lookup));
        let project = match loaded {
            Ok(p) => p,
            Err(e) => {
                self.ui.warn(&format!(
                    "config not applied, keeping the previous one:\n{e}"
                ));
                return Ok(false);
            }
        };
        let spec = match crate::watch::spec::watch_spec(
            &project.settings,
            project.target.as_ref(),
            self.stdin_list.clone(),
        ) {
            Ok(spec) => spec,
            Err(e) => {
                self.ui.warn(&format!(
                    "config not applied, keeping the previous one:\n{e}"
                ));
                return Ok(false);
            }
        };
        project::configure_reload(self.host, &project, &spec)?;
        self.watch = Watch::start(spec.clone(), self.tx.clone()).map_err(|e| e.to_string())?;
        self.spec = spec;
        self.runner
            .set_plan(project.label.clone(), project.plan.clone());
        self.debounce = Duration::from_millis(project.settings.debounce.value);
        self.project = project;
        self.ui.info("config reloaded");
        Ok(true)
    }

    /// Blocks until a save (or a burst of them) is complete, a key asks for a run, or Ctrl-C
    /// arrives while idle.
    fn wait(&mut self, py: Python<'_>) -> Result<Wake, WatchError> {
        loop {
            let (mut changed, at) = match self.wait_for_saves(py)? {
                Ok(batch) => batch,
                Err(Control::Interrupted) => return Ok(Wake::Interrupted),
                Err(Control::Key(key)) => match self.on_key(key) {
                    Some(wake) => return Ok(wake),
                    None => continue,
                },
            };
            if self.paused {
                for p in changed.drain(..) {
                    if !self.pending.contains(&p) {
                        self.pending.push(p);
                    }
                }
                self.ui.info(&format!(
                    "paused: {} waiting (p to resume)",
                    plural(self.pending.len(), "saved file")
                ));
                continue;
            }
            return Ok(Wake::Changed(changed, at));
        }
    }

    fn on_key(&mut self, key: Key) -> Option<Wake> {
        match key {
            Key::RunNow => Some(Wake::Changed(
                std::mem::take(&mut self.pending),
                Instant::now(),
            )),
            Key::Quit => Some(Wake::Quit),
            Key::Help => {
                self.ui.info(HELP);
                None
            }
            Key::Clear => {
                self.ui.clear_with_header(&self.header());
                None
            }
            Key::TogglePause => {
                self.paused = !self.paused;
                if self.paused {
                    self.ui
                        .info("paused: saves are collected and run once on resume (p)");
                    return None;
                }
                self.ui.info("resumed");
                let pending = std::mem::take(&mut self.pending);
                (!pending.is_empty()).then(|| Wake::Changed(pending, Instant::now()))
            }
        }
    }

    /// The saves of one batch; or what interrupted the wait.
    #[allow(clippy::type_complexity)]
    fn wait_for_saves(
        &mut self,
        py: Python<'_>,
    ) -> Result<Result<(Vec<PathBuf>, Instant), Control>, WatchError> {
        let mut changed = Vec::new();
        let mut lost = false;
        let rx = self.rx.clone();
        if let Some(keys) = &mut self.keys {
            keys.idle();
        }
        // The first save: block with the interpreter released.
        let first_at = loop {
            let msg = py
                .detach(|| rx.recv())
                .map_err(|_| WatchError::Other("the file watcher stopped".into()))?;
            let at = Instant::now();
            if let Some(control) = self.take(py, msg, &mut changed, &mut lost)? {
                return Ok(Err(control));
            }
            if lost || !changed.is_empty() {
                break at;
            }
            if let Some(keys) = &mut self.keys {
                keys.idle();
            }
        };
        // Whatever is already queued belongs to the same save.
        while let Ok(msg) = rx.try_recv() {
            if let Some(control) = self.take(py, msg, &mut changed, &mut lost)? {
                return Ok(Err(control));
            }
        }
        // A lone save runs at once. Several files at once, or a save hard on the heels of the
        // last run, is a burst: wait until it has been quiet, then run once for all of it.
        let continues_burst = self
            .last_run_end
            .is_some_and(|end| first_at.saturating_duration_since(end) < BURST_GAP);
        if changed.len() > 1 || lost || continues_burst || !self.debounce.is_zero() {
            let quiet = if self.debounce.is_zero() {
                BURST_QUIET
            } else {
                self.debounce
            };
            let deadline = first_at + BURST_MAX.max(quiet * 4);
            loop {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                let timeout = quiet.min(deadline - now);
                match py.detach(|| rx.recv_timeout(timeout)) {
                    Ok(msg) => {
                        if let Some(control) = self.take(py, msg, &mut changed, &mut lost)? {
                            return Ok(Err(control));
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(WatchError::Other("the file watcher stopped".into()));
                    }
                }
            }
        }
        Ok(Ok((changed, first_at)))
    }

    /// Folds one message into the pending change set, or says what else it asks for.
    fn take(
        &mut self,
        py: Python<'_>,
        msg: Msg,
        changed: &mut Vec<PathBuf>,
        lost: &mut bool,
    ) -> Result<Option<Control>, WatchError> {
        match msg {
            Msg::Signal => Ok(sigint_pending(py, self.ui).then_some(Control::Interrupted)),
            Msg::Stdin => {
                let keys = self.keys.as_mut().map(Keys::take).unwrap_or_default();
                // Several keys at once: the last one wins (a held key repeats).
                Ok(keys.last().copied().map(Control::Key))
            }
            Msg::Fs(Ok(event)) => {
                if !self.watch.saved_paths(&event, changed)? {
                    *lost = true;
                }
                Ok(None)
            }
            Msg::Fs(Err(err)) => {
                self.ui.warn(&format!("file watcher: {err}"));
                Ok(None)
            }
        }
    }
}

/// The dashboard footer's mention of what triggered a run.
fn cause(changed: &[PathBuf]) -> String {
    let name = |p: &PathBuf| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    match changed {
        [] => String::new(),
        [one] if !one.exists() => format!("after deleting {}", name(one)),
        [one] => format!("after saving {}", name(one)),
        [first, rest @ ..] => format!("after saving {} and {} more", name(first), rest.len()),
    }
}

/// Ctrl-C while the host is not running user code: flush the module's output and exit at once
/// with 130 (no interpreter finalisation: a user thread must not be able to hold us up).
pub fn exit_interrupted() -> ! {
    terminal::restore();
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
    ui.report(
        "signal handler",
        &Outcome::Failed(format!("{err}\n")),
        Duration::ZERO,
        0,
    );
    false
}

fn plural(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {noun}s"),
    }
}
