mod common;
// Watching stays right when the tree misbehaves (issue 15, items 10, 11, 15-18): unreadable
// directories, /proc, the root deleted or renamed, a stdin pipe that stays open, symlinks
// (aliases, loops, outside directories), bytecode outside the project, huge new directories
// and huge bursts. Each assertion after an action reads only what was printed after it.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Host, Project, save_in_place, save_via_rename};

/// Window in which "nothing more happened" is checked (not a timing assertion).
const SETTLE: Duration = Duration::from_millis(600);

// ---- Helpers local to this file ----

/// Number of status lines so far (one per run).
fn runs(h: &Host) -> usize {
    h.count("(run ")
}

/// The output printed since line `mark`.
fn since(h: &Host, mark: usize) -> String {
    h.lines[mark..]
        .iter()
        .map(|(_, l)| format!("{l}\n"))
        .collect()
}

/// Waits for a line containing `needle` printed after line `mark`.
fn wait_after(h: &mut Host, mark: usize, needle: &str) {
    let before = h.lines[..mark]
        .iter()
        .filter(|(_, l)| l.contains(needle))
        .count();
    h.wait_count(needle, before + 1);
}

fn assert_clean(text: &str) {
    for bad in [
        "panicked at",
        "internal error",
        "Traceback",
        "posixpath",
        "[hotload] error",
    ] {
        assert!(!text.contains(bad), "found {bad:?} in output:\n{text}");
    }
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

/// The host in `dir` (a subdirectory of the project's temp dir, so that it can be deleted and
/// brought back), stdin at /dev/null.
fn spawn_in(p: &Project, dir: &Path, args: &[&str]) -> Host {
    let mut cmd = p.command(args);
    cmd.current_dir(dir).stdin(Stdio::null());
    Host::spawn(cmd)
}

/// As root, directory modes do not stop reads: drop the capabilities that bypass them (the
/// bounding set limits what root keeps across exec). A non-root user needs nothing.
fn without_dac_override(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl and geteuid are async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            for cap in [
                1, /* CAP_DAC_OVERRIDE */
                2, /* CAP_DAC_READ_SEARCH */
            ] {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && libc::geteuid() == 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// `watching N files in M directories` from -v, as (N, M).
fn watch_counts(h: &mut Host) -> (usize, usize) {
    h.wait_for("[hotload] watching ");
    let line = h
        .lines
        .iter()
        .find_map(|(_, l)| l.strip_prefix("[hotload] watching "))
        .unwrap()
        .to_string();
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[0].parse().unwrap(), words[3].parse().unwrap())
}

/// The `[hotload] changed: ...` lines (with -v) printed after `mark`.
fn changed_since(h: &Host, mark: usize) -> Vec<String> {
    h.lines[mark..]
        .iter()
        .filter_map(|(_, l)| l.strip_prefix("[hotload] changed: ").map(str::to_string))
        .collect()
}

/// A module that imports `helper` from `dir` (relative to itself) and prints its V.
fn helper_printer(dir: &str) -> String {
    format!(
        "import os, sys\n\
         sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), {dir:?}))\n\
         import helper\n\
         print('helper', helper.V)\n"
    )
}

/// How many saved files the status lines after `mark` name: `after saving a.py` is one,
/// `after saving a.py and 41 more` is 42.
fn files_run_since(h: &Host, mark: usize) -> usize {
    h.lines[mark..]
        .iter()
        .filter(|(_, l)| l.contains("(run "))
        .filter_map(|(_, l)| l.split_once("after saving ").map(|(_, cause)| cause))
        .map(|cause| {
            let cause = cause.split(')').next().unwrap_or_default();
            match cause.rsplit_once(" and ") {
                Some((_, more)) => more.trim_end_matches(" more").parse::<usize>().unwrap() + 1,
                None => 1,
            }
        })
        .sum()
}

// ---- 10. Unreadable directories and pseudo-filesystems ----

#[test]
fn unreadable_directories_at_start_up_and_created_later_are_skipped_with_a_warning() {
    let p = Project::new();
    p.write("lib.py", &helper_printer("sub"));
    p.write("sub/helper.py", "V = 1\n");
    p.write("locked/inside.py", "");
    p.write("sub/deeper/locked2/x.py", "");
    let mode_000 = std::fs::Permissions::from_mode(0o000);
    std::fs::set_permissions(p.path("locked"), mode_000.clone()).unwrap();
    std::fs::set_permissions(p.path("sub/deeper/locked2"), mode_000).unwrap();
    let mut cmd = p.command(&["lib.py", "--no-clear"]);
    cmd.stdin(Stdio::null());
    without_dac_override(&mut cmd);
    let mut host = Host::spawn(cmd);
    host.wait_for("helper 1");
    host.wait_for("(run 1");
    for dir in ["locked", "sub/deeper/locked2"] {
        let named = format!(
            "cannot watch {} (permission denied): skipped",
            canon(&p.path(dir)).display()
        );
        assert_eq!(host.count(&named), 1, "{}", host.transcript());
    }

    // The session goes on: saves elsewhere run.
    host.mark();
    let mark = host.lines.len();
    save_in_place(&p.path("sub/helper.py"), "V = 2\n");
    wait_after(&mut host, mark, "helper 2");

    // Created later by another process, unreadable from the start (mkdir -m 000).
    host.mark();
    let mark = host.lines.len();
    std::fs::DirBuilder::new()
        .mode(0o000)
        .create(p.path("sub/later"))
        .unwrap();
    let named = format!(
        "cannot watch {} (permission denied): skipped",
        canon(&p.path("sub/later")).display()
    );
    wait_after(&mut host, mark, &named);
    // ... and a readable one beside it is watched as usual.
    host.mark();
    std::fs::create_dir(p.path("sub/fresh")).unwrap();
    host.settle(SETTLE);
    host.mark();
    let mark = host.lines.len();
    save_in_place(&p.path("sub/fresh/new.py"), "x = 1\n");
    wait_after(&mut host, mark, "after saving new.py");
    host.mark();
    let mark = host.lines.len();
    save_in_place(&p.path("sub/helper.py"), "V = 3\n");
    wait_after(&mut host, mark, "helper 3");
    assert_clean(&host.transcript());
}

#[test]
fn watching_proc_is_skipped_with_a_warning_and_the_session_goes_on() {
    let p = Project::new();
    p.write("lib.py", "print('lib', 1)\n");
    let mut host = p.spawn(&["-w", "/proc", "lib.py", "--no-clear"]);
    host.wait_for("/proc is on a proc pseudo-filesystem, where nothing is saved: not watched");
    host.wait_for("lib 1");
    host.mark();
    let mark = host.lines.len();
    save_in_place(&p.path("lib.py"), "print('lib', 2)\n");
    wait_after(&mut host, mark, "lib 2");
    assert_clean(&host.transcript());
}

// ---- 11. The root deleted or renamed ----

/// A project in `<tmp>/<rel>` whose module says which interpreter it runs in (a value kept in
/// `builtins`, so it survives reloads but not a new interpreter), its helper's V and whether
/// the current directory works.
fn root_project(p: &Project, rel: &str, v: u32) -> PathBuf {
    p.write(
        &format!("{rel}/lib.py"),
        "import builtins, os\n\
         import helper\n\
         boot = builtins.__dict__.setdefault('_test_boot', os.urandom(4).hex())\n\
         print('boot', boot, 'v', helper.V, 'cwd', os.path.basename(os.getcwd()))\n",
    );
    p.write(&format!("{rel}/helper.py"), &format!("V = {v}\n"));
    p.path(rel)
}

fn boot_of(h: &Host) -> String {
    h.lines
        .iter()
        .find_map(|(_, l)| l.strip_prefix("boot "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string()
}

#[test]
fn deleted_root_is_reported_and_watched_again_once_it_is_back() {
    let p = Project::new();
    let root = root_project(&p, "proj", 1);
    let mut host = spawn_in(&p, &root, &["lib.py", "--no-clear"]);
    host.wait_for("v 1 cwd proj");
    host.wait_for("(run 1");
    let boot = boot_of(&host);
    let shown_root = canon(&root).display().to_string();

    // rm -rf while the host's own current directory is in it.
    host.mark();
    host.mark();
    let mark = host.lines.len();
    let before = runs(&host);
    std::fs::remove_dir_all(&root).unwrap();
    wait_after(
        &mut host,
        mark,
        &format!("{shown_root} was deleted or moved away: nothing there is watched"),
    );
    host.settle(SETTLE);
    assert_eq!(
        runs(&host),
        before,
        "nothing to run while it is gone:\n{}",
        since(&host, mark)
    );
    assert_clean(&since(&host, mark));

    // Back (a fresh directory, moved into place as a checkout or a restore would).
    host.mark();
    let mark = host.lines.len();
    let staged = root_project(&p, "staged", 2);
    host.mark();
    std::fs::rename(&staged, &root).unwrap();
    wait_after(
        &mut host,
        mark,
        &format!("{shown_root} is back: watching it again"),
    );
    wait_after(&mut host, mark, &format!("boot {boot} v 2 cwd proj"));

    // Watched as before, same interpreter.
    host.mark();
    let mark = host.lines.len();
    save_in_place(&root.join("helper.py"), "V = 3\n");
    wait_after(&mut host, mark, &format!("boot {boot} v 3 cwd proj"));
    assert_clean(&host.transcript());
}

#[test]
fn renamed_root_is_reported_and_watched_again_once_it_is_back() {
    let p = Project::new();
    let root = root_project(&p, "proj", 1);
    let mut host = spawn_in(&p, &root, &["lib.py", "--no-clear"]);
    host.wait_for("v 1 cwd proj");
    host.wait_for("(run 1");
    let boot = boot_of(&host);
    let shown_root = canon(&root).display().to_string();

    host.mark();

    host.mark();
    let mark = host.lines.len();
    let before = runs(&host);
    std::fs::rename(&root, p.path("moved")).unwrap();
    wait_after(
        &mut host,
        mark,
        &format!("{shown_root} was deleted or moved away: nothing there is watched"),
    );
    // A save under the new name is not the project's.
    host.mark();
    save_in_place(&p.path("moved/helper.py"), "V = 2\n");
    host.settle(SETTLE);
    assert_eq!(runs(&host), before, "{}", since(&host, mark));

    host.mark();

    let mark = host.lines.len();
    std::fs::rename(p.path("moved"), &root).unwrap();
    wait_after(
        &mut host,
        mark,
        &format!("{shown_root} is back: watching it again"),
    );
    wait_after(&mut host, mark, &format!("boot {boot} v 2 cwd proj"));
    host.mark();
    let mark = host.lines.len();
    save_via_rename(&root.join("helper.py"), "V = 3\n");
    wait_after(&mut host, mark, &format!("boot {boot} v 3 cwd proj"));
    assert_clean(&host.transcript());
}

// ---- 15. A pipe on stdin that stays open ----

#[test]
fn stdin_pipe_that_stays_open_runs_at_once_and_listed_files_join_as_they_arrive() {
    let p = Project::new();
    p.write("lib.py", "print('lib ran')\n");
    p.write("listed.py", "");
    p.write("other.py", "");
    p.write("sub/keep.txt", "");
    let mut cmd = p.command(&["lib.py", "-v", "--no-clear"]);
    cmd.stdin(Stdio::piped());
    let mut host = Host::spawn(cmd);
    let mut stdin = host.child.stdin.take().unwrap();
    // The first run never waits for stdin (`sleep 60 | hotload-host lib.py`).
    host.wait_for("(run 1");

    // Nothing listed yet: the tree is watched as without a list.
    host.mark();
    let mark = host.lines.len();
    save_in_place(&p.path("other.py"), "x = 1\n");
    wait_after(&mut host, mark, "after saving other.py");

    // A listed file: from now on exactly the listed files (and the target) are watched.
    host.mark();
    let mark = host.lines.len();
    stdin.write_all(b"./listed.py\n").unwrap();
    stdin.flush().unwrap();
    wait_after(&mut host, mark, "stdin: 1 file listed so far");
    host.mark();
    host.mark();
    let mark = host.lines.len();
    let before = runs(&host);
    save_in_place(&p.path("other.py"), "x = 2\n");
    host.settle(SETTLE);
    assert_eq!(
        runs(&host),
        before,
        "an unlisted file:\n{}",
        since(&host, mark)
    );
    host.mark();
    save_in_place(&p.path("listed.py"), "x = 1\n");
    wait_after(&mut host, mark, "after saving listed.py");

    // Lines keep arriving (one written in two pieces); a file that does not exist yet.
    host.mark();
    let mark = host.lines.len();
    stdin.write_all(b"sub/la").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stdin.write_all(b"ter.py\n").unwrap();
    stdin.flush().unwrap();
    wait_after(&mut host, mark, "stdin: 2 files listed so far");
    assert_eq!(
        host.lines[mark..]
            .iter()
            .filter(|(_, l)| l.contains("sub/later.py (from stdin) does not exist yet"))
            .count(),
        1,
        "{}",
        since(&host, mark)
    );
    host.mark();
    let mark = host.lines.len();
    std::fs::write(p.path("sub/later.py"), "y = 1\n").unwrap();
    wait_after(&mut host, mark, "after saving later.py");

    // EOF ends the list; what it named stays watched.
    host.mark();
    let mark = host.lines.len();
    drop(stdin);
    wait_after(&mut host, mark, "the file list on stdin ended: 2 files");
    host.mark();
    let mark = host.lines.len();
    save_in_place(&p.path("listed.py"), "x = 2\n");
    wait_after(&mut host, mark, "after saving listed.py");
    host.mark();
    save_in_place(&p.path("lib.py"), "print('lib ran again')\n");
    wait_after(&mut host, mark, "lib ran again");
    assert_clean(&host.transcript());
}

// ---- 16. Symlinks ----

#[test]
fn symlink_alias_of_a_directory_is_watched_once_and_removing_one_keeps_the_watch() {
    let p = Project::new();
    p.write("lib.py", &helper_printer("src"));
    p.write("src/helper.py", "V = 1\n");
    symlink("src", p.path("alias")).unwrap();
    let mut host = p.spawn(&["lib.py", "-v", "--no-clear"]);
    host.wait_for("helper 1");
    // lib.py and src/helper.py in the root and src/: the alias adds nothing.
    assert_eq!(watch_counts(&mut host), (2, 2), "{}", host.transcript());
    let real = canon(&p.path("src/helper.py")).display().to_string();

    host.mark();

    let mark = host.lines.len();
    save_in_place(&p.path("src/helper.py"), "V = 2\n");
    wait_after(&mut host, mark, "helper 2");
    host.settle(SETTLE);
    assert_eq!(
        changed_since(&host, mark),
        std::slice::from_ref(&real),
        "{}",
        since(&host, mark)
    );

    // `ln -s src current; rm current` while running, then the start-up alias goes too.
    for link in ["current", "alias"] {
        if link == "current" {
            host.mark();
            symlink("src", p.path(link)).unwrap();
            host.settle(Duration::from_millis(200));
        }
        host.mark();
        std::fs::remove_file(p.path(link)).unwrap();
        host.settle(Duration::from_millis(200));
        host.mark();
        let mark = host.lines.len();
        let v = if link == "current" { 3 } else { 4 };
        host.mark();
        save_in_place(&p.path("src/helper.py"), &format!("V = {v}\n"));
        wait_after(&mut host, mark, &format!("helper {v}"));
        host.settle(SETTLE);
        assert_eq!(
            changed_since(&host, mark),
            std::slice::from_ref(&real),
            "{}",
            since(&host, mark)
        );
    }
    assert_clean(&host.transcript());
}

#[test]
fn symlink_loop_does_not_hide_saves_and_they_reload_the_real_module() {
    let p = Project::new();
    p.write("lib.py", &helper_printer("."));
    p.write("helper.py", "V = 1\n");
    symlink(".", p.path("a")).unwrap();
    let mut host = p.spawn(&["lib.py", "-v", "--no-clear"]);
    host.wait_for("helper 1");
    assert_eq!(watch_counts(&mut host), (2, 1), "{}", host.transcript());
    let real = canon(&p.path("helper.py")).display().to_string();
    // A second loop, made while running.
    host.mark();
    symlink(".", p.path("b")).unwrap();
    host.settle(Duration::from_millis(200));
    for v in 2..=3 {
        host.mark();
        let mark = host.lines.len();
        save_in_place(&p.path("helper.py"), &format!("V = {v}\n"));
        wait_after(&mut host, mark, &format!("helper {v}"));
        host.settle(SETTLE);
        assert_eq!(
            changed_since(&host, mark),
            std::slice::from_ref(&real),
            "{}",
            since(&host, mark)
        );
    }
    assert_clean(&host.transcript());
}

#[test]
fn symlink_to_a_directory_outside_the_project_is_followed_only_when_named_with_watch() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(outside.path().join("ext")).unwrap();
    std::fs::write(outside.path().join("ext/m.py"), "x = 0\n").unwrap();
    let outside_m = canon(&outside.path().join("ext/m.py"));

    // Not named: neither a link present at start-up nor one made while running is followed.
    let p = Project::new();
    p.write("lib.py", "print('lib ran')\n");
    symlink(outside.path().join("ext"), p.path("ext")).unwrap();
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("(run 1");
    host.mark();
    symlink(outside.path().join("ext"), p.path("ext2")).unwrap();
    host.settle(Duration::from_millis(200));
    host.mark();
    host.mark();
    let mark = host.lines.len();
    let before = runs(&host);
    save_in_place(&outside_m, "x = 1\n");
    host.settle(SETTLE);
    assert_eq!(runs(&host), before, "{}", since(&host, mark));
    drop(host);

    // Named with -w (through the link): watched where it really is.
    let mut host = p.spawn(&["lib.py", "-w", "ext", "-v", "--no-clear"]);
    host.wait_for("(run 1");
    host.mark();
    let mark = host.lines.len();
    save_in_place(&outside_m, "x = 2\n");
    wait_after(&mut host, mark, "after saving m.py");
    assert_eq!(
        changed_since(&host, mark),
        [outside_m.display().to_string()],
        "{}",
        since(&host, mark)
    );
    assert_clean(&host.transcript());
}

// ---- 17. No file outside the project is ever deleted ----

/// Bytecode files for every CPython the host may be built against, beside `dir/m.py`.
fn fake_bytecode(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir.join("__pycache__")).unwrap();
    std::fs::write(dir.join("m.py"), "X = 1\n").unwrap();
    (9..=14)
        .map(|minor| {
            let pyc = dir.join(format!("__pycache__/m.cpython-3{minor}.pyc"));
            std::fs::write(&pyc, "not really bytecode").unwrap();
            pyc
        })
        .collect()
}

#[test]
fn an_outside_directory_linked_into_the_tree_keeps_its_bytecode() {
    let outside = tempfile::tempdir().unwrap();
    let pycs = fake_bytecode(&outside.path().join("pkg"));
    let p = Project::new();
    p.write("lib.py", "print('lib', 1)\n");
    symlink(outside.path().join("pkg"), p.path("at_start")).unwrap();
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("lib 1");
    host.mark();
    symlink(outside.path().join("pkg"), p.path("linked")).unwrap();
    host.settle(Duration::from_millis(300));
    host.mark();
    let mark = host.lines.len();
    save_in_place(&p.path("lib.py"), "print('lib', 2)\n");
    wait_after(&mut host, mark, "lib 2");
    host.mark();
    save_in_place(&outside.path().join("pkg/m.py"), "X = 2\n");
    host.settle(SETTLE);
    for pyc in &pycs {
        assert!(
            pyc.exists(),
            "{} was deleted\n{}",
            pyc.display(),
            host.transcript()
        );
    }
    assert_clean(&host.transcript());
}

#[test]
fn bytecode_of_a_listed_module_outside_the_project_is_never_deleted() {
    // The module imports m from outside the project, and the list on stdin names m.py: a save
    // of it runs, but its bytecode (written by the import) is not the host's to delete.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("m.py"), "X = 1\n").unwrap();
    let p = Project::new();
    p.write(
        "lib.py",
        &format!(
            "import sys\nsys.path.append({:?})\nimport m\nprint('m', m.X)\n",
            outside.path().display().to_string()
        ),
    );
    let m = canon(&outside.path().join("m.py"));
    let mut cmd = p.command(&["lib.py", "--no-clear"]);
    cmd.stdin(Stdio::piped());
    let mut host = Host::spawn(cmd);
    let mut stdin = host.child.stdin.take().unwrap();
    writeln!(stdin, "lib.py\n{}", m.display()).unwrap();
    drop(stdin);
    host.wait_for("m 1");
    let pycache = outside.path().join("__pycache__");
    let pycs: Vec<PathBuf> = std::fs::read_dir(&pycache)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", pycache.display(), host.transcript()))
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!pycs.is_empty());
    host.settle(Duration::from_millis(200));
    host.mark();
    let mark = host.lines.len();
    save_in_place(&m, "X = 2\n");
    wait_after(&mut host, mark, "after saving m.py");
    for pyc in &pycs {
        assert!(
            pyc.exists(),
            "{} was deleted\n{}",
            pyc.display(),
            host.transcript()
        );
    }
    assert_clean(&host.transcript());
}

// ---- 18. Huge new directories and bursts ----

const BIG: usize = 20_000;

/// A project in `<tmp>/proj` and, beside it (same filesystem), `<tmp>/staged/new` holding
/// `BIG` modules, ready to be moved in with one rename.
fn big_dir_project(p: &Project) -> PathBuf {
    p.write("proj/lib.py", "print('lib ran')\n");
    let staged = p.path("staged/new");
    std::fs::create_dir_all(&staged).unwrap();
    for i in 0..BIG {
        std::fs::write(staged.join(format!("f{i}.py")), "x = 1\n").unwrap();
    }
    p.path("proj")
}

#[test]
fn a_new_directory_with_20000_files_runs_once_and_is_watched() {
    let p = Project::new();
    let root = big_dir_project(&p);
    let mut host = spawn_in(&p, &root, &["lib.py", "--no-clear"]);
    host.wait_for("(run 1");
    host.mark();
    let mark = host.lines.len();
    std::fs::rename(p.path("staged/new"), root.join("new")).unwrap();
    wait_after(&mut host, mark, "more)");
    host.settle(SETTLE);
    assert_eq!(files_run_since(&host, mark), BIG, "{}", since(&host, mark));
    assert_eq!(runs(&host), 2, "{}", since(&host, mark));
    // Its files are watched now.
    host.mark();
    let mark = host.lines.len();
    save_in_place(&root.join("new/f77.py"), "x = 2\n");
    wait_after(&mut host, mark, "after saving f77.py)");
    assert_clean(&host.transcript());
}

#[test]
fn ctrl_c_while_a_new_directory_with_20000_files_is_taken_in_exits_130() {
    let p = Project::new();
    let root = big_dir_project(&p);
    // A long debounce keeps the run from starting: Ctrl-C lands in the walk or just after it,
    // never in a run (where it would be the module's KeyboardInterrupt).
    let mut host = spawn_in(&p, &root, &["lib.py", "--no-clear", "--debounce", "10000"]);
    host.wait_for("(run 1");
    host.mark();
    std::fs::rename(p.path("staged/new"), root.join("new")).unwrap();
    host.interrupt();
    let status = host.wait_exit(common::TIMEOUT);
    assert_eq!(status.code(), Some(130), "{}", host.transcript());
    assert_eq!(runs(&host), 1, "{}", host.transcript());
}

#[test]
fn a_burst_of_10000_writes_runs_at_most_twice() {
    // On tmpfs where there is one: a disk's own stalls (discard) can pause the writer longer
    // than the quiet period, and that is a second burst by definition.
    let p = match tempfile::tempdir_in("/dev/shm") {
        Ok(dir) => Project { dir },
        Err(_) => Project::new(),
    };
    const N: usize = 10_000;
    /// session/batch.rs's BURST_GAP: a save this long after a run ended is a new edit.
    const BURST_GAP: Duration = Duration::from_millis(10);
    // What the files hold, read from disk: the events of such a burst can overflow the
    // watcher's queue (it is then rerun without knowing which files changed).
    p.write(
        "lib.py",
        "import os\n\
         d = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'd')\n\
         seen = {}\n\
         for name in os.listdir(d):\n\
         \x20   with open(os.path.join(d, name)) as f:\n\
         \x20       v = f.read().strip()\n\
         \x20   seen[v] = seen.get(v, 0) + 1\n\
         print('seen: ' + ', '.join('%s x%d' % kv for kv in sorted(seen.items())))\n",
    );
    std::fs::create_dir(p.path("d")).unwrap();
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("(run 1");
    for round in 0..2 {
        host.mark();
        let mark = host.lines.len();
        let before = runs(&host);
        // A pause of BURST_GAP or more can split the burst (twice: the quiet run, then the
        // next save run at once): the bound allows for each one the writer had.
        let mut pauses = 0;
        let mut last_start = std::time::Instant::now();
        for i in 0..N {
            let start = std::time::Instant::now();
            std::fs::write(p.path(&format!("d/f{i}.py")), format!("x = {round}\n")).unwrap();
            if start.elapsed() + (start - last_start) >= BURST_GAP {
                pauses += 1;
            }
            last_start = start;
        }
        let all = format!("seen: x = {round} x{N}");
        wait_after(&mut host, mark, &all);
        host.settle(SETTLE);
        let seen: Vec<&str> = host.lines[mark..]
            .iter()
            .filter_map(|(_, l)| l.starts_with("seen:").then_some(l.as_str()))
            .collect();
        assert_eq!(seen.last(), Some(&all.as_str()), "{}", since(&host, mark));
        let n = runs(&host) - before;
        assert!(
            (1..=2 + 2 * pauses).contains(&n),
            "round {round}: {n} runs, {pauses} pauses of the writer's of {BURST_GAP:?} or more\n{}",
            since(&host, mark)
        );
    }
    assert_clean(&host.transcript());
}
