//! The binary refuses to run on a libpython other than the one it was built against (Debian
//! ships one with the same soname as pyenv's; LD_LIBRARY_PATH makes the loader pick it).
mod common;

use common::Project;
use std::path::PathBuf;
use std::process::Command;

/// The libpython the binary links to, as the loader resolves it now.
fn linked_libpython() -> Option<PathBuf> {
    let out = Command::new("ldd").arg(common::bin()).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains("libpython"))
        .and_then(|l| l.split("=>").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(PathBuf::from)
}

#[test]
#[ignore = "needs a second libpython with the soname the binary links (Debian's libpython3.11 \
            beside a build against pyenv's 3.11, as .ci/run checks); the cargo-built binary only"]
fn a_different_libpython_with_the_same_soname_is_refused() {
    let linked = linked_libpython().expect("needs a binary linked to a shared libpython (ldd)");
    let soname = linked.file_name().unwrap();
    let other = ["/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib"]
        .iter()
        .map(|d| PathBuf::from(d).join(soname))
        .find(|p| p.exists() && p.canonicalize().ok() != linked.canonicalize().ok())
        .unwrap_or_else(|| panic!("needs a second {soname:?} in a system library directory"));
    let p = Project::new();
    p.write("lib.py", "print('USER CODE RAN')\n");
    let mut cmd = p.command(&["lib.py", "--once"]);
    cmd.env("LD_LIBRARY_PATH", other.parent().unwrap());
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("hotload-host: error: this hotload-host was built against Python"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&other.display().to_string()) || stderr.contains("loaded"),
        "{stderr}"
    );
    assert!(stderr.contains("PYO3_PYTHON"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("USER CODE RAN"));
}

#[test]
fn the_embedded_interpreter_is_the_build_python() {
    let p = Project::new();
    p.write(
        "lib.py",
        "import sys\nprint('EXE', sys.executable)\nprint('BASE', sys.base_prefix)\n",
    );
    let out = p.run(&["lib.py", "--once"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let python = Command::new("python3")
        .args(["-c", "import sys; print(sys.base_prefix)"])
        .output()
        .unwrap();
    let base = String::from_utf8_lossy(&python.stdout).trim().to_string();
    assert!(
        out.stdout.contains(&format!("BASE {base}")),
        "{}\nexpected base {base}",
        out.stdout
    );
}
