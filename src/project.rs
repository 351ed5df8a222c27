//! From settings to something runnable: find the config, merge the settings, resolve the
//! target, put its root on sys.path, check every `module:function` the plan names (without
//! running user code), and build the plan. Used at start and again when the config changes.

use std::path::Path;

use crate::Failure;
use crate::cli::Cli;
use crate::config;
use crate::plan::{self, PlanStep};
use crate::python::bridge::Bridge;
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
    bridge: &Bridge<'_>,
    settings: Settings,
    lookup: Option<Lookup>,
) -> Result<Project, Failure> {
    let target = match lookup {
        Some(l) => Some(locate(bridge, l, &settings.cwd)?),
        None => None,
    };
    let root = match &target {
        Some(t) => t.root.clone(),
        None => settings.project_dir(),
    };
    if let Some(t) = &target
        && let Some(why) = bridge.shadowed_by(&t.module, &t.root)?
    {
        return Err(Failure::Fatal(format!(
            "cannot run {}: {why}.\nRename {} so that its module name is not taken.",
            t.argv0,
            t.file.display()
        )));
    }
    let plan = plan::build(&settings, target.as_ref().map(|t| t.module.as_str()));
    check_references(bridge, &settings, &plan, &root)?;
    // Only now, with everything checked, does the interpreter see the new root and argv: a
    // rejected config changes nothing.
    let argv0 = target.as_ref().map(|t| t.argv0.clone()).unwrap_or_default();
    let argv: Vec<String> = std::iter::once(argv0)
        .chain(settings.args.value.iter().cloned())
        .collect();
    bridge.prepare(&root, &argv)?;
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
            return Err(Failure::Fatal(where_written(settings, reference, &problem)));
        }
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
