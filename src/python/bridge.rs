//! The one typed boundary to Python: the only place that names the helpers of `hotload._host`
//! and `hotload._repl`. Everything crosses as Rust types: a step's outcome is an enum, timings
//! are durations, a launch script's watch list is paths. A Ctrl-C that lands in host code (not
//! in user code) comes back as `Failure::Interrupted`; what it means is the caller's to decide.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::intern;
use pyo3::prelude::*;

use crate::Failure;
use crate::config::ReloadMode;
use crate::ui::test_status::Scope;
use crate::ui::{Level, Outcome, TestPass};

/// The Python side's reloader (`hotload._host.Host`).
pub struct Bridge<'py> {
    host: Bound<'py, PyAny>,
}

/// What one step of a run did.
#[derive(Debug)]
pub struct StepReport {
    pub outcome: Outcome,
    /// Lines the Python side wants printed (through the printer, so `-q` and colour apply).
    pub notes: Vec<(Level, String)>,
    /// Sub-phases measured inside Python (a dependency's reload), for `-v`.
    pub phases: Vec<(String, Duration)>,
    /// A launch script called `hotload.hotload(watch=...)`: the files it names.
    pub handover: Option<Vec<PathBuf>>,
}

/// The raw tuple a step returns (see `hotload._host`'s docstring).
type RawStep = (
    String,
    Option<String>,
    Vec<(String, String)>,
    Vec<(String, u64)>,
    Option<Vec<PathBuf>>,
);

/// The raw tuple of one pytest pass (see `hotload._pytest`'s docstring).
type RawPass = (String, i32, bool, bool, bool, u64, u64, u64, u64, u64, u64);

impl<'py> Bridge<'py> {
    pub fn new(py: Python<'py>) -> Result<Bridge<'py>, Failure> {
        let host = py
            .import("hotload._host")
            .and_then(|m| m.getattr("Host"))
            .and_then(|cls| cls.call1((wrap_pyfunction!(super::compile::compile_source, py)?,)))
            .map_err(|e| internal(py, "loading the host helpers", e))?;
        Ok(Bridge { host })
    }

    pub fn py(&self) -> Python<'py> {
        self.host.py()
    }

    /// The reload strategy, the directories whose modules count as the project's, and
    /// whether files the module reads are watched.
    pub fn configure(
        &self,
        mode: ReloadMode,
        roots: &[PathBuf],
        data_files: bool,
    ) -> Result<(), Failure> {
        let roots: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        self.call("configure", (mode.name(), roots, data_files))
            .map(drop)
    }

    pub fn set_wakeup_fd(&self, fd: i32) -> Result<(), Failure> {
        self.call("set_wakeup_fd", (fd,)).map(drop)
    }

    /// The target's root first on sys.path, the module's argv, HOTLOAD_RUNNING; the target
    /// (module name and file), run as `__main__` when `as_main`.
    pub fn prepare(
        &self,
        root: &Path,
        argv: &[String],
        target: Option<(&str, &Path)>,
        as_main: bool,
    ) -> Result<(), Failure> {
        let (name, file) = match target {
            Some((name, file)) => (Some(name), Some(file.display().to_string())),
            None => (None, None),
        };
        let args = (
            root.display().to_string(),
            argv.to_vec(),
            name,
            file,
            as_main,
        );
        self.call("prepare", args).map(drop)
    }

    /// Why importing `module` would not load the user's file under `root`.
    pub fn shadowed_by(&self, module: &str, root: &Path) -> Result<Option<String>, Failure> {
        self.check("shadowed_by", (module, root.display().to_string()))
    }

    /// Why `module` or `module:function` cannot be resolved (no user code runs).
    pub fn check_reference(&self, reference: &str, root: &Path) -> Result<Option<String>, Failure> {
        self.check("check_reference", (reference, root.display().to_string()))
    }

    /// The source file of an importable module that is not a file under the project.
    pub fn find_origin(&self, module: &str) -> Result<Option<PathBuf>, Failure> {
        let checks = self.checks()?;
        let origin = checks
            .call_method1("find_origin", (module,))
            .map_err(|e| self.failure("find_origin", e))?;
        self.extract(&origin, "find_origin")
    }

    /// Before a run's first step: the run number and what changed (and which of those files
    /// are gone), for `hotload.info()` and the reload, and the modules the plan reloads and
    /// uses; stale bytecode dropped. Returns notes (a deleted module file).
    pub fn begin_run(
        &self,
        run: u64,
        changed: &[PathBuf],
        deleted: &[PathBuf],
        (reloads, uses): (&[&str], &[&str]),
    ) -> Result<Vec<(Level, String)>, Failure> {
        let strings = |paths: &[PathBuf]| -> Vec<String> {
            paths.iter().map(|p| p.display().to_string()).collect()
        };
        let args = (
            run,
            strings(changed),
            strings(deleted),
            reloads.to_vec(),
            uses.to_vec(),
        );
        let notes = self.call("begin_run", args)?;
        let notes: Vec<(String, String)> = self.extract(&notes, "begin_run")?;
        Ok(notes.into_iter().map(note).collect())
    }

    /// Import `module` the first time, reload it (and what depends on the save) after.
    pub fn reload(&self, module: &str) -> StepReport {
        self.step(intern!(self.py(), "reload"), module)
    }

    /// Call `module:function`.
    pub fn call_function(&self, reference: &str) -> StepReport {
        self.step(intern!(self.py(), "call"), reference)
    }

    /// The `pre` hook: a failure is reported, the run goes on.
    pub fn pre(&self, reference: &str) -> StepReport {
        self.step(intern!(self.py(), "pre"), reference)
    }

    /// `hotload-host test`: imports pytest once; why it cannot run here, if it cannot.
    pub fn check_pytest(&self) -> Result<Option<String>, Failure> {
        let problem = self.call("check_pytest", ())?;
        self.extract(&problem, "check_pytest")
    }

    /// The test step: reload the code modules the save affects, then run pytest with `args`
    /// on the affected tests, and with `all` on everything once they pass. Its outcome is
    /// `Outcome::Tests` unless the reload failed, or Ctrl-C interrupted the tests.
    pub fn run_tests(&self, args: &[String], all: bool) -> StepReport {
        let py = self.py();
        let result = self
            .host
            .call_method1(intern!(py, "test"), (args.to_vec(), all))
            .and_then(|r| r.extract::<(Bound<'py, PyAny>, Vec<RawPass>)>());
        let (step, passes) = match result {
            Ok((step, passes)) => (Ok(step), passes),
            Err(err) => (Err(err), Vec::new()),
        };
        let mut report = self.step_report(step);
        if report.outcome.is_ok() {
            let passes: Vec<TestPass> = passes.into_iter().map(test_pass).collect();
            report.outcome = if passes.iter().any(|p| p.interrupted) {
                Outcome::Interrupted(String::new()) // pytest printed its own summary
            } else {
                Outcome::Tests(passes)
            };
        }
        report
    }

    /// A launch script's own steps, in place of the plan.
    pub fn launch_steps(&self) -> StepReport {
        let py = self.py();
        let result = self.host.call_method0(intern!(py, "launch_steps"));
        self.step_report(result)
    }

    /// After a run's last step: output flushed, the signal wake-up fd taken back. Returns
    /// the files the run read for the first time (data files to watch).
    pub fn end_run(&self) -> Result<Vec<PathBuf>, Failure> {
        let read = self.call("end_run", ())?;
        self.extract(&read, "end_run")
    }

    /// Whether the module's last output ended without a newline (so the host's next line
    /// must start with one).
    pub fn line_open(&self) -> bool {
        self.host
            .call_method0(intern!(self.py(), "line_open"))
            .and_then(|r| r.extract::<bool>())
            .unwrap_or(false)
    }

    /// Flushes the module's stdout and stderr (before the host prints, and at exit).
    pub fn flush(&self) {
        let _ = self.host.py().import("hotload._host").and_then(|m| {
            m.getattr(intern!(self.py(), "flush"))
                .and_then(|f| f.call0())
                .map(drop)
        });
    }

    /// Lets Python run its pending signal handlers and says what they asked for.
    pub fn pending_signal(&self) -> Signal {
        let py = self.py();
        // SAFETY: called on the main thread with the interpreter attached.
        if unsafe { pyo3::ffi::PyErr_CheckSignals() } == 0 {
            return Signal::None;
        }
        let err = PyErr::fetch(py);
        if err.is_instance_of::<PyKeyboardInterrupt>(py) {
            Signal::Interrupt
        } else if let Some(sig) = stopped_by(py, &err) {
            Signal::Stop(sig)
        } else if err.is_instance_of::<PySystemExit>(py) {
            Signal::HandlerFailed(format!("called sys.exit({})", exit_code(py, &err)))
        } else {
            Signal::HandlerFailed(format!("raised {err}"))
        }
    }

    /// The `--repl` console on `module`'s globals.
    pub fn console(&self, module: &str, history: Option<&Path>) -> Result<Console<'py>, Failure> {
        let py = self.py();
        let history = history.map(|h| h.display().to_string());
        let console = py
            .import("hotload._repl")
            .and_then(|m| m.getattr("Console"))
            .and_then(|cls| cls.call1((module, history)))
            .map_err(|e| self.failure("console", e))?;
        Ok(Console { console })
    }

    fn call(
        &self,
        name: &str,
        args: impl pyo3::call::PyCallArgs<'py>,
    ) -> Result<Bound<'py, PyAny>, Failure> {
        self.host
            .call_method1(name, args)
            .map_err(|e| self.failure(name, e))
    }

    fn checks(&self) -> Result<Bound<'py, PyModule>, Failure> {
        self.py()
            .import("hotload._checks")
            .map_err(|e| self.failure("checks", e))
    }

    fn check(
        &self,
        name: &str,
        args: impl pyo3::call::PyCallArgs<'py>,
    ) -> Result<Option<String>, Failure> {
        let result = self
            .checks()?
            .call_method1(name, args)
            .map_err(|e| self.failure(name, e))?;
        self.extract(&result, name)
    }

    fn extract<'a, T: FromPyObject<'a, 'py>>(
        &self,
        obj: &'a Bound<'py, PyAny>,
        what: &str,
    ) -> Result<T, Failure> {
        obj.extract::<T>()
            .map_err(|e| internal(self.py(), what, e.into()))
    }

    fn step(&self, method: &Bound<'py, pyo3::types::PyString>, arg: &str) -> StepReport {
        let result = self.host.call_method1(method, (arg,));
        self.step_report(result)
    }

    fn step_report(&self, result: PyResult<Bound<'py, PyAny>>) -> StepReport {
        let py = self.py();
        let raw = result.and_then(|r| r.extract::<RawStep>());
        match raw {
            Ok((kind, detail, notes, phases, handover)) => StepReport {
                outcome: outcome(&kind, detail),
                notes: notes.into_iter().map(note).collect(),
                phases: phases
                    .into_iter()
                    .map(|(name, ns)| (name, Duration::from_nanos(ns)))
                    .collect(),
                handover,
            },
            // Raised outside the step's own try block (a Ctrl-C landing between two lines).
            Err(err) => StepReport {
                outcome: if err.is_instance_of::<PyKeyboardInterrupt>(py) {
                    Outcome::Interrupted("KeyboardInterrupt\n".into())
                } else if let Some(sig) = stopped_by(py, &err) {
                    Outcome::Stopped(sig)
                } else if err.is_instance_of::<PySystemExit>(py) {
                    Outcome::Exited(exit_code(py, &err))
                } else {
                    Outcome::Failed(format!("internal error in hotload-host: {err}\n"))
                },
                notes: Vec::new(),
                phases: Vec::new(),
                handover: None,
            },
        }
    }

    fn failure(&self, what: &str, err: PyErr) -> Failure {
        internal(self.py(), what, err)
    }
}

/// What pending signals asked for, once Python's handlers ran.
#[derive(Debug, PartialEq, Eq)]
pub enum Signal {
    None,
    /// Ctrl-C.
    Interrupt,
    /// SIGTERM or SIGHUP: end the session.
    Stop(i32),
    /// A handler the module installed raised (what it did, for a warning).
    HandlerFailed(String),
}

/// The console of `--repl`, driven by the session's loop.
pub struct Console<'py> {
    console: Bound<'py, PyAny>,
}

impl Console<'_> {
    /// Stdin is readable. Ok(false): the console ended (exit(), Ctrl-D).
    pub fn feed(&self) -> Result<bool, Failure> {
        let py = self.console.py();
        self.console
            .call_method0(intern!(py, "feed"))
            .and_then(|r| r.extract::<bool>())
            .map_err(|e| internal(py, "console", e))
    }

    /// Ctrl-C while a line is being typed.
    pub fn interrupt(&self) {
        let _ = self.console.call_method0("interrupt");
    }

    pub fn before_output(&self) {
        let _ = self.console.call_method0("before_output");
    }

    pub fn after_output(&self) {
        let _ = self.console.call_method0("after_output");
    }

    pub fn close(&self) {
        let _ = self.console.call_method0("close");
    }
}

/// The one mapping from the Python side's outcome names to `Outcome`.
fn outcome(kind: &str, detail: Option<String>) -> Outcome {
    let detail = detail.unwrap_or_default();
    match kind {
        "ok" => Outcome::Ok,
        "error" => Outcome::Failed(detail),
        "exit" => Outcome::Exited(detail),
        "interrupt" => Outcome::Interrupted(detail),
        "stopped" => match detail.parse() {
            Ok(sig) => Outcome::Stopped(sig),
            Err(_) => Outcome::Failed(format!(
                "internal error in hotload-host: signal {detail:?}\n"
            )),
        },
        other => Outcome::Failed(format!(
            "internal error in hotload-host: unknown outcome {other:?}\n{detail}"
        )),
    }
}

fn test_pass(raw: RawPass) -> TestPass {
    let (
        scope,
        status,
        usage,
        conftest,
        interrupted,
        passed,
        failed,
        errors,
        skipped,
        xfailed,
        xpassed,
    ) = raw;
    TestPass {
        scope: match scope.as_str() {
            "affected" => Scope::Affected,
            "all" => Scope::All,
            _ => Scope::Full,
        },
        status,
        usage,
        conftest,
        interrupted,
        passed,
        failed,
        errors,
        skipped,
        xfailed,
        xpassed,
    }
}

fn note((level, text): (String, String)) -> (Level, String) {
    let level = if level == "warn" {
        Level::Warn
    } else {
        Level::Info
    };
    (level, text)
}

fn exit_code(py: Python<'_>, err: &PyErr) -> String {
    let code = err.value(py).getattr("code").ok();
    match code {
        None => "0".into(),
        Some(c) if c.is_none() => "0".into(),
        Some(c) => c
            .extract::<i64>()
            .map(|n| n.to_string())
            .or_else(|_| c.repr().map(|r| r.to_string()))
            .unwrap_or_else(|_| "?".into()),
    }
}

/// The signal number of the host's own `Stopped` exception (SIGTERM, SIGHUP).
fn stopped_by(py: Python<'_>, err: &PyErr) -> Option<i32> {
    let value = err.value(py);
    let name = value.get_type().qualname().ok()?;
    if name != "Stopped" {
        return None;
    }
    value.getattr("signum").ok()?.extract().ok()
}

fn internal(py: Python<'_>, what: &str, err: PyErr) -> Failure {
    if err.is_instance_of::<PyKeyboardInterrupt>(py) {
        Failure::Interrupted
    } else if let Some(sig) = stopped_by(py, &err) {
        Failure::Stopped(sig)
    } else {
        Failure::Fatal(format!("internal error in hotload-host ({what}): {err}"))
    }
}
