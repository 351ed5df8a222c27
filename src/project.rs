//! From settings to something runnable: find the config, merge the settings, resolve the
//! target, put its root on sys.path, check every `module:function` the plan names (without
//! running user code), and build the plan. Used at start and again when the config changes.

use std::path::{Path, PathBuf};

use pyo3::prelude::*;

use crate::cli::Cli;
use crate::config;
use crate::plan::{self, PlanStep};
use crate::settings::{Origin, Settings};
use crate::target::{self, Lookup, Target};

/// Reads the config file (unless --no-config) and merges it with the environment and flags.
pub fn settings(cli: &Cli, cwd: &Path) -> Result<Settings, String> {
    let path = if cli.no_config {
        None
    } else if let Some(p) = &cli.config {
        Some(cwd.join(p))
    } else if let Some(p) = std::env::var_os("HOTLOAD_CONFIG").filter(|p| !p.is_empty()) {
        Some(cwd.join(p))
    } else {
        config::discover(cwd)
    };
    let file = path.map(|p| config::load(&p)).transpose()?;
    let settings = Settings::merge(cli, file, cwd)?;
    settings.validate()?;
    Ok(settings)
}

/// The target as the settings name it, resolved on the filesystem (no Python yet).
pub fn lookup(settings: &Settings) -> Result<Option<Lookup>, String> {
    let Some(spec) = &settings.target.value else {
        return Ok(None);
    };
    // Settings hold the target joined to the directory it is relative to; resolve from there
    // so that messages show what the user wrote.
    let base = match (&settings.target.origin, &settings.config) {
        (Origin::File(_), Some(c)) => c.dir().to_path_buf(),
        _ => settings.cwd.clone(),
    };
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
    let label = match &target {
        Some(t) => t.module.clone(),
        None => "steps".into(),
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
        return Err(where_written(settings, reference, &problem));
    }
    Ok(())
}

/// Points at the config file position (or the flag) that named `reference`.
fn where_written(settings: &Settings, reference: &str, problem: &str) -> String {
    let is_entrypoint = |e: &str| reference.rsplit_once(':').is_some_and(|(_, f)| f == e);
    let from_flag = [&settings.pre, &settings.post]
        .into_iter()
        .find(|s| s.value.as_deref() == Some(reference))
        .map(|s| s.origin.clone())
        .or_else(|| {
            let e = &settings.entrypoint;
            e.value
                .as_deref()
                .filter(|v| is_entrypoint(v))
                .map(|_| e.origin.clone())
        });
    if let Some(origin @ (Origin::Cli(_) | Origin::Env(_))) = from_flag {
        return format!("{origin}: {problem}");
    }
    if let Some(file) = &settings.config {
        let v = &file.values;
        let spans = [v.pre.as_ref(), v.post.as_ref()]
            .into_iter()
            .flatten()
            .filter(|s| s.value == reference)
            .chain(v.entrypoint.as_ref().filter(|e| is_entrypoint(&e.value)))
            .map(|s| s.span.clone())
            .chain(
                v.steps
                    .iter()
                    .flatten()
                    .filter(|s| step_names(&s.value, reference))
                    .map(|s| s.span.clone()),
            );
        if let Some(span) = spans.into_iter().next() {
            return file.error_at(&span, problem);
        }
    }
    format!("{reference}: {problem}")
}

fn step_names(step: &config::Step, reference: &str) -> bool {
    matches!(step, config::Step::Reload(r) | config::Step::Call(r) if r == reference)
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
