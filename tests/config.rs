//! The config file (README "Config file"): every key, hotload.toml and `[tool.hotload]` in
//! pyproject.toml, discovery, `--config` / `--no-config` / HOTLOAD_CONFIG, precedence
//! (command line > environment > file > defaults), validation errors with positions, live edits
//! of the config while running, and `hotload-host init`. Real binary, real files.
mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::pty::Tty;
use common::{Finished, Host, Project, Stream, TIMEOUT, save_in_place, save_via_rename};

/// Short window used only to check that something did NOT happen.
const QUIET: Duration = Duration::from_millis(500);

/// Printed by user modules at import: must never appear when the config is rejected.
const MARKER: &str = "USER CODE RAN";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The harness's user-like command, run in `project/sub`, with `env` set and no other HOTLOAD_*
/// variable of the test's own environment leaking in.
fn command_in(project: &Project, sub: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = project.command(args);
    cmd.current_dir(project.path(sub));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("HOTLOAD_") {
            cmd.env_remove(key);
        }
    }
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.stdin(Stdio::null());
    cmd
}

fn spawn_in(project: &Project, sub: &str, args: &[&str], env: &[(&str, &str)]) -> Host {
    Host::spawn(command_in(project, sub, args, env))
}

fn run_in(project: &Project, sub: &str, args: &[&str], env: &[(&str, &str)]) -> Finished {
    let mut host = spawn_in(project, sub, args, env);
    let status = host.wait_exit(TIMEOUT);
    Finished {
        status,
        stdout: host.stdout_text(),
        stderr: host.stderr_text(),
    }
}

fn spawn(project: &Project, args: &[&str]) -> Host {
    spawn_in(project, "", args, &[])
}

fn run(project: &Project, args: &[&str]) -> Finished {
    run_in(project, "", args, &[])
}

/// `hotload-host trust` in `project/sub`: the config's `run` steps may run from now on.
fn trust_in(project: &Project, sub: &str) {
    let out = run_in(project, sub, &["trust"], &[]);
    assert_eq!(out.code(), Some(0), "trust: {}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("trusted "), "{}", out.stdout);
}

fn trust(project: &Project) {
    trust_in(project, "");
}

/// The project directory as the host sees it (canonical).
fn root(project: &Project) -> PathBuf {
    std::fs::canonicalize(project.dir.path()).unwrap()
}

/// The host's status line for run `run`, if it has arrived.
fn status_line(host: &Host, run: u64) -> Option<String> {
    host.status_line(run)
}

/// Waits for the status line of run `run` and returns it.
fn wait_run(host: &mut Host, run: u64) -> String {
    host.wait_run(run)
}

fn wait_ok(host: &mut Host, run: u64) -> String {
    let line = wait_run(host, run);
    assert!(
        line.starts_with("[hotload] ok: "),
        "run {run} should succeed: {line}\n{}",
        host.transcript()
    );
    line
}

fn wait_failed(host: &mut Host, run: u64) -> String {
    let line = wait_run(host, run);
    assert!(
        line.starts_with("[hotload] error: "),
        "run {run} should fail: {line}\n{}",
        host.transcript()
    );
    line
}

/// Checks that no run `run` happens within a short window (something that must NOT trigger).
fn assert_no_run(host: &mut Host, run: u64) {
    host.settle(QUIET);
    assert!(
        status_line(host, run).is_none(),
        "unexpected run {run}:\n{}",
        host.transcript()
    );
}

/// The module's stdout lines, in order.
fn out_lines(host: &Host) -> Vec<String> {
    host.lines
        .iter()
        .filter(|(s, _)| *s == Stream::Out)
        .map(|(_, l)| l.clone())
        .collect()
}

fn edit(project: &Project, rel: &str, from: &str, to: &str) {
    let path = project.path(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(from),
        "{rel} does not contain {from:?}:\n{text}"
    );
    save_in_place(&path, &text.replacen(from, to, 1));
}

/// `--print-config` output: the config file line and, per key, (value, origin).
struct Printed {
    file: String,
    rows: Vec<(String, String, String)>,
    text: String,
}

impl Printed {
    fn get(&self, key: &str) -> (&str, &str) {
        self.rows
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, o)| (v.as_str(), o.as_str()))
            .unwrap_or_else(|| panic!("no row {key:?} in --print-config output:\n{}", self.text))
    }

    fn value(&self, key: &str) -> &str {
        self.get(key).0
    }

    fn origin(&self, key: &str) -> &str {
        self.get(key).1
    }

    /// Asserts one row: exact value and origin.
    fn check(&self, key: &str, value: &str, origin: &str) {
        assert_eq!(
            self.get(key),
            (value, origin),
            "row {key:?} in:\n{}",
            self.text
        );
    }
}

fn print_config_in(project: &Project, sub: &str, args: &[&str], env: &[(&str, &str)]) -> Printed {
    let mut all = vec!["--print-config"];
    all.extend_from_slice(args);
    let out = run_in(project, sub, &all, env);
    assert_eq!(
        out.code(),
        Some(0),
        "--print-config failed:\n{}{}",
        out.stdout,
        out.stderr
    );
    parse_print_config(&out.stdout)
}

fn print_config(project: &Project, args: &[&str]) -> Printed {
    print_config_in(project, "", args, &[])
}

fn parse_print_config(text: &str) -> Printed {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let file = first
        .strip_prefix("# config file: ")
        .unwrap_or_else(|| panic!("first line should name the config file:\n{text}"))
        .to_string();
    let mut rows = Vec::new();
    for line in lines {
        let (key, rest) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not `key = value # origin`: {line:?}\n{text}"));
        let (value, origin) = rest
            .rsplit_once(" # ")
            .unwrap_or_else(|| panic!("no origin after `#`: {line:?}\n{text}"));
        rows.push((
            key.trim().to_string(),
            value.trim().to_string(),
            origin.trim().to_string(),
        ));
    }
    let keys: Vec<&str> = rows.iter().map(|(k, _, _)| k.as_str()).collect();
    for key in &keys {
        assert_eq!(
            keys.iter().filter(|k| *k == key).count(),
            1,
            "one line for {key}:\n{text}"
        );
    }
    for key in ["target", "args", "watch", "post", "poll", "reload", "steps"] {
        assert!(keys.contains(&key), "no line for {key}:\n{text}");
    }
    Printed {
        file,
        rows,
        text: text.to_string(),
    }
}

/// (line, column), 1-based, of the first occurrence of `needle` in `text`.
fn pos(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in {text:?}"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, col)
}

/// A usage error: exit status 2, one `hotload-host: error: FILE:LINE:COL: ...` line containing
/// `message`, and no user code ran. `lines` lists the acceptable lines; `col` is checked when
/// given.
fn assert_config_error(
    out: &Finished,
    file: &Path,
    lines: &[usize],
    col: Option<usize>,
    message: &str,
) {
    let all = format!(
        "exit: {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.code(),
        out.stdout,
        out.stderr
    );
    assert_eq!(out.code(), Some(2), "{all}");
    assert!(
        !out.stdout.contains(MARKER) && !out.stderr.contains(MARKER),
        "user code ran before the error:\n{all}"
    );
    let prefix = format!("hotload-host: error: {}:", file.display());
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}:\n{all}"));
    let rest = &line[prefix.len()..];
    let mut parts = rest.splitn(3, ':');
    let l: usize = parts
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no line number: {line}\n{all}"));
    let c: usize = parts
        .next()
        .unwrap_or("")
        .parse()
        .unwrap_or_else(|_| panic!("no column: {line}\n{all}"));
    assert!(
        lines.contains(&l),
        "line {l}, expected one of {lines:?}: {line}\n{all}"
    );
    if let Some(col) = col {
        assert_eq!(c, col, "column: {line}\n{all}");
    }
    assert!(
        line.contains(message),
        "expected {message:?} in: {line}\n{all}"
    );
}

/// Terminal clear sequence (both the host's and the `clear` step's contain it).
const CLEAR: &str = "\x1b[2J";

// ---------------------------------------------------------------------------------------------
// Every key
// ---------------------------------------------------------------------------------------------

#[test]
fn print_config_shows_every_key_of_hotload_toml_with_the_file_as_origin() {
    let project = Project::new();
    project.write(
        "hotload.toml",
        r#"target = "app/main.py"
args = ["--port", "8000"]
watch = ["app", "conf/*.yaml"]
ignore = ["data/**"]
ext = ["py", "toml"]
clear = true
pre = "main:teardown"
post = "main:run"
entrypoint = "main"
poll = 200
reload = "deep"
"#,
    );
    let dir = root(&project);
    let file = dir.join("hotload.toml").display().to_string();
    let p = print_config(&project, &[]);
    assert_eq!(p.file, file);
    p.check("target", "\"app/main.py\"", &file);
    p.check("args", "[\"--port\", \"8000\"]", &file);
    p.check(
        "watch",
        &format!("[\"{0}/app\", \"{0}/conf/*.yaml\"]", dir.display()),
        &file,
    );
    p.check("ignore", "[\"data/**\"]", &file);
    p.check("ext", "[\"py\", \"toml\"]", &file);
    p.check("clear", "true", &file);
    p.check("pre", "\"main:teardown\"", &file);
    p.check("post", "\"main:run\"", &file);
    p.check("entrypoint", "\"main\"", &file);
    p.check("poll", "200 ms", &file);
    p.check("reload", "deep", &file);
    assert_eq!(p.origin("steps"), "default");

    // poll = true means 100 ms; poll = false means OS events; steps of every kind.
    project.write(
        "hotload.toml",
        "poll = true\n[[steps]]\nclear = true\n[[steps]]\nreload = \"lib\"\n[[steps]]\ncall = \"lib:check\"\n[[steps]]\nrun = \"echo hi\"\n",
    );
    let p = print_config(&project, &[]);
    p.check("poll", "100 ms", &file);
    p.check(
        "steps",
        "[{ clear = true }, { reload = \"lib\" }, { call = \"lib:check\" }, { run = \"echo hi\" }]",
        &file,
    );
    p.check("target", "(none)", "default");
}

#[test]
fn poll_false_in_the_file_is_shown_as_coming_from_the_file() {
    // `poll = false` is a value set in the file (it would matter if the default changed);
    // --print-config says where each value came from.
    let project = Project::new();
    project.write("hotload.toml", "target = \"lib.py\"\npoll = false\n");
    let file = root(&project).join("hotload.toml").display().to_string();
    let p = print_config(&project, &[]);
    p.check("poll", "off (OS events)", &file);
}

#[test]
fn target_and_args_come_from_the_config() {
    let project = Project::new();
    project.write(
        "app/main.py",
        "import sys\nprint('argv', sys.argv[1:])\nprint('name', __name__)\n",
    );
    project.write(
        "hotload.toml",
        "target = \"app/main.py\"\nargs = [\"--port\", \"8000\", \"two words\"]\n",
    );
    let mut host = spawn(&project, &[]);
    let first = wait_ok(&mut host, 1);
    assert!(first.contains("main ran"), "{first}");
    host.wait_for("argv ['--port', '8000', 'two words']");
    host.wait_for("name main");

    // The target's own file is watched: a save runs it again with the same args.
    host.mark();
    edit(&project, "app/main.py", "print('name'", "print('renamed'");
    wait_ok(&mut host, 2);
    host.wait_for("renamed main");
    assert_eq!(
        host.count("argv ['--port', '8000', 'two words']"),
        2,
        "{}",
        host.transcript()
    );
}

/// Prints the basenames of the files whose save triggered this run.
const SHOW_CHANGED: &str = "\
import os, hotload
print('changed', sorted(os.path.basename(p) for p in hotload.info().changed))
";

#[test]
fn watch_directories_and_globs_from_the_config_trigger_runs() {
    let project = Project::new();
    project.write("lib.py", SHOW_CHANGED);
    project.write("src/util.py", "X = 1\n");
    project.write("conf/app.yaml", "a: 1\n");
    project.write("conf/notes.txt", "notes\n");
    project.write("top.yaml", "b: 1\n");
    project.write("other.py", "Y = 1\n");
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\nwatch = [\"src\", \"conf/*.yaml\"]\n",
    );
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);

    // A .yaml file matched by the glob triggers, whatever `ext` says.
    host.mark();
    save_in_place(&project.path("conf/app.yaml"), "a: 2\n");
    let second = wait_ok(&mut host, 2);
    assert!(second.contains("after saving app.yaml"), "{second}");
    host.wait_for("changed ['app.yaml']");

    // Not matched: another extension in the glob's directory, a .yaml outside it, and a .py
    // file in the target's directory (`watch` replaces the default root).
    host.mark();
    save_in_place(&project.path("conf/notes.txt"), "more notes\n");
    save_in_place(&project.path("top.yaml"), "b: 2\n");
    save_in_place(&project.path("other.py"), "Y = 2\n");
    assert_no_run(&mut host, 3);

    // A watched directory: its .py files trigger.
    host.mark();
    save_in_place(&project.path("src/util.py"), "X = 2\n");
    let third = wait_ok(&mut host, 3);
    assert!(third.contains("after saving util.py"), "{third}");

    // The target's own file is always watched.
    host.mark();
    edit(
        &project,
        "lib.py",
        "print('changed'",
        "print('changed again'",
    );
    let fourth = wait_ok(&mut host, 4);
    assert!(fourth.contains("after saving lib.py"), "{fourth}");
    assert_eq!(host.count("after saving"), 3, "{}", host.transcript());
}

#[test]
fn ext_and_ignore_from_the_config_decide_what_triggers() {
    let project = Project::new();
    project.write("lib.py", SHOW_CHANGED);
    project.write("settings.toml", "a = 1\n");
    project.write("notes.txt", "notes\n");
    project.write("data/seed.py", "S = 1\n");
    project.write("schema_gen.py", "G = 1\n");
    project.write("helper.py", "H = 1\n");
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\next = [\"py\", \"toml\"]\nignore = [\"data/**\", \"*_gen.py\"]\n",
    );
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);

    host.mark();
    save_in_place(&project.path("settings.toml"), "a = 2\n");
    let second = wait_ok(&mut host, 2);
    assert!(second.contains("after saving settings.toml"), "{second}");

    host.mark();
    save_in_place(&project.path("notes.txt"), "more\n");
    save_in_place(&project.path("data/seed.py"), "S = 2\n");
    save_in_place(&project.path("schema_gen.py"), "G = 2\n");
    assert_no_run(&mut host, 3);

    host.mark();
    save_in_place(&project.path("helper.py"), "H = 2\n");
    let third = wait_ok(&mut host, 3);
    assert!(third.contains("after saving helper.py"), "{third}");
    host.wait_for("changed ['helper.py']");
}

#[test]
fn clear_from_the_config_clears_a_terminal_before_each_run() {
    let module = "import hotload\nprint('body', hotload.info().run)\n";

    // clear = true, stdout a terminal: cleared (and the header drawn) before every run.
    let project = Project::new();
    project.write("lib.py", module);
    project.write("hotload.toml", "target = \"lib.py\"\nclear = true\n");
    let mut tty = Tty::open();
    let mut host = tty.spawn(command_in(&project, "", &[], &[]));
    wait_ok(&mut host, 1);
    tty.expect("body 1");
    host.mark();
    edit(&project, "lib.py", "print('body'", "print('Body'");
    wait_ok(&mut host, 2);
    tty.expect("Body 2");
    let screen = tty.text();
    assert_eq!(screen.matches(CLEAR).count(), 2, "{screen:?}");
    let (first, second) = (screen.find(CLEAR).unwrap(), screen.rfind(CLEAR).unwrap());
    assert!(first < screen.find("body 1").unwrap(), "{screen:?}");
    assert!(
        screen.find("body 1").unwrap() < second && second < screen.find("Body 2").unwrap(),
        "{screen:?}"
    );
    assert_eq!(host.count("hotload-host · lib"), 2, "{}", host.transcript());
    drop(host);

    // clear = false: never, even on a terminal.
    let project = Project::new();
    project.write("lib.py", module);
    project.write("hotload.toml", "target = \"lib.py\"\nclear = false\n");
    let mut tty = Tty::open();
    let mut host = tty.spawn(command_in(&project, "", &[], &[]));
    wait_ok(&mut host, 1);
    tty.expect("body 1");
    assert!(!tty.text().contains(CLEAR), "{:?}", tty.text());
    assert_eq!(host.count("hotload-host · "), 0, "{}", host.transcript());
    drop(host);

    // clear = true, stdout not a terminal: nothing is cleared.
    let project = Project::new();
    project.write("lib.py", module);
    project.write("hotload.toml", "target = \"lib.py\"\nclear = true\n");
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);
    host.wait_for("body 1");
    assert!(!host.transcript().contains('\x1b'), "{}", host.transcript());
    assert_eq!(host.count("hotload-host · "), 0, "{}", host.transcript());
}

/// A module whose hooks all say which run they belong to.
const HOOKED: &str = r#"import hotload
print(f"body {hotload.info().run}")

@hotload.before_reload
def _before():
    print(f"before_reload {hotload.info().run}")

@hotload.after_reload
def _after():
    print(f"after_reload {hotload.info().run}")

def after():
    print(f"post {hotload.info().run}")

def main():
    print(f"entrypoint {hotload.info().run}")
"#;

#[test]
fn pre_post_and_entrypoint_from_the_config_run_in_the_documented_order() {
    let project = Project::new();
    project.write("lib.py", HOOKED);
    project.write(
        "hooks.py",
        "import hotload\n\ndef teardown():\n    print(f\"pre {hotload.info().run}\")\n",
    );
    project.write("hotload.toml", "target = \"lib.py\"\npre = \"hooks:teardown\"\npost = \"lib:after\"\nentrypoint = \"main\"\n");
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);
    host.wait_for("entrypoint 1");
    host.mark();
    edit(&project, "lib.py", "print(f\"body", "print(f\"body:");
    wait_ok(&mut host, 2);
    host.wait_for("entrypoint 2");
    // pre is not called before the first import; then: pre, @before_reload, the reload,
    // @after_reload, post, the entrypoint.
    assert_eq!(
        out_lines(&host),
        [
            "body 1",
            "after_reload 1",
            "post 1",
            "entrypoint 1",
            "pre 2",
            "before_reload 2",
            "body: 2",
            "after_reload 2",
            "post 2",
            "entrypoint 2",
        ],
        "{}",
        host.transcript()
    );

    // A reload that fails: post and the entrypoint are not called; the next good save is.
    host.mark();
    edit(&project, "lib.py", "print(f\"body:", "print(f\"body:\" +");
    wait_failed(&mut host, 3);
    host.mark();
    edit(&project, "lib.py", "print(f\"body:\" +", "print(f\"body!");
    wait_ok(&mut host, 4);
    host.wait_for("entrypoint 4");
    assert_eq!(host.count("post 3"), 0, "{}", host.transcript());
    assert_eq!(host.count("entrypoint 3"), 0, "{}", host.transcript());
    assert_eq!(host.count("pre 3"), 1, "{}", host.transcript());
}

#[test]
fn a_failing_pre_hook_fails_the_run_but_the_reload_and_post_still_happen() {
    // README: pre "raises -> its traceback is shown, the run is marked failed, and the reload
    // still happens"; "post and the entrypoint run only after a successful reload".
    let project = Project::new();
    project.write("lib.py", HOOKED);
    project.write(
        "hooks.py",
        "import hotload\n\ndef teardown():\n    raise RuntimeError(f\"teardown broke in run {hotload.info().run}\")\n",
    );
    project.write("hotload.toml", "target = \"lib.py\"\npre = \"hooks:teardown\"\npost = \"lib:after\"\nentrypoint = \"main\"\n");
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);
    host.mark();
    edit(&project, "lib.py", "print(f\"body", "print(f\"new body");
    let second = wait_failed(&mut host, 2);
    assert!(
        second.contains("RuntimeError: teardown broke in run 2"),
        "{second}"
    );
    host.wait_for("Error in pre hook hooks:teardown");
    host.wait_for("new body 2");
    // The reload succeeded, so post and the entrypoint run (new code is not kept out).
    host.mark();
    edit(
        &project,
        "lib.py",
        "print(f\"new body",
        "print(f\"newer body",
    );
    wait_failed(&mut host, 3);
    host.wait_for("newer body 3");
    assert_eq!(
        host.count("post 2"),
        1,
        "post was not called after a successful reload:\n{}",
        host.transcript()
    );
    assert_eq!(
        host.count("entrypoint 2"),
        1,
        "the entrypoint was not called after a successful reload:\n{}",
        host.transcript()
    );
}

#[test]
fn poll_from_the_config_polls_and_still_sees_saves() {
    let project = Project::new();
    project.write(
        "lib.py",
        "import hotload\nprint('body', hotload.info().run)\n",
    );
    project.write("hotload.toml", "target = \"lib.py\"\npoll = 50\n");
    // The poller compares modification times; start from an old one so that the save below
    // (however soon) has a newer one. (Same-second saves while polling: see tests/watching.rs.)
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    File::options()
        .write(true)
        .open(project.path("lib.py"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let mut host = spawn(&project, &["-v"]);
    host.wait_for("(polling)");
    wait_ok(&mut host, 1);
    host.mark();
    edit(&project, "lib.py", "print('body'", "print('polled body'");
    wait_ok(&mut host, 2);
    host.wait_for("polled body 2");
    assert_eq!(host.count("(OS events)"), 0, "{}", host.transcript());
    drop(host);

    // The environment overrides the file: HOTLOAD_POLL=false means OS events.
    let mut host = spawn_in(&project, "", &["-v"], &[("HOTLOAD_POLL", "false")]);
    host.wait_for("(OS events)");
    wait_ok(&mut host, 1);
    assert_eq!(host.count("(polling)"), 0, "{}", host.transcript());
}

#[test]
fn reload_mode_from_the_config_and_changed_live() {
    let project = Project::new();
    project.write("helper.py", "VALUE = 1\n");
    project.write(
        "lib.py",
        "from helper import VALUE\nprint('value', VALUE)\n",
    );
    project.write("hotload.toml", "target = \"lib.py\"\nreload = \"entry\"\n");
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);
    host.wait_for("value 1");
    // entry: only the target is reloaded, the saved helper keeps its old value.
    host.mark();
    save_in_place(&project.path("helper.py"), "VALUE = 2\n");
    wait_ok(&mut host, 2);
    host.wait_count("value 1", 2);

    host.mark();
    save_in_place(
        &project.path("hotload.toml"),
        "target = \"lib.py\"\nreload = \"changed\"\n",
    );
    host.wait_for("config reloaded");
    wait_ok(&mut host, 3);
    host.mark();
    save_in_place(&project.path("helper.py"), "VALUE = 3\n");
    wait_ok(&mut host, 4);
    host.wait_for("value 3");
}

// ---------------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------------

const STEPS_LIB: &str = r#"import hotload
print(f"lib body {hotload.info().run}")

def check():
    print(f"check {hotload.info().run}")

def done():
    print(f"done {hotload.info().run}")
"#;

#[test]
fn steps_of_every_kind_run_in_order_on_every_save() {
    let project = Project::new();
    project.write("lib.py", STEPS_LIB);
    project.write(
        "helper.py",
        "import hotload\nprint(f\"helper body {hotload.info().run}\")\n",
    );
    project.write(
        "hotload.toml",
        r#"[[steps]]
reload = "helper"
[[steps]]
reload = "lib"
[[steps]]
call = "lib:check"
[[steps]]
run = "echo shell step $HOTLOAD_RUNNING"
[[steps]]
call = "lib:done"
"#,
    );
    trust(&project);
    let mut host = spawn(&project, &[]);
    let first = wait_ok(&mut host, 1);
    assert!(first.contains("steps ran"), "{first}");
    host.wait_for("done 1");
    host.mark();
    edit(
        &project,
        "helper.py",
        "print(f\"helper body",
        "print(f\"helper body,",
    );
    let second = wait_ok(&mut host, 2);
    assert!(second.contains("after saving helper.py"), "{second}");
    host.wait_for("done 2");
    // Several modules reloaded in one run, in the order written; the command sees the
    // module's environment.
    assert_eq!(
        out_lines(&host),
        [
            "helper body 1",
            "lib body 1",
            "check 1",
            "shell step HOTLOAD_RUNNING",
            "done 1",
            "helper body, 2",
            "lib body 2",
            "check 2",
            "shell step HOTLOAD_RUNNING",
            "done 2",
        ],
        "{}",
        host.transcript()
    );
}

#[test]
fn reload_steps_reload_each_module_once_and_in_step_order() {
    // Saving the module of the *second* reload step: it is reloaded once, in its own step,
    // after the first step's module ("On each save it is reloaded once").
    let project = Project::new();
    project.write("lib.py", STEPS_LIB);
    project.write(
        "helper.py",
        "import hotload\nprint(f\"helper body {hotload.info().run}\")\n",
    );
    project.write("hotload.toml", "[[steps]]\nreload = \"helper\"\n[[steps]]\nreload = \"lib\"\n[[steps]]\ncall = \"lib:done\"\n");
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);
    host.wait_for("done 1");
    host.mark();
    edit(
        &project,
        "lib.py",
        "print(f\"lib body",
        "print(f\"lib body,",
    );
    wait_ok(&mut host, 2);
    host.wait_for("done 2");
    assert_eq!(
        out_lines(&host),
        [
            "helper body 1",
            "lib body 1",
            "done 1",
            "helper body 2",
            "lib body, 2",
            "done 2"
        ],
        "{}",
        host.transcript()
    );
}

#[test]
fn a_clear_step_clears_a_terminal() {
    let project = Project::new();
    project.write("lib.py", STEPS_LIB);
    // clear = false: the host itself never clears, so any clearing is the step's.
    project.write(
        "hotload.toml",
        "clear = false\n[[steps]]\nclear = true\n[[steps]]\nreload = \"lib\"\n",
    );
    let mut tty = Tty::open();
    let mut host = tty.spawn(command_in(&project, "", &[], &[]));
    wait_ok(&mut host, 1);
    tty.expect("lib body 1");
    host.mark();
    edit(
        &project,
        "lib.py",
        "print(f\"lib body",
        "print(f\"lib body,",
    );
    wait_ok(&mut host, 2);
    tty.expect("lib body, 2");
    let screen = tty.text();
    assert_eq!(screen.matches(CLEAR).count(), 2, "{screen:?}");
    let (clear2, body2) = (
        screen.rfind(CLEAR).unwrap(),
        screen.find("lib body, 2").unwrap(),
    );
    assert!(
        screen.find(CLEAR).unwrap() < screen.find("lib body 1").unwrap() && clear2 < body2,
        "{screen:?}"
    );
    assert_eq!(host.count("hotload-host · "), 0, "{}", host.transcript());
}

#[test]
fn a_failing_call_step_stops_the_run_and_the_next_save_starts_from_the_first_step() {
    let project = Project::new();
    project.write(
        "lib.py",
        &format!("FAIL = False\n{STEPS_LIB}\ndef gate():\n    assert not FAIL, 'gate closed'\n"),
    );
    project.write(
        "hotload.toml",
        "[[steps]]\nrun = \"echo first step\"\n[[steps]]\nreload = \"lib\"\n[[steps]]\ncall = \"lib:gate\"\n\
         [[steps]]\nrun = \"echo shell step\"\n[[steps]]\ncall = \"lib:done\"\n",
    );
    trust(&project);
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);
    host.wait_for("done 1");

    host.mark();
    edit(&project, "lib.py", "FAIL = False", "FAIL = True");
    let second = wait_failed(&mut host, 2);
    assert!(second.contains("AssertionError: gate closed"), "{second}");

    host.mark();
    edit(&project, "lib.py", "FAIL = True", "FAIL = False");
    wait_ok(&mut host, 3);
    host.wait_for("done 3");
    // Run 2 stopped after the failing call; run 3 started again with the first step.
    assert_eq!(
        out_lines(&host),
        [
            "first step",
            "lib body 1",
            "shell step",
            "done 1",
            "first step",
            "lib body 2",
            "first step",
            "lib body 3",
            "shell step",
            "done 3",
        ],
        "{}",
        host.transcript()
    );
}

#[test]
fn a_failing_command_or_reload_step_stops_the_rest_of_the_run() {
    let project = Project::new();
    project.write("lib.py", STEPS_LIB);
    project.write(
        "hotload.toml",
        "[[steps]]\nreload = \"lib\"\n[[steps]]\nrun = \"echo shell step; test ! -e fail.flag\"\n[[steps]]\ncall = \"lib:done\"\n",
    );
    trust(&project);
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);
    host.wait_for("done 1");

    // A command exiting non-zero fails its step.
    host.mark();
    project.write("fail.flag", "");
    edit(
        &project,
        "lib.py",
        "print(f\"lib body",
        "print(f\"lib body,",
    );
    let second = wait_failed(&mut host, 2);
    assert!(second.contains("exited with status 1"), "{second}");

    // A reload that fails stops the steps after it.
    host.mark();
    std::fs::remove_file(project.path("fail.flag")).unwrap();
    edit(
        &project,
        "lib.py",
        "print(f\"lib body,",
        "print(f\"lib body,,\" +",
    );
    let third = wait_failed(&mut host, 3);
    assert!(third.contains("SyntaxError"), "{third}");

    host.mark();
    edit(
        &project,
        "lib.py",
        "print(f\"lib body,,\" +",
        "print(f\"lib body!",
    );
    wait_ok(&mut host, 4);
    host.wait_for("done 4");
    assert_eq!(
        out_lines(&host),
        [
            "lib body 1",
            "shell step",
            "done 1",
            "lib body, 2",
            "shell step",
            "lib body! 4",
            "shell step",
            "done 4"
        ],
        "{}",
        host.transcript()
    );
}

// ---------------------------------------------------------------------------------------------
// pyproject.toml and discovery
// ---------------------------------------------------------------------------------------------

const PYPROJECT_HEAD: &str =
    "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n\n[tool.black]\nline-length = 100\n";

#[test]
fn tool_hotload_in_pyproject_is_a_config() {
    let project = Project::new();
    project.write(
        "lib.py",
        "import sys\nprint('lib', sys.argv[1:])\ndef after():\n    print('post from pyproject')\n",
    );
    project.write(
        "pyproject.toml",
        &format!("{PYPROJECT_HEAD}\n[tool.hotload]\ntarget = \"lib.py\"\nargs = [\"--from\", \"pyproject\"]\npost = \"lib:after\"\n"),
    );
    let file = root(&project).join("pyproject.toml").display().to_string();
    let p = print_config(&project, &[]);
    assert_eq!(p.file, file);
    p.check("target", "\"lib.py\"", &file);
    p.check("post", "\"lib:after\"", &file);
    let out = run(&project, &["--once"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout,
        "lib ['--from', 'pyproject']\npost from pyproject\n"
    );

    // The step list is [[tool.hotload.steps]].
    project.write(
        "pyproject.toml",
        &format!("{PYPROJECT_HEAD}\n[tool.hotload]\nclear = false\n\n[[tool.hotload.steps]]\nreload = \"lib\"\n[[tool.hotload.steps]]\nrun = \"echo from steps\"\n"),
    );
    let p = print_config(&project, &[]);
    p.check(
        "steps",
        "[{ reload = \"lib\" }, { run = \"echo from steps\" }]",
        &file,
    );
    trust(&project);
    let out = run(&project, &["--once"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "lib []\nfrom steps\n");
}

#[test]
fn hotload_toml_wins_over_pyproject_in_the_same_directory() {
    let project = Project::new();
    project.write("a.py", "print('ran a')\n");
    project.write("b.py", "print('ran b')\n");
    project.write(
        "pyproject.toml",
        &format!("{PYPROJECT_HEAD}\n[tool.hotload]\ntarget = \"a.py\"\n"),
    );
    project.write("hotload.toml", "target = \"b.py\"\n");
    let p = print_config(&project, &[]);
    assert_eq!(
        p.file,
        root(&project).join("hotload.toml").display().to_string()
    );
    let out = run(&project, &["--once"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "ran b\n");
}

#[test]
fn a_pyproject_without_tool_hotload_is_not_a_config() {
    // Nothing else up to the repository's top: no config at all.
    let project = Project::new();
    std::fs::create_dir(project.path(".git")).unwrap();
    project.write("lib.py", &format!("print('{MARKER}')\n"));
    project.write(
        "pyproject.toml",
        &format!("{PYPROJECT_HEAD}# [tool.hotload] is only mentioned in a comment\n"),
    );
    let p = print_config(&project, &["lib.py"]);
    assert_eq!(p.file, "none");
    p.check("target", "\"lib.py\"", "command line TARGET");
    let out = run(&project, &[]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.starts_with("hotload-host: error: no target"),
        "{}",
        out.stderr
    );

    // The search goes on upwards: the parent's hotload.toml is the config.
    let project = Project::new();
    std::fs::create_dir(project.path(".git")).unwrap();
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\nargs = [\"from parent\"]\n",
    );
    project.write("lib.py", "import sys\nprint('parent lib', sys.argv[1:])\n");
    project.write("pkg/pyproject.toml", PYPROJECT_HEAD);
    let p = print_config_in(&project, "pkg", &[], &[]);
    assert_eq!(
        p.file,
        root(&project).join("hotload.toml").display().to_string()
    );
    let out = run_in(&project, "pkg", &["--once"], &[]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "parent lib ['from parent']\n");
}

#[test]
fn the_config_is_found_from_a_nested_subdirectory_and_paths_stay_relative_to_it() {
    let project = Project::new();
    project.write(
        "lib.py",
        &format!("{SHOW_CHANGED}import sys\nprint('argv', sys.argv[1:])\n"),
    );
    project.write("a/b/deep.py", "D = 1\n");
    project.write("a/b/scratch/tmp.py", "T = 1\n");
    // ignore is relative to the file's directory, not to where the host was started.
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\nargs = [\"found\"]\nignore = [\"a/b/scratch/**\"]\n",
    );
    let file = root(&project).join("hotload.toml").display().to_string();
    let p = print_config_in(&project, "a/b", &[], &[]);
    assert_eq!(p.file, file);
    p.check("target", "\"lib.py\"", &file);

    let mut host = spawn_in(&project, "a/b", &[], &[]);
    wait_ok(&mut host, 1);
    host.wait_for("argv ['found']");
    host.mark();
    save_in_place(&project.path("a/b/scratch/tmp.py"), "T = 2\n");
    assert_no_run(&mut host, 2);
    host.mark();
    save_in_place(&project.path("a/b/deep.py"), "D = 2\n");
    let second = wait_ok(&mut host, 2);
    assert!(second.contains("after saving deep.py"), "{second}");
    host.mark();
    edit(&project, "lib.py", "print('argv'", "print('argv again'");
    wait_ok(&mut host, 3);
    host.wait_for("argv again ['found']");
}

#[test]
fn discovery_stops_at_a_directory_holding_git() {
    let project = Project::new();
    project.write("hotload.toml", "target = \"lib.py\"\n");
    project.write("lib.py", &format!("print('{MARKER}')\n"));
    // A repository below the config: its top ends the search.
    std::fs::create_dir_all(project.path("repo/.git")).unwrap();
    std::fs::create_dir_all(project.path("repo/sub/deeper")).unwrap();
    // A worktree or submodule has a .git file: that ends it too.
    project.write("worktree/.git", "gitdir: /somewhere/else\n");
    std::fs::create_dir_all(project.path("worktree/sub")).unwrap();
    for dir in ["repo", "repo/sub/deeper", "worktree", "worktree/sub"] {
        let p = print_config_in(&project, dir, &["x.py"], &[]);
        assert_eq!(p.file, "none", "from {dir}:\n{}", p.text);
        let out = run_in(&project, dir, &[], &[]);
        assert_eq!(
            out.code(),
            Some(2),
            "from {dir}: {}{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stderr.contains("no target"),
            "from {dir}: {}",
            out.stderr
        );
        assert!(!out.stdout.contains(MARKER), "from {dir}: {}", out.stdout);
    }
    // A config in the directory that holds .git is still found (from below, too).
    project.write("repo/hotload.toml", "target = \"app.py\"\n");
    project.write("repo/app.py", "print('repo app')\n");
    let p = print_config_in(&project, "repo/sub/deeper", &[], &[]);
    assert_eq!(
        p.file,
        root(&project)
            .join("repo/hotload.toml")
            .display()
            .to_string()
    );
    let out = run_in(&project, "repo/sub/deeper", &["--once"], &[]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "repo app\n");
}

// ---------------------------------------------------------------------------------------------
// --config, --no-config, HOTLOAD_CONFIG
// ---------------------------------------------------------------------------------------------

fn three_configs() -> Project {
    let project = Project::new();
    std::fs::create_dir(project.path(".git")).unwrap();
    for name in ["found", "env", "flag"] {
        project.write(&format!("{name}.py"), &format!("print('{name} target')\n"));
    }
    project.write("hotload.toml", "target = \"found.py\"\n");
    // Paths in a config are relative to the config file's own directory.
    project.write("conf/env.toml", "target = \"../env.py\"\n");
    project.write("conf/flag.toml", "target = \"../flag.py\"\n");
    project
}

#[test]
fn config_flag_and_hotload_config_name_the_file() {
    let project = three_configs();
    let once = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["--once"];
        all.extend_from_slice(args);
        let out = run_in(&project, "", &all, env);
        assert_eq!(
            out.code(),
            Some(0),
            "{args:?} {env:?}: {}{}",
            out.stdout,
            out.stderr
        );
        out.stdout
    };
    assert_eq!(once(&[], &[]), "found target\n");
    assert_eq!(once(&["--config", "conf/flag.toml"], &[]), "flag target\n");
    assert_eq!(
        once(&[], &[("HOTLOAD_CONFIG", "conf/env.toml")]),
        "env target\n"
    );
    // --config beats HOTLOAD_CONFIG.
    assert_eq!(
        once(
            &["--config", "conf/flag.toml"],
            &[("HOTLOAD_CONFIG", "conf/env.toml")]
        ),
        "flag target\n"
    );
    let p = print_config_in(
        &project,
        "",
        &["--config", "conf/flag.toml"],
        &[("HOTLOAD_CONFIG", "conf/env.toml")],
    );
    assert!(p.file.ends_with("conf/flag.toml"), "{}", p.text);
    assert_eq!(p.origin("target"), p.file);
    let p = print_config_in(&project, "", &[], &[("HOTLOAD_CONFIG", "conf/env.toml")]);
    assert!(p.file.ends_with("conf/env.toml"), "{}", p.text);

    // An explicit file may have any name, and may be a pyproject.toml elsewhere.
    project.write(
        "other/pyproject.toml",
        &format!("{PYPROJECT_HEAD}\n[tool.hotload]\ntarget = \"../env.py\"\n"),
    );
    assert_eq!(
        once(&["--config", "other/pyproject.toml"], &[]),
        "env target\n"
    );
    // Works from a subdirectory with a path relative to it.
    let out = run_in(&project, "conf", &["--once", "--config", "flag.toml"], &[]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "flag target\n");
}

#[test]
fn no_config_ignores_discovered_and_named_configs() {
    let project = three_configs();
    project.write(
        "hotload.toml",
        "target = \"found.py\"\npost = \"found:nope\"\nargs = [\"from file\"]\n",
    );
    let p = print_config(&project, &["--no-config", "flag.py"]);
    assert_eq!(p.file, "none");
    for (key, _, origin) in &p.rows {
        if key != "target" {
            assert_eq!(origin, "default", "{key}:\n{}", p.text);
        }
    }
    let p = print_config_in(
        &project,
        "",
        &["--no-config", "flag.py"],
        &[("HOTLOAD_CONFIG", "conf/env.toml")],
    );
    assert_eq!(p.file, "none");

    // The file's (unresolvable) post is not even looked at.
    let out = run(&project, &["--no-config", "--once", "flag.py"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "flag target\n");
    // Without a target, --no-config has nothing to run.
    let out = run(&project, &["--no-config"]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.starts_with("hotload-host: error: no target"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_config_flags_exit_2() {
    let project = three_configs();
    project.write("plain/pyproject.toml", PYPROJECT_HEAD);
    for (args, env, expect) in [
        (vec!["--config", "missing.toml"], vec![], "missing.toml"),
        (
            vec![],
            vec![("HOTLOAD_CONFIG", "missing.toml")],
            "missing.toml",
        ),
        (
            vec!["--config", "conf/flag.toml", "--no-config"],
            vec![],
            "--no-config",
        ),
        (
            vec!["--config", "plain/pyproject.toml"],
            vec![],
            "[tool.hotload]",
        ),
    ] {
        let mut all = vec!["--once"];
        all.extend(args.iter().copied());
        let out = run_in(&project, "", &all, &env);
        assert_eq!(
            out.code(),
            Some(2),
            "{args:?} {env:?}: {}{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stderr.starts_with("hotload-host: error: "),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(expect),
            "{args:?}: expected {expect:?} in {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
}

// ---------------------------------------------------------------------------------------------
// Precedence: command line > environment > file > defaults
// ---------------------------------------------------------------------------------------------

#[test]
fn precedence_in_print_config_for_every_layered_key() {
    let project = Project::new();
    project.write(
        "hotload.toml",
        r#"target = "file.py"
args = ["from-file"]
watch = ["wfile"]
ignore = ["ifile/**"]
ext = ["fileext"]
clear = true
post = "hooks:file_post"
entrypoint = "file_main"
poll = 300
reload = "entry"
"#,
    );
    let file = root(&project).join("hotload.toml").display().to_string();
    let env: &[(&str, &str)] = &[
        ("HOTLOAD_TARGET", "env.py"),
        ("HOTLOAD_WATCH", "wenv"),
        ("HOTLOAD_IGNORE", "ienv/**"),
        ("HOTLOAD_EXT", "envext,other"),
        ("HOTLOAD_CLEAR", "false"),
        ("HOTLOAD_PRE", "hooks:env_pre"),
        ("HOTLOAD_POST", "hooks:env_post"),
        ("HOTLOAD_ENTRYPOINT", "env_main"),
        ("HOTLOAD_POLL", "400"),
        ("HOTLOAD_RELOAD", "deep"),
    ];
    let cli = [
        "cli.py",
        "-w",
        "wcli",
        "-i",
        "icli/**",
        "-e",
        "cliext",
        "--clear",
        "--pre",
        "hooks:cli_pre",
        "--post",
        "hooks:cli_post",
        "--entrypoint",
        "cli_main",
        "--poll=500",
        "--reload",
        "changed",
        "--",
        "from-cli",
    ];

    // Defaults only.
    let p = print_config(&project, &["--no-config", "x.py"]);
    p.check("args", "[]", "default");
    p.check("ext", "[\"py\"]", "default");
    p.check("reload", "changed", "default");
    p.check("poll", "off (OS events)", "default");
    p.check("clear", "auto (when stdout is a terminal)", "default");

    // The file over the defaults (pre is not in the file: still the default).
    let p = print_config(&project, &[]);
    p.check("target", "\"file.py\"", &file);
    p.check("args", "[\"from-file\"]", &file);
    p.check("ignore", "[\"ifile/**\"]", &file);
    p.check("ext", "[\"fileext\"]", &file);
    p.check("clear", "true", &file);
    p.check("pre", "(none)", "default");
    p.check("post", "\"hooks:file_post\"", &file);
    p.check("entrypoint", "\"file_main\"", &file);
    p.check("poll", "300 ms", &file);
    p.check("reload", "entry", &file);
    assert!(p.value("watch").contains("wfile"), "{}", p.text);
    assert_eq!(p.origin("watch"), file);

    // The environment over the file (args has no variable: still the file's).
    let p = print_config_in(&project, "", &[], env);
    p.check("target", "\"env.py\"", "environment HOTLOAD_TARGET");
    p.check("args", "[\"from-file\"]", &file);
    p.check("ignore", "[\"ienv/**\"]", "environment HOTLOAD_IGNORE");
    p.check("ext", "[\"envext\", \"other\"]", "environment HOTLOAD_EXT");
    p.check("clear", "false", "environment HOTLOAD_CLEAR");
    p.check("pre", "\"hooks:env_pre\"", "environment HOTLOAD_PRE");
    p.check("post", "\"hooks:env_post\"", "environment HOTLOAD_POST");
    p.check(
        "entrypoint",
        "\"env_main\"",
        "environment HOTLOAD_ENTRYPOINT",
    );
    p.check("poll", "400 ms", "environment HOTLOAD_POLL");
    p.check("reload", "deep", "environment HOTLOAD_RELOAD");
    assert!(
        p.value("watch").contains("wenv") && !p.value("watch").contains("wfile"),
        "{}",
        p.text
    );
    assert_eq!(p.origin("watch"), "environment HOTLOAD_WATCH");

    // The command line over both.
    let p = print_config_in(&project, "", &cli, env);
    p.check("target", "\"cli.py\"", "command line TARGET");
    p.check("args", "[\"from-cli\"]", "command line -- ARGS");
    p.check("ignore", "[\"icli/**\"]", "command line --ignore");
    p.check("ext", "[\"cliext\"]", "command line --ext");
    p.check("clear", "true", "command line --clear");
    p.check("pre", "\"hooks:cli_pre\"", "command line --pre");
    p.check("post", "\"hooks:cli_post\"", "command line --post");
    p.check("entrypoint", "\"cli_main\"", "command line --entrypoint");
    p.check("poll", "500 ms", "command line --poll");
    p.check("reload", "changed", "command line --reload");
    assert!(
        p.value("watch").contains("wcli") && !p.value("watch").contains("wenv"),
        "{}",
        p.text
    );
    assert_eq!(p.origin("watch"), "command line --watch");

    // The original tool's HOTLOAD_NO_CLEAR is the environment layer too; --clear still wins.
    let p = print_config_in(
        &project,
        "",
        &[],
        &[("HOTLOAD_NO_CLEAR", "HOTLOAD_NO_CLEAR")],
    );
    p.check("clear", "false", "environment HOTLOAD_NO_CLEAR");
    let p = print_config_in(
        &project,
        "",
        &["--clear"],
        &[("HOTLOAD_NO_CLEAR", "HOTLOAD_NO_CLEAR")],
    );
    p.check("clear", "true", "command line --clear");
    let p = print_config(&project, &["--no-clear"]);
    p.check("clear", "false", "command line --no-clear");
}

#[test]
fn precedence_in_behaviour_target_args_post_and_entrypoint() {
    let project = Project::new();
    for layer in ["file", "env", "cli"] {
        project.write(
            &format!("{layer}.py"),
            &format!("import sys\nprint('{layer} target', sys.argv[1:])\n\ndef {layer}_main():\n    print('{layer} entrypoint')\n"),
        );
    }
    project.write(
        "hooks.py",
        "def file_post():\n    print('file post')\n\ndef env_post():\n    print('env post')\n\ndef cli_post():\n    print('cli post')\n",
    );
    project.write(
        "hotload.toml",
        "target = \"file.py\"\nargs = [\"from-file\"]\npost = \"hooks:file_post\"\nentrypoint = \"file_main\"\n",
    );
    let env: &[(&str, &str)] = &[
        ("HOTLOAD_TARGET", "env.py"),
        ("HOTLOAD_POST", "hooks:env_post"),
        ("HOTLOAD_ENTRYPOINT", "env_main"),
    ];
    let once = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["--once"];
        all.extend_from_slice(args);
        let out = run_in(&project, "", &all, env);
        assert_eq!(
            out.code(),
            Some(0),
            "{args:?}: {}{}",
            out.stdout,
            out.stderr
        );
        out.stdout
    };
    assert_eq!(
        once(&[], &[]),
        "file target ['from-file']\nfile post\nfile entrypoint\n"
    );
    assert_eq!(
        once(&[], env),
        "env target ['from-file']\nenv post\nenv entrypoint\n"
    );
    assert_eq!(
        once(
            &[
                "cli.py",
                "--post",
                "hooks:cli_post",
                "--entrypoint",
                "cli_main",
                "--",
                "from-cli"
            ],
            env
        ),
        "cli target ['from-cli']\ncli post\ncli entrypoint\n"
    );
    // Only some keys on the command line: the rest still come from the lower layers.
    assert_eq!(
        once(&["--post", "hooks:cli_post"], env),
        "env target ['from-file']\ncli post\nenv entrypoint\n"
    );
}

#[test]
fn precedence_in_behaviour_for_what_triggers_a_run() {
    let project = Project::new();
    project.write("lib.py", SHOW_CHANGED);
    project.write("a.toml", "x = 1\n");
    project.write("b.txt", "x\n");
    project.write("c.md", "x\n");
    project.write("hotload.toml", "target = \"lib.py\"\next = [\"toml\"]\n");

    // The environment's ext replaces the file's.
    let mut host = spawn_in(&project, "", &[], &[("HOTLOAD_EXT", "txt")]);
    wait_ok(&mut host, 1);
    host.mark();
    save_in_place(&project.path("a.toml"), "x = 2\n");
    assert_no_run(&mut host, 2);
    host.mark();
    save_in_place(&project.path("b.txt"), "y\n");
    let second = wait_ok(&mut host, 2);
    assert!(second.contains("after saving b.txt"), "{second}");
    drop(host);

    // The command line's replaces both.
    let mut host = spawn_in(&project, "", &["-e", "md"], &[("HOTLOAD_EXT", "txt")]);
    wait_ok(&mut host, 1);
    host.mark();
    save_in_place(&project.path("a.toml"), "x = 3\n");
    save_in_place(&project.path("b.txt"), "z\n");
    assert_no_run(&mut host, 2);
    host.mark();
    save_in_place(&project.path("c.md"), "y\n");
    let second = wait_ok(&mut host, 2);
    assert!(second.contains("after saving c.md"), "{second}");
}

// ---------------------------------------------------------------------------------------------
// Validation: exit 2, `hotload-host: error: FILE:LINE:COL: ...`, before any user code
// ---------------------------------------------------------------------------------------------

/// A project whose every module announces itself at import.
fn marked_project() -> Project {
    let project = Project::new();
    std::fs::create_dir(project.path(".git")).unwrap();
    let body =
        format!("print('{MARKER}', __name__)\n\ndef run():\n    pass\n\ndef main():\n    pass\n");
    project.write("lib.py", &body);
    project.write("hooks.py", &body);
    project.write("pkg/__init__.py", &body);
    project.write("pkg/mod.py", &body);
    project
}

/// Writes hotload.toml, runs the host (watch mode: it must exit on its own), checks the error
/// points at `needle` (its line, and its column when `at_col`).
fn check_error(project: &Project, toml: &str, needle: &str, at_col: bool, message: &str) {
    project.write("hotload.toml", toml);
    let out = run(project, &[]);
    let (line, col) = pos(toml, needle);
    let file = root(project).join("hotload.toml");
    assert_config_error(&out, &file, &[line], at_col.then_some(col), message);
}

#[test]
fn unknown_keys_are_errors_with_a_suggestion() {
    let project = marked_project();
    check_error(
        &project,
        "target = \"lib.py\"\ntagret = \"lib.py\"\n",
        "tagret",
        true,
        "unknown key `tagret` (did you mean `target`?)",
    );
    check_error(
        &project,
        "target = \"lib.py\"\nentrypiont = \"main\"\n",
        "entrypiont",
        true,
        "(did you mean `entrypoint`?)",
    );
    check_error(
        &project,
        "target = \"lib.py\"\n\nwatches = [\"src\"]\n",
        "watches",
        true,
        "(did you mean `watch`?)",
    );
    // Also with --once (exit 2, not 1) and --print-config.
    let file = root(&project).join("hotload.toml");
    for flag in ["--once", "--print-config"] {
        let out = run(&project, &[flag]);
        assert_config_error(&out, &file, &[3], Some(1), "unknown key `watches`");
    }
    // The known keys are the declared ones, in the order --print-config shows them (a table's
    // keys, `test.args`, under the table's name).
    let mut known: Vec<String> = Vec::new();
    for (key, _, _) in print_config(&project, &["--no-config", "lib.py"]).rows {
        let top = key.split('.').next().unwrap().to_string();
        if !known.contains(&top) {
            known.push(top);
        }
    }
    assert!(known.len() > 12, "{known:?}");
    check_error(
        &project,
        "target = \"lib.py\"\ncolour = \"always\"\n",
        "colour",
        true,
        &format!("unknown key `colour`; known keys: {}", known.join(", ")),
    );
}

#[test]
fn wrong_types_are_errors_at_the_value() {
    let project = marked_project();
    let cases: &[(&str, &str, &str)] = &[
        ("target = 3\n", "3", "expected a string, found an integer"),
        (
            "target = \"lib.py\"\nargs = 8000\n",
            "8000",
            "expected a list of strings, found an integer",
        ),
        (
            "target = \"lib.py\"\nargs = [\"--port\", 8000]\n",
            "8000",
            "expected a string",
        ),
        (
            "target = \"lib.py\"\nwatch = [true]\n",
            "true",
            "expected a string",
        ),
        (
            "target = \"lib.py\"\nignore = { path = \"x\" }\n",
            "{ path",
            "expected a list of strings, found a table",
        ),
        (
            "target = \"lib.py\"\next = 1.5\n",
            "1.5",
            "expected a list of strings, found a float",
        ),
        (
            "target = \"lib.py\"\nclear = \"yes\"\n",
            "\"yes\"",
            "expected true or false, found a string",
        ),
        (
            "target = \"lib.py\"\npre = 1\n",
            "1\n",
            "expected a string, found an integer",
        ),
        (
            "target = \"lib.py\"\npost = \"lib.run\"\n",
            "\"lib.run\"",
            "is not of the form \"module:function\"",
        ),
        (
            "target = \"lib.py\"\nentrypoint = \"lib:main\"\n",
            "\"lib:main\"",
            "entrypoint must be a function name",
        ),
        (
            "target = \"lib.py\"\npoll = \"fast\"\n",
            "\"fast\"",
            "`poll` is a number of milliseconds",
        ),
        (
            "target = \"lib.py\"\npoll = -5\n",
            "-5",
            "`poll` is a number of milliseconds",
        ),
        (
            "target = \"lib.py\"\nreload = \"fast\"\n",
            "\"fast\"",
            "`reload` is \"entry\", \"changed\" or \"deep\"",
        ),
        (
            "target = \"lib.py\"\nsteps = \"lib\"\n",
            "\"lib\"",
            "`steps` must be an array of tables",
        ),
        (
            "steps = [\"echo hi\"]\n",
            "\"echo hi\"",
            "each step must be a table",
        ),
        ("[[steps]]\nrun = 3\n", "3", "`run` takes a shell command"),
        (
            "[[steps]]\ncall = \"lib\"\n",
            "\"lib\"",
            "is not of the form \"module:function\"",
        ),
        (
            "[[steps]]\nreload = \"my-lib\"\n",
            "\"my-lib\"",
            "is not a module name",
        ),
        (
            "[[steps]]\nclear = false\n",
            "false",
            "`clear` step is written `clear = true`",
        ),
    ];
    for (toml, needle, message) in cases {
        check_error(&project, toml, needle, true, message);
    }
}

#[test]
fn unknown_step_kinds_are_errors() {
    let project = marked_project();
    check_error(
        &project,
        "[[steps]]\nexec = \"echo hi\"\n",
        "exec",
        false,
        "unknown step kind `exec`; steps are: clear, reload, call, run",
    );
    check_error(
        &project,
        "[[steps]]\nreload = \"lib\"\n[[steps]]\ncal = \"lib:run\"\n",
        "cal =",
        false,
        "unknown step kind `cal` (did you mean `call`?)",
    );
    check_error(
        &project,
        "steps = [{ shell = \"echo hi\" }]\n",
        "shell",
        false,
        "unknown step kind `shell`",
    );
}

#[test]
fn a_step_with_two_kinds_or_none_is_an_error() {
    let project = marked_project();
    let toml = "target = \"lib.py\"\n\n[[steps]]\nreload = \"lib\"\n\n[[steps]]\nrun = \"echo hi\"\ncall = \"lib:run\"\n";
    project.write("hotload.toml", toml);
    let out = run(&project, &[]);
    // The step's header or its first key.
    let (header, _) = pos(toml, "[[steps]]\nrun");
    assert_config_error(
        &out,
        &root(&project).join("hotload.toml"),
        &[header, header + 1],
        None,
        "a step needs exactly one of: clear, reload, call, run (found 2)",
    );

    let toml = "steps = [{ reload = \"lib\" }, { run = \"echo\", call = \"lib:run\" }]\n";
    project.write("hotload.toml", toml);
    let out = run(&project, &[]);
    assert_config_error(
        &out,
        &root(&project).join("hotload.toml"),
        &[1],
        None,
        "(found 2)",
    );

    check_error(
        &project,
        "[[steps]]\n[[steps]]\nreload = \"lib\"\n",
        "[[steps]]",
        false,
        "(found 0)",
    );
}

#[test]
fn pre_or_post_together_with_steps_is_an_error() {
    let project = marked_project();
    check_error(
        &project,
        "target = \"lib.py\"\npre = \"lib:run\"\n\n[[steps]]\nreload = \"lib\"\n",
        "\"lib:run\"",
        true,
        "`pre`/`post`/`entrypoint` wrap the target's reload; with an explicit `steps` list, use `call` steps instead",
    );
    check_error(
        &project,
        "post = \"lib:main\"\n\n[[steps]]\nreload = \"lib\"\n[[steps]]\ncall = \"lib:run\"\n",
        "\"lib:main\"",
        false,
        "use `call` steps instead",
    );
}

#[test]
fn references_that_do_not_resolve_are_errors_before_any_user_code() {
    let project = marked_project();
    let dir = root(&project);
    let cases: Vec<(String, &str, String)> = vec![
        (
            "target = \"lib.py\"\npost = \"nomod:run\"\n".into(),
            "\"nomod:run\"",
            "no module named 'nomod'".into(),
        ),
        (
            "target = \"lib.py\"\npre = \"hooks:teardwn\"\n".into(),
            "\"hooks:teardwn\"",
            format!(
                "hooks ({}) defines no function 'teardwn'",
                dir.join("hooks.py").display()
            ),
        ),
        (
            "target = \"lib.py\"\npost = \"pkg.mod:serve\"\n".into(),
            "\"pkg.mod:serve\"",
            "defines no function 'serve'".into(),
        ),
        (
            "target = \"lib.py\"\npost = \"pkg.missing:run\"\n".into(),
            "\"pkg.missing:run\"",
            "no module named 'pkg.missing'".into(),
        ),
        (
            "target = \"lib.py\"\npost = \"lib:run\"\npre = \"lib:rnu\"\n".into(),
            "\"lib:rnu\"",
            "defines no function 'rnu'".into(),
        ),
        (
            "[[steps]]\nreload = \"lib\"\n[[steps]]\ncall = \"lib:nope\"\n".into(),
            "\"lib:nope\"",
            "lib (".to_string()
                + &dir.join("lib.py").display().to_string()
                + ") defines no function 'nope'",
        ),
        (
            "[[steps]]\nreload = \"hooks\"\n[[steps]]\nreload = \"libb\"\n".into(),
            "\"libb\"",
            "no module named 'libb'".into(),
        ),
        (
            "[[steps]]\ncall = \"pkg.mod:nope\"\n".into(),
            "\"pkg.mod:nope\"",
            "defines no function 'nope'".into(),
        ),
    ];
    for (toml, needle, message) in &cases {
        check_error(&project, toml, needle, true, message);
    }
    // From the command line or the environment: named by flag / variable, still no user code.
    project.write("hotload.toml", "target = \"lib.py\"\n");
    let out = run(&project, &["--post", "hooks:nope"]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .starts_with("hotload-host: error: command line --post: "),
        "{}",
        out.stderr
    );
    let out = run_in(&project, "", &[], &[("HOTLOAD_PRE", "nomod:f")]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .starts_with("hotload-host: error: environment HOTLOAD_PRE: "),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains(MARKER), "{}", out.stdout);
}

#[test]
fn an_entrypoint_that_does_not_resolve_is_an_error_at_its_position() {
    // `entrypoint` names a function of the target: "a module:function that does not resolve is
    // reported with file, line and column".
    let project = marked_project();
    check_error(
        &project,
        "target = \"lib.py\"\nentrypoint = \"mian\"\n",
        "\"mian\"",
        true,
        "defines no function 'mian'",
    );
}

#[test]
fn invalid_toml_is_an_error_with_its_position() {
    let project = marked_project();
    check_error(
        &project,
        "target = \"lib.py\nargs = []\n",
        "\"lib.py",
        false,
        "",
    );
    check_error(
        &project,
        "target = \"lib.py\"\nargs = [\"a\",\n",
        "[\"a\"",
        false,
        "",
    );
    check_error(
        &project,
        "target = \"lib.py\"\ntarget = \"hooks.py\"\n",
        "target = \"hooks",
        false,
        "",
    );
    check_error(
        &project,
        "target = \"lib.py\"\n\n[[steps]\nreload = \"lib\"\n",
        "[[steps]",
        false,
        "",
    );
}

#[test]
fn errors_in_pyproject_point_into_pyproject() {
    let project = marked_project();
    let text =
        format!("{PYPROJECT_HEAD}\n[tool.hotload]\ntarget = \"lib.py\"\nposts = \"lib:run\"\n");
    project.write("pyproject.toml", &text);
    let out = run(&project, &[]);
    let (line, col) = pos(&text, "posts");
    assert_config_error(
        &out,
        &root(&project).join("pyproject.toml"),
        &[line],
        Some(col),
        "unknown key `posts` (did you mean `post`?)",
    );

    let text = format!(
        "{PYPROJECT_HEAD}\n[tool.hotload]\ntarget = \"lib.py\"\n\n[[tool.hotload.steps]]\ncall = \"lib:nope\"\n"
    );
    project.write("pyproject.toml", &text);
    let out = run(&project, &[]);
    let (line, col) = pos(&text, "\"lib:nope\"");
    assert_config_error(
        &out,
        &root(&project).join("pyproject.toml"),
        &[line],
        Some(col),
        "defines no function 'nope'",
    );

    // A pyproject.toml that is broken TOML but has the table: reported, not skipped.
    let text = format!("{PYPROJECT_HEAD}\n[tool.hotload]\ntarget = \"lib.py\nclear = true\n");
    project.write("pyproject.toml", &text);
    let out = run(&project, &[]);
    let (line, _) = pos(&text, "target = \"lib.py");
    assert_config_error(
        &out,
        &root(&project).join("pyproject.toml"),
        &[line],
        None,
        "",
    );

    // --config names a file: errors point into it.
    std::fs::remove_file(project.path("pyproject.toml")).unwrap();
    let text = "target = \"lib.py\"\nclear = 1\n";
    project.write("conf/dev.toml", text);
    let out = run(&project, &["--config", "conf/dev.toml"]);
    let (line, col) = pos(text, "1\n");
    let file = root(&project).join("conf/dev.toml");
    assert_config_error(
        &out,
        &file,
        &[line],
        Some(col),
        "expected true or false, found an integer",
    );
}

// ---------------------------------------------------------------------------------------------
// Live edits of the config
// ---------------------------------------------------------------------------------------------

/// State that only survives if the interpreter does: the NameError trick and hotload.keep.
const STATEFUL: &str = r#"import sys, hotload
try:
    counter += 1
except NameError:
    counter = 1
token = hotload.keep("token", object)
print(f"body run={hotload.info().run} counter={counter} token={id(token)} argv={sys.argv[1:]}")

def first():
    print(f"first run={hotload.info().run}")

def second():
    print(f"second run={hotload.info().run}")
"#;

/// The `token=...` of the first body line.
fn token(host: &Host) -> String {
    let line = host
        .lines
        .iter()
        .find(|(_, l)| l.starts_with("body run=1 "))
        .map(|(_, l)| l.clone())
        .unwrap();
    line.split("token=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn editing_the_config_applies_it_without_restarting_the_interpreter() {
    let project = Project::new();
    project.write("lib.py", STATEFUL);
    project.write("notes.txt", "notes\n");
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\nargs = [\"one\"]\npost = \"lib:first\"\n",
    );
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);
    host.wait_for("first run=1");
    let token = token(&host);

    // A new post hook and new args: applied, then a run; the state is still there.
    host.mark();
    save_in_place(
        &project.path("hotload.toml"),
        "target = \"lib.py\"\nargs = [\"two\"]\npost = \"lib:second\"\n",
    );
    host.wait_for("config reloaded");
    let second = wait_ok(&mut host, 2);
    assert!(second.contains("after saving hotload.toml"), "{second}");
    host.wait_for(&format!("body run=2 counter=2 token={token} argv=['two']"));
    host.wait_for("second run=2");

    // Saving the module now runs with the new config.
    host.mark();
    edit(&project, "lib.py", "print(f\"body", "print(f\"body:");
    wait_ok(&mut host, 3);
    host.wait_for(&format!("body: run=3 counter=3 token={token} argv=['two']"));
    host.wait_for("second run=3");
    assert_eq!(
        host.count("first run="),
        1,
        "the old post hook was called again:\n{}",
        host.transcript()
    );

    // What is watched is re-read too: .txt files now trigger.
    // (Saved the way many editors do: a temp file renamed into place.)
    host.mark();
    save_via_rename(
        &project.path("hotload.toml"),
        "target = \"lib.py\"\nargs = [\"two\"]\npost = \"lib:second\"\next = [\"py\", \"txt\"]\n",
    );
    host.wait_for("config reloaded");
    wait_ok(&mut host, 4);
    host.mark();
    save_in_place(&project.path("notes.txt"), "more notes\n");
    let fifth = wait_ok(&mut host, 5);
    assert!(fifth.contains("after saving notes.txt"), "{fifth}");
    host.wait_for("body: run=5 counter=5");
    assert_eq!(host.count("config reloaded"), 2, "{}", host.transcript());
}

#[test]
fn editing_the_target_in_the_config_switches_to_the_new_module() {
    let project = Project::new();
    project.write("a.py", "import hotload\nprint('A', hotload.info().run)\n");
    project.write("b.py", "import hotload\nprint('B', hotload.info().run)\n");
    project.write("hotload.toml", "target = \"a.py\"\n");
    let mut host = spawn(&project, &[]);
    assert!(
        wait_ok(&mut host, 1).contains("ok: a ran"),
        "{}",
        host.transcript()
    );
    host.wait_for("A 1");
    host.mark();
    save_in_place(&project.path("hotload.toml"), "target = \"b.py\"\n");
    host.wait_for("config reloaded");
    assert!(
        wait_ok(&mut host, 2).contains("ok: b ran"),
        "{}",
        host.transcript()
    );
    host.wait_for("B 2");
    host.mark();
    edit(&project, "b.py", "print('B'", "print('b'");
    assert!(
        wait_ok(&mut host, 3).contains("ok: b ran"),
        "{}",
        host.transcript()
    );
    host.wait_for("b 3");
    assert_eq!(host.count("A "), 1, "{}", host.transcript());
}

#[test]
fn an_invalid_config_edit_shows_the_error_and_keeps_the_previous_config() {
    let project = Project::new();
    project.write("lib.py", STATEFUL);
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\npost = \"lib:first\"\n",
    );
    let config = root(&project).join("hotload.toml").display().to_string();
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);
    host.wait_for("first run=1");

    let mut run = 1;
    for (bad, at) in [
        (
            "target = \"lib.py\"\npost = \"lib:second\"\nbogus = 1\n",
            "3:1: unknown key `bogus`",
        ),
        ("target = \"lib.py\"\npost = \"lib:second\n", "2:"),
        ("target = \"lib.py\"\npost = \"lib:secnod\"\n", "2:8: lib ("),
        (
            "target = \"lib.py\"\npost = \"lib:second\"\n[[steps]]\nreload = \"lib\"\n",
            "2:8: `pre`/`post`/`entrypoint` wrap",
        ),
    ] {
        host.mark();
        let warnings = host.count("config not applied");
        save_in_place(&project.path("hotload.toml"), bad);
        host.wait_count("config not applied", warnings + 1);
        host.wait_for(&format!("{config}:{at}"));
        // Only the config was saved: no run.
        assert_no_run(&mut host, run + 1);
        // Saves of the module still run, with the old config.
        run += 1;
        host.mark();
        edit(&project, "lib.py", "print(f\"body", "print(f\"body ");
        let line = wait_ok(&mut host, run);
        assert!(line.contains("after saving lib.py"), "{line}");
        host.wait_for(&format!("first run={run}"));
    }
    assert_eq!(host.count("second run="), 0, "{}", host.transcript());
    assert_eq!(host.count("config reloaded"), 0, "{}", host.transcript());
    // (The body's line, printed before the `first` line waited for above.)
    host.rewind();
    host.wait_for(&format!("counter={run}"));

    // A valid edit is applied again.
    host.mark();
    save_in_place(
        &project.path("hotload.toml"),
        "target = \"lib.py\"\npost = \"lib:second\"\n",
    );
    host.wait_for("config reloaded");
    wait_ok(&mut host, run + 1);
    host.wait_for(&format!("second run={}", run + 1));
}

#[test]
fn a_rejected_config_edit_leaves_the_module_args_as_they_were() {
    // "If the new config is invalid, the error is shown and the previous config stays in force":
    // that includes `args` (sys.argv), even when the rejection comes from a hook that does not
    // resolve.
    let project = Project::new();
    project.write("lib.py", STATEFUL);
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\nargs = [\"old\"]\npost = \"lib:first\"\n",
    );
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);
    host.wait_for("argv=['old']");

    host.mark();
    save_in_place(
        &project.path("hotload.toml"),
        "target = \"lib.py\"\nargs = [\"new\"]\npost = \"lib:nope\"\n",
    );
    host.wait_for("config not applied");
    host.mark();
    edit(&project, "lib.py", "print(f\"body", "print(f\"body ");
    wait_ok(&mut host, 2);
    host.wait_for("argv=['old']");
    host.wait_for("first run=2");
    assert_eq!(
        host.count("argv=['new']"),
        0,
        "the rejected config's args reached sys.argv:\n{}",
        host.transcript()
    );
}

// ---------------------------------------------------------------------------------------------
// init
// ---------------------------------------------------------------------------------------------

#[test]
fn init_writes_a_starter_hotload_toml_when_there_is_no_pyproject() {
    let project = Project::new();
    std::fs::create_dir(project.path(".git")).unwrap();
    let out = run(&project, &["init"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    let file = root(&project).join("hotload.toml");
    assert!(
        out.stdout.contains(&file.display().to_string()),
        "{}",
        out.stdout
    );
    assert!(!project.path("pyproject.toml").exists());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("target = \"lib.py\""), "{text}");

    // Valid as written: --print-config reads it, and once the guessed target exists it runs.
    let p = print_config(&project, &[]);
    assert_eq!(p.file, file.display().to_string());
    p.check("target", "\"lib.py\"", &file.display().to_string());
    project.write("lib.py", "print('starter ran')\n");
    let out = run(&project, &["--once"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "starter ran\n");

    // Its commented step example is valid too once uncommented.
    let uncommented: String = text
        .lines()
        .map(|l| {
            let t = l.trim_start_matches("# ");
            if l.starts_with("# [[steps]]")
                || (l.starts_with("# reload = ") || l.starts_with("# run = "))
            {
                t
            } else {
                l
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(uncommented.contains("\n[[steps]]\n"), "{uncommented}");
    std::fs::write(&file, &uncommented).unwrap();
    let p = print_config(&project, &[]);
    assert!(
        p.value("steps")
            .starts_with("[{ reload = \"lib\" }, { run = "),
        "{}",
        p.text
    );
}

#[test]
fn init_appends_tool_hotload_to_an_existing_pyproject_keeping_its_content() {
    for original in [
        // Comments, odd spacing, unicode, a trailing blank line.
        "# my project  \n[project]\nname = \"démo\"   # naïve\nversion = \"0.1.0\"\n\n[tool.black]\nline-length=100\n\n",
        // No newline at the end.
        "[project]\nname = \"demo\"\n[tool.ruff]\nselect = [\"E\",\n  \"F\"]",
    ] {
        let project = Project::new();
        std::fs::create_dir(project.path(".git")).unwrap();
        project.write("main.py", "print('main ran')\n");
        project.write("pyproject.toml", original);
        let out = run(&project, &["init"]);
        assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
        assert!(
            !project.path("hotload.toml").exists(),
            "init wrote hotload.toml next to a pyproject.toml"
        );
        let new = std::fs::read(project.path("pyproject.toml")).unwrap();
        assert!(
            new.starts_with(original.as_bytes()),
            "previous content is not a prefix:\n{}",
            String::from_utf8_lossy(&new)
        );
        let added = String::from_utf8(new[original.len()..].to_vec()).unwrap();
        assert!(added.contains("[tool.hotload]\n"), "{added}");
        assert!(
            added.contains("target = \"main.py\""),
            "the guessed target should be main.py:\n{added}"
        );

        let file = root(&project).join("pyproject.toml").display().to_string();
        let p = print_config(&project, &[]);
        assert_eq!(p.file, file);
        p.check("target", "\"main.py\"", &file);
        let out = run(&project, &["--once"]);
        assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
        assert_eq!(out.stdout, "main ran\n");

        // Now a config exists: a second init refuses and touches nothing.
        let before = std::fs::read(project.path("pyproject.toml")).unwrap();
        let out = run(&project, &["init"]);
        assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.starts_with("hotload-host: error: "),
            "{}",
            out.stderr
        );
        assert_eq!(
            std::fs::read(project.path("pyproject.toml")).unwrap(),
            before
        );
    }
}

#[test]
fn init_refuses_when_a_config_already_exists() {
    let hotload_toml = "target = \"mine.py\"\n# my own notes\n";
    let with_table = format!("{PYPROJECT_HEAD}\n[tool.hotload]\ntarget = \"mine.py\"\n");
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![("hotload.toml", hotload_toml.to_string())],
            "already exists",
        ),
        (
            vec![("pyproject.toml", with_table.clone())],
            "already has a [tool.hotload] table",
        ),
        (
            vec![
                ("pyproject.toml", PYPROJECT_HEAD.to_string()),
                ("hotload.toml", hotload_toml.to_string()),
            ],
            "already exists",
        ),
        (
            vec![(
                "pyproject.toml",
                "[project\nname = \"broken\"\n".to_string(),
            )],
            "not valid TOML",
        ),
    ];
    for (files, expect) in cases {
        let project = Project::new();
        for (name, content) in &files {
            project.write(name, content);
        }
        let out = run(&project, &["init"]);
        assert_eq!(
            out.code(),
            Some(2),
            "{files:?}: {}{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stderr.starts_with("hotload-host: error: "),
            "{files:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(expect),
            "{files:?}: expected {expect:?} in {}",
            out.stderr
        );
        for (name, content) in &files {
            assert_eq!(
                &std::fs::read_to_string(project.path(name)).unwrap(),
                content,
                "{name} was changed"
            );
        }
        let names: Vec<String> = std::fs::read_dir(project.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), files.len(), "init created files: {names:?}");
    }
}

#[test]
fn init_guesses_the_target_from_the_files_present() {
    for (present, target) in [
        ("app.py", "app.py"),
        ("server.py", "server.py"),
        ("other.py", "lib.py"),
    ] {
        let project = Project::new();
        project.write(present, "print('x')\n");
        let out = run(&project, &["init"]);
        assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
        let text = std::fs::read_to_string(project.path("hotload.toml")).unwrap();
        assert!(
            text.contains(&format!("target = \"{target}\"")),
            "with {present}: {text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Faults and bad input (issue 15): nothing runs that the user did not trust, errors never end
// the session, no panics
// ---------------------------------------------------------------------------------------------

/// A tmpfs mounted for one test, unmounted when dropped (declare it after the Project).
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CAP_SYS_ADMIN)"
        );
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn init_replaces_pyproject_atomically_keeping_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::new();
    project.write("pyproject.toml", PYPROJECT_HEAD);
    let path = project.path("pyproject.toml");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let before = std::fs::metadata(&path).unwrap();
    let out = run(&project, &["init"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    let after = std::fs::metadata(&path).unwrap();
    assert_eq!(after.permissions().mode() & 0o7777, 0o640);
    // A new file was renamed into place (the old inode is not rewritten in place).
    use std::os::unix::fs::MetadataExt;
    assert_ne!(before.ino(), after.ino());
    assert_eq!(names_in(project.dir.path()), ["pyproject.toml"]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(PYPROJECT_HEAD) && text.contains("[tool.hotload]\n"));

    // A symlinked pyproject.toml: the file it points to is updated, the link stays a link.
    let project = Project::new();
    project.write("real/pyproject.toml", PYPROJECT_HEAD);
    std::os::unix::fs::symlink("real/pyproject.toml", project.path("pyproject.toml")).unwrap();
    let out = run(&project, &["init"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        std::fs::symlink_metadata(project.path("pyproject.toml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(project.path("real/pyproject.toml"))
            .unwrap()
            .contains("[tool.hotload]")
    );
}

#[test]
fn init_on_a_full_disk_leaves_pyproject_as_it_was() {
    let project = Project::new();
    let dir = project.path("small");
    let _mount = Mount::tmpfs(&dir, "128k");
    // Just under 8 pages: rewriting it in place with the table appended needs a 9th page, which
    // a truncate-and-write would not get (the old content would be lost, the new cut short).
    let mut original = String::from(PYPROJECT_HEAD);
    let mut n = 0;
    while original.len() < 8 * 4096 - 120 {
        original.push_str(&format!("# padding line {n:05}\n"));
        n += 1;
    }
    std::fs::write(dir.join("pyproject.toml"), &original).unwrap();
    // Fill the disk.
    {
        use std::io::Write;
        let mut filler = File::create(dir.join("filler")).unwrap();
        while filler.write_all(&[0u8; 512]).is_ok() {}
    }
    let out = run_in(&project, "small", &["init"], &[]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("hotload-host: error: cannot write ")
            && out.stderr.contains("No space left on device")
            && out.stderr.contains("it was not changed"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("pyproject.toml")).unwrap(),
        original,
        "pyproject.toml was changed"
    );
    assert_eq!(
        names_in(&dir),
        ["filler", "pyproject.toml"],
        "temp file left"
    );

    // With room again, init works there.
    std::fs::remove_file(dir.join("filler")).unwrap();
    let out = run_in(&project, "small", &["init"], &[]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    let text = std::fs::read_to_string(dir.join("pyproject.toml")).unwrap();
    assert!(text.starts_with(&original) && text.contains("[tool.hotload]"));
}

#[test]
fn init_explains_an_inline_tool_table_and_touches_nothing() {
    let project = Project::new();
    let original = "tool = { black = { line-length = 100 } }\n\n[project]\nname = \"demo\"\n";
    project.write("pyproject.toml", original);
    let out = run(&project, &["init"]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.starts_with("hotload-host: error: ")
            && out.stderr.contains("inline table")
            && out.stderr.contains("hotload.toml")
            && !out.stderr.contains("internal error"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(project.path("pyproject.toml")).unwrap(),
        original
    );
    assert_eq!(names_in(project.dir.path()), ["pyproject.toml"]);
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_and_a_full_stdout_is_one_line() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let project = Project::new();
    project.write("hotload.toml", "target = \"lib.py\"\n");
    for args in [&["--print-config"][..], &["--help"][..]] {
        // A pipe whose reader is gone: every write fails with EPIPE.
        let mut fds = [0; 2];
        // SAFETY: pipe() fills two fresh descriptors that we own from here on.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let (reader, writer) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(reader);
        let out = command_in(&project, "", args, &[])
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
    project.write("lib.py", "print('x')\n");
    std::fs::remove_file(project.path("hotload.toml")).unwrap();
    for args in [&["--print-config"][..], &["init"][..], &["--version"][..]] {
        let out = command_in(&project, "", args, &[])
            .stdout(File::create("/dev/full").unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(
            stderr,
            "hotload-host: error: cannot write to stdout: No space left on device (os error 28)\n",
            "{args:?}"
        );
    }
}

#[test]
fn discovery_stops_at_home_and_at_a_filesystem_boundary() {
    let project = Project::new();
    project.write("hotload.toml", "target = \"lib.py\"\n");
    project.write("lib.py", &format!("print('{MARKER}')\n"));
    std::fs::create_dir_all(project.path("home/sub")).unwrap();
    let home = root(&project).join("home");
    let home_env = home.display().to_string();
    let env: &[(&str, &str)] = &[("HOME", &home_env)];
    // Without HOME there, the config above is found; with HOME below it, it is not.
    let p = print_config_in(&project, "home/sub", &[], &[]);
    assert_eq!(
        p.file,
        root(&project).join("hotload.toml").display().to_string()
    );
    let p = print_config_in(&project, "home/sub", &[], env);
    assert_eq!(p.file, "none", "{}", p.text);
    let out = run_in(&project, "home/sub", &[], env);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("no target"), "{}", out.stderr);
    assert!(!out.stdout.contains(MARKER));
    // A config in HOME itself is still found.
    project.write("home/hotload.toml", "target = \"x.py\"\n");
    let p = print_config_in(&project, "home/sub", &[], env);
    assert_eq!(p.file, home.join("hotload.toml").display().to_string());

    // Another filesystem below the config: the search stops at its mount point.
    let mnt = project.path("mnt");
    let _mount = Mount::tmpfs(&mnt, "1m");
    std::fs::create_dir_all(mnt.join("sub")).unwrap();
    let p = print_config_in(&project, "mnt/sub", &["x.py"], &[]);
    assert_eq!(p.file, "none", "{}", p.text);
    let out = run_in(&project, "mnt/sub", &[], &[]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("no target"), "{}", out.stderr);
    // A config on that filesystem is found as usual.
    std::fs::write(mnt.join("hotload.toml"), "target = \"y.py\"\n").unwrap();
    let p = print_config_in(&project, "mnt/sub", &[], &[]);
    assert_eq!(
        p.file,
        root(&project)
            .join("mnt/hotload.toml")
            .display()
            .to_string()
    );
}

#[test]
fn a_config_someone_else_could_have_written_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::new();
    project.write(
        "hotload.toml",
        "[[steps]]\nrun = \"touch pwned\"\n[[steps]]\nreload = \"lib\"\n",
    );
    project.write("a/b/lib.py", &format!("print('{MARKER}')\n"));
    let config = project.path("hotload.toml");
    let shown = root(&project).join("hotload.toml").display().to_string();
    // Owned by nobody, two directories up.
    std::os::unix::fs::chown(&config, Some(65534), Some(65534))
        .expect("chown needs root (the test suite runs as root)");
    for args in [&["lib.py"][..], &["--once"][..], &["--print-config"][..]] {
        let out = run_in(&project, "a/b", args, &[]);
        assert_eq!(
            out.code(),
            Some(2),
            "{args:?}: {}{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stderr.starts_with(&format!(
                "hotload-host: error: {shown} is owned by nobody (uid 65534), not by you (uid 0) or root: refusing to read it"
            )),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("--config"), "{}", out.stderr);
        assert!(!out.stdout.contains(MARKER) && !out.stdout.contains("ran"));
        assert!(!project.path("a/b/pwned").exists() && !project.path("pwned").exists());
    }
    // Trusting it is refused the same way.
    let out = run_in(&project, "a/b", &["trust"], &[]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("is owned by nobody"), "{}", out.stderr);
    // --no-config runs the module without it.
    let out = run_in(&project, "a/b", &["--no-config", "--once", "lib.py"], &[]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);

    // Ours (root's), but writable by the group, or by others.
    std::os::unix::fs::chown(&config, Some(0), Some(0)).unwrap();
    for (mode, who) in [
        (0o664, "its group"),
        (0o646, "others"),
        (0o666, "group and others"),
    ] {
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = run_in(&project, "a/b", &["--print-config"], &[]);
        assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "{shown} is writable by {who} (mode {mode:04o}): refusing to read it"
            )) && out.stderr.contains("chmod go-w"),
            "{}",
            out.stderr
        );
    }
    // Named on the command line, it is the user's choice.
    let p = print_config_in(&project, "a/b", &["--config", "../../hotload.toml"], &[]);
    assert_eq!(
        std::fs::canonicalize(&p.file).unwrap(),
        root(&project).join("hotload.toml")
    );
}

#[test]
fn run_steps_of_a_discovered_config_need_trust_once() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::new();
    project.write(
        "lib.py",
        "import hotload\nprint('lib body', hotload.info().run)\n",
    );
    let with = |cmd: &str| format!("[[steps]]\nreload = \"lib\"\n[[steps]]\nrun = \"{cmd}\"\n");
    project.write("hotload.toml", &with("echo SHELL ONE"));
    let file = root(&project).join("hotload.toml").display().to_string();

    let out = run(&project, &["--once"]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stderr,
        format!(
            "hotload-host: error: {file} has `run` steps, shell commands run on every save, that you have not trusted:\n  echo SHELL ONE\nTo allow them, run: hotload-host trust\n(or name the file with --config to use it for one run)\n"
        )
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    // --print-config only shows them.
    let p = print_config(&project, &[]);
    assert!(p.value("steps").contains("echo SHELL ONE"), "{}", p.text);
    // Named with --config: trusted for that run.
    let out = run(&project, &["--once", "--config", "hotload.toml"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "lib body 1\nSHELL ONE\n");
    // Still not trusted without it.
    assert_eq!(run(&project, &["--once"]).code(), Some(2));

    // hotload-host trust records the file and its commands, in a 0600 file of the state dir.
    let out = run(&project, &["trust"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with(&format!(
            "trusted {file}: these `run` steps may now run:\n  echo SHELL ONE\n"
        )),
        "{}",
        out.stdout
    );
    let store = project.path(".state/hotload-host/trusted");
    let meta = std::fs::metadata(&store).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let records = std::fs::read_to_string(&store).unwrap();
    assert!(records.ends_with(&format!("\t{file}\n")), "{records}");
    assert!(!records.contains("SHELL ONE"), "{records}");
    let out = run(&project, &["--once"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "lib body 1\nSHELL ONE\n");
    // Other edits keep it trusted; a changed command does not.
    project.write(
        "hotload.toml",
        &format!("clear = false\n{}", with("echo SHELL ONE")),
    );
    assert_eq!(run(&project, &["--once"]).code(), Some(0));
    project.write("hotload.toml", &with("echo SHELL TWO"));
    let out = run(&project, &["--once"]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("  echo SHELL TWO\n"), "{}", out.stderr);

    // Live: a trusted config whose command changes is not applied until trusted again.
    project.write("hotload.toml", &with("echo SHELL ONE"));
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);
    host.wait_for("SHELL ONE");
    host.mark();
    save_in_place(&project.path("hotload.toml"), &with("echo SHELL THREE"));
    host.wait_for("config not applied");
    host.wait_for("  echo SHELL THREE");
    host.wait_for("To allow them, run: hotload-host trust");
    host.wait_for("Then save the config again to apply it.");
    assert_no_run(&mut host, 2);
    host.mark();
    edit(&project, "lib.py", "'lib body'", "'lib body again'");
    wait_ok(&mut host, 2);
    host.wait_count("SHELL ONE", 2);
    assert_eq!(
        host.count("SHELL THREE\n") + host.count("config reloaded"),
        0
    );
    trust(&project);
    host.mark();
    save_in_place(&project.path("hotload.toml"), &with("echo SHELL THREE"));
    host.wait_for("config reloaded");
    wait_ok(&mut host, 3);
    // The step's own output is on stdout, a pipe of its own: it may arrive after the status.
    host.wait_line("the new step's output on stdout", |s, l| {
        s == Stream::Out && l == "SHELL THREE"
    });
}

#[test]
fn deleting_the_config_while_running_keeps_its_settings() {
    let project = Project::new();
    // A parent config with a command of its own: it must never take over.
    project.write(
        "hotload.toml",
        "target = \"sub/lib.py\"\nargs = [\"parent\"]\n",
    );
    project.write("sub/lib.py", "import sys\nprint('argv', sys.argv[1:])\n");
    project.write(
        "sub/hotload.toml",
        "target = \"lib.py\"\nargs = [\"sub\"]\n",
    );
    let mut host = spawn_in(&project, "sub", &[], &[]);
    wait_ok(&mut host, 1);
    host.wait_for("argv ['sub']");
    host.mark();
    std::fs::remove_file(project.path("sub/hotload.toml")).unwrap();
    let config = root(&project)
        .join("sub/hotload.toml")
        .display()
        .to_string();
    host.wait_for(&format!(
        "{config} was deleted: the settings read from it stay in force"
    ));
    host.mark();
    edit(&project, "sub/lib.py", "print('argv'", "print('argv now'");
    wait_ok(&mut host, 2);
    host.wait_for("argv now ['sub']");
    assert_eq!(host.count("parent"), 0, "{}", host.transcript());
    assert_eq!(host.count("config reloaded"), 0, "{}", host.transcript());
    // Put back, it is read again.
    host.mark();
    save_in_place(
        &project.path("sub/hotload.toml"),
        "target = \"lib.py\"\nargs = [\"back\"]\n",
    );
    host.wait_for("config reloaded");
    wait_ok(&mut host, 3);
    host.wait_for("argv now ['back']");
}

#[test]
fn an_explicit_target_with_a_steps_config_is_refused_never_reported_as_run() {
    let project = Project::new();
    project.write("lib.py", &format!("print('{MARKER}')\n"));
    project.write("helper.py", "print('helper ran')\n");
    project.write("hotload.toml", "[[steps]]\nreload = \"helper\"\n");
    let file = root(&project).join("hotload.toml").display().to_string();
    let out = run(&project, &["lib.py", "--once"]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stderr,
        format!(
            "hotload-host: error: command line TARGET: \"lib.py\" would not run: the config {file} has an explicit `steps` list, which is the whole run; add a `reload` step for it there, or run without the config (--no-config)\n"
        )
    );
    assert!(out.stdout.is_empty());
    let out = run_in(&project, "", &["--once"], &[("HOTLOAD_TARGET", "lib.py")]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.starts_with(
            "hotload-host: error: environment HOTLOAD_TARGET: \"lib.py\" would not run"
        ),
        "{}",
        out.stderr
    );
    // --no-config runs the target.
    let out = run(&project, &["lib.py", "--once", "--no-config"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("ok: lib ran"), "{}", out.stderr);
    // A target in the file beside steps: the status line names the steps, not a module that
    // did not run.
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\n[[steps]]\nreload = \"helper\"\n",
    );
    let out = run(&project, &["--once"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "helper ran\n");
    assert!(
        out.stderr.contains("ok: steps ran") && !out.stderr.contains("lib ran"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_watch_entries_and_ignore_patterns_are_config_errors_live_or_at_start() {
    let project = Project::new();
    project.write("lib.py", STATEFUL);
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\npost = \"lib:first\"\n",
    );
    let config = root(&project).join("hotload.toml");
    let bad: &[(&str, &str, &str)] = &[
        (
            "target = \"lib.py\"\nwatch = [\".\", \"nope\"]\n",
            "\"nope\"",
            "watch entry \"nope\": nope: no such file or directory",
        ),
        (
            "target = \"lib.py\"\nwatch = [\"*.{py\"]\n",
            "\"*.{py\"",
            "watch entry \"*.{py\": not a valid glob: a `{` is not closed",
        ),
        (
            "target = \"lib.py\"\nignore = [\"x\", \"a{b\"]\n",
            "\"a{b\"",
            "ignore pattern \"a{b\" is not a valid glob",
        ),
    ];
    // At start: exit 2 at the entry's position, before any user code.
    for (toml, needle, message) in bad {
        project.write("hotload.toml", toml);
        let out = run(&project, &[]);
        let (line, col) = pos(toml, needle);
        assert_config_error(&out, &config, &[line], Some(col), message);
    }
    // Live: the previous config stays, the session goes on.
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\npost = \"lib:first\"\n",
    );
    let mut host = spawn(&project, &[]);
    wait_ok(&mut host, 1);
    let mut run = 1;
    for (toml, needle, message) in bad {
        host.mark();
        let warnings = host.count("config not applied");
        save_in_place(&project.path("hotload.toml"), toml);
        host.wait_count("config not applied", warnings + 1);
        let (line, col) = pos(toml, needle);
        host.wait_for(&format!("{}:{line}:{col}: {message}", config.display()));
        run += 1;
        host.mark();
        edit(&project, "lib.py", "print(f\"body", "print(f\"body ");
        wait_ok(&mut host, run);
        host.wait_for(&format!("first run={run}"));
    }
    assert_eq!(host.count("config reloaded"), 0, "{}", host.transcript());
    assert!(host.child.try_wait().unwrap().is_none(), "the host exited");
}

#[test]
fn bounds_and_names_are_the_same_from_every_source() {
    let project = marked_project();
    project.write("hotload.toml", "target = \"lib.py\"\n");
    let usage = |args: &[&str], env: &[(&str, &str)], expect: &str| {
        let out = run_in(&project, "", args, env);
        assert_eq!(
            out.code(),
            Some(2),
            "{args:?} {env:?}: {}{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stderr.starts_with("hotload-host: error: ") && out.stderr.contains(expect),
            "{args:?} {env:?}: expected {expect:?} in {}",
            out.stderr
        );
        assert!(!out.stdout.contains(MARKER), "{}", out.stdout);
    };
    let poll = "`poll` is a number of milliseconds from 1 to 60000, or true/false";
    usage(
        &["--poll=0"],
        &[],
        &format!("command line --poll: {poll}, not 0"),
    );
    usage(
        &["--poll=60001"],
        &[],
        &format!("command line --poll: {poll}, not 60001"),
    );
    usage(
        &[],
        &[("HOTLOAD_POLL", "0")],
        &format!("environment HOTLOAD_POLL: {poll}, not 0"),
    );
    usage(&[], &[("HOTLOAD_POLL", "600000")], poll);
    let debounce = "`debounce` is a number of milliseconds from 0 to 60000";
    usage(
        &["--debounce", "60001"],
        &[],
        &format!("command line --debounce: {debounce}, not 60001"),
    );
    usage(&[], &[("HOTLOAD_DEBOUNCE", "-1")], debounce);
    for bad in ["", "1bad", "lib:main"] {
        usage(
            &["--entrypoint", bad],
            &[],
            "is not a valid function name: entrypoint must be a function name",
        );
    }
    usage(
        &[],
        &[("HOTLOAD_ENTRYPOINT", "1bad")],
        "environment HOTLOAD_ENTRYPOINT: \"1bad\" is not a valid function name",
    );
    for (toml, needle) in [
        ("target = \"lib.py\"\npoll = 0\n", "0\n"),
        ("target = \"lib.py\"\npoll = 60001\n", "60001"),
        ("target = \"lib.py\"\ndebounce = 70000\n", "70000"),
        ("target = \"lib.py\"\nentrypoint = \"1bad\"\n", "\"1bad\""),
    ] {
        check_error(&project, toml, needle, true, "");
    }
    // The largest values are accepted.
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\npoll = 60000\ndebounce = 60000\n",
    );
    let p = print_config(&project, &[]);
    assert_eq!(p.value("poll"), "60000 ms");
    assert_eq!(p.value("debounce"), "60000 ms");
    // reload is read the same everywhere: DEEP is deep.
    project.write("hotload.toml", "target = \"lib.py\"\nreload = \"DEEP\"\n");
    assert_eq!(print_config(&project, &[]).value("reload"), "deep");
    assert_eq!(
        print_config(&project, &["--reload", "DEEP"]).value("reload"),
        "deep"
    );
    let p = print_config_in(&project, "", &[], &[("HOTLOAD_RELOAD", "Entry")]);
    assert_eq!(p.value("reload"), "entry");
}

#[test]
fn escape_sequences_in_config_strings_are_shown_escaped() {
    let project = marked_project();
    // TOML's \u001b is an ESC character in the value.
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\nargs = [\"\\u001b[2J\"]\npost = \"lib:\\u001b[31mred\"\n",
    );
    let out = run(&project, &[]);
    assert_eq!(out.code(), Some(2), "{}{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
    assert!(
        out.stderr
            .contains("`lib:\\u{1b}[31mred` is not of the form"),
        "{}",
        out.stderr
    );
    project.write(
        "hotload.toml",
        "target = \"lib.py\"\nargs = [\"\\u001b[2J\", \"tab\\there\"]\n",
    );
    let out = run(&project, &["--print-config"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains('\x1b'), "{:?}", out.stdout);
    let p = parse_print_config(&out.stdout);
    assert_eq!(p.value("args"), "[\"\\u{1b}[2J\", \"tab\\there\"]");
    // An unknown key with an escape in its name.
    project.write("hotload.toml", "\"x\\u001b[2J\" = 1\n");
    let out = run(&project, &[]);
    assert_eq!(out.code(), Some(2));
    assert!(
        !out.stderr.contains('\x1b') && out.stderr.contains("unknown key `x\\u{1b}[2J`"),
        "{:?}",
        out.stderr
    );
}

#[test]
fn new_settings_fold_from_every_source() {
    let project = Project::new();
    let file = root(&project).join("hotload.toml").display().to_string();
    let p = print_config(&project, &["x.py"]);
    p.check(
        "debounce",
        "0 ms (a lone save runs at once; bursts wait 50 ms)",
        "default",
    );
    p.check("main", "false", "default");
    p.check("data-files", "true", "default");
    p.check("test.args", "[]", "default");
    p.check("test.all", "false", "default");
    project.write(
        "hotload.toml",
        "target = \"x.py\"\ndebounce = 40\nmain = true\ndata-files = false\n\n[test]\nargs = [\"-q\", \"-x\"]\nall = true\n",
    );
    let p = print_config(&project, &[]);
    p.check("debounce", "40 ms", &file);
    p.check("main", "true", &file);
    p.check("data-files", "false", &file);
    p.check("test.args", "[\"-q\", \"-x\"]", &file);
    p.check("test.all", "true", &file);
    let env: &[(&str, &str)] = &[
        ("HOTLOAD_DEBOUNCE", "30"),
        ("HOTLOAD_MAIN", "false"),
        ("HOTLOAD_DATA_FILES", "true"),
        ("HOTLOAD_TEST_ALL", "false"),
        ("HOTLOAD_RECURSIVE", "HOTLOAD_RECURSIVE"),
    ];
    let p = print_config_in(&project, "", &[], env);
    p.check("debounce", "30 ms", "environment HOTLOAD_DEBOUNCE");
    p.check("main", "false", "environment HOTLOAD_MAIN");
    p.check("data-files", "true", "environment HOTLOAD_DATA_FILES");
    p.check("test.all", "false", "environment HOTLOAD_TEST_ALL");
    p.check("reload", "changed", "environment HOTLOAD_RECURSIVE");
    let p = print_config_in(
        &project,
        "",
        &["--debounce", "20", "--main", "--data-files", "--recursive"],
        env,
    );
    p.check("debounce", "20 ms", "command line --debounce");
    p.check("main", "true", "command line --main");
    p.check("data-files", "true", "command line --data-files");
    p.check("reload", "changed", "command line --recursive");
    let p = print_config(&project, &["--no-data-files"]);
    p.check("data-files", "false", "command line --no-data-files");
    // [tool.hotload.test] in pyproject.toml.
    std::fs::remove_file(project.path("hotload.toml")).unwrap();
    project.write(
        "pyproject.toml",
        &format!("{PYPROJECT_HEAD}\n[tool.hotload]\ntarget = \"x.py\"\n\n[tool.hotload.test]\nargs = [\"-k\", \"fast\"]\n"),
    );
    let p = print_config(&project, &[]);
    p.check(
        "test.args",
        "[\"-k\", \"fast\"]",
        &root(&project).join("pyproject.toml").display().to_string(),
    );
}
