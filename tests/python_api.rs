//! The in-interpreter `hotload` package: kept state, hook decorators, reload info, and the
//! original tool's launch-script API, under the host and under plain Python.
mod common;

use common::{Project, save_in_place};
use std::process::Command;

/// Saves `content` to `rel` and waits for the resulting run's status line.
fn save_and_wait(project: &Project, host: &mut common::Host, rel: &str, content: &str) {
    host.save_in_place(&project.path(rel), content);
    host.wait_saved_run();
}

#[test]
fn keep_builds_once_across_reloads_and_reimports() {
    let p = Project::new();
    p.write(
        "helper.py",
        "import hotload\nobj = hotload.keep('obj', lambda: print('BUILD') or [0])\nobj[0] += 1\n",
    );
    // lib drops helper from sys.modules each run, so helper is imported afresh every time.
    let lib = "import sys\nsys.modules.pop('helper', None)\nimport helper\nprint('count', helper.obj[0])\n";
    p.write("lib.py", lib);
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("count 1");
    save_and_wait(&p, &mut host, "lib.py", &format!("{lib}# 2\n"));
    host.wait_for("count 2");
    save_and_wait(&p, &mut host, "lib.py", &format!("{lib}# 3\n"));
    host.wait_for("count 3");
    assert_eq!(host.count("BUILD"), 1, "{}", host.transcript());
}

#[test]
fn drop_and_once_forget_rebuild_the_value() {
    let p = Project::new();
    let lib = |tail: &str| {
        format!(
            "import hotload\n\
             @hotload.once\n\
             def model():\n    print('LOAD MODEL')\n    return {{'n': 0}}\n\
             conn = hotload.keep('conn', lambda: print('CONNECT') or object())\n\
             model()['n'] += 1\n\
             print('n=%d' % model()['n'])\n{tail}\n"
        )
    };
    p.write("lib.py", &lib(""));
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("n=1");
    save_and_wait(&p, &mut host, "lib.py", &lib("# same"));
    host.wait_for("n=2");
    assert_eq!(host.count("LOAD MODEL"), 1);
    assert_eq!(host.count("CONNECT"), 1);
    // Dropping both: the next run rebuilds them.
    save_and_wait(
        &p,
        &mut host,
        "lib.py",
        &lib("print('dropped', hotload.drop('conn'), model.forget())"),
    );
    host.wait_for("dropped True True");
    save_and_wait(&p, &mut host, "lib.py", &lib("# again"));
    host.wait_count("n=1", 2);
    assert_eq!(host.count("LOAD MODEL"), 2, "{}", host.transcript());
    assert_eq!(host.count("CONNECT"), 2, "{}", host.transcript());
}

#[test]
fn original_nameerror_trick_keeps_state() {
    let p = Project::new();
    let lib =
        "try:\n    total = total + 1\nexcept NameError:\n    total = 1\nprint('total', total)\n";
    p.write("lib.py", lib);
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("total 1");
    save_and_wait(&p, &mut host, "lib.py", &format!("{lib}#\n"));
    host.wait_for("total 2");
}

#[test]
fn hooks_run_in_order_and_are_replaced_not_duplicated() {
    let p = Project::new();
    let lib = |version: u32| {
        format!(
            "import hotload\n\
             @hotload.before_reload\ndef teardown():\n    print('before v{version}')\n\
             @hotload.after_reload\ndef setup():\n    print('after v{version}')\n\
             print('body v{version}')\n\
             def main():\n    print('entry v{version}')\n"
        )
    };
    p.write("lib.py", &lib(1));
    let mut host = p.spawn(&["lib.py", "--no-clear", "--entrypoint", "main"]);
    host.wait_for("entry v1");
    for v in 2..=4 {
        save_and_wait(&p, &mut host, "lib.py", &lib(v));
        host.wait_for(&format!("entry v{v}"));
    }
    let out: Vec<String> = host.stdout_text().lines().map(String::from).collect();
    // The first import has nothing to tear down; each reload runs the old version's teardown
    // once, then the new body, the new setup, the entrypoint.
    let expected: Vec<String> = ["body v1", "after v1", "entry v1"]
        .iter()
        .map(|s| s.to_string())
        .chain((2..=4).flat_map(|v| {
            [
                format!("before v{}", v - 1),
                format!("body v{v}"),
                format!("after v{v}"),
                format!("entry v{v}"),
            ]
        }))
        .collect();
    assert_eq!(out, expected, "{}", host.transcript());
}

#[test]
fn failing_hook_shows_traceback_and_reload_still_happens() {
    let p = Project::new();
    let lib = |v: u32| {
        format!(
            "import hotload\n@hotload.before_reload\ndef teardown():\n    raise RuntimeError('teardown broke v{v}')\nprint('body v{v}')\n"
        )
    };
    p.write("lib.py", &lib(1));
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("body v1");
    host.mark();
    save_in_place(&p.path("lib.py"), &lib(2));
    host.wait_for("body v2");
    host.wait_for("RuntimeError: teardown broke v1");
    host.wait_for("[hotload] error: lib failed");
    // A syntax error keeps the old hooks: the next good save still runs the v2 teardown.
    save_and_wait(&p, &mut host, "lib.py", "def (\n");
    host.mark();
    save_in_place(&p.path("lib.py"), &lib(3));
    host.wait_for("body v3");
    host.wait_for("teardown broke v2");
}

#[test]
fn reload_info_reports_run_number_changed_files_and_previous_run() {
    let p = Project::new();
    let lib = "import hotload, os\ni = hotload.info()\n\
               print('info', i.running, i.under_host, i.run, [os.path.basename(c) for c in i.changed], i.previous_run is not None)\n\
               print('env', os.environ.get('HOTLOAD_RUNNING'))\n";
    p.write("lib.py", lib);
    p.write("other.py", "");
    let mut host = p.spawn(&["lib.py", "--no-clear"]);
    host.wait_for("info True True 1 [] False");
    host.wait_for("env HOTLOAD_RUNNING");
    save_and_wait(&p, &mut host, "other.py", "# touched\n");
    host.wait_for("info True True 2 ['other.py'] True");
}

const LAUNCH: &str = r#"import hotload

hotload.hotload(
    watch=[
        hotload.listfiles(".", ext=".py")
    ],
    steps=[
        hotload.ClearTerminal(),                               # (1)
        hotload.ReloadedPythonModule.from_module_name("lib"),  # (2)
    ]
)
print("after hotload() - never reached")
"#;

const POST_HOOK_LAUNCH: &str = r#"import hotload

class MathReloader(hotload.ReloadedPythonModule):
    def post_reload_hook(self, mod):
        mod.teststuff()
        mod.teststuff2()


hotload.hotload(
    watch=[
        hotload.listfiles(".", ext=".py")
    ],
    steps=[
        hotload.ClearTerminal(),
        MathReloader.from_module_name("mymath"),
    ]
)
"#;

const MYMATH: &str = "def computation():\n    return 42\n\n\ndef teststuff():\n    from pprint import pprint\n    pprint([\n        computation(),\n        computation(),\n        computation(),\n    ])\n\n\ndef teststuff2():\n    print(\"follow the white rabbit\")\n";

#[test]
fn original_readme_launch_script_under_the_host() {
    let p = Project::new();
    p.write("lib.py", "x = 3\ny = 4\n\nprint(x*x + y*y)\n");
    p.write("launch.py", LAUNCH);
    let mut host = p.spawn(&["launch.py"]);
    host.wait_for("25");
    host.wait_for("Successfully reloaded lib");
    host.mark();
    save_in_place(&p.path("lib.py"), "x = 5\ny = 12\n\nprint(x*x + y*y)\n");
    host.wait_for("169");
    host.mark();
    save_in_place(&p.path("lib.py"), "x = 8\ny = 15\n\nprint(x*x + y*y)\n");
    host.wait_for("289");
    host.settle(std::time::Duration::from_millis(300));
    assert_eq!(host.count("never reached"), 0);
    // The module body ran once per run: 3 results, no double run at start.
    assert_eq!(
        host.count("Successfully reloaded lib"),
        3,
        "{}",
        host.transcript()
    );
    let results: Vec<String> = host
        .stdout_text()
        .lines()
        .filter(|l| !l.starts_with("Successfully"))
        .map(String::from)
        .collect();
    assert_eq!(results, ["25", "169", "289"], "{}", host.transcript());
}

#[test]
fn original_post_reload_hook_example_under_the_host() {
    let p = Project::new();
    p.write("mymath.py", MYMATH);
    p.write("launch.py", POST_HOOK_LAUNCH);
    let mut host = p.spawn(&["launch.py"]);
    host.wait_for("[42, 42, 42]");
    host.wait_for("follow the white rabbit");
    host.mark();
    save_in_place(
        &p.path("mymath.py"),
        &MYMATH.replace("return 42", "return 7"),
    );
    host.wait_for("[7, 7, 7]");
    host.wait_count("follow the white rabbit", 2);
}

#[test]
fn launch_steps_command_handle_reload_modules_and_function() {
    let p = Project::new();
    p.write("dep.py", "VALUE = 1\n");
    p.write(
        "lib.py",
        "import dep\ndef show():\n    print('value', dep.VALUE)\n",
    );
    p.write(
        "launch.py",
        "import hotload, lib\n\
         reloaded = hotload.ReloadedPythonModule(lib)\n\
         hotload.hotload(watch=[['dep.py', 'lib.py']], steps=[\n\
             hotload.ReloadModules(lib),\n\
             reloaded,\n\
             hotload.PythonHandle(lambda: reloaded.function('show')()),\n\
             hotload.Command('echo from-shell'),\n\
             hotload.PythonHandle(lambda: 1 / 0),\n\
             hotload.PythonHandle(lambda: print('still runs')),\n\
         ])\n",
    );
    let mut host = p.spawn(&["launch.py", "--no-clear", "-v"]);
    host.wait_for("value 1");
    host.wait_for("from-shell");
    host.wait_for("ZeroDivisionError");
    host.wait_for("still runs");
    host.mark();
    save_in_place(&p.path("dep.py"), "VALUE = 2\n");
    host.wait_for("value 2");
    host.wait_count("still runs", 2);
}

fn plain_python(project: &Project, script: &str) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .current_dir(project.dir.path())
        .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/python"))
        .env_remove("HOTLOAD_RUNNING")
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env("PYTHONUNBUFFERED", "1");
    cmd
}

#[test]
fn original_launch_scripts_under_plain_python() {
    let p = Project::new();
    p.write("mymath.py", MYMATH);
    p.write("launch.py", POST_HOOK_LAUNCH);
    let mut host = common::Host::spawn(plain_python(&p, "launch.py"));
    host.wait_for("[42, 42, 42]");
    // The polling loop compares mtimes; make sure the next save's mtime differs.
    std::thread::sleep(std::time::Duration::from_millis(20));
    host.mark();
    save_in_place(
        &p.path("mymath.py"),
        &MYMATH.replace("return 42", "return 9"),
    );
    host.wait_for("[9, 9, 9]");
    host.interrupt();
    let status = host.wait_exit(common::TIMEOUT);
    assert!(status.success(), "{}", host.transcript());
    assert_eq!(
        host.count("Interrupt received, stopping hotload"),
        1,
        "{}",
        host.transcript()
    );
}

#[test]
fn helpers_degrade_gracefully_under_plain_python() {
    let p = Project::new();
    p.write(
        "lib.py",
        "import hotload\n\
         x = hotload.keep('x', lambda: 41) + 1\n\
         @hotload.once\ndef y():\n    return 'y'\n\
         @hotload.before_reload\ndef t():\n    pass\n\
         i = hotload.info()\n\
         print('plain', x, y(), hotload.running(), i.running, i.under_host, i.run, i.changed)\n",
    );
    let out = plain_python(&p, "lib.py").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "plain 42 y False False False 0 []");
}

#[test]
fn embedded_package_is_served_by_the_host_with_its_source() {
    // The package comes precompiled from the binary (no install), yet inspect and tracebacks
    // still see its source; a hotload.py in the project does not shadow it.
    let p = Project::new();
    p.write(
        "hotload.py",
        "raise SystemExit('the project copy was imported')\n",
    );
    p.write(
        "lib.py",
        "import inspect, hotload\n\
         print('FILE', hotload.__file__)\n\
         print('SOURCE', inspect.getsource(hotload.keep).splitlines()[0])\n\
         print('TYPED', hotload.keep.__annotations__['key'])\n",
    );
    let out = p.run(&["lib.py", "--once"]);
    let text = &out.stdout;
    assert_eq!(out.code(), Some(0), "{text}{}", out.stderr);
    assert!(
        text.contains("FILE <hotload-host>/hotload/__init__.py"),
        "{text}"
    );
    assert!(text.contains("SOURCE def keep(key: \"str\""), "{text}");
    assert!(text.contains("TYPED str"), "{text}");
}
