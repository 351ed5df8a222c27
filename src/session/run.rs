//! One run of the plan: each step in order, through the bridge for Python (reload, call, pre,
//! the tests) and here for shell commands and clearing. A failing step stops the rest of the run, except
//! the `pre` hook (teardown trouble should not keep new code out).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Failure;
use crate::plan::PlanStep;
use crate::python::bridge::{Bridge, Signal, StepReport};
use crate::ui::{Level, Outcome, Printer};

/// What one run did, for the status line and `-v`.
pub struct RunReport {
    pub outcome: Outcome,
    pub notes: Vec<(Level, String)>,
    pub phases: Vec<(String, Duration)>,
    /// A launch script handed over its watch list during this run.
    pub handover: Option<Vec<PathBuf>>,
    /// Files the run read for the first time (to watch).
    pub data_files: Vec<PathBuf>,
    pub elapsed: Duration,
}

/// What a run executes: the plan, or (after a launch script handed over) its own steps.
pub enum Steps<'a> {
    Plan(&'a [PlanStep]),
    Launch,
}

pub fn execute(
    bridge: &Bridge<'_>,
    ui: &Printer,
    steps: Steps<'_>,
    (changed, deleted): (&[PathBuf], &[PathBuf]),
    run: u64,
    command_dir: &Path,
) -> RunReport {
    let mut report = RunReport {
        outcome: Outcome::Ok,
        notes: Vec::new(),
        phases: Vec::new(),
        handover: None,
        data_files: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let plan = match steps {
        Steps::Plan(plan) => plan,
        Steps::Launch => &[],
    };
    let reloads: Vec<&str> = plan
        .iter()
        .filter_map(|s| match s {
            PlanStep::Reload(m) => Some(m.as_str()),
            _ => None,
        })
        .collect();
    let uses: Vec<&str> = plan
        .iter()
        .filter_map(PlanStep::reference)
        .map(|r| r.split_once(':').map_or(r, |(m, _)| m))
        .collect();
    // A Ctrl-C handled just before user code blocks still interrupts it.
    let _nudging = super::nudge::UserCodeRuns::start();
    match bridge.begin_run(run, changed, deleted, (&reloads, &uses)) {
        Ok(notes) => report.notes.extend(notes),
        Err(failure) => {
            report.outcome = failure_outcome(failure);
            return report;
        }
    }
    // The run's time is its steps' time: the host's bookkeeping of a long change list is not
    // the module's.
    let start = Instant::now();
    if matches!(steps, Steps::Launch) {
        report.absorb("steps", Instant::now(), bridge.launch_steps());
    }
    for step in plan {
        let t0 = Instant::now();
        let (name, step_report) = match step {
            PlanStep::Clear => {
                ui.clear_screen();
                continue;
            }
            PlanStep::Pre(_) if run == 1 => continue,
            PlanStep::Pre(r) => (format!("pre {r}"), bridge.pre(r)),
            PlanStep::Reload(m) => (String::new(), bridge.reload(m)),
            PlanStep::Call(r) => (format!("call {r}"), bridge.call_function(r)),
            PlanStep::Run(cmd) => {
                bridge.flush();
                (format!("run {cmd}"), run_command(bridge, cmd, command_dir))
            }
            PlanStep::Test { args, all } => (String::new(), bridge.run_tests(args, *all)),
        };
        let handed_over = step_report.handover.is_some();
        let stops = report.absorb(&name, t0, step_report);
        if handed_over {
            // The launch script's steps replace the plan, from this run on.
            report.absorb("steps", Instant::now(), bridge.launch_steps());
            break;
        }
        if stops && !matches!(step, PlanStep::Pre(_)) {
            break;
        }
    }
    report.elapsed = start.elapsed();
    match bridge.end_run() {
        Ok(read) => report.data_files = read,
        Err(failure) => report.outcome = failure_outcome(failure),
    }
    report
}

impl RunReport {
    /// Folds one step's report in; true if the step failed (the run stops after it).
    fn absorb(&mut self, name: &str, started: Instant, step: StepReport) -> bool {
        self.notes.extend(step.notes);
        self.phases.extend(step.phases);
        if !name.is_empty() {
            self.phases.push((name.to_string(), started.elapsed()));
        }
        if step.handover.is_some() {
            self.handover = step.handover;
        }
        match (&mut self.outcome, step.outcome) {
            (_, Outcome::Ok) => false,
            // Errors add up (a failed pre hook, then the reload's own error).
            (Outcome::Failed(text), Outcome::Failed(more)) => {
                text.push_str(&more);
                true
            }
            (Outcome::Failed(_), other @ (Outcome::Exited(_) | Outcome::Interrupted(_)))
            | (Outcome::Ok, other) => {
                self.outcome = other;
                true
            }
            (_, _) => true,
        }
    }
}

/// A `run` step: a shell command in the config file's directory; a non-zero status fails it.
fn run_command(bridge: &Bridge<'_>, cmd: &str, dir: &Path) -> StepReport {
    let status = bridge.py().detach(|| {
        std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir)
            .status()
    });
    let outcome = match status {
        // Ctrl-C (or SIGTERM) reaches the command and the host alike: it ended the run.
        _ if let Some(outcome) = signal_outcome(bridge.pending_signal(), cmd) => outcome,
        Ok(s) if s.success() => Outcome::Ok,
        Ok(s) => Outcome::Failed(format!("command `{cmd}` {}\n", describe_status(s))),
        Err(e) => Outcome::Failed(format!("command `{cmd}` could not start: {e}\n")),
    };
    StepReport {
        outcome,
        notes: Vec::new(),
        phases: Vec::new(),
        handover: None,
    }
}

fn signal_outcome(signal: Signal, cmd: &str) -> Option<Outcome> {
    match signal {
        Signal::Interrupt => Some(Outcome::Interrupted(format!(
            "command `{cmd}` interrupted (KeyboardInterrupt)\n"
        ))),
        Signal::Stop(sig) => Some(Outcome::Stopped(sig)),
        Signal::None | Signal::HandlerFailed(_) => None,
    }
}

fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by {}", crate::ui::signal_name(sig)),
        _ => format!("ended: {status}"),
    }
}

fn failure_outcome(failure: Failure) -> Outcome {
    match failure {
        Failure::Interrupted => Outcome::Interrupted("KeyboardInterrupt\n".into()),
        Failure::Fatal(text) => Outcome::Failed(format!("{text}\n")),
        Failure::Stopped(sig) => Outcome::Stopped(sig),
    }
}
