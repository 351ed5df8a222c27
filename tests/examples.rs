//! Every example in examples/ runs as the README says.
mod common;

use common::{Project, save_in_place};

fn example(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(rel)
}

#[test]
fn basic_example_runs_once_and_keeps_state_across_saves() {
    let once = Project::new().run(&[example("basic/lib.py").to_str().unwrap(), "--once"]);
    assert_eq!(once.code(), Some(0), "{}{}", once.stdout, once.stderr);
    assert!(
        once.stdout
            .contains("run 1: x*x + y*y = 25, expensive = 42"),
        "{}",
        once.stdout
    );

    // Watch mode on a copy: a save re-runs the body, the kept state carries on.
    let project = Project::new();
    project.write(
        "lib.py",
        &std::fs::read_to_string(example("basic/lib.py")).unwrap(),
    );
    let mut host = project.spawn(&["lib.py"]);
    host.wait_for("run 1: x*x + y*y = 25");
    let source = std::fs::read_to_string(project.path("lib.py")).unwrap();
    host.mark();
    save_in_place(
        &project.path("lib.py"),
        &source.replace("x, y = 3, 4", "x, y = 5, 12"),
    );
    host.wait_for("run 2: x*x + y*y = 169, expensive = 42");
}

#[test]
fn entrypoint_example_calls_main_with_args() {
    let out = Project::new().run(&[
        example("entrypoint/app.py").to_str().unwrap(),
        "--once",
        "--entrypoint",
        "main",
        "--",
        "--name",
        "you",
    ]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout.trim(), "hello, you!");
}
