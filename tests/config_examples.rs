//! The config-file examples (examples/config-project, sqlite-hooks, http-server, multi-step) run
//! as their READMEs say: `cd examples/NAME && hotload-host`, the config discovered there. Each
//! test copies the example into a temp dir (so it can edit files) and runs the real binary in it.
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Finished, Host, Project, Stream, TIMEOUT, save_in_place};

/// Short window used only to check that something did NOT happen.
const QUIET: Duration = Duration::from_millis(500);

fn example_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name.to_string_lossy().ends_with(".db") {
            continue;
        }
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// A temp copy of examples/NAME.
fn copy_example(name: &str) -> Project {
    let project = Project::new();
    copy_tree(&example_dir(name), project.dir.path());
    project
}

/// The harness's user-like command, run in `project/sub`, with no HOTLOAD_* variable of the
/// test's own environment leaking in.
fn command_in(project: &Project, sub: &str, args: &[&str]) -> Command {
    let mut cmd = project.command(args);
    cmd.current_dir(project.path(sub));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("HOTLOAD_") {
            cmd.env_remove(key);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

fn spawn_in(project: &Project, sub: &str, args: &[&str]) -> Host {
    Host::spawn(command_in(project, sub, args))
}

fn run_in(project: &Project, sub: &str, args: &[&str]) -> Finished {
    let mut host = spawn_in(project, sub, args);
    let status = host.wait_exit(TIMEOUT);
    Finished {
        status,
        stdout: host.stdout_text(),
        stderr: host.stderr_text(),
    }
}

/// The host's status line for run `run`, if it has arrived.
fn status_line(host: &Host, run: u64) -> Option<String> {
    host.status_line(run)
}

/// Waits for the status line of run `run` and returns it.
fn wait_run(host: &mut Host, run: u64) -> String {
    host.wait_run(run)
}

fn assert_ok(line: &str, host: &Host) {
    assert!(
        line.starts_with("[hotload] ok: "),
        "expected a successful run: {line}\n{}",
        host.transcript()
    );
}

fn assert_failed(line: &str, host: &Host) {
    assert!(
        line.starts_with("[hotload] error: "),
        "expected a failed run: {line}\n{}",
        host.transcript()
    );
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

#[test]
fn every_config_example_has_a_readme_saying_how_to_run_it() {
    for name in [
        "config-project",
        "sqlite-hooks",
        "http-server",
        "multi-step",
    ] {
        let readme = std::fs::read_to_string(example_dir(name).join("README.md"))
            .unwrap_or_else(|e| panic!("examples/{name}/README.md: {e}"));
        let how = format!("cd examples/{name} && hotload-host");
        assert!(
            readme.contains(&how),
            "examples/{name}/README.md should say `{how}`:\n{readme}"
        );
        // The config is discovered in the example's own directory (not by walking further up).
        let out = run_in(&copy_example(name), "", &["--print-config"]);
        assert_eq!(out.code(), Some(0), "{name}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.starts_with("# config file: "),
            "{name}: {}",
            out.stdout
        );
        assert!(
            out.stdout
                .lines()
                .next()
                .unwrap()
                .ends_with("/hotload.toml"),
            "{name}: {}",
            out.stdout
        );
    }
}

// ---- examples/config-project ----

#[test]
fn config_project_runs_from_its_config_and_reruns_on_ini_and_module_saves() {
    let project = copy_example("config-project");
    let mut host = spawn_in(&project, "", &[]);
    let first = wait_run(&mut host, 1);
    assert_ok(&first, &host);
    assert!(first.contains("app.main"), "{first}");
    host.wait_for("Hello, world!");
    host.wait_for("(main() calls in this interpreter: 1)");

    // conf/*.ini is watched (a glob in `watch`), whatever the extension list says.
    host.mark();
    edit(
        &project,
        "conf/app.ini",
        "punctuation = !",
        "punctuation = ?",
    );
    assert_ok(&wait_run(&mut host, 2), &host);
    host.wait_for("Hello, world?");
    host.wait_for("(main() calls in this interpreter: 2)");

    // reload = "changed": saving the imported module reloads it and then app.main.
    host.mark();
    edit(&project, "app/greeting.py", "Hello, {name}", "Hi, {name}");
    assert_ok(&wait_run(&mut host, 3), &host);
    host.wait_for("Hi, world?");

    // `ignore`: a scratch file in the watched package triggers nothing.
    host.mark();
    project.write("app/scratch_notes.py", "print('scratch')\n");
    save_in_place(
        &project.path("app/scratch_notes.py"),
        "print('scratch, saved')\n",
    );
    host.settle(QUIET);
    assert!(
        status_line(&host, 4).is_none(),
        "a save of an ignored file ran:\n{}",
        host.transcript()
    );

    host.mark();
    edit(&project, "conf/app.ini", "times = 1", "times = 2");
    let fourth = wait_run(&mut host, 4);
    assert_ok(&fourth, &host);
    assert!(fourth.contains("after saving app.ini"), "{fourth}");
    host.wait_for("(main() calls in this interpreter: 4)");
    assert_eq!(host.count("Hi, world?"), 1 + 2, "{}", host.transcript());
    assert_eq!(host.count("scratch"), 0, "{}", host.transcript());
}

#[test]
fn config_project_settings_come_from_the_file_and_the_command_line_overrides_them() {
    let project = copy_example("config-project");
    let out = run_in(&project, "", &["--print-config"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    let config = std::fs::canonicalize(project.path("hotload.toml")).unwrap();
    for key in ["target", "args", "watch", "ignore", "entrypoint", "reload"] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("{key}: {}", out.stdout));
        assert!(line.ends_with(&format!("# {}", config.display())), "{line}");
    }

    // Started from a subdirectory, the same config is found; args from the command line win.
    let out = run_in(&project, "app", &["--once", "--", "--name", "you"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout,
        "Hello, you!\n(main() calls in this interpreter: 1)\n"
    );
}

// ---- examples/sqlite-hooks ----

/// `post: conn id 1234, 2 rows, ...` -> ("1234", 2) for the `n`-th post line.
fn post_line(host: &Host, n: usize) -> (String, u64) {
    let line = host
        .lines
        .iter()
        .filter(|(s, l)| *s == Stream::Out && l.starts_with("post: conn id "))
        .nth(n - 1)
        .map(|(_, l)| l.clone())
        .unwrap_or_else(|| panic!("no post line #{n}\n{}", host.transcript()));
    let rest = line.strip_prefix("post: conn id ").unwrap();
    let (id, rest) = rest.split_once(", ").unwrap();
    let rows = rest.split_once(" rows").unwrap().0.parse().unwrap();
    (id.to_string(), rows)
}

#[test]
fn sqlite_connection_survives_saves_and_rows_accumulate() {
    let project = copy_example("sqlite-hooks");
    let mut host = spawn_in(&project, "", &[]);
    assert_ok(&wait_run(&mut host, 1), &host);
    host.wait_count("post: conn id ", 1);
    let (conn_id, rows) = post_line(&host, 1);
    assert_eq!(rows, 1);
    assert_eq!(
        host.count("pre: "),
        0,
        "pre is not called before the first import\n{}",
        host.transcript()
    );

    host.mark();
    edit(
        &project,
        "app.py",
        "NOTE = \"first version\"",
        "NOTE = \"second version\"",
    );
    assert_ok(&wait_run(&mut host, 2), &host);
    host.wait_count("post: conn id ", 2);
    host.wait_for(&format!("pre: committed; 1 rows so far, conn id {conn_id}"));
    assert_eq!(
        post_line(&host, 2),
        (conn_id.clone(), 2),
        "{}",
        host.transcript()
    );
    host.wait_for("latest note: second version");

    // A broken save: pre runs (old code), the reload fails, post is not called; the kept
    // connection is untouched and the next good save carries on with it.
    host.mark();
    edit(
        &project,
        "app.py",
        "NOTE = \"second version\"",
        "NOTE = (\"broken\"",
    );
    assert_failed(&wait_run(&mut host, 3), &host);
    host.mark();
    edit(
        &project,
        "app.py",
        "NOTE = (\"broken\"",
        "NOTE = \"third version\"",
    );
    assert_ok(&wait_run(&mut host, 4), &host);
    host.wait_count("post: conn id ", 3);
    assert_eq!(post_line(&host, 3), (conn_id, 3), "{}", host.transcript());
    assert_eq!(
        host.count("pre: committed; 2 rows so far"),
        2,
        "{}",
        host.transcript()
    );
}

// ---- examples/http-server ----

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A GET from this test process: (status line and headers, body).
fn http_get(port: u16, path: &str) -> std::io::Result<(String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Ok((head.to_string(), body.to_string()))
}

fn set_port(project: &Project, port: u16) {
    let path = project.path("hotload.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("args = "))
        .expect("args line")
        .to_string();
    save_in_place(
        &path,
        &text.replace(&line, &format!("args = [\"--port\", \"{port}\"]")),
    );
}

#[test]
fn http_handler_changes_on_save_while_the_server_keeps_its_port() {
    let project = copy_example("http-server");
    let port = free_port();
    set_port(&project, port);
    let mut host = spawn_in(&project, "", &[]);
    assert_ok(&wait_run(&mut host, 1), &host);
    host.wait_for(&format!("serving on http://127.0.0.1:{port}/"));

    let (head, body) = http_get(port, "/first").unwrap();
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert_eq!(body, "Hello from version 1! You asked for /first\n");

    // Edit the response text and the handler class itself; same port, no new server.
    let source = std::fs::read_to_string(project.path("app.py")).unwrap();
    let new = source
        .replacen("Hello from version 1!", "Hello from version 2!", 1)
        .replacen(
            "self.send_response(200)\n",
            "self.send_response(200)\n        self.send_header(\"X-Handler\", \"v2\")\n",
            1,
        );
    assert_ne!(new, source);
    host.mark();
    save_in_place(&project.path("app.py"), &new);
    assert_ok(&wait_run(&mut host, 2), &host);
    let (head, body) = http_get(port, "/second").unwrap();
    assert_eq!(body, "Hello from version 2! You asked for /second\n");
    assert!(
        head.contains("X-Handler: v2"),
        "the post hook did not install the new Handler:\n{head}"
    );
    assert_eq!(host.count("serving on http"), 1, "{}", host.transcript());
    assert_eq!(
        host.count("pre: address changed"),
        0,
        "{}",
        host.transcript()
    );

    // A broken save: no post, the server keeps answering with the last good code.
    host.mark();
    edit(&project, "app.py", "def render(path):", "def render(path:");
    assert_failed(&wait_run(&mut host, 3), &host);
    let (_, body) = http_get(port, "/still").unwrap();
    assert_eq!(body, "Hello from version 2! You asked for /still\n");
    host.mark();
    edit(&project, "app.py", "def render(path:", "def render(path):");
    assert_ok(&wait_run(&mut host, 4), &host);

    // Changing the port in the config: applied live, the pre hook stops the old server cleanly
    // and the reload starts one on the new port.
    let port2 = free_port();
    assert_ne!(port, port2);
    set_port(&project, port2);
    host.wait_for("config reloaded");
    assert_ok(&wait_run(&mut host, 5), &host);
    host.wait_for(&format!(
        "pre: address changed to 127.0.0.1:{port2}; stopping the server on port {port}"
    ));
    host.wait_for(&format!("serving on http://127.0.0.1:{port2}/"));
    let (_, body) = http_get(port2, "/moved").unwrap();
    assert_eq!(body, "Hello from version 2! You asked for /moved\n");
    let refused = http_get(port, "/old");
    assert!(refused.is_err(), "the old port still answers: {refused:?}");

    // An ordinary save after the move keeps the new server.
    host.mark();
    edit(
        &project,
        "app.py",
        "Hello from version 2!",
        "Hello from version 3!",
    );
    assert_ok(&wait_run(&mut host, 6), &host);
    let (_, body) = http_get(port2, "/third").unwrap();
    assert_eq!(body, "Hello from version 3! You asked for /third\n");
    assert_eq!(host.count("serving on http"), 2, "{}", host.transcript());
}

// ---- examples/multi-step ----

#[test]
fn multi_step_failing_step_stops_the_run_and_the_next_save_starts_over() {
    let project = copy_example("multi-step");
    // Its `run` step is a shell command: it runs once the user trusts the file.
    let out = run_in(&project, "", &["trust"]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("python3 -m unittest -q test_calc"),
        "{}",
        out.stdout
    );
    let mut host = spawn_in(&project, "", &[]);
    let first = wait_run(&mut host, 1);
    assert_ok(&first, &host);
    assert!(first.contains("steps ran"), "{first}");
    host.wait_for("calc loaded (run 1)");
    host.wait_for("self-test passed");
    host.wait_for("report: add(2, 3) = 5, mul(4, 5) = 20");
    host.wait_count("Ran 2 tests", 1);

    // Break add(): the call step fails, the shell step and the report are skipped.
    host.mark();
    edit(&project, "calc.py", "return a + b", "return a - b");
    let second = wait_run(&mut host, 2);
    assert_failed(&second, &host);
    assert!(
        second.contains("AssertionError: add(2, 3) == -1, expected 5"),
        "{second}"
    );

    // Fixed: every step runs again, from the reload on.
    host.mark();
    edit(&project, "calc.py", "return a - b", "return a + b");
    assert_ok(&wait_run(&mut host, 3), &host);
    host.wait_for("calc loaded (run 3)");
    host.wait_count("report: ", 2);
    host.wait_count("Ran 2 tests", 2);
    // All of run 2's output precedes run 3's on each stream: counts now tell which steps ran.
    assert_eq!(
        host.count("calc loaded (run 2)"),
        1,
        "{}",
        host.transcript()
    );
    assert_eq!(host.count("self-test passed"), 2, "{}", host.transcript());
    assert_eq!(
        host.count("Ran 2 tests"),
        2,
        "the shell step ran after a failed step\n{}",
        host.transcript()
    );
    assert_eq!(
        host.count("report: "),
        2,
        "the last step ran after a failed step\n{}",
        host.transcript()
    );

    // Break mul(): only the shell step (a separate process) notices; the report is skipped.
    host.mark();
    edit(&project, "calc.py", "return a * b", "return a ** b");
    let fourth = wait_run(&mut host, 4);
    assert_failed(&fourth, &host);
    assert!(
        fourth.contains("command `python3 -m unittest -q test_calc` exited with status 1"),
        "{fourth}"
    );

    host.mark();
    edit(&project, "calc.py", "return a ** b", "return a * b");
    assert_ok(&wait_run(&mut host, 5), &host);
    host.wait_for("calc loaded (run 5)");
    host.wait_count("report: ", 3);
    host.wait_count("Ran 2 tests", 4);
    assert_eq!(host.count("self-test passed"), 4, "{}", host.transcript());
    assert_eq!(host.count("report: "), 3, "{}", host.transcript());
    assert_eq!(
        host.count("FAILED (failures=1)"),
        1,
        "{}",
        host.transcript()
    );
}
