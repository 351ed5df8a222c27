//! The session: run the target (or, for `hotload-host test`, the tests) now, then wait (one
//! `poll`, the interpreter released) for saves, keys, console input or Ctrl-C, gather the saves
//! that belong together, and run again. The loop, the `--repl` console and `--once` all go
//! through `step`, the save path.

pub mod batch;
pub mod events;
mod nudge;
mod run;
mod watching;

use std::cell::Cell;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::Failure;
use crate::config::{self, Invocation};
use crate::project::{self, Project};
use crate::python::bridge::{Bridge, Console, Signal};
use crate::ui::terminal::{HELP, Key, Keys, STDIN};
use crate::ui::{Outcome, Printer, Status, format_duration, plural};
use crate::watch::Watch;
use crate::watch::spec::StdinList;
use batch::{Batch, Batcher};
use events::Signals;
use run::Steps;

/// Exit status after Ctrl-C while idle, as shells report SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Exit status after SIGTERM / SIGHUP, as shells report a signal: 128 + its number.
pub fn exit_status_for(sig: i32) -> u8 {
    u8::try_from(128 + sig).unwrap_or(255)
}

/// While a watched root is gone, how often to look whether it is back (never otherwise).
const MISSING_CHECK: Duration = Duration::from_millis(500);

pub struct Session<'a, 'py> {
    cli: &'a Invocation,
    bridge: &'a Bridge<'py>,
    ui: &'a Printer,
    project: Project,
    /// The file list on stdin (a pipe or a file), read as it arrives. Until it names a file,
    /// the default tree is watched; from then on, exactly the listed files.
    stdin_list: Option<StdinList>,
    /// The files a launch script handed over (`hotload.hotload(watch=...)`): once set, they
    /// replace the watched tree and its steps replace the plan.
    launch_files: Option<Vec<PathBuf>>,
    /// None with --once (nothing to watch).
    watch: Option<Watch>,
    /// Files the module read (watched too, also after the watcher restarts).
    data_files: Vec<PathBuf>,
    signals: Signals,
    batcher: Batcher,
    /// Single-key commands, when stdin is a terminal (not with --repl).
    keys: Option<Keys>,
    console: Option<Console<'py>>,
    runs: u64,
    /// `p` pressed: saves are collected in `pending` and run once on resume.
    paused: bool,
    pending: Vec<PathBuf>,
    /// The pending batch includes deleted files.
    deletions: bool,
    /// SIGTERM or SIGHUP arrived during a long walk (which then stopped): the exit status.
    stopped_by: Cell<Option<i32>>,
}

/// What the wait loop hands to the session.
enum Wake {
    Run(Batch),
    Exit(u8),
}

impl<'a, 'py> Session<'a, 'py> {
    /// Sets up signals and the watcher (before the first import, so that a save during a slow
    /// first import still counts).
    pub fn start(
        cli: &'a Invocation,
        bridge: &'a Bridge<'py>,
        ui: &'a Printer,
        project: Project,
        mut stdin_list: Option<StdinList>,
    ) -> Result<Session<'a, 'py>, Failure> {
        if let Some(list) = &mut stdin_list {
            // What is there already (a file, or a list written before we started); the rest
            // is read as it arrives: the first run never waits for stdin.
            list.read_ready(|m| ui.warn(m));
        }
        let signals = Signals::new().map_err(|e| format!("cannot set up signal handling: {e}"))?;
        crate::ui::terminal::give_back_on_fatal_signals();
        bridge.set_wakeup_fd(signals.write_fd())?;
        events::forward_stop_signals();
        project.activate(bridge)?;
        let debounce = Duration::from_millis(project.settings.debounce.value);
        let mut session = Session {
            cli,
            bridge,
            ui,
            project,
            stdin_list,
            launch_files: None,
            watch: None,
            data_files: Vec::new(),
            signals,
            batcher: Batcher::new(debounce),
            keys: None,
            console: None,
            runs: 0,
            paused: false,
            pending: Vec::new(),
            deletions: false,
            stopped_by: Cell::new(None),
        };
        if !cli.once {
            session.watch_again()?;
            session.keys = if cli.repl { None } else { Keys::new() };
            if let Some(watch) = &session.watch {
                ui.detail(&format!(
                    "watching {} in {} ({})",
                    plural(watch.file_count(), "file"),
                    plural(watch.dir_count(), "directory"),
                    watch.backend_name()
                ));
            }
        }
        Ok(session)
    }

    /// Runs the target now, then once per save. Returns the exit status.
    pub fn run(mut self) -> Result<u8, Failure> {
        let first = self.step(Vec::new(), None)?;
        if let Outcome::Stopped(sig) = first {
            return Ok(exit_status_for(sig));
        }
        if self.cli.once {
            return Ok(if first.is_ok() { 0 } else { 1 });
        }
        if self.cli.repl {
            let history =
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".hotload_history"));
            self.console = Some(
                self.bridge
                    .console(&self.project.label, history.as_deref())?,
            );
        }
        let code = loop {
            match self.wait()? {
                Wake::Run(batch) => {
                    if let Outcome::Stopped(sig) = self.step(batch.paths, Some(batch.first_at))? {
                        break exit_status_for(sig);
                    }
                }
                Wake::Exit(code) => break code,
            }
        };
        if let Some(console) = &self.console {
            console.close();
        }
        Ok(code)
    }

    /// The save path, top to bottom: a saved config is applied first, then the screen is
    /// cleared, the plan runs, and the status line says how it went.
    fn step(
        &mut self,
        changed: Vec<PathBuf>,
        event_at: Option<Instant>,
    ) -> Result<Outcome, Failure> {
        if let Some(console) = &self.console {
            console.before_output(); // what follows is printed above the prompt
        }
        let config = self
            .project
            .settings
            .config
            .as_ref()
            .map(|c| c.path.clone());
        if config.is_some_and(|c| changed.contains(&c))
            && !self.reload_config()?
            && changed.len() == 1
        {
            // A broken config keeps the old one; nothing else to run.
            if let Some(console) = &self.console {
                console.after_output();
            }
            return Ok(Outcome::Ok);
        }
        self.runs += 1;
        // Whether a saved file is gone is decided here, once: the status line, the notes and
        // the Python side all go by this.
        let deleted: Vec<PathBuf> = changed.iter().filter(|p| !p.exists()).cloned().collect();
        if let Some(keys) = &mut self.keys {
            keys.busy();
        }
        if self.project.settings.clears() && !self.cli.repl {
            // (In the console, clearing would wipe the session the user is typing in.)
            self.ui.clear_screen();
            self.ui.header(&self.header());
        }
        if !changed.is_empty() {
            let names: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
            self.ui.detail(&format!("changed: {}", names.join(", ")));
        }
        let steps = match self.launch_files {
            Some(_) => Steps::Launch,
            None => Steps::Plan(&self.project.plan),
        };
        let dir = self.project.settings.project_dir();
        let report = run::execute(
            self.bridge,
            self.ui,
            steps,
            (&changed, &deleted),
            self.runs,
            &dir,
        );
        self.batcher.ran(Instant::now());
        if self.runs == 1 && report.outcome.refused_arguments() {
            // Bad input (pytest's message is out already): as a bad flag of our own.
            return Err(Failure::Fatal(self.refused()));
        }
        if let Some(keys) = &mut self.keys {
            keys.after_run();
        }
        if self.bridge.line_open() {
            self.ui.end_partial_line();
        }
        for (level, text) in &report.notes {
            self.ui.note(*level, text);
        }
        self.ui.status(&Status {
            label: &self.project.label,
            outcome: &report.outcome,
            elapsed: report.elapsed,
            run: self.runs,
            cause: &cause(&changed, &deleted),
        });
        if self.ui.verbose() {
            let mut parts: Vec<String> = report
                .phases
                .iter()
                .map(|(name, took)| format!("{name} {}", format_duration(*took)))
                .collect();
            if let Some(at) = event_at {
                parts.insert(0, format!("save→done {}", format_duration(at.elapsed())));
            }
            self.ui.detail(&parts.join(", "));
        }
        if !report.data_files.is_empty()
            && let Some(watch) = &mut self.watch
        {
            let added = watch.add_data_files(&report.data_files);
            if !added.is_empty() {
                let names: Vec<String> = added.iter().map(|p| p.display().to_string()).collect();
                self.ui
                    .detail(&format!("watching data files: {}", names.join(", ")));
                self.data_files.extend(added);
            }
        }
        if let Some(files) = report.handover {
            self.launch_files = Some(files);
            self.watch_again()?;
            if let Some(watch) = &self.watch {
                self.ui.detail(&format!(
                    "launch script: watching {} listed files",
                    watch.file_count()
                ));
            }
        }
        if let Some(console) = &self.console {
            console.after_output();
        }
        Ok(report.outcome)
    }

    /// `hotload-host test` whose pytest refused its arguments on the first run.
    fn refused(&self) -> String {
        let args = self.project.argv.get(1..).unwrap_or_default().join(" ");
        if args.is_empty() {
            "pytest did not accept its arguments (its message is above)".into()
        } else {
            format!("pytest did not accept its arguments `{args}` (its message is above)")
        }
    }

    /// The dashboard's first line.
    fn header(&self) -> String {
        let keys = if self.keys.is_some() {
            " · ? for keys"
        } else {
            ""
        };
        let files = self.watch.as_ref().map_or(0, Watch::file_count);
        format!(
            " hotload-host · {} · watching {} · reload: {}{keys} ",
            self.project.label,
            plural(files, "file"),
            self.project.settings.reload.value.name()
        )
    }

    /// The config file was saved: re-read it and apply it without restarting the interpreter.
    /// On any error, show it and keep the previous config. Returns whether it was applied.
    fn reload_config(&mut self) -> Result<bool, Failure> {
        let refused = |ui: &Printer, e: &str| {
            ui.warn(&format!(
                "config not applied, keeping the previous one:\n{e}"
            ));
            Ok(false)
        };
        let kind = project::Kind::of(self.cli);
        let loaded = config::reload(self.cli, &self.project.settings)
            .map_err(String::from)
            .and_then(|settings| kind.require_target(&settings).map(|()| settings))
            .and_then(|settings| Ok((project::lookup(&settings, kind)?, settings)))
            .map_err(Failure::Fatal)
            .and_then(|(lookup, settings)| project::resolve(self.bridge, settings, lookup, kind))
            .and_then(|project| Ok((self.spec_for(&project)?, project)));
        let (spec, project) = match loaded {
            Ok(loaded) => loaded,
            Err(Failure::Fatal(e)) => return refused(self.ui, &e),
            Err(stop) => return Err(stop),
        };
        // Everything is checked: only now does the interpreter see the new project.
        project.activate(self.bridge)?;
        let previous = std::mem::replace(&mut self.project, project);
        if let Err(e) = self.watch_spec(spec) {
            if !matches!(e, Failure::Fatal(_)) {
                return Err(e);
            }
            self.project = previous;
            self.project.activate(self.bridge)?;
            self.watch_again()?;
            return match e {
                Failure::Fatal(e) => refused(self.ui, &e),
                stop => Err(stop),
            };
        }
        self.batcher
            .set_debounce(Duration::from_millis(self.project.settings.debounce.value));
        self.ui.info("config reloaded");
        Ok(true)
    }

    /// Waits until a batch of saves is due, a key asks for something, the console ends, or
    /// Ctrl-C arrives while idle.
    fn wait(&mut self) -> Result<Wake, Failure> {
        loop {
            // A burst is quiet only if nothing is waiting to be read (reading the last events
            // may have taken longer than the quiet period).
            if self
                .batcher
                .due_at()
                .is_some_and(|due| due <= Instant::now())
                && self
                    .watch
                    .as_ref()
                    .is_some_and(|w| events::ready_now(w.fd()))
            {
                self.read_watch()?;
            }
            if let Some(batch) = self.batcher.take_due(Instant::now()) {
                let Some(batch) = self.without_missing(batch)? else {
                    continue;
                };
                if !self.paused {
                    return Ok(Wake::Run(batch));
                }
                let known: HashSet<PathBuf> = self.pending.iter().cloned().collect();
                let fresh = batch.paths.into_iter().filter(|p| !known.contains(p));
                self.pending.extend(fresh);
                self.ui.info(&format!(
                    "paused: {} waiting (p to resume)",
                    plural(self.pending.len(), "saved file")
                ));
                continue;
            }
            let stdin_open = self.console.is_some() || self.keys.as_ref().is_some_and(|k| k.open);
            let list_open = self.stdin_list.as_ref().is_some_and(|l| l.open);
            if let Some(keys) = &mut self.keys {
                keys.idle();
            }
            let watch = self.watch.as_mut().expect("watching outside --once");
            let mut timeout = self
                .batcher
                .due_at()
                .map(|due| due.saturating_duration_since(Instant::now()));
            if watch.has_missing() {
                // Only while a root is gone: look for it now and then.
                timeout = Some(timeout.map_or(MISSING_CHECK, |t| t.min(MISSING_CHECK)));
            }
            let ready = events::wait(
                self.bridge.py(),
                watch.fd(),
                &self.signals,
                (stdin_open || list_open).then_some(STDIN),
                timeout,
            );
            // Signals first: Ctrl-C is answered before a long walk starts.
            if ready.signal {
                match asked(self.bridge, self.ui) {
                    Asked::Nothing => {}
                    Asked::Interrupt => match &self.console {
                        Some(console) => console.interrupt(),
                        None => return Ok(Wake::Exit(EXIT_INTERRUPTED)),
                    },
                    Asked::Stop(sig) => return Ok(Wake::Exit(exit_status_for(sig))),
                }
            }
            if ready.fs {
                self.read_watch()?;
            }
            if self.watch.as_ref().is_some_and(Watch::has_missing) {
                self.look_for_missing()?;
            }
            if ready.stdin || ready.stdin_gone {
                if list_open {
                    self.on_stdin_list()?;
                } else if let Some(wake) = self.on_stdin(ready.stdin_gone)? {
                    return Ok(wake);
                }
            }
        }
    }

    fn on_stdin(&mut self, gone: bool) -> Result<Option<Wake>, Failure> {
        if let Some(console) = &self.console {
            return Ok((!console.feed()?).then_some(Wake::Exit(0)));
        }
        let Some(keys) = &mut self.keys else {
            return Ok(None);
        };
        // Several keys at once: the last one wins (a held key repeats).
        let key = keys.take().last().copied();
        if gone {
            keys.open = false; // the terminal went away: no more keys
        }
        Ok(key.and_then(|key| self.on_key(key)))
    }

    fn on_key(&mut self, key: Key) -> Option<Wake> {
        match key {
            Key::RunNow => Some(Wake::Run(Batch {
                paths: std::mem::take(&mut self.pending),
                lost: false,
                first_at: Instant::now(),
            })),
            Key::Quit => Some(Wake::Exit(0)),
            Key::Help => {
                self.ui.info(HELP);
                None
            }
            Key::Clear => {
                self.ui.clear_screen();
                self.ui.header(&self.header());
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
                (!pending.is_empty()).then(|| {
                    Wake::Run(Batch {
                        paths: pending,
                        lost: false,
                        first_at: Instant::now(),
                    })
                })
            }
        }
    }
}

/// What the signals that arrived while the host was idle ask for.
pub(super) enum Asked {
    Nothing,
    Interrupt,
    Stop(i32),
}

/// Lets Python's signal handlers run and says what they asked for. A handler the module
/// installed that raised something else is reported, and the session goes on.
pub(super) fn asked(bridge: &Bridge<'_>, ui: &Printer) -> Asked {
    match bridge.pending_signal() {
        Signal::None => Asked::Nothing,
        Signal::Interrupt => Asked::Interrupt,
        Signal::Stop(sig) => Asked::Stop(sig),
        Signal::HandlerFailed(what) => {
            ui.warn(&format!(
                "a signal handler of the module {what} while the host was idle; still watching"
            ));
            Asked::Nothing
        }
    }
}

/// The dashboard footer's mention of what triggered a run.
fn cause(changed: &[PathBuf], deleted: &[PathBuf]) -> String {
    let name = |p: &PathBuf| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    match changed {
        [] => String::new(),
        [one] if deleted.contains(one) => format!("after deleting {}", name(one)),
        [one] => format!("after saving {}", name(one)),
        [first, rest @ ..] => format!("after saving {} and {} more", name(first), rest.len()),
    }
}
