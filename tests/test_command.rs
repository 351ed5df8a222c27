//! `hotload-host test` (issue 14) with the real pytest, from a venv prepared before the tests
//! run (`scripts/test-venv`, which `.ci/run` calls; never installed here): the affected
//! selection, last-failed re-runs, `--all` and `[test]` config, assertion rewriting and line
//! numbers after reloads, conftest fixtures, collection errors and broken modules, Ctrl-C, a
//! test that leaves a mess, and bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Host, Project, TIMEOUT, bin, save_in_place};

/// The venv with pytest: `$HOTLOAD_TEST_VENV`, else `test-venv` beside the build directory of
/// the binary under test (`target/test-venv`; `target/pythons/3.X/test-venv` under
/// scripts/test-pythons). Missing, it is a failure that says how to prepare it.
fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = std::env::var_os("HOTLOAD_TEST_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let build = bin().parent().and_then(Path::parent).unwrap();
                build.join("test-venv")
            });
        let has_pytest = Command::new(venv.join("bin/python"))
            .args(["-c", "import pytest"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            has_pytest,
            "no venv with pytest at {}: the tests of `hotload-host test` run the real pytest.\n\
             Prepare it once (pip needs the package index): scripts/test-venv (.ci/run does), \
             or set HOTLOAD_TEST_VENV to a venv with pytest of the Python hotload-host is built \
             against.",
            venv.display()
        );
        venv
    })
}

/// `hotload-host test ARGS` in `p`, the venv activated as `source bin/activate` does.
fn spawn_test(p: &Project, args: &[&str]) -> Host {
    let mut cmd = p.command(&[&["test"], args].concat());
    activate(&mut cmd, venv());
    cmd.stdin(Stdio::null());
    Host::spawn(cmd)
}

fn activate(cmd: &mut Command, venv: &Path) {
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("VIRTUAL_ENV", venv)
        .env("PATH", format!("{}:{path}", venv.join("bin").display()));
}

/// The host's status line after a run, as a prefix to wait for.
fn status(text: &str) -> String {
    format!("[hotload] {text}")
}

/// pytest's summary lines so far (`==== 2 passed in 0.02s ====`): the last line a pass writes
/// to stdout.
fn summaries(host: &Host) -> usize {
    host.lines
        .iter()
        .filter(|(stream, line)| {
            *stream == common::Stream::Out
                && line.split(" in ").nth(1).is_some_and(|rest| {
                    rest.starts_with(|c: char| c.is_ascii_digit())
                        && rest.trim_end_matches(['=', ' ']).ends_with('s')
                })
        })
        .count()
}

/// What the transcript holds before an action: how many lines contain each needle, and
/// pytest's summaries. The status line comes on stderr and pytest's output on stdout, two
/// pipes read apart, so after the action `wait_after` waits for one more of each needle, in
/// whatever order they arrive, and for the summaries of the action's passes.
struct Before {
    marks: Vec<(String, usize)>,
    summaries: usize,
}

fn before(host: &Host, needles: &[&str]) -> Before {
    Before {
        marks: needles
            .iter()
            .map(|n| (n.to_string(), host.count(n)))
            .collect(),
        summaries: summaries(host),
    }
}

fn wait_after(host: &mut Host, before: Before, passes: usize) {
    for (needle, n) in &before.marks {
        host.wait_count(needle, n + 1);
    }
    let deadline = Instant::now() + TIMEOUT;
    while summaries(host) < before.summaries + passes {
        assert!(
            Instant::now() < deadline,
            "pytest's summary never came\n{}",
            host.transcript()
        );
        host.settle(Duration::from_millis(10));
    }
}

/// A project of two code modules (`calc` reached through `helper`) and one test file each.
fn two_files(p: &Project) {
    p.write("calc.py", "def add(a, b):\n    return a + b\n");
    p.write(
        "helper.py",
        "from calc import add\n\ndef twice(x):\n    return add(x, x)\n",
    );
    p.write("other.py", "def mul(a, b):\n    return a * b\n");
    p.write(
        "tests/test_calc.py",
        "from helper import twice\n\ndef test_twice():\n    assert twice(2) == 4\n\n\
         def test_twice_zero():\n    assert twice(0) == 0\n",
    );
    p.write(
        "tests/test_other.py",
        "from other import mul\n\nprint('importing test_other')\n\n\
         def test_mul():\n    assert mul(2, 3) == 6\n",
    );
}

#[test]
fn a_save_runs_only_the_tests_whose_modules_import_it() {
    let p = Project::new();
    two_files(&p);
    let mut host = spawn_test(&p, &["--", "-v", "-s"]);
    host.wait_for(&status("ok: 3 passed in"));
    // pytest's cache (a hidden directory it writes at the end) is not a watched data file.
    host.settle(Duration::from_millis(500));
    assert_eq!(host.count("(run 2"), 0, "{}", host.transcript());

    // calc is imported by helper, which test_calc imports: only test_calc's tests run, and
    // test_other.py is not even imported.
    host.mark();
    let calc_runs = host.count("test_calc.py::");
    let counts = ["test_other.py::", "importing test_other"].map(|n| host.count(n));
    let b = before(&host, &[&status("ok: 2 passed (affected tests) in")]);
    host.mark();
    save_in_place(&p.path("calc.py"), "def add(a, b):\n    return b + a\n");
    wait_after(&mut host, b, 1);
    assert_eq!(
        host.count("test_calc.py::"),
        calc_runs + 2,
        "{}",
        host.transcript()
    );
    host.mark();
    let now = ["test_other.py::", "importing test_other"].map(|n| host.count(n));
    assert_eq!(now, counts, "{}", host.transcript());

    host.mark();
    let (calc_runs, other_runs) = (host.count("test_calc.py::"), host.count("test_other.py::"));
    let b = before(&host, &[&status("ok: 1 passed (affected tests) in")]);
    host.mark();
    save_in_place(&p.path("other.py"), "def mul(a, b):\n    return b * a\n");
    wait_after(&mut host, b, 1);
    assert_eq!(
        host.count("test_calc.py::"),
        calc_runs,
        "{}",
        host.transcript()
    );
    assert_eq!(
        host.count("test_other.py::"),
        other_runs + 1,
        "{}",
        host.transcript()
    );

    // A module no test imports runs nothing.
    let b = before(&host, &[&status("ok: no tests affected by the save")]);
    host.mark();
    p.write("notes.py", "X = 1\n");
    wait_after(&mut host, b, 0);
}

/// The selection is by real path: tests collected through a symlinked directory are picked
/// by where their files really are, and the others there are still not even imported.
#[test]
fn tests_reached_through_a_symlinked_directory_are_selected_by_their_real_paths() {
    let p = Project::new();
    two_files(&p);
    std::fs::rename(p.path("tests"), p.path("suite")).unwrap();
    std::os::unix::fs::symlink(p.path("suite"), p.path("tests")).unwrap();
    let mut host = spawn_test(&p, &["--", "-v", "-s", "tests"]);
    host.wait_for(&status("ok: 3 passed in"));
    host.mark();
    let (calc_runs, imports) = (
        host.count("tests/test_calc.py::"),
        host.count("importing test_other"),
    );
    let b = before(&host, &[&status("ok: 2 passed (affected tests) in")]);
    host.mark();
    save_in_place(&p.path("calc.py"), "def add(a, b):\n    return b + a\n");
    wait_after(&mut host, b, 1);
    host.mark();
    let now = (
        host.count("tests/test_calc.py::"),
        host.count("importing test_other"),
    );
    assert_eq!(now, (calc_runs + 2, imports), "{}", host.transcript());

    // The watcher reports the saved test file by its real path.
    let b = before(&host, &[&status("ok: 3 passed (affected tests) in")]);
    host.mark();
    save_in_place(
        &p.path("suite/test_calc.py"),
        "from helper import twice\n\ndef test_twice():\n    assert twice(2) == 4\n\n\
         def test_twice_zero():\n    assert twice(0) == 0\n\ndef test_three():\n    \
         assert twice(3) == 6\n",
    );
    wait_after(&mut host, b, 1);
    host.mark();
    assert_eq!(
        host.count("importing test_other"),
        imports,
        "{}",
        host.transcript()
    );
}

#[test]
fn tests_that_failed_run_again_until_they_pass() {
    let p = Project::new();
    two_files(&p);
    p.write("calc.py", "def add(a, b):\n    return a - b\n");
    let mut host = spawn_test(&p, &["--", "-v"]);
    host.wait_for(&status("failed: 1 failed, 2 passed in"));

    // Saving other.py re-runs the failure too (and test_twice_zero, which passed, does not).
    host.mark();
    let zero_runs = host.count("test_twice_zero PASSED");
    let b = before(
        &host,
        &[
            "test_calc.py::test_twice FAILED",
            &status("failed: 1 failed, 1 passed (affected tests)"),
        ],
    );
    host.mark();
    save_in_place(&p.path("other.py"), "def mul(a, b):\n    return b * a\n");
    wait_after(&mut host, b, 1);
    assert_eq!(
        host.count("test_twice_zero PASSED"),
        zero_runs,
        "{}",
        host.transcript()
    );

    let b = before(&host, &[&status("ok: 2 passed (affected tests)")]);
    host.mark();
    save_in_place(&p.path("calc.py"), "def add(a, b):\n    return a + b\n");
    wait_after(&mut host, b, 1);

    // Fixed: it is not due any more.
    host.mark();
    let calc_runs = host.count("test_calc.py::");
    let b = before(&host, &[&status("ok: 1 passed (affected tests)")]);
    host.mark();
    save_in_place(&p.path("other.py"), "def mul(a, b):\n    return a * b\n");
    wait_after(&mut host, b, 1);
    assert_eq!(
        host.count("test_calc.py::"),
        calc_runs,
        "{}",
        host.transcript()
    );
}

#[test]
fn all_runs_the_whole_selection_once_the_affected_tests_pass() {
    let p = Project::new();
    two_files(&p);
    let mut host = spawn_test(&p, &["--all", "--", "-v"]);
    host.wait_for(&status("ok: 3 passed in"));
    let b = before(
        &host,
        &[&status(
            "ok: 2 passed (affected tests), then 3 passed (all) in",
        )],
    );
    host.mark();
    save_in_place(&p.path("calc.py"), "def add(a, b):\n    return b + a\n");
    wait_after(&mut host, b, 2);

    // Failing affected tests: nothing more.
    host.mark();
    let other_runs = host.count("test_other.py::");
    let b = before(
        &host,
        &[&status("failed: 1 failed, 1 passed (affected tests) in")],
    );
    host.mark();
    save_in_place(&p.path("calc.py"), "def add(a, b):\n    return a - b\n");
    wait_after(&mut host, b, 1);
    assert_eq!(
        host.count("test_other.py::"),
        other_runs,
        "{}",
        host.transcript()
    );
}

#[test]
fn the_test_table_of_the_config_gives_args_and_all() {
    let p = Project::new();
    two_files(&p);
    p.write(
        "tests/test_more.py",
        "def test_wanted():\n    pass\n\ndef test_unwanted():\n    assert False\n",
    );
    p.write(
        "pyproject.toml",
        "[tool.hotload.test]\nargs = [\"-v\", \"-k\", \"not unwanted\"]\nall = true\n",
    );
    let mut host = spawn_test(&p, &[]);
    host.wait_for(&status("ok: 4 passed in"));
    let b = before(
        &host,
        &[
            &status("ok: 1 passed (affected tests), then 4 passed (all) in"),
            "test_more.py::test_wanted PASSED",
        ],
    );
    host.mark();
    save_in_place(&p.path("other.py"), "def mul(a, b):\n    return b * a\n");
    wait_after(&mut host, b, 2);
    assert_eq!(host.count("test_unwanted"), 0, "{}", host.transcript());
}

#[test]
fn assertions_are_rewritten_and_tracebacks_show_the_saved_lines() {
    let p = Project::new();
    p.write("calc.py", "def values():\n    return [1, 2, 3]\n");
    let test = "from calc import values\n\ndef test_values():\n    assert values() == [1, 2, 3]\n";
    p.write("tests/test_values.py", test);
    let mut host = spawn_test(&p, &[]);
    host.wait_for(&status("ok: 1 passed in"));
    let failed = status("failed: 1 failed (affected tests)");

    // A saved code module: the rich diff shows its new value.
    let b = before(&host, &["At index 2 diff: 4 != 3", &failed]);
    host.mark();
    save_in_place(&p.path("calc.py"), "def values():\n    return [1, 2, 4]\n");
    wait_after(&mut host, b, 1);

    // A saved test module of the same size and modification time (a save within the same
    // second): rewritten again, with its new expectation, and its new line shown.
    let b = before(
        &host,
        &[
            "At index 2 diff: 4 != 5",
            ">       assert values() == [1, 2, 5]",
            &failed,
        ],
    );
    save_same_size_and_time(&p.path("tests/test_values.py"), &test.replace("3]", "5]"));
    wait_after(&mut host, b, 1);

    // Lines moved down: pytest points at the new line of the test and of the module.
    let moved = format!("# one\n# two\n{}", test.replace("3]", "5]"));
    let b = before(&host, &["tests/test_values.py:6: AssertionError", &failed]);
    host.mark();
    save_in_place(&p.path("tests/test_values.py"), &moved);
    wait_after(&mut host, b, 1);
    let b = before(
        &host,
        &[
            "calc.py:4: ValueError",
            ">       raise ValueError('boom')",
            &failed,
        ],
    );
    host.mark();
    save_in_place(
        &p.path("calc.py"),
        "# one\n# two\ndef values():\n    raise ValueError('boom')\n",
    );
    wait_after(&mut host, b, 1);
}

#[test]
fn a_saved_conftest_rebuilds_its_fixtures_for_the_tests_under_it() {
    let p = Project::new();
    p.write("tests/__init__.py", "");
    let conftest =
        |body: &str| format!("import pytest\n\n@pytest.fixture\ndef base():\n    {body}\n");
    p.write("tests/conftest.py", &conftest("return 1"));
    p.write(
        "tests/test_base.py",
        "def test_base(base):\n    assert base == 1\n",
    );
    p.write("elsewhere/test_far.py", "def test_far():\n    pass\n");
    let mut host = spawn_test(&p, &["--", "-v"]);
    host.wait_for(&status("ok: 2 passed in"));

    host.mark();
    let far_runs = host.count("test_far.py::");
    let b = before(
        &host,
        &[
            "assert 2 == 1",
            &status("failed: 1 failed (affected tests)"),
        ],
    );
    host.mark();
    save_in_place(&p.path("tests/conftest.py"), &conftest("return 2"));
    wait_after(&mut host, b, 1);
    assert_eq!(
        host.count("test_far.py::"),
        far_runs,
        "{}",
        host.transcript()
    );

    // A fixture that fails is an error; the next save runs again.
    let b = before(
        &host,
        &[
            "RuntimeError: no base",
            &status("failed: 1 error (affected tests)"),
        ],
    );
    host.mark();
    save_in_place(
        &p.path("tests/conftest.py"),
        &conftest("raise RuntimeError('no base')"),
    );
    wait_after(&mut host, b, 1);
    let b = before(&host, &[&status("ok: 1 passed (affected tests)")]);
    host.mark();
    save_in_place(&p.path("tests/conftest.py"), &conftest("return 1"));
    wait_after(&mut host, b, 1);
}

#[test]
fn collection_errors_and_broken_modules_are_reported_and_the_next_save_runs() {
    let p = Project::new();
    two_files(&p);
    let mut host = spawn_test(&p, &[]);
    host.wait_for(&status("ok: 3 passed in"));
    let one_error = status("failed: 1 error (affected tests)");
    let reload_failed = status("error: tests failed after");

    // A syntax error in a test file: a collection error.
    let good = std::fs::read_to_string(p.path("tests/test_calc.py")).unwrap();
    let b = before(&host, &["ERROR collecting tests/test_calc.py", &one_error]);
    host.mark();
    save_in_place(&p.path("tests/test_calc.py"), "def test_broken(:\n");
    wait_after(&mut host, b, 1);
    let b = before(&host, &[&status("ok: 2 passed (affected tests)")]);
    host.mark();
    save_in_place(&p.path("tests/test_calc.py"), &good);
    wait_after(&mut host, b, 1);

    // An ImportError while collecting.
    let b = before(&host, &["ImportError", &one_error]);
    host.mark();
    save_in_place(
        &p.path("tests/test_other.py"),
        "from other import divide\n\ndef test_divide():\n    pass\n",
    );
    wait_after(&mut host, b, 1);

    // A syntax error in a code module: the reload fails and no test runs.
    let b = before(&host, &["SyntaxError", &reload_failed]);
    host.mark();
    save_in_place(&p.path("calc.py"), "def add(a, b:\n    return a + b\n");
    wait_after(&mut host, b, 0);
    // Another save while calc is still broken tries its reload again, and fails again.
    let b = before(&host, &[&reload_failed]);
    host.mark();
    save_in_place(
        &p.path("tests/test_other.py"),
        "from other import mul\n\ndef test_mul():\n    assert mul(2, 3) == 6\n",
    );
    wait_after(&mut host, b, 0);
    // Fixed: calc's tests run, and test_other's, still due.
    let b = before(&host, &[&status("ok: 3 passed (affected tests)")]);
    host.mark();
    save_in_place(&p.path("calc.py"), "def add(a, b):\n    return a + b\n");
    wait_after(&mut host, b, 1);
}

#[test]
fn ctrl_c_interrupts_a_slow_test_and_the_host_keeps_watching() {
    let p = Project::new();
    let mark = p.path("started");
    let slow = format!(
        "import time\n\ndef test_slow():\n    open({:?}, 'w').close()\n    time.sleep(60)\n",
        mark.display().to_string()
    );
    p.write("tests/test_slow.py", &slow);
    let mut host = spawn_test(&p, &[]);
    wait_for_file(&mark, &mut host);
    host.interrupt();
    host.wait_for("KeyboardInterrupt");
    host.wait_for(&status("interrupted: tests interrupted by Ctrl-C"));

    host.mark();
    std::fs::remove_file(&mark).unwrap();
    let b = before(&host, &[&status("ok: 1 passed (affected tests)")]);
    host.mark();
    save_in_place(
        &p.path("tests/test_slow.py"),
        "def test_slow():\n    pass\n",
    );
    wait_after(&mut host, b, 1);
    host.interrupt();
    let code = host.wait_exit(TIMEOUT).code();
    assert_eq!(code, Some(130), "{}", host.transcript());
}

/// Overwrites `path` with `content` (of the same length) and gives it back its modification
/// time, as a second save within the same second would leave it.
fn save_same_size_and_time(path: &Path, content: &str) {
    let before = std::fs::metadata(path).unwrap();
    assert_eq!(before.len(), content.len() as u64);
    save_in_place(path, content);
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(before.modified().unwrap()).unwrap();
}

fn wait_for_file(path: &Path, host: &mut Host) {
    let deadline = Instant::now() + TIMEOUT;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared\n{}",
            path.display(),
            host.transcript()
        );
        host.settle(Duration::from_millis(20));
    }
}

#[test]
fn a_test_that_exits_moves_and_leaves_threads_does_not_change_the_next_run() {
    let p = Project::new();
    let dir = std::fs::canonicalize(p.dir.path()).unwrap();
    p.write(
        "tests/test_a_clean.py",
        &format!(
            "import os, sys\n\ndef test_clean():\n    assert os.getcwd() == {:?}\n    \
             assert 'MESSY' not in os.environ\n    assert '/nowhere' not in sys.path\n",
            dir.display().to_string()
        ),
    );
    p.write(
        "tests/test_b_messy.py",
        "import os, sys, threading, time\n\ndef test_messy():\n    os.chdir('/')\n    \
         os.environ['MESSY'] = '1'\n    sys.path.insert(0, '/nowhere')\n    \
         threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n    sys.exit(3)\n",
    );
    let mut host = spawn_test(&p, &[]);
    host.wait_for("tests left 1 thread running");
    host.wait_for(&status("failed: 1 failed, 1 passed in"));
    // The clean test runs first (file order) and sees none of the mess.
    let b = before(
        &host,
        &[&status("failed: 1 failed, 1 passed (affected tests)")],
    );
    host.mark();
    save_in_place(
        &p.path("tests/test_a_clean.py"),
        &(std::fs::read_to_string(p.path("tests/test_a_clean.py")).unwrap() + "# saved\n"),
    );
    wait_after(&mut host, b, 1);
}

#[test]
fn without_pytest_the_message_says_how_to_install_it() {
    // The Python the test venv was made with (its `home`), for a venv without pytest.
    let cfg = std::fs::read_to_string(venv().join("pyvenv.cfg")).unwrap();
    let home = cfg
        .lines()
        .find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == "home"))
        .map(|(_, v)| PathBuf::from(v.trim()))
        .expect("pyvenv.cfg names its home");
    let base = home.join("python3");
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("bare");
    let made = Command::new(&base)
        .args(["-m", "venv", "--without-pip"])
        .arg(&bare)
        .status()
        .unwrap();
    assert!(made.success());
    let p = Project::new();
    two_files(&p);
    let mut cmd = p.command(&["test"]);
    activate(&mut cmd, &bare);
    cmd.stdin(Stdio::null());
    let mut host = Host::spawn(cmd);
    let code = host.wait_exit(TIMEOUT).code();
    let err = host.stderr_text();
    assert_eq!(code, Some(2), "{}", host.transcript());
    assert!(err.contains("pytest is not importable"), "{err}");
    assert!(err.contains("-m pip install pytest"), "{err}");
    assert!(err.contains(&bare.display().to_string()), "{err}");
}

#[test]
fn arguments_pytest_refuses_are_bad_input() {
    let p = Project::new();
    two_files(&p);
    for (args, says) in [
        (
            &["--", "--no-such-flag"][..],
            "unrecognized arguments: --no-such-flag",
        ),
        (
            &["--", "no/such/dir"][..],
            "file or directory not found: no/such/dir",
        ),
        (&["--", "-p", "no_such_plugin"][..], "no_such_plugin"),
    ] {
        let mut host = spawn_test(&p, args);
        let code = host.wait_exit(TIMEOUT).code();
        let err = host.stderr_text();
        assert_eq!(code, Some(2), "{args:?}\n{}", host.transcript());
        assert!(err.contains(says), "{args:?}\n{err}");
        assert!(
            err.contains("hotload-host: error: pytest did not accept its arguments"),
            "{args:?}\n{err}"
        );
    }
}

#[test]
fn sigterm_while_tests_run_ends_the_session_after_pytest_stops() {
    let p = Project::new();
    let mark = p.path("started");
    p.write(
        "tests/test_slow.py",
        &format!(
            "import time\n\ndef test_slow():\n    open({:?}, 'w').close()\n    time.sleep(60)\n\n\
             def test_after():\n    pass\n",
            mark.display().to_string()
        ),
    );
    let mut host = spawn_test(&p, &["--", "-v"]);
    wait_for_file(&mark, &mut host);
    host.signal(libc::SIGTERM);
    let code = host.wait_exit(TIMEOUT).code();
    assert_eq!(code, Some(128 + libc::SIGTERM), "{}", host.transcript());
    // pytest stopped at once: the next test never ran.
    assert_eq!(host.count("test_after"), 0, "{}", host.transcript());
    assert_eq!(
        host.count("[hotload] stopped: tests stopped by SIGTERM"),
        1,
        "{}",
        host.transcript()
    );
}

#[test]
fn a_conftest_that_fails_to_load_is_reported_and_its_fix_runs_everything() {
    let p = Project::new();
    two_files(&p);
    // Broken from the start: not bad input (that is for arguments), the host keeps watching.
    p.write(
        "conftest.py",
        "import pytest\nraise ImportError('broken conftest')\n",
    );
    let mut host = spawn_test(&p, &[]);
    let failed = status("error: a conftest.py failed to load");
    host.wait_for("broken conftest");
    host.wait_for(&failed);
    let b = before(&host, &[&status("ok: 3 passed in")]);
    host.mark();
    save_in_place(&p.path("conftest.py"), "import pytest\n");
    wait_after(&mut host, b, 1);
    // Broken while watching, then fixed: the tests it kept from running run.
    let b = before(&host, &[&failed]);
    host.mark();
    save_in_place(
        &p.path("conftest.py"),
        "import pytest\nraise ImportError('broken conftest')\n",
    );
    wait_after(&mut host, b, 0);
    let b = before(&host, &[&status("ok: 3 passed (affected tests)")]);
    host.mark();
    save_in_place(&p.path("conftest.py"), "import pytest\n\n");
    wait_after(&mut host, b, 1);
}

#[test]
fn a_saved_plugin_module_runs_everything() {
    let p = Project::new();
    two_files(&p);
    p.write(
        "plug.py",
        "import pytest\n\n@pytest.fixture\ndef greeting():\n    return 'hello'\n",
    );
    p.write(
        "tests/test_greeting.py",
        "def test_greeting(greeting):\n    assert greeting == 'hello'\n",
    );
    let mut host = spawn_test(&p, &["--", "-p", "plug"]);
    host.wait_for(&status("ok: 4 passed in"));
    let b = before(&host, &[&status("failed: 1 failed, 3 passed in")]);
    host.mark();
    save_in_place(
        &p.path("plug.py"),
        "import pytest\n\n@pytest.fixture\ndef greeting():\n    return 'bye'\n",
    );
    wait_after(&mut host, b, 1);
}

/// Tests that ask for pytest's own fixtures, each from another of its plugins, and for fixtures
/// of the project's plugin (`-p plug`) and conftest.
const FIXTURE_TESTS: &str = "import logging, os, warnings\n\nimport calc\n\n\
def test_tmp(tmp_path, tmp_path_factory, tmpdir):\n    (tmp_path / 'f').write_text('x')\n    \
assert tmp_path_factory.getbasetemp().is_dir() and tmpdir.isdir()\n\n\
def test_capture(capsys, caplog):\n    print('out')\n    logging.getLogger('t').warning('logged')\n    \
assert capsys.readouterr().out == 'out\\n' and 'logged' in caplog.text\n\n\
def test_capfd(capfd):\n    os.write(1, b'fd\\n')\n    assert capfd.readouterr().out == 'fd\\n'\n\n\
def test_patch(monkeypatch, recwarn):\n    monkeypatch.setattr(calc, 'add', lambda a, b: 0)\n    \
assert calc.add(1, 2) == 0\n    warnings.warn('w')\n    assert len(recwarn) == 1\n\n\
def test_request(request, pytestconfig, cache, record_property, doctest_namespace):\n    \
assert pytestconfig is request.config and request.node.name == 'test_request'\n    \
cache.set('k', 1)\n    record_property('p', 1)\n    assert isinstance(doctest_namespace, dict)\n\n\
def test_plugins(greeting, base):\n    assert (greeting, base) == ('hello', 1)\n";

/// pytest registers its plugins afresh in every pass, and the host works out once what they
/// hold (`_pytest_scans.py`): every pass must still find every fixture.
#[test]
fn built_in_and_plugin_fixtures_are_found_in_every_run() {
    let p = Project::new();
    p.write("calc.py", "def add(a, b):\n    return a + b\n");
    p.write(
        "plug.py",
        "import pytest\n\n@pytest.fixture\ndef greeting():\n    return 'hello'\n",
    );
    p.write(
        "tests/conftest.py",
        "import pytest\n\n@pytest.fixture\ndef base():\n    return 1\n",
    );
    p.write("tests/test_fixtures.py", FIXTURE_TESTS);
    let mut host = spawn_test(&p, &["--", "-p", "plug"]);
    host.wait_for(&status("ok: 6 passed in"));
    for run in 1..=3 {
        let b = before(&host, &[&status("ok: 6 passed (affected tests)")]);
        host.mark();
        let body = format!("def add(a, b):\n    return a + b  # {run}\n");
        save_in_place(&p.path("calc.py"), &body);
        wait_after(&mut host, b, 1);
    }
}

/// Puts a distribution with a `pytest11` entry point (a plugin pytest loads by itself) into
/// `site`, a directory on the host's PYTHONPATH: its module gives the fixture `fixture`.
fn install_plugin(site: &Project, name: &str, fixture: &str, value: u32) {
    site.write(
        &format!("{name}_plugin.py"),
        &format!("import pytest\n\n@pytest.fixture\ndef {fixture}():\n    return {value}\n"),
    );
    let info = format!("{name}_plugin-1.0.dist-info");
    site.write(
        &format!("{info}/METADATA"),
        &format!("Metadata-Version: 2.1\nName: {name}-plugin\nVersion: 1.0\n"),
    );
    site.write(
        &format!("{info}/entry_points.txt"),
        &format!("[pytest11]\n{name} = {name}_plugin\n"),
    );
}

/// Which distributions have pytest plugins is worked out once per change of the import path
/// (`_pytest_dists.py`): a plugin installed while the host runs is loaded by the next pass,
/// and one uninstalled is gone from it, as in a fresh pytest; a project's own replacement of
/// `importlib.metadata.distributions` stays in place.
#[test]
fn pytest_plugins_installed_or_removed_while_watching_count_from_the_next_run() {
    let p = Project::new();
    let site = Project::new();
    install_plugin(&site, "first", "first_value", 1);
    p.write("calc.py", "def add(a, b):\n    return a + b\n");
    p.write(
        "tests/test_calc.py",
        "import importlib.metadata, sys\nfrom calc import add\n\n\
         def test_first(first_value):\n    assert add(first_value, 1) == 2\n\n\
         def test_kept():\n    assert importlib.metadata.distributions is sys._wrapped\n",
    );
    // The project wraps importlib.metadata.distributions once: the narrowing puts back what
    // it found, not the standard library's function.
    p.write(
        "tests/conftest.py",
        "import importlib.metadata, sys\n\nif not hasattr(sys, '_wrapped'):\n    \
         inner = importlib.metadata.distributions\n    \
         sys._wrapped = lambda **kw: inner(**kw)\n    \
         importlib.metadata.distributions = sys._wrapped\n",
    );
    let mut cmd = p.command(&["test"]);
    activate(&mut cmd, venv());
    cmd.env("PYTHONPATH", site.path("")).stdin(Stdio::null());
    let mut host = Host::spawn(cmd);
    host.wait_for(&status("ok: 2 passed in"));

    install_plugin(&site, "second", "second_value", 2);
    let b = before(&host, &[&status("ok: 1 passed (affected tests)")]);
    host.mark();
    p.write(
        "tests/test_second.py",
        "def test_second(second_value):\n    assert second_value == 2\n",
    );
    wait_after(&mut host, b, 1);

    std::fs::remove_dir_all(site.path("first_plugin-1.0.dist-info")).unwrap();
    let b = before(
        &host,
        &[&status("failed: 1 passed, 1 error (affected tests)")],
    );
    host.mark();
    save_in_place(&p.path("calc.py"), "def add(a, b):\n    return b + a\n");
    wait_after(&mut host, b, 1);
    assert!(
        host.since_mark()
            .iter()
            .any(|(_, line)| line.contains("fixture 'first_value' not found")),
        "{}",
        host.transcript()
    );
}

#[test]
fn tests_kept_from_running_by_ctrl_c_while_collecting_run_on_the_next_save() {
    let p = Project::new();
    two_files(&p);
    let (flag, mark) = (p.path("slow.flag"), p.path("started"));
    let slow = format!(
        "import os, time\n\nif os.path.exists({:?}):\n    open({:?}, 'w').close()\n    \
         time.sleep(60)\n\ndef test_imported():\n    pass\n",
        flag.display().to_string(),
        mark.display().to_string()
    );
    p.write("tests/test_slow_import.py", &slow);
    let mut host = spawn_test(&p, &[]);
    host.wait_for(&status("ok: 4 passed in"));
    // Its import hangs now (the flag is no source file: saving it runs nothing).
    host.mark();
    std::fs::write(&flag, "").unwrap();
    let b = before(
        &host,
        &[&status("interrupted: tests interrupted by Ctrl-C")],
    );
    host.mark();
    save_in_place(&p.path("tests/test_slow_import.py"), &(slow.clone() + "\n"));
    wait_for_file(&mark, &mut host);
    host.interrupt();
    wait_after(&mut host, b, 0);
    // Collection never finished: its tests are still owed to the next run.
    host.mark();
    std::fs::remove_file(&flag).unwrap();
    let b = before(&host, &[&status("ok: 2 passed (affected tests)")]);
    host.mark();
    save_in_place(&p.path("other.py"), "def mul(a, b):\n    return b * a\n");
    wait_after(&mut host, b, 1);
}
