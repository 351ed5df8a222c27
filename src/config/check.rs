//! The rules, each checked once, on the folded settings: whichever source a value came from,
//! the same rule applies and the error points at where the value was written.

use std::path::{Path, PathBuf};

use super::keys::{KEYS, Key, Kind, MAX_MS, Step, Val, index};
use super::text::{check_callable_syntax, is_dotted, is_identifier, quoted, shown};
use super::{Origin, Sourced};

/// `paths`: also check that watched paths exist (not for --print-config).
pub fn validate(folded: &[Sourced<Val>], cwd: &Path, paths: bool) -> Result<(), String> {
    for (key, s) in KEYS.iter().zip(folded) {
        check_value(key, s, cwd, paths)?;
    }
    steps_replace_the_wrapping(folded)?;
    steps_replace_the_target(folded, cwd)
}

const GLOB_CHARS: &[char] = &['*', '?', '['];

/// One `watch` entry, resolved: a glob under an existing directory, or an existing file or
/// directory (canonical paths: the watcher reports those).
#[derive(Debug, Clone)]
pub enum WatchEntry {
    Glob(PathBuf, globset::Glob),
    Dir(PathBuf),
    File(PathBuf),
}

/// Resolves a `watch` entry (an absolute path, or a glob on one). The same function checks
/// entries at load time and builds the watch spec.
pub fn watch_entry(entry: &str) -> Result<WatchEntry, String> {
    if entry.contains(GLOB_CHARS) {
        let base: PathBuf = Path::new(entry)
            .components()
            .take_while(|c| !c.as_os_str().to_string_lossy().contains(GLOB_CHARS))
            .collect();
        globset::Glob::new(entry).map_err(|e| glob_error(&e))?;
        let canonical = std::fs::canonicalize(&base).map_err(|e| io_error(&base, &e))?;
        // Match against canonical paths.
        let pattern = format!(
            "{}{}",
            canonical.display(),
            &entry[base.display().to_string().len()..]
        );
        let glob = globset::Glob::new(&pattern).map_err(|e| glob_error(&e))?;
        return Ok(WatchEntry::Glob(canonical, glob));
    }
    let abs = std::fs::canonicalize(entry).map_err(|e| io_error(Path::new(entry), &e))?;
    Ok(if abs.is_dir() {
        WatchEntry::Dir(abs)
    } else {
        WatchEntry::File(abs)
    })
}

fn glob_error(e: &globset::Error) -> String {
    match e.kind() {
        globset::ErrorKind::UnclosedAlternates => "not a valid glob: a `{` is not closed".into(),
        globset::ErrorKind::UnclosedClass => "not a valid glob: a `[` is not closed".into(),
        kind => format!("not a valid glob: {}", shown(&kind.to_string())),
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> String {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        _ => e.to_string(),
    };
    format!("{}: {what}", shown(&path.display().to_string()))
}

/// What a milliseconds key accepts, for messages from every source.
pub fn ms_expected(key: &Key) -> String {
    match key.kind {
        Kind::Millis { min, on } => {
            let bools = if on.is_some() { ", or true/false" } else { "" };
            format!(
                "`{}` is a number of milliseconds from {min} to {MAX_MS}{bools}",
                key.name
            )
        }
        _ => unreachable!("{} is not in milliseconds", key.name),
    }
}

fn check_value(key: &Key, s: &Sourced<Val>, cwd: &Path, paths: bool) -> Result<(), String> {
    let at = |item: Option<usize>, m: &str| s.origin.error(item, m);
    let base = s.origin.base(cwd);
    // An entry as it was written (folded paths are joined to `base`).
    let written = |p: &str| {
        Path::new(p)
            .strip_prefix(&base)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.to_string())
    };
    match (key.kind, &s.value) {
        (Kind::Watch, Val::List(entries)) => {
            for (i, e) in entries.iter().enumerate() {
                let problem = if paths {
                    watch_entry(e).err()
                } else if e.contains(GLOB_CHARS) {
                    globset::Glob::new(e).err().map(|g| glob_error(&g))
                } else {
                    None
                };
                if let Some(p) = problem {
                    let p = p.replace(&shown(e), &shown(&written(e)));
                    return Err(at(
                        Some(i),
                        &format!("watch entry {}: {p}", quoted(&written(e))),
                    ));
                }
            }
            Ok(())
        }
        (Kind::Ignore, Val::List(globs)) => {
            for (i, g) in globs.iter().enumerate() {
                let mut b = ignore::gitignore::GitignoreBuilder::new(&base);
                if let Err(e) = b.add_line(None, g) {
                    let why = match &e {
                        ignore::Error::Glob { err, .. } => shown(err),
                        other => shown(&other.to_string()),
                    };
                    return Err(at(
                        Some(i),
                        &format!("ignore pattern {} is not a valid glob: {why}", quoted(g)),
                    ));
                }
            }
            Ok(())
        }
        (Kind::Callable, Val::Str(v)) => check_callable_syntax(v).map_err(|m| at(None, &m)),
        (Kind::Function, Val::Str(v)) if !is_identifier(v) => Err(at(
            None,
            &format!(
                "{} is not a valid function name: {} must be a function name, e.g. \"main\"",
                quoted(v),
                key.name
            ),
        )),
        (Kind::Millis { min, .. }, Val::Ms(Some(ms))) if *ms < min || *ms > MAX_MS => {
            Err(at(None, &format!("{}, not {ms}", ms_expected(key))))
        }
        (Kind::Steps, Val::Steps(steps)) => {
            for (i, step) in steps.iter().enumerate() {
                match step {
                    Step::Call(c) => check_callable_syntax(c).map_err(|m| at(Some(i), &m))?,
                    Step::Reload(m) if !is_dotted(m) => {
                        return Err(at(Some(i), &format!("`{}` is not a module name", shown(m))));
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// An explicit step list is the whole run: a TARGET named on the command line or in the
/// environment would not run, so it is refused rather than reported as run.
fn steps_replace_the_target(folded: &[Sourced<Val>], cwd: &Path) -> Result<(), String> {
    let steps = &folded[index("steps")];
    let target = &folded[index("target")];
    let (Val::Steps(list), Val::Str(t), Origin::File(place)) =
        (&steps.value, &target.value, &steps.origin)
    else {
        return Ok(());
    };
    if list.is_empty() || matches!(target.origin, Origin::File(_) | Origin::Default) {
        return Ok(());
    }
    let base = target.origin.base(cwd);
    let written = Path::new(t).strip_prefix(&base).unwrap_or(Path::new(t));
    Err(target.origin.error(
        None,
        &format!(
            "{} would not run: the config {} has an explicit `steps` list, which is the whole run; \
             add a `reload` step for it there, or run without the config (--no-config)",
            quoted(&written.display().to_string()),
            shown(&place.path.display().to_string())
        ),
    ))
}

/// `pre`, `post` and `entrypoint` wrap the target's reload; an explicit step list is the whole
/// run, so they cannot go with it (a `call` step says where).
fn steps_replace_the_wrapping(folded: &[Sourced<Val>]) -> Result<(), String> {
    if matches!(&folded[index("steps")].value, Val::Steps(s) if s.is_empty()) {
        return Ok(());
    }
    for name in ["pre", "post", "entrypoint"] {
        let s = &folded[index(name)];
        if s.value != Val::Unset && s.origin != Origin::Default {
            return Err(s.origin.error(
                None,
                "`pre`/`post`/`entrypoint` wrap the target's reload; with an explicit `steps` list, use `call` steps instead",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::fold::fold;
    use super::super::{At, Layer, Place};
    use super::*;

    fn in_file(line: usize, col: usize) -> Origin {
        Origin::File(Place {
            path: PathBuf::from("/p/hotload.toml"),
            at: At {
                span: 0..0,
                line,
                col,
            },
            items: vec![
                At {
                    span: 0..0,
                    line: 7,
                    col: 10,
                },
                At {
                    span: 0..0,
                    line: 9,
                    col: 8,
                },
            ],
        })
    }

    fn check(layers: &[&Layer]) -> Result<(), String> {
        validate(&fold(layers, Path::new("/cwd")), Path::new("/cwd"), false)
    }

    fn one(key: &str, v: Val, origin: Origin) -> Layer {
        let mut l = Layer::default();
        l.set(key, v, origin);
        l
    }

    #[test]
    fn bounds_are_the_same_from_every_source() {
        for origin in [
            in_file(2, 8),
            Origin::Env("HOTLOAD_POLL"),
            Origin::Cli("--poll"),
        ] {
            for bad in [0, -5, MAX_MS + 1] {
                let e = check(&[&one("poll", Val::Ms(Some(bad)), origin.clone())]).unwrap_err();
                assert!(
                    e.contains("`poll` is a number of milliseconds from 1 to 60000"),
                    "{e}"
                );
                assert!(e.starts_with(&origin.error(None, "")), "{e}");
            }
            check(&[&one("poll", Val::Ms(Some(MAX_MS)), origin.clone())]).unwrap();
        }
        check(&[&one(
            "debounce",
            Val::Ms(Some(0)),
            Origin::Cli("--debounce"),
        )])
        .unwrap();
        let e = check(&[&one(
            "debounce",
            Val::Ms(Some(60_001)),
            Origin::Cli("--debounce"),
        )])
        .unwrap_err();
        assert!(
            e.starts_with("command line --debounce: `debounce` is a number"),
            "{e}"
        );
    }

    #[test]
    fn callables_and_function_names_are_checked_wherever_they_come_from() {
        let e = check(&[&one("post", Val::Str("a.b".into()), in_file(3, 8))]).unwrap_err();
        assert_eq!(
            e,
            "/p/hotload.toml:3:8: `a.b` is not of the form \"module:function\" (e.g. \"app.main:run\")"
        );
        let e = check(&[&one(
            "pre",
            Val::Str("a.b".into()),
            Origin::Env("HOTLOAD_PRE"),
        )])
        .unwrap_err();
        assert!(
            e.starts_with("environment HOTLOAD_PRE: `a.b` is not"),
            "{e}"
        );
        for bad in ["", "1bad", "a:b"] {
            let e = check(&[&one(
                "entrypoint",
                Val::Str(bad.into()),
                Origin::Cli("--entrypoint"),
            )])
            .unwrap_err();
            assert!(
                e.starts_with("command line --entrypoint: ")
                    && e.contains("is not a valid function name"),
                "{e}"
            );
        }
    }

    #[test]
    fn steps_are_checked_at_each_step() {
        let steps = Val::Steps(vec![Step::Reload("lib".into()), Step::Call("lib".into())]);
        let e = check(&[&one("steps", steps, in_file(6, 1))]).unwrap_err();
        assert!(
            e.starts_with("/p/hotload.toml:9:8: `lib` is not of the form"),
            "{e}"
        );
        let steps = Val::Steps(vec![Step::Reload("my-lib".into())]);
        let e = check(&[&one("steps", steps, in_file(6, 1))]).unwrap_err();
        assert!(
            e.starts_with("/p/hotload.toml:7:10: `my-lib` is not a module name"),
            "{e}"
        );
    }

    #[test]
    fn steps_refuse_pre_post_and_entrypoint_from_any_source() {
        let file = one(
            "steps",
            Val::Steps(vec![Step::Reload("lib".into())]),
            in_file(5, 1),
        );
        check(&[&file]).unwrap();
        let cli = one("pre", Val::Str("lib:f".into()), Origin::Cli("--pre"));
        let e = check(&[&file, &cli]).unwrap_err();
        assert!(
            e.starts_with("command line --pre: `pre`/`post`/`entrypoint` wrap"),
            "{e}"
        );
        let env = one(
            "entrypoint",
            Val::Str("main".into()),
            Origin::Env("HOTLOAD_ENTRYPOINT"),
        );
        let e = check(&[&file, &env]).unwrap_err();
        assert!(e.starts_with("environment HOTLOAD_ENTRYPOINT: "), "{e}");
        let mut both = file.clone();
        both.set("post", Val::Str("lib:f".into()), in_file(2, 8));
        let e = check(&[&both]).unwrap_err();
        assert!(e.starts_with("/p/hotload.toml:2:8: `pre`/`post`"), "{e}");
    }
}
