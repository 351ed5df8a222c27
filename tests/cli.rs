mod common;
// The command line: target forms, argv/env/sys.path, --once, --entrypoint, bad input, output flags, venvs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Finished, Host, Project, Stream, save_in_place};

/// Short window used only to check that something did NOT happen.
const QUIET: Duration = Duration::from_millis(400);

/// A module that reports what it sees, one `KEY value` line each.
const REPORTER: &str = "\
import os, sys
print('NAME', __name__)
print('FILE', __file__)
print('ARGV0', sys.argv[0])
print('ARGS', repr(sys.argv[1:]))
print('ENV', os.environ.get('HOTLOAD_RUNNING'))
print('PATH0', sys.path[0])
";

fn assert_no_panic(text: &str) {
    for bad in ["panicked at", "RUST_BACKTRACE", "internal error"] {
        assert!(!text.contains(bad), "found {bad:?} in output:\n{text}");
    }
}

/// The value of the `KEY value` line printed by REPORTER.
fn field(out: &str, key: &str) -> String {
    let prefix = format!("{key} ");
    out.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key} line in:\n{out}"))
        .to_string()
}

fn canon(p: &Path) -> PathBuf {
    p.canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn all_output(out: &Finished) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

// ---- 1. target forms, argv, environment, sys.path ----

/// Runs `target --once -- a b` and checks what the module saw.
fn check_target(p: &Project, target: &str, module: &str, file: &str) {
    let out = p.run(&[target, "--once", "--", "a", "b"]);
    let all = all_output(&out);
    assert_eq!(out.code(), Some(0), "target {target}:\n{all}");
    assert_eq!(field(&out.stdout, "NAME"), module, "target {target}");
    let expected_file = canon(&p.path(file));
    assert_eq!(
        canon(Path::new(&field(&out.stdout, "FILE"))),
        expected_file,
        "target {target}"
    );
    // sys.argv[0] names the target (relative to the working directory, or absolute).
    let argv0 = field(&out.stdout, "ARGV0");
    let argv0_path = canon(&p.dir.path().join(&argv0));
    let names_target = argv0_path == expected_file
        || (file.ends_with("__init__.py") && Some(argv0_path.as_path()) == expected_file.parent());
    assert!(
        names_target,
        "target {target}: sys.argv[0] = {argv0:?} does not name {}",
        expected_file.display()
    );
    assert_eq!(field(&out.stdout, "ARGS"), "['a', 'b']", "target {target}");
    assert_eq!(
        field(&out.stdout, "ENV"),
        "HOTLOAD_RUNNING",
        "target {target}"
    );
    assert_eq!(
        canon(Path::new(&field(&out.stdout, "PATH0"))),
        canon(p.dir.path()),
        "target {target}: sys.path[0]"
    );
    assert!(
        out.stderr
            .contains(&format!("[hotload] ok: {module} ran in")),
        "target {target}:\n{all}"
    );
    assert_no_panic(&all);
}

#[test]
fn plain_module_target_forms() {
    let p = Project::new();
    p.write("lib.py", REPORTER);
    for target in ["lib", "lib.py", "./lib.py"] {
        check_target(&p, target, "lib", "lib.py");
    }
    // An absolute path too.
    let abs = p.path("lib.py").display().to_string();
    check_target(&p, &abs, "lib", "lib.py");
}

#[test]
fn module_inside_package_target_forms() {
    let p = Project::new();
    p.write("pkg/__init__.py", "");
    p.write("pkg/sub.py", REPORTER);
    for target in ["pkg/sub.py", "pkg.sub", "pkg/sub"] {
        check_target(&p, target, "pkg.sub", "pkg/sub.py");
    }
}

#[test]
fn package_directory_target() {
    let p = Project::new();
    p.write("pkg/__init__.py", REPORTER);
    check_target(&p, "pkg", "pkg", "pkg/__init__.py");
    check_target(&p, "pkg/", "pkg", "pkg/__init__.py");
}

#[test]
fn module_runs_as_import_not_as_main() {
    let p = Project::new();
    p.write(
        "lib.py",
        "print('body')\nif __name__ == '__main__':\n    print('MAIN BLOCK')\n",
    );
    let out = p.run(&["lib.py", "--once"]);
    assert_eq!(out.code(), Some(0), "{}", all_output(&out));
    assert!(out.stdout.contains("body"), "{}", out.stdout);
    assert!(!out.stdout.contains("MAIN BLOCK"), "{}", out.stdout);
}

#[test]
fn args_without_double_dash_values_are_passed_verbatim() {
    let p = Project::new();
    p.write("lib.py", REPORTER);
    let out = p.run(&[
        "lib.py",
        "--once",
        "--",
        "--port",
        "8000",
        "--once",
        "two words",
        "",
    ]);
    assert_eq!(out.code(), Some(0), "{}", all_output(&out));
    assert_eq!(
        field(&out.stdout, "ARGS"),
        "['--port', '8000', '--once', 'two words', '']"
    );
}

#[test]
fn stdlib_named_file_that_python_has_not_imported_is_the_users() {
    let p = Project::new();
    // `statistics` is a stdlib module that Python does not import at start-up.
    p.write("statistics.py", "import sys\nprint('MINE', __file__)\nprint('HAS_MEAN', hasattr(sys.modules[__name__], 'mean'))\n");
    for target in ["statistics.py", "statistics"] {
        let out = p.run(&[target, "--once"]);
        assert_eq!(out.code(), Some(0), "{target}: {}", all_output(&out));
        let file = field(&out.stdout, "MINE");
        assert_eq!(
            canon(Path::new(&file)),
            canon(&p.path("statistics.py")),
            "{target}"
        );
        assert_eq!(
            field(&out.stdout, "HAS_MEAN"),
            "False",
            "{target}: the stdlib module ran"
        );
    }
}

#[test]
fn reloads_keep_argv_and_environment() {
    let p = Project::new();
    p.write("lib.py", REPORTER);
    let mut host = p.spawn(&["lib.py", "--", "x"]);
    host.wait_for("(run 1");
    host.mark();
    save_in_place(&p.path("lib.py"), &format!("{REPORTER}# saved\n"));
    host.wait_for("(run 2");
    host.wait_count("ARGS ['x']", 2);
    host.wait_count("ENV HOTLOAD_RUNNING", 2);
    host.settle(QUIET);
    assert_eq!(host.count("ARGS "), 2, "{}", host.transcript());
}

// ---- 2. --once ----

#[test]
fn once_exit_status_follows_the_outcome() {
    let p = Project::new();
    p.write("good.py", "print('fine')\n");
    p.write("raises.py", "print('before')\nraise RuntimeError('nope')\n");
    p.write("syntax.py", "def f(:\n    pass\n");
    p.write("exits.py", "import sys\nsys.exit(3)\n");

    let mut outputs = Vec::new();
    let out = p.run(&["good.py", "--once"]);
    assert_eq!(out.code(), Some(0), "{}", all_output(&out));
    assert_eq!(out.stdout, "fine\n");
    assert!(
        out.stderr.contains("[hotload] ok: good ran in"),
        "{}",
        out.stderr
    );
    outputs.push(all_output(&out));

    let out = p.run(&["raises.py", "--once"]);
    assert_eq!(out.code(), Some(1), "{}", all_output(&out));
    assert!(out.stdout.contains("before"), "{}", out.stdout);
    assert!(out.stderr.contains("RuntimeError: nope"), "{}", out.stderr);
    assert!(
        out.stderr.contains("[hotload] error: raises failed"),
        "{}",
        out.stderr
    );
    outputs.push(all_output(&out));

    let out = p.run(&["syntax.py", "--once"]);
    assert_eq!(out.code(), Some(1), "{}", all_output(&out));
    assert!(out.stderr.contains("SyntaxError"), "{}", out.stderr);
    assert!(out.stderr.contains("syntax.py\", line 1"), "{}", out.stderr);
    outputs.push(all_output(&out));

    let out = p.run(&["exits.py", "--once"]);
    assert_eq!(
        out.code(),
        Some(1),
        "sys.exit under --once is a failure (README)\n{}",
        all_output(&out)
    );
    assert!(out.stderr.contains("sys.exit(3)"), "{}", out.stderr);

    outputs.push(all_output(&out));
    for text in outputs {
        assert_no_panic(&text);
        // Nothing comes after --once: its status line promises no further runs.
        assert!(
            !text.contains("waiting for the next save") && !text.contains("still watching"),
            "{text}"
        );
    }
}

#[test]
fn once_with_entrypoint_calls_it_after_import() {
    let p = Project::new();
    p.write(
        "app.py",
        "import sys\nprint('body')\ndef main():\n    print('main', sys.argv[1:])\n",
    );
    let out = p.run(&["app.py", "--once", "--entrypoint", "main", "--", "hi"]);
    assert_eq!(out.code(), Some(0), "{}", all_output(&out));
    assert_eq!(out.stdout, "body\nmain ['hi']\n");

    // The entrypoint raising makes --once fail.
    p.write("bad.py", "def main():\n    raise ValueError('in main')\n");
    let out = p.run(&["bad.py", "--once", "--entrypoint", "main"]);
    assert_eq!(out.code(), Some(1), "{}", all_output(&out));
    assert!(out.stderr.contains("ValueError: in main"), "{}", out.stderr);
    assert!(out.stderr.contains("in main"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("_host.py") && !out.stderr.contains("<hotload-host"),
        "{}",
        out.stderr
    );
}

#[test]
fn entrypoint_that_does_not_exist_fails_before_running_anything() {
    // Names checked statically before any user code runs (README: "Validation"): exit 2.
    let p = Project::new();
    p.write("app.py", "print('BODY RAN')\ndef main():\n    pass\n");
    let out = p.run(&["app.py", "--once", "--entrypoint", "mian"]);
    let all = all_output(&out);
    assert_eq!(out.code(), Some(2), "{all}");
    assert!(out.stderr.starts_with("hotload-host: error:"), "{all}");
    assert!(out.stderr.contains("mian"), "{all}");
    assert!(!out.stdout.contains("BODY RAN"), "{all}");
    assert_no_panic(&all);
}

#[test]
fn entrypoint_that_is_not_callable_fails_with_exit_1() {
    let p = Project::new();
    p.write("app.py", "print('body')\nmain = None\n");
    let out = p.run(&["app.py", "--once", "--entrypoint", "main"]);
    let all = all_output(&out);
    assert_eq!(out.code(), Some(1), "{all}");
    assert!(out.stderr.contains("main"), "{all}");
    assert!(out.stderr.contains("[hotload] error:"), "{all}");
    assert_no_panic(&all);
}

#[test]
fn entrypoint_defined_inside_a_block_is_accepted() {
    // `def main()` under try/except or if/else is an ordinary module-level function: the
    // static check must not reject it.
    let p = Project::new();
    p.write(
        "app.py",
        "try:\n    import json\n    def main():\n        print('main from try')\nexcept ImportError:\n    def main():\n        print('fallback')\n",
    );
    let out = p.run(&["app.py", "--once", "--entrypoint", "main"]);
    let all = all_output(&out);
    assert_eq!(out.code(), Some(0), "{all}");
    assert_eq!(out.stdout, "main from try\n", "{all}");

    p.write(
        "cond.py",
        "import sys\nif sys.platform:\n    def main():\n        print('main from if')\n",
    );
    let out = p.run(&["cond.py", "--once", "--entrypoint", "main"]);
    let all = all_output(&out);
    assert_eq!(out.code(), Some(0), "{all}");
    assert_eq!(out.stdout, "main from if\n", "{all}");
}

// ---- 3. --entrypoint in watch mode ----

#[test]
fn entrypoint_is_called_after_each_successful_reload_only() {
    let p = Project::new();
    let good = |n: u32| format!("print('body {n}')\ndef main():\n    print('main called {n}')\n");
    p.write("app.py", &good(1));
    let mut host = p.spawn(&["app.py", "--entrypoint", "main"]);
    host.wait_for("(run 1");
    host.wait_for("main called 1");

    host.mark();
    save_in_place(&p.path("app.py"), &good(2));
    host.wait_for("(run 2");
    host.wait_for("main called 2");

    // A failing reload: the old main() still exists in the module, but must not be called.
    host.mark();
    save_in_place(
        &p.path("app.py"),
        "print('body 3')\nraise ValueError('broken')\ndef main():\n    print('main called 3')\n",
    );
    host.wait_for("(run 3");
    host.settle(QUIET);
    assert!(host.count("body 3") == 1, "{}", host.transcript());
    assert_eq!(
        host.count("main called"),
        2,
        "entrypoint called after a failed reload\n{}",
        host.transcript()
    );

    // A syntax error: same.
    host.mark();
    save_in_place(&p.path("app.py"), "def main(:\n");
    host.wait_for("(run 4");
    host.settle(QUIET);
    assert_eq!(host.count("main called"), 2, "{}", host.transcript());

    host.mark();
    save_in_place(&p.path("app.py"), &good(5));
    host.wait_for("(run 5");
    host.wait_for("main called 5");
    assert_eq!(host.count("main called"), 3, "{}", host.transcript());
    assert_eq!(host.count("[hotload] ok:"), 3, "{}", host.transcript());
    // main() runs after the body, within the same run.
    let body = host.lines.iter().position(|(_, l)| l == "body 5").unwrap();
    let main = host
        .lines
        .iter()
        .position(|(_, l)| l == "main called 5")
        .unwrap();
    assert!(body < main, "{}", host.transcript());
}

// ---- 4. bad input ----

/// Exit 2, one `hotload-host: error:` message mentioning `needle`, no user code, no panic.
fn assert_usage_error(out: &Finished, needle: &str) {
    let all = all_output(out);
    assert_eq!(out.code(), Some(2), "{all}");
    assert!(out.stderr.starts_with("hotload-host: error:"), "{all}");
    assert!(
        out.stderr.contains(needle),
        "message should mention {needle:?}:\n{all}"
    );
    assert!(!out.stdout.contains("USER CODE RAN"), "{all}");
    assert_no_panic(&all);
}

#[test]
fn no_target_at_all() {
    let p = Project::new();
    let out = p.run(&[]);
    assert_usage_error(&out, "target");
}

#[test]
fn target_that_does_not_exist() {
    let p = Project::new();
    p.write("lib.py", "print('USER CODE RAN')\n");
    assert_usage_error(&p.run(&["nosuchmodule_xyz"]), "nosuchmodule_xyz");
    assert_usage_error(&p.run(&["nope.py"]), "nope.py");
    assert_usage_error(&p.run(&["nope.py", "--once"]), "nope.py");
    assert_usage_error(&p.run(&["pkg.nope"]), "pkg.nope");
}

#[test]
fn directory_without_init_is_refused() {
    let p = Project::new();
    p.write("plain/mod.py", "print('USER CODE RAN')\n");
    assert_usage_error(&p.run(&["plain"]), "__init__.py");
}

#[test]
fn file_name_that_is_not_a_module_name_is_refused() {
    let p = Project::new();
    p.write("my-script.py", "print('USER CODE RAN')\n");
    let out = p.run(&["my-script.py"]);
    assert_usage_error(&out, "my-script");
    assert!(
        out.stderr.contains("my_script"),
        "suggests a valid name:\n{}",
        out.stderr
    );
}

#[test]
fn watch_path_that_does_not_exist_is_refused() {
    let p = Project::new();
    p.write("lib.py", "print('USER CODE RAN')\n");
    assert_usage_error(
        &p.run(&["lib.py", "--watch", "does-not-exist"]),
        "does-not-exist",
    );
}

#[test]
fn target_shadowed_by_pythons_own_module_is_refused() {
    let p = Project::new();
    p.write("os.py", "print('USER CODE RAN')\n");
    let out = p.run(&["os.py"]);
    assert_usage_error(&out, "os");
    assert!(out.stderr.contains("Rename"), "{}", out.stderr);
    let out = p.run(&["os", "--once"]);
    assert_usage_error(&out, "os");
    // A built-in module (no file at all) is taken too.
    p.write("sys.py", "print('USER CODE RAN')\n");
    assert_usage_error(&p.run(&["sys.py", "--once"]), "sys");
}

#[test]
fn bad_flags_exit_2_without_running_anything() {
    let p = Project::new();
    p.write("lib.py", "print('USER CODE RAN')\n");
    for (args, needle) in [
        (&["lib.py", "--bogus"][..], "--bogus"),
        (&["lib.py", "--color", "purple"][..], "purple"),
        (&["lib.py", "--poll=abc"][..], "abc"),
    ] {
        let out = p.run(args);
        let all = all_output(&out);
        assert_eq!(out.code(), Some(2), "{args:?}: {all}");
        assert!(out.stderr.contains("error:"), "{args:?}: {all}");
        assert!(out.stderr.contains(needle), "{args:?}: {all}");
        assert!(out.stdout.is_empty(), "{args:?}: {all}");
        assert_no_panic(&all);
    }
}

#[test]
fn bad_flags_use_the_same_error_prefix_as_other_usage_errors() {
    // Every fatal usage error reads `hotload-host: error: ...` (one format for scripts to match).
    let p = Project::new();
    p.write("lib.py", "print('USER CODE RAN')\n");
    for args in [
        &["lib.py", "--bogus"][..],
        &["lib.py", "--color", "purple"][..],
    ] {
        let out = p.run(args);
        assert_eq!(out.code(), Some(2));
        assert!(
            out.stderr.starts_with("hotload-host: error:"),
            "{args:?}: stderr does not start with `hotload-host: error:`:\n{}",
            out.stderr
        );
    }
}

// ---- 5. --quiet, --verbose, --color ----

#[test]
fn quiet_prints_no_status_lines_but_keeps_output_and_tracebacks() {
    let p = Project::new();
    p.write("lib.py", "print('module output')\n");
    let mut host = p.spawn(&["lib.py", "-q"]);
    host.wait_for("module output");
    host.mark();
    save_in_place(
        &p.path("lib.py"),
        "print('second')\nraise ValueError('shown anyway')\n",
    );
    host.wait_for("ValueError: shown anyway");
    host.mark();
    save_in_place(&p.path("lib.py"), "print('third')\n");
    host.wait_for("third");
    host.settle(QUIET);
    assert_eq!(host.count("[hotload]"), 0, "{}", host.transcript());
    assert!(
        host.count("Traceback (most recent call last):") == 1,
        "{}",
        host.transcript()
    );

    let out = p.run(&["lib.py", "--once", "--quiet"]);
    assert_eq!(out.code(), Some(0));
    assert_eq!(out.stdout, "third\n");
    assert!(!out.stderr.contains("[hotload]"), "{}", out.stderr);
}

#[test]
fn verbose_shows_watch_count_changed_paths_and_phases() {
    let p = Project::new();
    p.write("lib.py", "print('v')\n");
    p.write("sub/other.py", "");
    let mut host = p.spawn(&["lib.py", "-v"]);
    host.wait_for("(run 1");
    let watching = host
        .lines
        .iter()
        .find(|(s, l)| *s == Stream::Err && l.starts_with("[hotload] watching "))
        .map(|(_, l)| l.clone())
        .unwrap_or_else(|| panic!("no watching line\n{}", host.transcript()));
    assert!(
        watching.contains("watching 2 files in 2 directories"),
        "{watching}"
    );

    host.mark();
    save_in_place(&p.path("lib.py"), "print('v2')\n");
    host.wait_for("(run 2");
    host.wait_for("save→done");
    let changed = format!("[hotload] changed: {}", canon(&p.path("lib.py")).display());
    assert_eq!(host.count(&changed), 1, "{}", host.transcript());
    let phases = host
        .lines
        .iter()
        .find(|(_, l)| l.contains("save→done"))
        .map(|(_, l)| l.clone())
        .unwrap();
    assert!(
        phases.starts_with("[hotload] ") && phases.contains("reload "),
        "{phases}"
    );
    // The changed line comes before the run's own output and status.
    let changed_at = host.lines.iter().position(|(_, l)| *l == changed).unwrap();
    let status_at = host
        .lines
        .iter()
        .position(|(_, l)| l.contains("(run 2"))
        .unwrap();
    assert!(changed_at < status_at, "{}", host.transcript());
}

#[test]
fn color_choices() {
    let p = Project::new();
    p.write("lib.py", "raise ValueError('colourful')\n");
    let has_escape = |out: &Finished| out.stderr.contains('\x1b') || out.stdout.contains('\x1b');

    let out = p.run(&["lib.py", "--once", "--color", "never"]);
    assert!(out.stderr.contains("[hotload] error:"), "{}", out.stderr);
    assert!(!has_escape(&out), "--color never: {:?}", out.stderr);

    // Default with stderr piped: no colour.
    let out = p.run(&["lib.py", "--once"]);
    assert!(out.stderr.contains("[hotload] error:"), "{}", out.stderr);
    assert!(!has_escape(&out), "default when piped: {:?}", out.stderr);

    let out = p.run(&["lib.py", "--once", "--color", "always"]);
    assert!(
        out.stderr.contains("\x1b["),
        "--color always: {:?}",
        out.stderr
    );
    assert!(out.stderr.contains("error:"), "{:?}", out.stderr);
    assert!(
        !out.stdout.contains('\x1b'),
        "the module's output is never coloured: {:?}",
        out.stdout
    );

    let out = finish(p.command(&["lib.py", "--once"]).env("NO_COLOR", "1"));
    assert!(!has_escape(&out), "NO_COLOR=1: {:?}", out.stderr);
    let out = finish(
        p.command(&["lib.py", "--once", "--color", "auto"])
            .env("NO_COLOR", "1"),
    );
    assert!(
        !has_escape(&out),
        "NO_COLOR=1 --color auto: {:?}",
        out.stderr
    );
}

// ---- 6. clearing ----

#[test]
fn no_clear_codes_when_stdout_is_not_a_terminal() {
    let p = Project::new();
    p.write("lib.py", "print('line')\n");
    for flags in [&[][..], &["--clear"][..], &["--no-clear"][..]] {
        let mut args = vec!["lib.py"];
        args.extend_from_slice(flags);
        let mut host = p.spawn(&args);
        host.wait_for("(run 1");
        host.mark();
        save_in_place(&p.path("lib.py"), "print('line')\n");
        host.wait_for("(run 2");
        host.wait_count("line", 2);
        let all = host.transcript();
        assert!(
            !all.contains('\x1b'),
            "{flags:?}: escape codes written:\n{all:?}"
        );
    }
    let out = p.run(&["lib.py", "--once", "--clear"]);
    assert_eq!(out.code(), Some(0));
    assert_eq!(out.stdout, "line\n");
}

#[test]
fn hotload_no_clear_environment_is_accepted() {
    let p = Project::new();
    p.write(
        "lib.py",
        "import os\nprint('NO_CLEAR', os.environ.get('HOTLOAD_NO_CLEAR'))\n",
    );
    let mut cmd = p.command(&["lib.py"]);
    cmd.env("HOTLOAD_NO_CLEAR", "HOTLOAD_NO_CLEAR")
        .stdin(Stdio::null());
    let mut host = Host::spawn(cmd);
    host.wait_for("(run 1");
    host.mark();
    save_in_place(
        &p.path("lib.py"),
        "import os\nprint('NO_CLEAR', os.environ.get('HOTLOAD_NO_CLEAR'))\n",
    );
    host.wait_for("(run 2");
    host.wait_count("NO_CLEAR HOTLOAD_NO_CLEAR", 2);
    assert_eq!(host.count("[hotload] ok:"), 2, "{}", host.transcript());
    assert!(
        !host.transcript().contains('\x1b'),
        "{:?}",
        host.transcript()
    );
    assert!(
        !host.transcript().contains("warning"),
        "{}",
        host.transcript()
    );

    let out = finish(
        p.command(&["lib.py", "--once", "--clear"])
            .env("HOTLOAD_NO_CLEAR", "HOTLOAD_NO_CLEAR"),
    );
    assert_eq!(out.code(), Some(0), "{}", all_output(&out));
}

// ---- 7, 8. virtual environments ----

/// The Python this hotload-host embeds, as (executable, "X.Y.Z"), asked from the binary itself.
fn embedded_python() -> (PathBuf, String) {
    let p = Project::new();
    p.write(
        "probe.py",
        "import sys\nprint('EXE', sys.executable)\nprint('VERSION', '%d.%d.%d' % sys.version_info[:3])\n",
    );
    let out = p.run(&["probe.py", "--once"]);
    assert_eq!(out.code(), Some(0), "{}", all_output(&out));
    (
        PathBuf::from(field(&out.stdout, "EXE")),
        field(&out.stdout, "VERSION"),
    )
}

fn major_minor(v: &str) -> String {
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// `python -m venv --without-pip dir` (offline).
fn make_venv(python: &Path, dir: &Path) {
    let out = Command::new(python)
        .args(["-m", "venv", "--without-pip"])
        .arg(dir)
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    assert!(
        out.status.success(),
        "venv creation failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn venv_purelib(venv: &Path) -> PathBuf {
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The host's command with the venv activated the way `source bin/activate` does.
fn in_venv(mut cmd: Command, venv: &Path) -> Command {
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("VIRTUAL_ENV", venv)
        .env("PATH", format!("{}:{path}", venv.join("bin").display()))
        .stdin(Stdio::null());
    cmd
}

#[test]
fn venv_site_packages_prefix_and_executable() {
    let (python, _) = embedded_python();
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("venv");
    make_venv(&python, &venv);
    let site = venv_purelib(&venv);
    std::fs::write(
        site.join("venvonly_mod.py"),
        "print('venvonly imported', __name__)\nVALUE = 42\n",
    )
    .unwrap();

    let p = Project::new();
    p.write(
        "lib.py",
        "import sys, venvonly_mod\nprint('VALUE', venvonly_mod.VALUE)\nprint('PREFIX', sys.prefix)\nprint('EXE', sys.executable)\n",
    );
    let out = finish(&mut in_venv(p.command(&["lib.py", "--once"]), &venv));
    let all = all_output(&out);
    assert_eq!(out.code(), Some(0), "{all}");
    assert!(
        out.stdout.contains("venvonly imported venvonly_mod"),
        "{all}"
    );
    assert_eq!(field(&out.stdout, "VALUE"), "42");
    assert_eq!(
        canon(Path::new(&field(&out.stdout, "PREFIX"))),
        canon(&venv),
        "{all}"
    );
    // sys.executable is the venv's python (a symlink: compare the directory, not the target).
    let exe = PathBuf::from(field(&out.stdout, "EXE"));
    assert_eq!(
        canon(exe.parent().unwrap()),
        canon(&venv.join("bin")),
        "{all}"
    );

    // Without the venv the module is not importable: the same project fails.
    let out = p.run(&["lib.py", "--once"]);
    assert_eq!(out.code(), Some(1), "{}", all_output(&out));
    assert!(
        out.stderr.contains("ModuleNotFoundError") && out.stderr.contains("venvonly_mod"),
        "{}",
        out.stderr
    );
}

#[test]
fn venv_module_can_be_the_target_by_name() {
    let (python, _) = embedded_python();
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("venv");
    make_venv(&python, &venv);
    let site = venv_purelib(&venv);
    std::fs::write(
        site.join("venvonly_mod.py"),
        "import sys\nprint('venvonly body', __name__)\nprint('ARGS', sys.argv[1:])\n",
    )
    .unwrap();

    let p = Project::new();
    let out = finish(&mut in_venv(
        p.command(&["venvonly_mod", "--once", "--", "z"]),
        &venv,
    ));
    let all = all_output(&out);
    assert_eq!(out.code(), Some(0), "{all}");
    assert!(out.stdout.contains("venvonly body venvonly_mod"), "{all}");
    assert!(out.stdout.contains("ARGS ['z']"), "{all}");
    assert!(
        out.stderr.contains("[hotload] ok: venvonly_mod ran"),
        "{all}"
    );

    // Without the venv it is an unknown module: exit 2.
    let out = p.run(&["venvonly_mod", "--once"]);
    assert_usage_error(&out, "venvonly_mod");
}

#[test]
#[ignore = "needs a pyenv CPython of another minor version than the build's (.ci/run has them); \
            the cargo-built binary only (the wheel's moves into any venv)"]
fn venv_of_another_python_version_is_refused() {
    let (_, built) = embedded_python();
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")))
        .unwrap_or_else(|| PathBuf::from("/root/.pyenv"));
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(pyenv.join("versions"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|d| {
            let name = d.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("3.")
                && major_minor(&name) != major_minor(&built)
                && d.join("bin/python3").exists()
        })
        .collect();
    // Prefer 3.12 (the usual neighbour), else any other 3.x.
    candidates.sort_by_key(|d| {
        !d.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("3.12.")
    });
    let other = candidates.first().unwrap_or_else(|| {
        panic!(
            "needs a pyenv Python other than {built} under {}",
            pyenv.display()
        )
    });
    let other_version = other.file_name().unwrap().to_string_lossy().into_owned();
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("venv");
    make_venv(&other.join("bin/python3"), &venv);

    let p = Project::new();
    p.write("lib.py", "print('USER CODE RAN')\n");
    for args in [&["lib.py", "--once"][..], &["lib.py"][..]] {
        let out = finish(&mut in_venv(p.command(args), &venv));
        let all = all_output(&out);
        assert_usage_error(&out, "PYO3_PYTHON");
        assert!(
            out.stderr.contains(&other_version),
            "names the venv's version {other_version}:\n{all}"
        );
        assert!(
            out.stderr.contains(&built),
            "names the built-for version {built}:\n{all}"
        );
    }
}

/// Runs a prepared host command to completion (stdin at /dev/null), like `Project::run`.
fn finish(cmd: &mut Command) -> Finished {
    let mut cmd = std::mem::replace(cmd, Command::new("true"));
    cmd.stdin(Stdio::null());
    let mut host = Host::spawn(cmd);
    let status = host.wait_exit(common::TIMEOUT);
    Finished {
        status,
        stdout: host.stdout_text(),
        stderr: host.stderr_text(),
    }
}

#[test]
fn poll_without_a_value_never_takes_the_target() {
    let p = Project::new();
    p.write("lib.py", "print('lib ran')\n");
    let mut host = p.spawn(&["--poll", "lib.py", "-v"]);
    host.wait_for("(polling)");
    // (The status line, then the module's own line: "lib ran" is in both.)
    host.wait_for("ok: lib ran");
    host.wait_for("lib ran");
    drop(host);
    // A number after --poll is its value, as before.
    let mut host = p.spawn(&["lib.py", "--poll", "50", "-v"]);
    host.wait_for("(polling)");
    host.wait_for("ok: lib ran");
}
