//! Every way hotload-host ends runs Python's shutdown as `python lib.py` does (atexit handlers,
//! buffered files flushed), bounded in time; signals and stream mishaps in user code never end
//! the session unasked; names that clash with Python's own modules get a clear answer.

mod common;

use std::time::Duration;

use common::{Project, TIMEOUT, save_in_place};

/// A module that leaves data in a file's buffer and registers an atexit handler: both only
/// reach the outside world if the interpreter is finalised.
const LEAVES_BUFFERED_DATA: &str = "import atexit\n\
    log = open('out.txt', 'w')\n\
    log.write('buffered line\\n')\n\
    atexit.register(lambda: open('atexit.txt', 'w').write('atexit ran\\n'))\n\
    print('module ran', flush=True)\n";

fn assert_shut_down_cleanly(p: &Project) {
    let out = std::fs::read_to_string(p.path("out.txt")).unwrap_or_default();
    assert_eq!(out, "buffered line\n", "the file's buffer was lost");
    let atexit = std::fs::read_to_string(p.path("atexit.txt")).unwrap_or_default();
    assert_eq!(atexit, "atexit ran\n", "atexit handlers did not run");
}

#[test]
fn once_runs_atexit_handlers_and_flushes_files() {
    let p = Project::new();
    p.write("lib.py", LEAVES_BUFFERED_DATA);
    let done = p.run(&["lib.py", "--once"]);
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    assert_shut_down_cleanly(&p);
}

#[test]
fn ctrl_c_while_idle_runs_atexit_handlers_and_flushes_files() {
    let p = Project::new();
    p.write("lib.py", LEAVES_BUFFERED_DATA);
    let mut host = p.spawn(&["lib.py"]);
    host.wait_count("(run 1)", 1);
    host.interrupt();
    let status = host.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(130), "{}", host.transcript());
    assert_shut_down_cleanly(&p);
}

#[test]
fn sigterm_and_sighup_while_idle_end_the_session_through_the_exit_path() {
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129)] {
        let p = Project::new();
        p.write("lib.py", LEAVES_BUFFERED_DATA);
        let mut host = p.spawn(&["lib.py"]);
        host.wait_count("(run 1)", 1);
        host.signal(sig);
        let status = host.wait_exit(TIMEOUT);
        assert_eq!(status.code(), Some(code), "{}", host.transcript());
        assert_shut_down_cleanly(&p);
    }
}

#[test]
fn sigterm_while_the_module_runs_stops_it_and_ends_the_session() {
    let p = Project::new();
    p.write(
        "lib.py",
        &format!(
            "{LEAVES_BUFFERED_DATA}import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n"
        ),
    );
    let mut host = p.spawn(&["lib.py"]);
    host.wait_count("sleeping", 1);
    host.signal(libc::SIGTERM);
    let status = host.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(143), "{}", host.transcript());
    assert_eq!(
        host.count("lib stopped by SIGTERM after"),
        1,
        "{}",
        host.transcript()
    );
    assert_shut_down_cleanly(&p);
}

#[test]
fn a_thread_that_never_ends_delays_the_exit_at_most_briefly_and_is_named() {
    let p = Project::new();
    p.write(
        "lib.py",
        "import threading, time\nthreading.Thread(target=lambda: time.sleep(3600)).start()\nprint('started', flush=True)\n",
    );
    let done = p.run(&["lib.py", "--once"]);
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("Python's shutdown did not finish within 2 s"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_module_that_closes_its_streams_gets_working_ones_on_the_next_run() {
    let p = Project::new();
    p.write(
        "lib.py",
        "import sys\nprint('run one', flush=True)\nsys.stdout.close()\nsys.stderr.close()\n",
    );
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_count("run one", 1);
    host.wait_count("(run 1)", 1);
    host.mark();
    save_in_place(
        &p.path("lib.py"),
        "import sys\nprint('run two')\nprint('to stderr', file=sys.stderr)\n",
    );
    host.wait_count("run two", 1);
    host.wait_count("to stderr", 1);
    host.wait_count("(run 2", 1);
}

#[test]
fn a_module_that_ignores_sigint_still_lets_ctrl_c_quit_while_idle() {
    let p = Project::new();
    p.write("lib.py", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('ignoring', flush=True)\n");
    let mut host = p.spawn(&["lib.py"]);
    host.wait_count("(run 1)", 1);
    host.interrupt();
    assert_eq!(
        host.wait_exit(TIMEOUT).code(),
        Some(130),
        "{}",
        host.transcript()
    );
}

#[test]
fn a_modules_sigint_handler_works_while_it_runs_and_ctrl_c_idle_still_quits() {
    let p = Project::new();
    p.write(
        "lib.py",
        "import signal, sys, time\n\
         signal.signal(signal.SIGINT, lambda s, f: sys.exit(0))\n\
         print('waiting for ctrl-c', flush=True)\n\
         time.sleep(60)\n",
    );
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_count("waiting for ctrl-c", 1);
    host.interrupt();
    // The module's handler ran inside its own code: a sys.exit, reported as such.
    host.wait_count("lib called sys.exit(0)", 1);
    assert!(
        !host.transcript().contains("signal handler"),
        "{}",
        host.transcript()
    );
    host.interrupt();
    assert_eq!(
        host.wait_exit(TIMEOUT).code(),
        Some(130),
        "{}",
        host.transcript()
    );
}

#[test]
fn the_status_line_starts_on_a_line_of_its_own_after_output_without_newline() {
    let p = Project::new();
    p.write("lib.py", "import sys\nsys.stderr.write('progress 50%')\n");
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_count("[hotload] ok: lib ran", 1);
    let err = host.stderr_text();
    assert!(
        err.contains("progress 50%\n[hotload] ok: lib ran"),
        "{err:?}"
    );
    // Merged into one pipe, as in CI logs: stdout's partial line counts too.
    let q = Project::new();
    q.write("lib.py", "print('no newline', end='')\n");
    let mut cmd = q.command(&["lib.py", "--once"]);
    cmd.arg("--no-clear");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("exec \"$@\" 2>&1")
        .arg("sh")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .current_dir(q.dir.path())
        .env_remove("PYTHONUNBUFFERED")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no newline\n[hotload] ok: lib ran"),
        "{text:?}"
    );
}

// ---- Target names that Python's own modules (or hotload's) already use ----

#[test]
fn a_target_named_like_an_unimported_stdlib_module_runs_the_users_file() {
    let p = Project::new();
    p.write("json.py", "print('the user json', __name__)\n1/0\n");
    let done = p.run(&["json.py", "--once"]);
    assert_eq!(done.code(), Some(1), "{}", done.stderr);
    assert!(
        done.stdout.contains("the user json json"),
        "{}",
        done.stdout
    );
    // Its traceback is formatted by the host as usual (no internal error).
    assert!(done.stderr.contains("ZeroDivisionError"), "{}", done.stderr);
    assert!(!done.stderr.contains("internal error"), "{}", done.stderr);
}

#[test]
fn a_target_named_like_a_module_the_host_uses_is_refused_clearly() {
    for name in ["traceback", "os"] {
        let p = Project::new();
        p.write(&format!("{name}.py"), "print('USER CODE RAN')\n");
        let done = p.run(&[&format!("{name}.py"), "--once"]);
        assert_eq!(done.code(), Some(2), "{}", done.stderr);
        assert!(!done.stdout.contains("USER CODE RAN"), "{}", done.stdout);
        assert!(
            done.stderr
                .contains(&format!("Python's own module '{name}'"))
                && done.stderr.contains("is already imported")
                && done.stderr.contains("Rename"),
            "{}",
            done.stderr
        );
    }
}

#[test]
fn a_target_named_hotload_names_the_clash_with_the_hosts_package() {
    let p = Project::new();
    p.write("hotload.py", "print('USER CODE RAN')\n");
    let done = p.run(&["hotload.py", "--once"]);
    assert_eq!(done.code(), Some(2), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("clashes with hotload-host's own package 'hotload'"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_target_named_subprocess_does_not_break_run_steps() {
    let p = Project::new();
    p.write("subprocess.py", "print('user subprocess module')\n");
    p.write(
        "hotload.toml",
        "[[steps]]\nreload = \"subprocess\"\n[[steps]]\nrun = \"echo step ran\"\n",
    );
    // (A config named on the command line is trusted for its run steps.)
    let done = p.run(&["--once", "--config", "hotload.toml"]);
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    assert!(
        done.stdout.contains("user subprocess module"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("step ran"), "{}", done.stdout);
}

// ---- Messages that help ----

#[test]
fn a_fifo_as_target_is_not_a_regular_file() {
    let p = Project::new();
    let fifo = std::ffi::CString::new(p.path("pipe.py").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path in our temp dir.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let done = p.run(&["pipe.py", "--once"]);
    assert_eq!(done.code(), Some(2), "{}", done.stderr);
    assert!(
        done.stderr.contains("not a regular file"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_module_name_in_a_src_layout_names_the_paths_and_hints_at_src() {
    let p = Project::new();
    p.write("src/mypkg/__init__.py", "");
    p.write("src/mypkg/core.py", "print('core')\n");
    let done = p.run(&["mypkg.core", "--once"]);
    assert_eq!(done.code(), Some(2), "{}", done.stderr);
    assert!(done.stderr.contains("mypkg/core.py"), "{}", done.stderr);
    assert!(done.stderr.contains("src/mypkg/core.py"), "{}", done.stderr);
}

#[test]
fn a_run_step_killed_by_a_signal_says_which() {
    let p = Project::new();
    p.write("lib.py", "print('lib')\n");
    p.write(
        "hotload.toml",
        "[[steps]]\nreload = \"lib\"\n[[steps]]\nrun = \"kill -9 $$\"\n",
    );
    let done = p.run(&["--once", "--config", "hotload.toml"]);
    assert_eq!(done.code(), Some(1), "{}", done.stderr);
    assert!(done.stderr.contains("killed by SIGKILL"), "{}", done.stderr);
    assert!(!done.stderr.contains("status -9"), "{}", done.stderr);
}

#[test]
fn a_venv_of_the_same_version_from_another_python_names_its_base_interpreter() {
    // Debian's own python3 is a different build than the one the binary links (pyenv's).
    let debian = std::path::Path::new("/usr/bin/python3");
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("venv");
    let made = std::process::Command::new(debian)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .expect("Debian's /usr/bin/python3");
    assert!(made.success());
    let p = Project::new();
    p.write("lib.py", "print('USER CODE RAN')\n");
    let mut cmd = p.command(&["lib.py", "--once"]);
    cmd.env("VIRTUAL_ENV", &venv)
        .stdin(std::process::Stdio::null());
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/usr/bin/python3"),
        "names the base interpreter: {err}"
    );
    assert!(
        err.contains(&format!("PYO3_PYTHON={}/bin/python", venv.display())),
        "{err}"
    );
    assert!(err.contains("pip install"), "{err}");
    let _ = Duration::ZERO;
}

#[test]
fn run_steps_run_in_the_config_files_directory() {
    let p = Project::new();
    p.write(
        "lib.py",
        "import os\nos.chdir('/')\nprint('module moved away')\n",
    );
    p.write("sub/.keep", "");
    p.write(
        "hotload.toml",
        "target = \"lib.py\"\n[[steps]]\nreload = \"lib\"\n[[steps]]\nrun = \"echo step cwd=$(pwd)\"\n",
    );
    let mut cmd = p.command(&["--once", "--config", "../hotload.toml"]);
    cmd.current_dir(p.path("sub"))
        .stdin(std::process::Stdio::null());
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = p.dir.path().canonicalize().unwrap();
    assert!(
        stdout.contains(&format!("step cwd={}", root.display())),
        "{stdout}"
    );
}
