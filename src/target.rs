//! Resolving TARGET (a module name or a path) to an importable module name, the directory that
//! goes at `sys.path[0]`, and the module's source file. Pure filesystem logic, no Python.

use std::path::{Path, PathBuf};

/// A module the host can import by name once `root` is on `sys.path`.
#[derive(Debug, Clone)]
pub struct Target {
    /// Importable dotted name (`lib`, `pkg.sub`).
    pub module: String,
    /// Directory inserted at `sys.path[0]`; also the default watch root.
    pub root: PathBuf,
    /// The module's source file (absolute).
    pub file: PathBuf,
    /// What the module sees as `sys.argv[0]`.
    pub argv0: String,
}

/// Where a module name given on the command line may live.
#[derive(Debug)]
pub enum Lookup {
    Found(Target),
    /// A valid module name that is not a file under the current directory: ask Python.
    NotLocal(String),
}

pub fn resolve(spec: &str, cwd: &Path) -> Result<Lookup, String> {
    if spec.is_empty() {
        return Err("the target is empty: give a module name or a path to a .py file".into());
    }
    let path_like = spec.ends_with(".py") || spec.contains('/') || spec.contains('\\');
    let as_path = cwd.join(spec);
    if path_like || as_path.exists() {
        return resolve_path(spec, &as_path).map(Lookup::Found);
    }
    if !is_dotted_name(spec) {
        return Err(format!(
            "'{spec}' is neither a file nor a module name (expected e.g. lib, pkg.sub, lib.py, pkg/sub.py)"
        ));
    }
    // `lib` meaning `lib.py`, `pkg.sub` meaning pkg/sub.py or pkg/sub/__init__.py, under cwd.
    let rel: PathBuf = spec.split('.').collect();
    for candidate in [rel.with_extension("py"), rel.join("__init__.py")] {
        let file = cwd.join(&candidate);
        if file.is_file() {
            let file = absolute(&file)?;
            let argv0 = if spec.contains('.') {
                file.display().to_string()
            } else {
                candidate.display().to_string()
            };
            return Ok(Lookup::Found(Target {
                module: spec.to_string(),
                root: absolute(cwd)?,
                file,
                argv0,
            }));
        }
    }
    Ok(Lookup::NotLocal(spec.to_string()))
}

/// Why a module name is nowhere: the files it would be, as paths, and a hint at a src/ layout.
pub fn not_found(name: &str, cwd: &Path) -> String {
    let rel: PathBuf = name.split('.').collect();
    let file = rel.with_extension("py");
    let package = rel.join("__init__.py");
    let mut text = format!(
        "no module named '{name}': there is no {} or {} under {} and Python cannot import it",
        file.display(),
        package.display(),
        cwd.display()
    );
    for candidate in [
        Path::new("src").join(&file),
        Path::new("src").join(&package),
    ] {
        if cwd.join(&candidate).is_file() {
            text.push_str(&format!(
                ".\nThere is {} (a src/ layout): run `hotload-host {}`, or install the project into the venv (pip install -e .)",
                candidate.display(),
                candidate.display()
            ));
            break;
        }
    }
    text
}

/// Builds a target from a source file found outside the current directory (e.g. by Python).
pub fn from_file(file: &Path) -> Result<Target, String> {
    let (module, root) = module_of_file(&absolute(file)?)?;
    Ok(Target {
        module,
        root,
        file: absolute(file)?,
        argv0: file.display().to_string(),
    })
}

fn resolve_path(spec: &str, path: &Path) -> Result<Target, String> {
    let (file, argv0) = if path.is_dir() {
        let init = path.join("__init__.py");
        if !init.is_file() {
            return Err(format!(
                "{spec} is a directory without __init__.py: point at a .py file, or add {spec}/__init__.py"
            ));
        }
        (init, spec.to_string())
    } else if path.is_file() {
        (path.to_path_buf(), spec.to_string())
    } else if path.exists() {
        return Err(format!(
            "{spec} is not a regular file (a FIFO, socket or device?): point at a .py file"
        ));
    } else if !spec.ends_with(".py") && path.with_extension("py").is_file() {
        (path.with_extension("py"), format!("{spec}.py"))
    } else {
        return Err(format!("{spec}: no such file"));
    };
    if file.extension().and_then(|e| e.to_str()) != Some("py") {
        return Err(format!("{spec} is not a Python source file (.py)"));
    }
    let file = absolute(&file)?;
    let (module, root) = module_of_file(&file)?;
    Ok(Target {
        module,
        root,
        file,
        argv0,
    })
}

/// `pkg/sub.py` inside `pkg/__init__.py` becomes (`pkg.sub`, parent of `pkg`).
fn module_of_file(file: &Path) -> Result<(String, PathBuf), String> {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| format!("{}: file name is not valid UTF-8", file.display()))?;
    let mut dir = file
        .parent()
        .ok_or_else(|| format!("{}: has no parent directory", file.display()))?
        .to_path_buf();
    let mut parts: Vec<String> = Vec::new();
    if stem != "__init__" {
        parts.push(stem.to_string());
    }
    while dir.join("__init__.py").is_file() {
        let name = dir
            .file_name()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{}: directory name is not valid UTF-8", dir.display()))?;
        parts.insert(0, name.to_string());
        match dir.parent() {
            Some(parent) => dir = parent.to_path_buf(),
            None => break,
        }
    }
    if parts.is_empty() {
        return Err(format!("{}: cannot name a module for it", file.display()));
    }
    for part in &parts {
        if !is_identifier(part) {
            return Err(format!(
                "{}: '{part}' is not a valid Python module name, so it cannot be imported; \
                 rename it (e.g. to '{}')",
                file.display(),
                suggest_identifier(part)
            ));
        }
    }
    Ok((parts.join("."), dir))
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn is_dotted_name(s: &str) -> bool {
    s.split('.').all(is_identifier)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn suggest_identifier(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    fn found(l: Lookup) -> Target {
        match l {
            Lookup::Found(t) => t,
            Lookup::NotLocal(n) => panic!("not local: {n}"),
        }
    }

    #[test]
    fn plain_file_forms() {
        let d = tmp();
        std::fs::write(d.path().join("lib.py"), "").unwrap();
        for spec in ["lib", "lib.py", "./lib.py"] {
            let t = found(resolve(spec, d.path()).unwrap());
            assert_eq!(t.module, "lib");
            assert_eq!(t.root, d.path().canonicalize().unwrap());
        }
    }

    #[test]
    fn file_in_package_uses_package_root() {
        let d = tmp();
        std::fs::create_dir(d.path().join("pkg")).unwrap();
        std::fs::write(d.path().join("pkg/__init__.py"), "").unwrap();
        std::fs::write(d.path().join("pkg/sub.py"), "").unwrap();
        let t = found(resolve("pkg/sub.py", d.path()).unwrap());
        assert_eq!(t.module, "pkg.sub");
        let t = found(resolve("pkg.sub", d.path()).unwrap());
        assert_eq!(t.module, "pkg.sub");
        let t = found(resolve("pkg", d.path()).unwrap());
        assert_eq!(t.module, "pkg");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let d = tmp();
        std::fs::create_dir(d.path().join("plain")).unwrap();
        std::fs::write(d.path().join("my-script.py"), "").unwrap();
        assert!(
            resolve("plain", d.path())
                .unwrap_err()
                .contains("__init__.py")
        );
        assert!(
            resolve("my-script.py", d.path())
                .unwrap_err()
                .contains("my_script")
        );
        assert!(
            resolve("nope.py", d.path())
                .unwrap_err()
                .contains("no such file")
        );
        assert!(matches!(
            resolve("json", d.path()).unwrap(),
            Lookup::NotLocal(_)
        ));
    }
}
