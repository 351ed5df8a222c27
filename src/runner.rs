//! One run of the target inside the interpreter: import or reload it, call its entrypoint, and
//! say how it ended. The Python half lives in `python/hotload/_host.py`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::plan::PlanStep;
use crate::ui::Outcome;

pub struct Runner<'py> {
    host: Bound<'py, PyModule>,
    /// What the status line calls the run (the target module, or the config's name for it).
    label: String,
    plan: Vec<PlanStep>,
}

/// What one run did, for the status line and --verbose.
pub struct Report {
    pub outcome: Outcome,
    pub elapsed: Duration,
    /// (phase, nanoseconds) as measured inside Python.
    pub phases: Vec<(String, u64)>,
}

impl<'py> Runner<'py> {
    pub fn new(host: Bound<'py, PyModule>, label: String, plan: Vec<PlanStep>) -> Self {
        Runner { host, label, plan }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Replaces the plan (the config file changed).
    pub fn set_plan(&mut self, label: String, plan: Vec<PlanStep>) {
        self.label = label;
        self.plan = plan;
    }

    pub fn run(&self, changed: &[PathBuf], run_no: u64) -> Report {
        let py = self.host.py();
        let changed: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
        let plan: Vec<(&str, &str)> = self.plan.iter().map(PlanStep::to_python).collect();
        let phases = PyList::empty(py);
        let start = Instant::now();
        let result = self
            .host
            .getattr("run")
            .and_then(|run| run.call1((plan, changed, &phases, run_no)))
            .and_then(|r| r.extract::<(String, Option<String>)>());
        let elapsed = start.elapsed();
        let outcome = match result {
            Ok((kind, detail)) => {
                let detail = detail.unwrap_or_default();
                match kind.as_str() {
                    "ok" => Outcome::Ok,
                    "exit" => Outcome::Exited(detail),
                    "interrupt" => Outcome::Interrupted(detail),
                    _ => Outcome::Failed(detail),
                }
            }
            // Raised outside the helper's try block (a Ctrl-C landing between two lines of it).
            Err(err) if err.is_instance_of::<PyKeyboardInterrupt>(py) => {
                Outcome::Interrupted("KeyboardInterrupt\n".into())
            }
            Err(err) if err.is_instance_of::<PySystemExit>(py) => Outcome::Exited("?".into()),
            Err(err) => Outcome::Failed(format!("internal error in hotload-host: {err}\n")),
        };
        let phases = phases.extract::<Vec<(String, u64)>>().unwrap_or_default();
        Report {
            outcome,
            elapsed,
            phases,
        }
    }

    /// The file list a launch script handed to `hotload.hotload(watch=...)`, once.
    pub fn take_watch_override(&self) -> Option<Vec<PathBuf>> {
        crate::project::call(&self.host, "take_watch_override", ())
            .ok()
            .and_then(|v| v.extract::<Option<Vec<PathBuf>>>().ok())
            .flatten()
    }
}
