//! Bugs fixed by the restructuring into one run path, one bridge and one printer: what the
//! Python side wants to say goes through the printer (-q, colour), a launch script's watch
//! list survives a config save, `--once -v` prints timings.

mod common;

use common::{Project, save_in_place};

/// An Enum whose member values change: deep mode falls back to the new class, with a note.
const ENUM_V1: &str = "import enum\nclass Color(enum.Enum):\n    RED = 1\nprint('version', 1)\n";
const ENUM_V2: &str = "import enum\nclass Color(enum.Enum):\n    RED = 10\nprint('version', 2)\n";
const DEEP_NOTE: &str = "deep: lib.Color: Enum members changed";

#[test]
fn deep_reload_notes_go_through_the_printer_and_quiet_hides_them() {
    let p = Project::new();
    p.write("lib.py", ENUM_V1);
    let mut host = p.spawn(&["lib.py", "--reload", "deep", "-q"]);
    host.wait_count("version 1", 1);
    host.mark();
    save_in_place(&p.path("lib.py"), ENUM_V2);
    host.wait_count("version 2", 1);
    // A third save proves the second run is over (its notes would have come before it).
    host.mark();
    save_in_place(&p.path("lib.py"), ENUM_V1);
    host.wait_count("version 1", 2);
    assert_eq!(
        host.count("closure variables changed"),
        0,
        "{}",
        host.transcript()
    );
    assert_eq!(host.count("[hotload]"), 0, "{}", host.transcript());
}

#[test]
fn deep_reload_notes_are_coloured_like_every_host_line() {
    let p = Project::new();
    p.write("lib.py", ENUM_V1);
    let mut host = p.spawn(&["lib.py", "--reload", "deep", "--color", "always"]);
    host.wait_count("version 1", 1);
    host.mark();
    save_in_place(&p.path("lib.py"), ENUM_V2);
    host.wait_count(DEEP_NOTE, 1);
    let line = host
        .lines
        .iter()
        .map(|(_, l)| l)
        .find(|l| l.contains(DEEP_NOTE))
        .unwrap();
    assert!(line.starts_with('\x1b'), "not coloured: {line:?}");
}

#[test]
fn saving_the_config_keeps_the_launch_scripts_watch_list() {
    // The launch script watches a file the default watch would not take (not .py).
    let p = Project::new();
    p.write("hotload.toml", "target = \"launch.py\"\n");
    p.write("conf.txt", "one\n");
    p.write(
        "launch.py",
        "import hotload\ndef show():\n    print('conf says', open('conf.txt').read().strip(), flush=True)\n\
         hotload.hotload(watch=[['conf.txt']], steps=[hotload.PythonHandle(show)])\n",
    );
    let mut host = p.spawn(&["--no-clear"]);
    host.wait_count("conf says one", 1);
    host.mark();
    save_in_place(&p.path("conf.txt"), "two\n");
    host.wait_count("conf says two", 1);
    host.mark();
    save_in_place(
        &p.path("hotload.toml"),
        "target = \"launch.py\"\nclear = false\n",
    );
    host.wait_count("config reloaded", 1);
    host.wait_count("conf says two", 2);
    host.mark();
    save_in_place(&p.path("conf.txt"), "three\n");
    host.wait_count("conf says three", 1);
}

#[test]
fn once_verbose_prints_the_timings_of_the_run() {
    let p = Project::new();
    p.write("lib.py", "print('ran once')\n");
    let done = p.run(&["lib.py", "--once", "-v"]);
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    assert!(done.stdout.contains("ran once"), "{}", done.stdout);
    assert!(
        done.stderr
            .lines()
            .any(|l| l.starts_with("[hotload] import ") && l.contains(" ms")),
        "no timings:\n{}",
        done.stderr
    );
}
