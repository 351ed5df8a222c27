//! The run plan: the ordered steps of one run, built from the settings. Without an explicit
//! `steps` list it is: the `pre` hook, reload the target, the `post` hook, the entrypoint.
//! `hotload-host test` has a plan of one step: run the tests. The session executes it step by
//! step (`session::run`).

use crate::config::{Settings, Step};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanStep {
    /// Clear the terminal (only when stdout is one).
    Clear,
    /// `module:function` called before the reload; skipped on the first run. Its failure
    /// is reported but does not stop the reload.
    Pre(String),
    /// Import the module the first time, reload it after.
    Reload(String),
    /// Call `module:function`; a failure stops the rest of the run.
    Call(String),
    /// Run a shell command; a non-zero status stops the rest of the run.
    Run(String),
    /// `hotload-host test`: reload the code modules the save affects, then run pytest with
    /// `args` on the affected tests (everything on the first run), and with `all` the whole
    /// selection once those pass.
    Test { args: Vec<String>, all: bool },
}

impl PlanStep {
    /// The `module:function` or module this step needs to exist, if any.
    pub fn reference(&self) -> Option<&str> {
        match self {
            PlanStep::Pre(s) | PlanStep::Reload(s) | PlanStep::Call(s) => Some(s),
            PlanStep::Clear | PlanStep::Run(_) | PlanStep::Test { .. } => None,
        }
    }
}

/// The plan of `hotload-host test`.
pub fn build_tests(settings: &Settings) -> Vec<PlanStep> {
    vec![PlanStep::Test {
        args: settings.test_args.value.clone(),
        all: settings.test_all.value,
    }]
}

/// `module` is the target's module name (None when the config only has explicit steps).
/// The implied clear (the `clear` setting) is not a step: the session clears and draws its
/// header before each run. Explicit `clear` steps stay steps.
pub fn build(settings: &Settings, module: Option<&str>) -> Vec<PlanStep> {
    let mut plan = Vec::new();
    let explicit = &settings.steps.value;
    if !explicit.is_empty() {
        plan.extend(explicit.iter().map(|step| match step {
            Step::Clear => PlanStep::Clear,
            Step::Reload(m) => PlanStep::Reload(m.clone()),
            Step::Call(c) => PlanStep::Call(c.clone()),
            Step::Run(r) => PlanStep::Run(r.clone()),
        }));
        return plan;
    }
    let Some(module) = module else { return plan };
    plan.extend(settings.pre.value.clone().map(PlanStep::Pre));
    plan.push(PlanStep::Reload(module.to_string()));
    plan.extend(settings.post.value.clone().map(PlanStep::Call));
    if let Some(entry) = &settings.entrypoint.value {
        plan.push(PlanStep::Call(format!("{module}:{entry}")));
    }
    plan
}
