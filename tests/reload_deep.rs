//! `--reload deep`: after a save, objects created before it run the new code (functions,
//! classes, instances, decorated functions, callbacks held elsewhere, a running thread).
mod common;

use common::{Host, Project, Stream, save_in_place};

/// Saves (after marking) and waits for the status line of the run the save causes.
fn save_and_wait(p: &Project, host: &mut Host, rel: &str, content: &str) {
    host.save_in_place(&p.path(rel), content);
    host.wait_saved_run();
}

/// One module in two versions; objects from version 1 are kept (hotload.keep) and checked
/// against version 2's code after the save by `main()`, the entrypoint, which runs after the
/// reload and its patching. Every check prints `CHECK name value`.
fn lib(v: u32) -> String {
    let annotation = if v == 1 { "int" } else { "str" };
    let (ret, default, doc, prop, cls_attr, nested, lru, wrapped, dispatch, extra_field) = if v == 1
    {
        (
            "'old'",
            "1",
            "old doc",
            "'old prop'",
            "1",
            "'old nested'",
            "'lru old'",
            "'wrapped old'",
            "'int old'",
            "",
        )
    } else {
        (
            "'new'",
            "2",
            "new doc",
            "'new prop'",
            "2",
            "'new nested'",
            "'lru new'",
            "'wrapped new'",
            "'int new'",
            "    extra: int = 7\n",
        )
    };
    format!(
        r#"import dataclasses, enum, functools, pickle, hotload

def f(x={default}, *, k={default}) -> {annotation}:
    "{doc}"
    return {ret}

class Meta(type):
    pass

class Thing(metaclass=Meta):
    attr = {cls_attr}
    class Inner:
        def who(self):
            return {nested}
    def method(self):
        return {ret}
    @property
    def prop(self):
        return {prop}
    @classmethod
    def cm(cls):
        return 'cm ' + {ret}
    @staticmethod
    def sm():
        return 'sm ' + {ret}
    def __repr__(self):
        return 'Thing(%s)' % self.method()

def deco(fn):
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        return fn(*a, **kw)
    return wrapper

@deco
def decorated():
    return {wrapped}

@functools.lru_cache(maxsize=None)
def cached():
    return {lru}

@functools.singledispatch
def show(x):
    return 'generic'

@show.register
def _(x: int):
    return {dispatch}

@dataclasses.dataclass
class Point:
    x: int = 0
{extra_field}
@dataclasses.dataclass(frozen=True)
class Frozen:
    a: int = 1

class Color(enum.Enum):
    RED = 1

kept = hotload.keep('kept', lambda: dict(
    f=f, thing=Thing(), inner=Thing.Inner(), decorated=decorated, cached=cached, show=show,
    point=Point(), frozen=Frozen(), color=Color.RED, cm=Thing.cm, sm=Thing.sm))

def check(name, value):
    print('CHECK', name, value)

# Checks run after the reload (as the entrypoint), when deep patching is done.
def main():

    check('f', kept['f']())
    check('f_defaults', (kept['f'].__defaults__, kept['f'].__kwdefaults__, kept['f'].__doc__))
    check('f_identity', kept['f'] is f)
    check('f_annotations', kept['f'].__annotations__)
    check('method', kept['thing'].method())
    check('isinstance', isinstance(kept['thing'], Thing))
    check('prop', kept['thing'].prop)
    check('attr', type(kept['thing']).attr)
    check('cm_sm', (kept['cm'](), kept['sm']()))
    check('inner', kept['inner'].who())
    check('decorated', kept['decorated']())
    check('cached', kept['cached']())
    check('show', kept['show'](1))
    check('point_isinstance', isinstance(kept['point'], Point))
    check('point_fields', [fld.name for fld in dataclasses.fields(Point)])
    try:
        kept['frozen'].a = 5
        check('frozen', 'mutable!')
    except dataclasses.FrozenInstanceError:
        check('frozen', 'still frozen')
    # A name that is not a field: the frozen __setattr__ tests `type(self) is cls`, with `cls`
    # its closure cell, which must stand for the old (patched) class.
    try:
        kept['frozen'].other = 5
        check('frozen_other', 'mutable!')
    except dataclasses.FrozenInstanceError:
        check('frozen_other', 'still frozen')
    except Exception as e:
        check('frozen_other', type(e).__name__)
    check('pickle', pickle.loads(pickle.dumps(kept['thing'])).method())
    check('enum', kept['color'] is Color.RED)
"#
    )
}

fn check(host: &mut Host, name: &str, value: &str) {
    host.wait_for(&format!("CHECK {name} {value}"));
}

/// After a save: waits for the run's last check (`enum`), then compares every check that run
/// printed with `expected`, reporting all that differ at once.
fn expect_checks(host: &mut Host, expected: &[(&str, &str)]) {
    // (`save_and_wait` waited for the run's status line.) A run that failed half-way printed
    // what it printed before that line.
    let failed = host
        .since_mark()
        .iter()
        .any(|(s, l)| *s == Stream::Err && l.starts_with("[hotload] error"));
    if failed {
        host.drain();
    } else {
        host.wait_for("CHECK enum ");
    }
    let got: Vec<(String, String)> = host
        .since_mark()
        .iter()
        .filter(|(s, _)| *s == Stream::Out)
        .filter_map(|(_, l)| l.strip_prefix("CHECK ")?.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let wrong: Vec<String> = expected
        .iter()
        .filter_map(|(name, want)| {
            let seen = got.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
            (seen != Some(*want)).then(|| format!("{name}: expected {want:?}, got {seen:?}"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "checks after the save:\n{}\n--- transcript ---\n{}",
        wrong.join("\n"),
        host.transcript()
    );
}

#[test]
fn old_objects_run_new_code_after_a_deep_reload() {
    let p = Project::new();
    p.write("lib.py", &lib(1));
    let mut host = p.spawn(&[
        "lib.py",
        "--no-clear",
        "--reload",
        "deep",
        "--entrypoint",
        "main",
    ]);
    check(&mut host, "f", "old");
    host.wait_for("[hotload] ok");
    save_and_wait(&p, &mut host, "lib.py", &lib(2));
    expect_checks(
        &mut host,
        &[
            ("f", "new"),
            ("f_defaults", "((2,), {'k': 2}, 'new doc')"),
            ("f_identity", "True"),
            ("f_annotations", "{'return': <class 'str'>}"),
            ("method", "new"),
            ("isinstance", "True"),
            ("prop", "new prop"),
            ("attr", "2"),
            ("cm_sm", "('cm new', 'sm new')"),
            ("inner", "new nested"),
            ("decorated", "wrapped new"),
            ("cached", "lru new"),
            ("show", "int new"),
            ("point_isinstance", "True"),
            ("point_fields", "['x', 'extra']"),
            ("frozen", "still frozen"),
            ("frozen_other", "still frozen"),
            ("pickle", "new"),
            // An Enum whose members did not change is patched: the old member is the
            // module's member.
            ("enum", "True"),
        ],
    );
    assert_eq!(host.count("[hotload] deep"), 0, "{}", host.transcript());
    assert_eq!(host.count("[hotload] error"), 0, "{}", host.transcript());
}

#[test]
fn changed_mode_does_not_patch_old_objects() {
    let p = Project::new();
    p.write("lib.py", &lib(1));
    let mut host = p.spawn(&["lib.py", "--no-clear", "--entrypoint", "main"]);
    check(&mut host, "f", "old");
    save_and_wait(&p, &mut host, "lib.py", &lib(2));
    // The kept function object is the old one, with the old code: deep is what fixes this.
    host.wait_count("CHECK f old", 2);
    check(&mut host, "f_identity", "False");
}

#[test]
fn a_callback_stored_in_another_module_runs_the_new_code() {
    let p = Project::new();
    p.write("registry.py", "CALLBACKS = {}\n");
    let lib = |v: &str| {
        format!(
            "import registry\ndef handler():\n    return '{v}'\nregistry.CALLBACKS.setdefault('h', handler)\ndef main():\n    print('callback says', registry.CALLBACKS['h']())\n"
        )
    };
    p.write("lib.py", &lib("v1"));
    let mut host = p.spawn(&[
        "lib.py",
        "--no-clear",
        "--reload",
        "deep",
        "--entrypoint",
        "main",
    ]);
    host.wait_for("callback says v1");
    save_and_wait(&p, &mut host, "lib.py", &lib("v2"));
    host.wait_for("callback says v2");
}

#[test]
fn a_running_thread_picks_up_the_new_body() {
    let p = Project::new();
    let lib = |v: &str| {
        format!(
            "import threading, time, hotload\n\
             def f():\n    return '{v}'\n\
             def loop(fn):\n    last = None\n    while True:\n        value = fn()\n        if value != last:\n            print('thread sees', value, flush=True)\n            last = value\n        time.sleep(0.01)\n\
             hotload.keep('thread', lambda: threading.Thread(target=loop, args=(f,), daemon=True).start() or True)\n"
        )
    };
    p.write("lib.py", &lib("v1"));
    let mut host = p.spawn(&["lib.py", "--no-clear", "--reload", "deep"]);
    host.wait_for("thread sees v1");
    host.mark();
    save_in_place(&p.path("lib.py"), &lib("v2"));
    host.wait_for("thread sees v2");
}

#[test]
fn changed_closure_old_references_call_the_new_function() {
    let p = Project::new();
    p.write("lib.py", "import hotload\ndef make():\n    a = 1\n    def inner():\n        return a\n    return inner\nf = make()\nf.__module__ = __name__\nkept = hotload.keep('f', lambda: f)\ndef main():\n    print('value', kept())\n");
    let mut host = p.spawn(&[
        "lib.py",
        "--no-clear",
        "--reload",
        "deep",
        "--entrypoint",
        "main",
    ]);
    host.wait_for("value 1");
    save_and_wait(
        &p,
        &mut host,
        "lib.py",
        "import hotload\ndef make():\n    b = 2\n    def inner():\n        return b\n    return inner\nf = make()\nf.__module__ = __name__\nkept = hotload.keep('f', lambda: f)\ndef main():\n    print('value', kept())\n",
    );
    // The new code cannot run in the old closure (its variables changed), so the old function
    // calls the new one: the kept reference gives the new value.
    host.wait_for("value 2");
    assert_eq!(host.count("value 1"), 1, "{}", host.transcript());
}
