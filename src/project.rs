//! From settings to something runnable: find the config, merge the settings, resolve the
//! target, put its root on sys.path, check every `module:function` the plan names (without
//! running user code), and build the plan. Used at start and again when the config changes.
//! `hotload-host test` has no target: its project is the project directory, its plan runs
//! pytest, and pytest must be importable.

use std::path::{Path, PathBuf};

use crate::Failure;
use crate::config::{Command, Invocation, Settings};
use crate::plan::{self, PlanStep};
use crate::python::bridge::Bridge;
use crate::target::{self, Lookup, Target};

/// What a session runs: the target's plan, or the tests (`hotload-host test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Run,
    Test,
}

impl Kind {
    pub fn of(cli: &Invocation) -> Kind {
        match cli.command {
            Some(Command::Test) => Kind::Test,
            _ => Kind::Run,
        }
    }

    /// Something to run: a target or steps (the tests need neither).
    pub fn require_target(self, settings: &Settings) -> Result<(), String> {
        match self {
            Kind::Run => settings.require_target(),
            Kind::Test => Ok(()),
        }
    }
}

/// The target as the settings name it, resolved on the filesystem (no Python yet).
pub fn lookup(settings: &Settings, kind: Kind) -> Result<Option<Lookup>, String> {
    if kind == Kind::Test {
        return Ok(None);
    }
    let Some(spec) = &settings.target.value else {
        return Ok(None);
    };
    // Settings hold the target joined to the directory it is relative to; resolve from there
    // so that messages show what the user wrote.
    let base = settings.base_dir(&settings.target.origin);
    target::resolve(&settings.shown_path(spec, &settings.target.origin), &base).map(Some)
}

/// A resolved, checked project: what to run and how to call it in status lines.
pub struct Project {
    pub settings: Settings,
    pub target: Option<Target>,
    pub plan: Vec<PlanStep>,
    pub label: String,
    /// What goes first on sys.path: the target's root (or the project directory).
    pub root: PathBuf,
    /// The module's sys.argv.
    pub argv: Vec<String>,
}

/// Resolves the target with Python's help and checks every reference, without changing the
/// interpreter (`Project::activate` does that): a rejected config changes nothing.
pub fn resolve(
    bridge: &Bridge<'_>,
    settings: Settings,
    lookup: Option<Lookup>,
    kind: Kind,
) -> Result<Project, Failure> {
    if kind == Kind::Test {
        return resolve_tests(bridge, settings);
    }
    let target = match lookup {
        Some(l) => Some(locate(bridge, l, &settings.cwd)?),
        None => None,
    };
    let root = match &target {
        Some(t) => t.root.clone(),
        None => settings.project_dir(),
    };
    // Run as __main__ (--main), the file's own name takes no module's place.
    if let Some(t) = &target
        && !settings.main.value
        && let Some(why) = bridge.shadowed_by(&t.module, &t.root)?
    {
        return Err(Failure::Fatal(format!(
            "cannot run {}: {why}.\nRename {} so that its module name is not taken, or run it \
             as the main script with --main.",
            t.argv0,
            t.file.display()
        )));
    }
    let plan = plan::build(&settings, target.as_ref().map(|t| t.module.as_str()));
    check_references(bridge, &settings, &plan, &root)?;
    let argv0 = target.as_ref().map(|t| t.argv0.clone()).unwrap_or_default();
    let argv: Vec<String> = std::iter::once(argv0)
        .chain(settings.args.value.iter().cloned())
        .collect();
    // With an explicit step list the steps are the run, whatever the target is.
    let label = match &target {
        Some(t) if settings.steps.value.is_empty() => t.module.clone(),
        _ => "steps".into(),
    };
    Ok(Project {
        settings,
        target,
        plan,
        label,
        root,
        argv,
    })
}

/// `hotload-host test`: the project directory first on sys.path (as `python -m pytest` puts
/// the current directory), pytest imported once from the project's Python.
fn resolve_tests(bridge: &Bridge<'_>, settings: Settings) -> Result<Project, Failure> {
    if let Some(problem) = bridge.check_pytest()? {
        return Err(Failure::Fatal(problem));
    }
    let plan = plan::build_tests(&settings);
    let argv = std::iter::once("pytest".to_string())
        .chain(settings.test_args.value.iter().cloned())
        .collect();
    Ok(Project {
        root: settings.project_dir(),
        settings,
        target: None,
        plan,
        label: "tests".into(),
        argv,
    })
}

impl Project {
    /// The interpreter sees this project: its root first on sys.path, its argv.
    pub fn activate(&self, bridge: &Bridge<'_>) -> Result<(), Failure> {
        let target = self
            .target
            .as_ref()
            .map(|t| (t.module.as_str(), t.file.as_path()));
        bridge.prepare(&self.root, &self.argv, target, self.settings.main.value)
    }
}

/// Every module and `module:function` the plan names must exist before anything runs.
fn check_references(
    bridge: &Bridge<'_>,
    settings: &Settings,
    plan: &[PlanStep],
    root: &Path,
) -> Result<(), Failure> {
    for step in plan {
        let Some(reference) = step.reference() else {
            continue;
        };
        if let Some(problem) = bridge.check_reference(reference, root)? {
            return Err(Failure::Fatal(settings.where_written(reference, &problem)));
        }
    }
    Ok(())
}

/// A module name that is not a file under the project may still be importable (installed in
/// site-packages): ask Python where it is.
fn locate(bridge: &Bridge<'_>, lookup: Lookup, cwd: &Path) -> Result<Target, Failure> {
    match lookup {
        Lookup::Found(target) => Ok(target),
        Lookup::NotLocal(name) => {
            match bridge.find_origin(&name)? {
                Some(file) => {
                    let mut target = target::from_file(&file).map_err(Failure::Fatal)?;
                    // Importable already: sys.path[0] is the current directory, as with `python -m`.
                    target.module = name;
                    target.root = cwd.to_path_buf();
                    Ok(target)
                }
                None => Err(Failure::Fatal(target::not_found(&name, cwd))),
            }
        }
    }
}
