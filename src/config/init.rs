//! `hotload-host init`: write a commented starter config. Into pyproject.toml as
//! `[tool.hotload]` when that file exists (appended; nothing existing is touched), else a new
//! hotload.toml. Refuses to overwrite an existing config. Writes are atomic: a full disk or a
//! crash never leaves a truncated file.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Value};

const BODY: &str = r#"# What to import once and reload on every save: a module name or a path.
target = "TARGET"

# Files, directories or globs to watch (default: the target's directory, .py files).
# Non-.py files named here trigger reloads too.
# watch = ["src", "conf/*.yaml"]
# ignore = ["data/**"]          # gitignore-style globs
# ext = ["py"]                  # extensions that count inside watched directories

# clear = true                  # clear the terminal before each run (default: when it is one)
# Called before each reload (close sockets, stop threads), and after each successful (re)load:
# pre = "TARGET_MODULE:teardown"
# post = "TARGET_MODULE:main"
# poll = 200                    # poll every 200 ms instead of OS events (network mounts)

# An explicit list of steps replaces "pre, reload target, post":
# [[STEPS]]
# reload = "TARGET_MODULE"
# [[STEPS]]
# run = "pytest -q tests/unit"  # a shell command; a failure stops the rest of the run
"#;

/// Writes the starter; returns what to tell the user.
pub fn run(cwd: &Path) -> Result<String, String> {
    let (target, module) = guess_target(cwd);
    let own = cwd.join("hotload.toml");
    if own.exists() {
        return Err(format!("{} already exists; edit it instead", own.display()));
    }
    let pyproject = cwd.join("pyproject.toml");
    if !pyproject.is_file() {
        write_new(&own, &body(&target, &module, "steps"))?;
        return Ok(format!("wrote {}\n", own.display()));
    }
    let text =
        std::fs::read_to_string(&pyproject).map_err(|e| format!("{}: {e}", pyproject.display()))?;
    let doc: DocumentMut = text.parse().map_err(|e| {
        format!(
            "{} is not valid TOML, not touching it: {e}",
            pyproject.display()
        )
    })?;
    if doc.get("tool").and_then(|t| t.get("hotload")).is_some() {
        return Err(format!(
            "{} already has a [tool.hotload] table; edit it instead",
            pyproject.display()
        ));
    }
    let instead =
        "or write the settings to a hotload.toml next to it (it wins over pyproject.toml)";
    match doc.get("tool") {
        None | Some(Item::Table(_)) => {}
        Some(Item::Value(Value::InlineTable(_))) => {
            return Err(format!(
                "{} defines `tool` as an inline table (`tool = {{ ... }}`), which TOML does not \
                 let a [tool.hotload] table extend: not touching it. Turn it into [tool.NAME] \
                 tables first, {instead}",
                pyproject.display()
            ));
        }
        Some(_) => {
            return Err(format!(
                "{}: `tool` is not a table, so [tool.hotload] cannot be added: not touching it; \
                 fix it first, {instead}",
                pyproject.display()
            ));
        }
    }
    let mut new = text.clone();
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    if !new.is_empty() {
        new.push('\n');
    }
    new.push_str("[tool.hotload]\n");
    new.push_str(&body(&target, &module, "tool.hotload.steps"));
    // The result must still be valid TOML with the same content plus our table.
    new.parse::<DocumentMut>().map_err(|e| {
        format!(
            "adding [tool.hotload] would make {} invalid TOML ({}): not touching it; {instead}",
            pyproject.display(),
            e.message()
        )
    })?;
    replace(&pyproject, &new)?;
    Ok(format!("added [tool.hotload] to {}\n", pyproject.display()))
}

/// Writes `content` to a temporary file in `dir`, durably; returns its path. Removed again on
/// failure.
fn write_temp(
    dir: &Path,
    name: &str,
    content: &str,
    mode: Option<u32>,
) -> std::io::Result<PathBuf> {
    let tmp = dir.join(format!(".{name}.hotload-init.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode.unwrap_or(0o666))
            .open(&tmp)?;
        if let Some(m) = mode {
            f.set_permissions(std::fs::Permissions::from_mode(m))?;
        }
        f.write_all(content.as_bytes())?;
        f.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Replaces an existing file atomically (temp file in the same directory, then rename), with
/// its mode and, where allowed, its owner: a full disk or a crash leaves it as it was. A
/// symlink is followed, so the file it points to is replaced, not the link.
fn replace(path: &Path, content: &str) -> Result<(), String> {
    let real = std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = std::fs::metadata(&real).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = real.parent().unwrap_or(Path::new("/"));
    let name = real.file_name().unwrap_or_default().to_string_lossy();
    let failed =
        |e: std::io::Error| format!("cannot write {}: {e}; it was not changed", path.display());
    let tmp = write_temp(dir, &name, content, Some(meta.mode() & 0o7777)).map_err(failed)?;
    // Best effort: keep the owner when we may (as root); otherwise the file becomes ours.
    let _ = std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid()));
    if let Err(e) = std::fs::rename(&tmp, &real) {
        let _ = std::fs::remove_file(&tmp);
        return Err(failed(e));
    }
    sync_dir(dir);
    Ok(())
}

/// Creates a file that must not exist yet, whole or not at all.
fn write_new(path: &Path, content: &str) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let failed = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let tmp = write_temp(dir, &name, content, None).map_err(failed)?;
    // A hard link never replaces a file created meanwhile (rename would).
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(dir);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(format!(
            "{} already exists; edit it instead",
            path.display()
        )),
        Err(e) => Err(failed(e)),
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn body(target: &str, module: &str, steps: &str) -> String {
    BODY.replace("TARGET_MODULE", module)
        .replace("TARGET", target)
        .replace("STEPS", steps)
}

/// The likeliest entry file in the directory, for the starter's `target`.
fn guess_target(cwd: &Path) -> (String, String) {
    for name in ["main", "app", "lib", "run", "server"] {
        if cwd.join(format!("{name}.py")).is_file() {
            return (format!("{name}.py"), name.to_string());
        }
    }
    ("lib.py".into(), "lib".into())
}
