//! From settings to something runnable: find the config, merge the settings, resolve the
//! target, put its root on sys.path, check every `module:function` the plan names (without
//! running user code), and build the plan. Used at start and again when the config changes.

use std::path::{Path, PathBuf};

use pyo3::prelude::*;

use crate::config::Settings;
use crate::plan::{self, PlanStep};
use crate::target::{self, Lookup, Target};

/// The target as the settings name it, resolved on the filesystem (no Python yet).
pub fn lookup(settings: &Settings) -> Result<Option<Lookup>, String> {
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
}

/// Resolves the target with Python's help, prepares sys.path and sys.argv, checks references.
pub fn resolve(
    host: &Bound<'_, PyModule>,
    settings: Settings,
    lookup: Option<Lookup>,
) -> Result<Project, String> {
    let target = match lookup {
        Some(l) => Some(locate(host, l, &settings.cwd)?),
        None => None,
    };
    let root = match &target {
        Some(t) => t.root.clone(),
        None => settings.project_dir(),
    };
    if let Some(t) = &target
        && let Some(why) = call(
            host,
            "shadowed_by",
            (&t.module, t.root.display().to_string()),
        )?
        .extract::<Option<String>>()
        .unwrap_or(None)
    {
        return Err(format!(
            "cannot run {}: {why}.\nRename {} so that its module name is not taken.",
            t.argv0,
            t.file.display()
        ));
    }
    let plan = plan::build(&settings, target.as_ref().map(|t| t.module.as_str()));
    check_references(host, &settings, &plan, &root)?;
    // Only now, with everything checked, does the interpreter see the new root and argv: a
    // rejected config changes nothing.
    let argv0 = target.as_ref().map(|t| t.argv0.clone()).unwrap_or_default();
    let argv: Vec<&str> = std::iter::once(argv0.as_str())
        .chain(settings.args.value.iter().map(String::as_str))
        .collect();
    call(host, "prepare", (root.display().to_string(), argv))?;
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
    })
}

/// Every module and `module:function` the plan names must exist before anything runs.
fn check_references(
    host: &Bound<'_, PyModule>,
    settings: &Settings,
    plan: &[PlanStep],
    root: &Path,
) -> Result<(), String> {
    for step in plan {
        let Some(reference) = step.reference() else {
            continue;
        };
        let Some(problem) = call(
            host,
            "check_reference",
            (reference, root.display().to_string()),
        )?
        .extract::<Option<String>>()
        .unwrap_or(None) else {
            continue;
        };
        return Err(settings.where_written(reference, &problem));
    }
    Ok(())
}

/// A module name that is not a file under the project may still be importable (installed in
/// site-packages): ask Python where it is.
fn locate(host: &Bound<'_, PyModule>, lookup: Lookup, cwd: &Path) -> Result<Target, String> {
    match lookup {
        Lookup::Found(target) => Ok(target),
        Lookup::NotLocal(name) => {
            let origin: Option<PathBuf> = call(host, "find_origin", (&name,))?
                .extract()
                .unwrap_or(None);
            match origin {
                Some(file) => {
                    let mut target = target::from_file(&file)?;
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

/// Tells the Python side the reload strategy and which directories hold project modules.
pub fn configure_reload(
    host: &Bound<'_, PyModule>,
    project: &Project,
    spec: &crate::watch::Spec,
) -> Result<(), String> {
    let mut roots: Vec<String> = spec.dirs.iter().map(|d| d.display().to_string()).collect();
    if let Some(t) = &project.target {
        roots.push(t.root.display().to_string());
    }
    roots.push(project.settings.project_dir().display().to_string());
    call(
        host,
        "configure",
        (project.settings.reload.value.name(), roots),
    )
    .map(|_| ())
}

/// Calls a helper of `hotload._host`. These run between the user's runs, so a Ctrl-C landing
/// in one (Python raises KeyboardInterrupt at its next bytecode) is a Ctrl-C while idle: exit.
pub fn call<'py>(
    host: &Bound<'py, PyModule>,
    name: &str,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> Result<Bound<'py, PyAny>, String> {
    host.getattr(name).and_then(|f| f.call1(args)).map_err(|e| {
        if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(host.py()) {
            crate::session::exit_interrupted();
        }
        format!("internal error in hotload-host ({name}): {e}")
    })
}
