//! Running out of OS watches gives a clear message (naming the sysctl and --poll), exit 2.
//! This is the only test in its binary: cargo runs test binaries one at a time, so lowering the
//! machine-wide inotify limit for a moment affects no other test (other processes on the machine
//! may notice, so it is ignored by default). Needs a writable
//! /proc/sys/fs/inotify/max_user_watches (root): `cargo test --test watch_limit -- --ignored`,
//! which .ci/run does where it can write it.
mod common;

use common::Project;

const LIMIT: &str = "/proc/sys/fs/inotify/max_user_watches";

/// Watches currently held by all processes (inotify `wd:` lines in /proc/*/fdinfo).
fn watches_in_use() -> usize {
    let mut n = 0;
    for proc in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        for fd in std::fs::read_dir(proc.path().join("fdinfo"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(text) = std::fs::read_to_string(fd.path()) {
                n += text
                    .lines()
                    .filter(|l| l.starts_with("inotify wd:"))
                    .count();
            }
        }
    }
    n
}

struct Restore(String);

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = std::fs::write(LIMIT, &self.0);
    }
}

#[test]
#[ignore = "needs root: lowers the machine-wide /proc/sys/fs/inotify/max_user_watches for a moment"]
fn watch_limit_names_the_sysctl_and_poll() {
    let original = std::fs::read_to_string(LIMIT).unwrap_or_else(|e| panic!("{LIMIT}: {e}"));
    let project = Project::new();
    project.write("lib.py", "print('ran')\n");
    for i in 0..40 {
        project.write(&format!("d{i}/m.py"), "");
    }
    let small = watches_in_use() + 5;
    let _restore = Restore(original.trim().to_string());
    std::fs::write(LIMIT, small.to_string())
        .unwrap_or_else(|e| panic!("{LIMIT} not writable (needs root): {e}"));
    let out = project.run(&["lib.py"]);
    drop(_restore);
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("fs.inotify.max_user_watches"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--poll"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);

    // With --poll the same tree works.
    let mut host = project.spawn(&["lib.py", "--poll=50"]);
    host.wait_for("ran");
}
