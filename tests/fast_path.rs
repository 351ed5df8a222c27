//! The host runs a plain source module's body itself (read, compile, exec: no import lock, no
//! bytecode cache); these show it gives what `importlib` gives: tracebacks and `inspect` on the
//! new source, the module's import attributes, packages, namespace packages, a file replaced by
//! a package, and same-size edits within one second.

mod common;

use common::{Host, Project};

/// Saves, then waits for the run's status line and for `last`, printed by that run.
fn save_run(p: &Project, host: &mut Host, rel: &str, content: &str, last: &str) -> String {
    save_bytes_run(p, host, rel, content.as_bytes(), last)
}

/// `save_run` for raw bytes (a coding cookie's or a BOM's source).
fn save_bytes_run(p: &Project, host: &mut Host, rel: &str, content: &[u8], last: &str) -> String {
    host.mark();
    std::fs::write(p.path(rel), content).unwrap();
    host.wait_saved_run();
    host.rewind();
    host.wait_for(last);
    host.since_mark()
        .iter()
        .map(|(_, l)| format!("{l}\n"))
        .collect()
}

fn start(p: &Project, args: &[&str], last: &str) -> Host {
    let mut host = p.spawn(args);
    host.wait_count("(run 1)", 1);
    host.wait_count(last, 1);
    host
}

#[test]
fn tracebacks_and_inspect_show_the_new_source_after_a_reload() {
    let p = Project::new();
    let lib = |pad: &str, v: u32| {
        format!(
            "import inspect, linecache\n{pad}def f():\n    return 'v{v}'\n\
             print('source:', inspect.getsource(f).splitlines()[1].strip(), flush=True)\n\
             print('line:', linecache.getline(__file__, f.__code__.co_firstlineno + 1).strip(), flush=True)\n\
             if {v} == 2:\n    raise RuntimeError('boom v{v}')\nprint('done v{v}', flush=True)\n"
        )
    };
    p.write("lib.py", &lib("", 1));
    let mut host = start(&p, &["lib.py", "--no-clear"], "done v1");
    // Two lines more above f, and a failure: the traceback names the new line.
    let out = save_run(
        &p,
        &mut host,
        "lib.py",
        &lib("#\n#\n", 2),
        "RuntimeError: boom v2",
    );
    assert!(out.contains("source: return 'v2'"), "{out}");
    assert!(out.contains("line: return 'v2'"), "{out}");
    assert!(out.contains("lib.py\", line 9, in <module>"), "{out}");
    assert!(out.contains("raise RuntimeError('boom v2')"), "{out}");
}

#[test]
fn the_import_attributes_after_a_reload_are_importlibs() {
    let p = Project::new();
    let lib = |v: u32| {
        format!(
            "import importlib.util, sys\n\
             spec = importlib.util.find_spec(__name__)\n\
             me = sys.modules[__name__]\n\
             print('same spec name/origin/cached:', me.__spec__.name == spec.name, \
                   me.__spec__.origin == spec.origin, me.__spec__.cached == spec.cached, flush=True)\n\
             print('file/cached/loader:', __file__ == spec.origin, __cached__ == spec.cached, \
                   type(__loader__).__name__, __loader__.name == __name__, flush=True)\n\
             print('in sys.modules while running:', sys.modules.get(__name__) is me, 'v{v}', flush=True)\n"
        )
    };
    p.write("lib.py", &lib(1));
    let mut host = start(&p, &["lib.py", "--no-clear"], "v1");
    let out = save_run(&p, &mut host, "lib.py", &lib(2), "v2");
    assert!(
        out.contains("same spec name/origin/cached: True True True"),
        "{out}"
    );
    assert!(
        out.contains("file/cached/loader: True True SourceFileLoader True"),
        "{out}"
    );
    assert!(
        out.contains("in sys.modules while running: True v2"),
        "{out}"
    );
}

#[test]
fn a_package_init_and_a_module_in_a_namespace_package_reload() {
    let p = Project::new();
    p.write(
        "pkg/__init__.py",
        "VALUE = 1\nprint('pkg init', VALUE, flush=True)\n",
    );
    p.write("ns/mod.py", "VALUE = 10\n"); // ns has no __init__.py: a namespace package
    p.write(
        "lib.py",
        "import pkg, ns.mod\nprint('values', pkg.VALUE, ns.mod.VALUE, pkg.__path__ is not None, flush=True)\n",
    );
    let mut host = start(&p, &["lib.py", "--no-clear"], "values 1 10 True");
    let out = save_run(
        &p,
        &mut host,
        "pkg/__init__.py",
        "VALUE = 2\nprint('pkg init', VALUE, flush=True)\n",
        "values 2 10",
    );
    assert!(out.contains("pkg init 2"), "{out}");
    let out = save_run(&p, &mut host, "ns/mod.py", "VALUE = 20\n", "values 2 20");
    assert!(out.contains("values 2 20 True"), "{out}");
}

#[test]
fn a_module_whose_file_became_a_package_is_found_again() {
    let p = Project::new();
    p.write("helper.py", "WHERE = 'module file'\n");
    p.write(
        "lib.py",
        "import helper\nprint('helper is', helper.WHERE, flush=True)\n",
    );
    let mut host = start(&p, &["lib.py", "--no-clear"], "helper is module file");
    // helper.py goes (the module keeps its last version), then helper/ is saved in its place.
    host.mark();
    let runs = host.count("(run ");
    std::fs::remove_file(p.path("helper.py")).unwrap();
    host.wait_count("(run ", runs + 1);
    host.mark();
    std::fs::create_dir(p.path("helper")).unwrap();
    let out = save_run(
        &p,
        &mut host,
        "helper/__init__.py",
        "WHERE = 'package'\n",
        "helper is package",
    );
    assert!(out.contains("helper is package"), "{out}");
}

#[test]
fn same_size_edits_of_the_target_within_one_second_all_take_effect() {
    let p = Project::new();
    p.write("lib.py", "x = 0\nprint('x is', x, flush=True)\n");
    let mut host = start(&p, &["lib.py", "--no-clear"], "x is 0");
    for x in 1..=5 {
        let out = save_run(
            &p,
            &mut host,
            "lib.py",
            &format!("x = {x}\nprint('x is', x, flush=True)\n"),
            &format!("x is {x}"),
        );
        assert!(out.contains(&format!("x is {x}")), "{out}");
    }
}

/// Compares the module's own code object with what `compile()` makes of its file.
const SAME_CODE: &[u8] = b"import sys\nme = sys._getframe().f_code\n\
with open(__file__, 'rb') as f:\n    ref = compile(f.read(), __file__, 'exec', dont_inherit=True)\n\
fields = ('co_code', 'co_consts', 'co_names', 'co_flags', 'co_filename', 'co_firstlineno')\n\
print('same code:', [a for a in fields if getattr(me, a) != getattr(ref, a)], flush=True)\n";

/// The host compiles a module's source itself (`src/python/compile.rs`, not `compile()`,
/// which sets up the ast module's types on first use): the code that runs is the code
/// `compile()` makes, with a coding cookie, a `__future__` import and a BOM alike; source with a
/// NUL byte gets Python's own error, and the next save runs.
#[test]
fn the_code_that_runs_is_the_code_compile_makes() {
    let p = Project::new();
    let latin1 = [
        b"# -*- coding: latin-1 -*-\nfrom __future__ import annotations\n\
          def g(x: int) -> str:\n    return 'x'\ns = '\xe9t\xe9'\n" as &[u8],
        SAME_CODE,
        b"print('text:', ascii(s), g.__annotations__, 'v1', flush=True)\n",
    ]
    .concat();
    std::fs::write(p.path("lib.py"), &latin1).unwrap();
    let mut host = start(&p, &["lib.py", "--no-clear"], "v1");
    host.rewind();
    let out = host
        .lines
        .iter()
        .map(|(_, l)| format!("{l}\n"))
        .collect::<String>();
    assert!(out.contains("same code: []\n"), "{out}");
    assert!(
        out.contains("text: '\\xe9t\\xe9' {'x': 'int', 'return': 'str'} v1"),
        "{out}"
    );

    let bom = [
        b"\xef\xbb\xbfs = '\xc3\xa9t\xc3\xa9'\n" as &[u8],
        SAME_CODE,
        b"print('text:', ascii(s), 'v2', flush=True)\n",
    ]
    .concat();
    let out = save_bytes_run(&p, &mut host, "lib.py", &bom, "v2");
    assert!(out.contains("same code: []\n"), "{out}");
    assert!(out.contains("text: '\\xe9t\\xe9' v2"), "{out}");

    host.mark();
    std::fs::write(p.path("lib.py"), b"x = 1\n\0\nprint('v3')\n").unwrap();
    let status = host.wait_saved_run();
    assert!(status.contains("error:"), "{status}");
    host.rewind();
    host.wait_for("source code string cannot contain null bytes");

    let out = save_bytes_run(&p, &mut host, "lib.py", b"print('v4', flush=True)\n", "v4");
    assert!(out.contains("v4"), "{out}");
}
