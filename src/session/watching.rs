//! Keeping the watcher in step with the session: (re)starting it from the project's settings,
//! reading its events into the batcher, roots that go missing and come back, the file list on
//! stdin, and what the watcher has to say. Long walks stop for Ctrl-C (and SIGTERM, SIGHUP).

use std::cell::Cell;
use std::time::Instant;

use super::batch::Batch;
use super::events::Signals;
use super::{Asked, Session, asked};
use crate::Failure;
use crate::project::Project;
use crate::python::bridge::Bridge;
use crate::ui::{Printer, plural};
use crate::watch::backend::FsEvent;
use crate::watch::{Notice, Spec, Watch, WatchError};

impl Session<'_, '_> {
    /// (Re)starts the watcher from the current settings, stdin list and launch files.
    pub(super) fn watch_again(&mut self) -> Result<(), Failure> {
        let spec = self.spec_for(&self.project)?;
        self.watch_spec(spec)
    }

    /// Starts watching `spec` and tells the Python side which directories hold project
    /// modules.
    pub(super) fn watch_spec(&mut self, spec: Spec) -> Result<(), Failure> {
        let mut roots = spec.dirs.clone();
        roots.push(self.project.root.clone());
        roots.push(self.project.settings.project_dir());
        let settings = &self.project.settings;
        self.bridge
            .configure(settings.reload.value, &roots, settings.data_files.value)?;
        if self.cli.once {
            return Ok(());
        }
        let (signals, bridge, ui) = (&self.signals, self.bridge, self.ui);
        let (repl, stopped) = (self.cli.repl, &self.stopped_by);
        let mut stop = || !repl && signal_during_walk(signals, bridge, ui, stopped);
        let failure = |e| watch_failure(e, stopped);
        self.batcher.set_poll_interval(spec.poll);
        let mut new = Watch::start(spec, &mut stop).map_err(failure)?;
        // Saves that the old watcher saw but nobody read yet still count: the new one was
        // already watching when they are read here, so nothing falls between the two.
        if let Some(mut old) = self.watch.take() {
            let (mut paths, mut lost) = (Vec::new(), false);
            for event in old.read_events() {
                lost |= !new
                    .saved_paths(&event, &mut paths, &mut stop)
                    .map_err(failure)?;
            }
            self.batcher.add(Instant::now(), paths, lost);
        }
        new.add_data_files(&self.data_files);
        let notices = new.take_notices();
        self.watch = Some(new);
        self.show_notices(notices);
        Ok(())
    }

    pub(super) fn spec_for(&self, project: &Project) -> Result<Spec, Failure> {
        let mut spec = crate::watch::spec::watch_spec(
            &project.settings,
            project.target.as_ref(),
            self.stdin_list.as_ref().map_or(&[], |l| &l.files),
        )?;
        if let Some(files) = &self.launch_files {
            // A launch script names exactly the files to watch, as the original tool did.
            spec.dirs.clear();
            spec.files.extend(files.iter().cloned());
        }
        Ok(spec)
    }

    /// Reads the watcher's events into the batcher.
    pub(super) fn read_watch(&mut self) -> Result<(), Failure> {
        let Some(watch) = self.watch.as_mut() else {
            return Ok(());
        };
        let (signals, bridge, ui) = (&self.signals, self.bridge, self.ui);
        let (repl, stopped) = (self.cli.repl, &self.stopped_by);
        let mut stop = || !repl && signal_during_walk(signals, bridge, ui, stopped);
        let now = Instant::now();
        let (mut paths, mut lost, mut deleted) = (Vec::new(), false, false);
        for event in watch.read_events() {
            let before = paths.len();
            lost |= !watch
                .saved_paths(&event, &mut paths, &mut stop)
                .map_err(|e| watch_failure(e, stopped))?;
            deleted |= matches!(event, FsEvent::Removed { .. }) && paths.len() > before;
        }
        let notices = watch.take_notices();
        self.batcher.add(now, paths, lost);
        if deleted {
            self.batcher.wait_for_quiet();
            self.deletions = true;
        }
        self.show_notices(notices);
        Ok(())
    }

    /// A watched root is gone: whether it is back (then what is in it counts as saved).
    pub(super) fn look_for_missing(&mut self) -> Result<(), Failure> {
        let Some(watch) = self.watch.as_mut() else {
            return Ok(());
        };
        let (signals, bridge, ui) = (&self.signals, self.bridge, self.ui);
        let (repl, stopped) = (self.cli.repl, &self.stopped_by);
        let mut stop = || !repl && signal_during_walk(signals, bridge, ui, stopped);
        let mut paths = Vec::new();
        watch
            .check_missing(&mut paths, &mut stop)
            .map_err(|e| watch_failure(e, stopped))?;
        let notices = watch.take_notices();
        self.batcher.add(Instant::now(), paths, false);
        self.show_notices(notices);
        Ok(())
    }

    /// A batch without the saves under a root that is gone (none at all when the target's own
    /// root is gone: there is nothing to run until it is back). None: nothing left to run.
    pub(super) fn without_missing(&mut self, mut batch: Batch) -> Result<Option<Batch>, Failure> {
        if std::mem::take(&mut self.deletions) {
            // Files were deleted: maybe with their root.
            let Some(watch) = self.watch.as_mut() else {
                return Ok(Some(batch));
            };
            let (signals, bridge, ui) = (&self.signals, self.bridge, self.ui);
            let (repl, stopped) = (self.cli.repl, &self.stopped_by);
            let mut stop = || !repl && signal_during_walk(signals, bridge, ui, stopped);
            let mut back = Vec::new();
            watch
                .check_roots(&mut back, &mut stop)
                .map_err(|e| watch_failure(e, stopped))?;
            let notices = watch.take_notices();
            batch.paths.extend(back);
            self.show_notices(notices);
        }
        let Some(watch) = self.watch.as_ref().filter(|w| w.has_missing()) else {
            return Ok(Some(batch));
        };
        if watch.is_missing(&self.project.root) {
            return Ok(None);
        }
        batch.paths.retain(|p| !watch.is_missing(p));
        Ok((batch.lost || !batch.paths.is_empty()).then_some(batch))
    }

    /// Prints what the watcher has to say. A directory that came back may have been the
    /// current directory: if that one is gone, the new one takes its place.
    pub(super) fn show_notices(&self, notices: Vec<Notice>) {
        const SKIPPED_SHOWN: usize = 5;
        let mut skipped = 0;
        for notice in &notices {
            match notice {
                Notice::Skipped(text) => {
                    skipped += 1;
                    if skipped <= SKIPPED_SHOWN {
                        self.ui.warn(text);
                    }
                }
                Notice::Gone(text) => self.ui.warn(text),
                Notice::Back(text) => {
                    self.ui.info(text);
                    if std::env::current_dir().is_err() {
                        let _ = std::env::set_current_dir(&self.project.settings.cwd);
                    }
                }
            }
        }
        if skipped > SKIPPED_SHOWN {
            self.ui.warn(&format!(
                "{} more directories cannot be watched: skipped",
                skipped - SKIPPED_SHOWN
            ));
        }
    }

    /// Stdin holds a file list and is readable: the files it names join the watch.
    pub(super) fn on_stdin_list(&mut self) -> Result<(), Failure> {
        let Some(list) = &mut self.stdin_list else {
            return Ok(());
        };
        let had_files = !list.files.is_empty();
        let ui = self.ui;
        let new = list.read(|m| ui.warn(m));
        let (ended, listed) = (!list.open, list.files.len());
        if !new.is_empty() {
            match &mut self.watch {
                // From the first listed file on, exactly the listed files are watched.
                Some(watch) if had_files => {
                    watch
                        .add_files(&new, |_| true)
                        .map_err(|e| watch_failure(e, &self.stopped_by))?;
                    let notices = watch.take_notices();
                    self.show_notices(notices);
                }
                _ => self.watch_again()?,
            }
            self.ui.detail(&format!(
                "stdin: {} listed so far; watching exactly those",
                plural(listed, "file")
            ));
        }
        if ended {
            self.ui.detail(&format!(
                "the file list on stdin ended: {}",
                plural(listed, "file")
            ));
        }
        Ok(())
    }
}

/// Asked during a long walk of new directories: whether Ctrl-C (or SIGTERM, SIGHUP: noted in
/// `stopped`) arrived meanwhile.
fn signal_during_walk(
    signals: &Signals,
    bridge: &Bridge<'_>,
    ui: &Printer,
    stopped: &Cell<Option<i32>>,
) -> bool {
    if !signals.take() {
        return false;
    }
    match asked(bridge, ui) {
        Asked::Nothing => false,
        Asked::Interrupt => true,
        Asked::Stop(sig) => {
            stopped.set(Some(sig));
            true
        }
    }
}

fn watch_failure(e: WatchError, stopped: &Cell<Option<i32>>) -> Failure {
    match (e, stopped.get()) {
        (WatchError::Interrupted, Some(sig)) => Failure::Stopped(sig),
        (WatchError::Interrupted, None) => Failure::Interrupted,
        (other, _) => Failure::Fatal(other.to_string()),
    }
}
