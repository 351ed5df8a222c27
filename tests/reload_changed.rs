//! `--reload changed` (the default): a save reloads the changed project modules and every
//! project module importing them, dependencies first, then the entry; `--reload entry` is the
//! original's behaviour.
mod common;

use common::{Host, Project};

/// Each module prints `load NAME` when its body runs, so the order of reloads is visible.
fn module(name: &str, body: &str) -> String {
    format!("print('load {name}')\n{body}\n")
}

/// Saves (after marking) and waits for the status line of the run the save causes.
fn save_and_wait(p: &Project, host: &mut Host, rel: &str, content: &str) {
    host.save_in_place(&p.path(rel), content);
    host.wait_saved_run();
}

/// The `load ...` lines printed since the last `mark` line index.
fn loads_since(host: &Host, from: usize) -> Vec<String> {
    host.lines[from..]
        .iter()
        .filter_map(|(_, l)| l.strip_prefix("load ").map(String::from))
        .collect()
}

#[test]
fn dependency_save_reloads_it_then_its_importers_in_order() {
    let p = Project::new();
    p.write(
        "mymath.py",
        &module("mymath", "def f(x, y):\n    return x * x + y * y"),
    );
    p.write(
        "middle.py",
        &module(
            "middle",
            "from mymath import f\ndef g():\n    return f(1, 2) * 10",
        ),
    );
    p.write("other.py", &module("other", "X = 1"));
    p.write(
        "lib.py",
        &module(
            "lib",
            "from mymath import f\nimport middle, other\nprint('result', f(2, 3), middle.g())",
        ),
    );
    let mut host = p.spawn(&["lib.py", "--no-clear", "-v"]);
    host.wait_for("result 13 50");
    host.mark();
    let mark = host.lines.len();
    save_and_wait(
        &p,
        &mut host,
        "mymath.py",
        &module("mymath", "def f(x, y):\n    return x + y"),
    );
    host.wait_for("result 5 30");
    // mymath first, then its importer middle, then the entry; `other` imports nothing changed.
    assert_eq!(
        loads_since(&host, mark),
        ["mymath", "middle", "lib"],
        "{}",
        host.transcript()
    );
    // The verbose timing line: `save→done …, reload mymath …, reload middle …`.
    let timing = host.wait_for("reload mymath");
    assert!(
        timing.find("reload mymath") < timing.find("reload middle"),
        "{timing}"
    );
}

#[test]
fn entry_mode_keeps_the_original_behaviour() {
    let p = Project::new();
    p.write("mymath.py", "def f():\n    return 1\n");
    p.write("lib.py", "from mymath import f\nprint('value', f())\n");
    let mut host = p.spawn(&["lib.py", "--no-clear", "--reload", "entry"]);
    host.wait_for("value 1");
    save_and_wait(&p, &mut host, "mymath.py", "def f():\n    return 2\n");
    // Only lib was re-run: it still sees the mymath that was imported first.
    host.wait_count("value 1", 2);
    assert_eq!(host.count("value 2"), 0, "{}", host.transcript());
}

#[test]
fn chain_of_modules_reloads_leaf_to_entry() {
    let p = Project::new();
    p.write("m0.py", &module("m0", "V = 0"));
    for i in 1..5 {
        p.write(
            &format!("m{i}.py"),
            &module(
                &format!("m{i}"),
                &format!("import m{}\nV = m{}.V + 1", i - 1, i - 1),
            ),
        );
    }
    p.write("lib.py", &module("lib", "import m4\nprint('chain', m4.V)"));
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("chain 4");
    host.mark();
    let mark = host.lines.len();
    save_and_wait(&p, &mut host, "m0.py", &module("m0", "V = 100"));
    host.wait_for("chain 104");
    assert_eq!(
        loads_since(&host, mark),
        ["m0", "m1", "m2", "m3", "m4", "lib"],
        "{}",
        host.transcript()
    );
}

#[test]
fn import_cycles_neither_hang_nor_crash() {
    let p = Project::new();
    p.write(
        "a.py",
        &module("a", "import b\nA = 1\ndef total():\n    return A + b.B"),
    );
    p.write("b.py", &module("b", "import a\nB = 10"));
    p.write("lib.py", "import a\nprint('sum', a.total())\n");
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("sum 11");
    save_and_wait(&p, &mut host, "b.py", &module("b", "import a\nB = 20"));
    host.wait_for("sum 21");
    save_and_wait(
        &p,
        &mut host,
        "a.py",
        &module("a", "import b\nA = 2\ndef total():\n    return A + b.B"),
    );
    host.wait_for("sum 22");
}

#[test]
fn modules_never_loaded_are_not_imported_and_new_files_just_work() {
    let p = Project::new();
    p.write("lib.py", "print('entry ran')\n");
    p.write("unused.py", &module("unused", "X = 1"));
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("entry ran");
    save_and_wait(&p, &mut host, "unused.py", &module("unused", "X = 2"));
    assert_eq!(host.count("load unused"), 0, "{}", host.transcript());
    // A new module file, then the entry starts importing it.
    host.mark();
    p.write("fresh.py", "VALUE = 'fresh'\n");
    save_and_wait(
        &p,
        &mut host,
        "lib.py",
        "import fresh\nprint('got', fresh.VALUE)\n",
    );
    host.wait_for("got fresh");
}

#[test]
fn packages_and_relative_imports_are_followed() {
    let p = Project::new();
    p.write("pkg/__init__.py", &module("pkg", "from .sub import f"));
    p.write(
        "pkg/sub.py",
        &module(
            "pkg.sub",
            "from . import helpers\ndef f():\n    return helpers.N",
        ),
    );
    p.write("pkg/helpers.py", &module("pkg.helpers", "N = 1"));
    p.write(
        "lib.py",
        &module("lib", "import pkg\nprint('pkg says', pkg.f())"),
    );
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("pkg says 1");
    host.mark();
    let mark = host.lines.len();
    save_and_wait(
        &p,
        &mut host,
        "pkg/helpers.py",
        &module("pkg.helpers", "N = 2"),
    );
    host.wait_for("pkg says 2");
    assert_eq!(
        loads_since(&host, mark),
        ["pkg.helpers", "pkg.sub", "pkg", "lib"],
        "{}",
        host.transcript()
    );
}

#[test]
fn same_second_same_size_saves_of_a_dependency_both_take_effect() {
    let p = Project::new();
    p.write("dep.py", "V = 1\n");
    p.write("lib.py", "import dep\nprint('dep', dep.V)\n");
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("dep 1");
    save_and_wait(&p, &mut host, "dep.py", "V = 2\n");
    host.wait_for("dep 2");
    save_and_wait(&p, &mut host, "dep.py", "V = 3\n");
    host.wait_for("dep 3");
}

#[test]
fn a_deleted_dependency_is_reported_and_keeps_its_last_version() {
    let p = Project::new();
    p.write("dep.py", "V = 'dep v1'\n");
    p.write("lib.py", "import dep\nprint('lib sees', dep.V)\n");
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("lib sees dep v1");
    host.mark();
    std::fs::remove_file(p.path("dep.py")).unwrap();
    host.wait_for("dep.py was deleted: module dep keeps its last loaded version");
    host.wait_count("lib sees dep v1", 2);
    // Created again, it is watched and reloaded as before.
    save_and_wait(&p, &mut host, "dep.py", "V = 'dep v2'\n");
    host.wait_for("lib sees dep v2");
}

#[test]
fn a_save_that_adds_an_import_between_loaded_modules_counts_from_the_next_save() {
    // The import graph is worked out once and kept while the loaded modules stay the same; a
    // save that changes what a module imports (no module loaded or dropped) must change it.
    let p = Project::new();
    p.write("a.py", &module("a", "V = 1"));
    p.write("b.py", &module("b", "import a\nV = a.V"));
    p.write("c.py", &module("c", "V = 3"));
    p.write(
        "lib.py",
        &module("lib", "import b, c\nprint('values', b.V, c.V)"),
    );
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("values 1 3");
    host.mark();
    // (The first saves work the graph out; the first one also loads what the host itself
    // needs for a reload, so only the second leaves the graph as the next saves find it.)
    save_and_wait(&p, &mut host, "a.py", &module("a", "V = 5"));
    host.wait_for("values 5 3");
    host.mark();
    save_and_wait(&p, &mut host, "a.py", &module("a", "V = 4"));
    host.wait_for("values 4 3");
    host.mark();
    save_and_wait(
        &p,
        &mut host,
        "c.py",
        &module("c", "import a\nV = a.V * 10"),
    );
    host.wait_for("values 4 40");
    host.mark();
    save_and_wait(&p, &mut host, "a.py", &module("a", "V = 1"));
    host.wait_for("values 1 10");
    host.mark();
    let mark = host.lines.len();
    save_and_wait(&p, &mut host, "a.py", &module("a", "V = 2"));
    host.wait_for("values 2 20");
    let mut loads = loads_since(&host, mark);
    loads[1..3].sort();
    assert_eq!(loads, ["a", "b", "c", "lib"], "{}", host.transcript());
}
