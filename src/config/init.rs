//! `hotload-host init`: write a commented starter config. Into pyproject.toml as
//! `[tool.hotload]` when that file exists (appended; nothing existing is touched), else a new
//! hotload.toml. Refuses to overwrite an existing config.

use std::path::Path;

use toml_edit::DocumentMut;

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

pub fn run(cwd: &Path) -> Result<(), String> {
    let (target, module) = guess_target(cwd);
    let own = cwd.join("hotload.toml");
    if own.exists() {
        return Err(format!("{} already exists; edit it instead", own.display()));
    }
    let pyproject = cwd.join("pyproject.toml");
    if pyproject.is_file() {
        let text = std::fs::read_to_string(&pyproject)
            .map_err(|e| format!("{}: {e}", pyproject.display()))?;
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
                "internal error: the starter config would break {}: {e}",
                pyproject.display()
            )
        })?;
        std::fs::write(&pyproject, new).map_err(|e| format!("{}: {e}", pyproject.display()))?;
        println!("added [tool.hotload] to {}", pyproject.display());
    } else {
        std::fs::write(&own, body(&target, &module, "steps"))
            .map_err(|e| format!("{}: {e}", own.display()))?;
        println!("wrote {}", own.display());
    }
    Ok(())
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
