mod common;
// What triggers a run (editor saves, bursts, new dirs, -e/-w/stdin/--poll) and what must not.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use common::{
    Host, Project, Stream, TIMEOUT, save_in_place, save_jetbrains, save_truncate_then_write,
    save_via_rename, save_vim,
};

/// Window in which "nothing more happened" is checked. Not a timing assertion: a run that
/// should not happen at all would show up here (or in the next run's changed list).
const SETTLE: Duration = Duration::from_millis(500);

// ---- Helpers local to this file ----

/// Number of runs so far: one status line per run, `(run N)` or `(run N, after saving x.py)`.
fn runs(h: &Host) -> usize {
    h.count("(run ")
}

/// Waits until at least `n` runs have reported.
fn wait_run(h: &mut Host, n: usize) {
    h.wait_count("(run ", n);
}

/// True if `line` is the status line of run `n`.
fn is_status_of_run(line: &str, n: usize) -> bool {
    common::Status::is_of(line, n as u64)
}

/// Waits for run `n`, lets things settle, and checks that no run after it happened.
fn expect_runs_exactly(h: &mut Host, n: usize, why: &str) {
    wait_run(h, n);
    h.settle(SETTLE);
    assert_eq!(
        runs(h),
        n,
        "{why}: expected exactly {n} runs\n--- transcript ---\n{}",
        h.transcript()
    );
}

/// Settles, then checks that the number of runs is still `n`.
fn expect_no_new_run(h: &mut Host, n: usize, why: &str) {
    h.settle(SETTLE);
    assert_eq!(
        runs(h),
        n,
        "{why}: no run expected\n--- transcript ---\n{}",
        h.transcript()
    );
}

fn stdout_lines(h: &Host) -> Vec<String> {
    h.lines
        .iter()
        .filter(|(s, _)| *s == Stream::Out)
        .map(|(_, l)| l.clone())
        .collect()
}

/// The stdout lines starting with `prefix`, in order.
fn tagged(h: &Host, prefix: &str) -> Vec<String> {
    stdout_lines(h)
        .into_iter()
        .filter(|l| l.starts_with(prefix))
        .collect()
}

fn assert_no_errors(h: &Host) {
    assert_eq!(
        h.count("[hotload] error"),
        0,
        "a run failed\n--- transcript ---\n{}",
        h.transcript()
    );
    assert_eq!(
        h.count("[hotload] warning"),
        0,
        "unexpected warning\n--- transcript ---\n{}",
        h.transcript()
    );
}

/// The `[hotload] changed: ...` lines (with -v), paths only.
fn changed_lines(h: &Host) -> Vec<String> {
    h.lines
        .iter()
        .filter_map(|(_, l)| l.strip_prefix("[hotload] changed: ").map(str::to_string))
        .collect()
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
    // "3 files in 2 directories (OS events)"
    let files = words[0]
        .parse()
        .unwrap_or_else(|_| panic!("bad watch line: {line}"));
    let dirs = words[3]
        .parse()
        .unwrap_or_else(|_| panic!("bad watch line: {line}"));
    (files, dirs)
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

/// A module that prints one tagged line naming its version.
fn versioned(v: &str) -> String {
    format!("print('content:', {v:?})\n")
}

/// A module that reports the contents of the .py files under `dir` (recursively), as
/// `burst: v = 0 x10, v = 1 x40`. It reads the files instead of importing them, so each run
/// sees what is on disk now.
fn burst_reporter(dir: &str) -> String {
    format!(
        "import collections, os\n\
         root = os.path.join(os.path.dirname(os.path.abspath(__file__)), {dir:?})\n\
         files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith('.py')]\n\
         seen = collections.Counter(open(f).read().strip() for f in files)\n\
         print('burst: ' + ', '.join('%s x%d' % kv for kv in sorted(seen.items())))\n"
    )
}

/// A module that prints the stripped content of a file (relative to the module), or `missing`.
fn file_reporter(tag: &str, rel: &str) -> String {
    format!(
        "import os\n\
         p = os.path.join(os.path.dirname(os.path.abspath(__file__)), {rel:?})\n\
         print({tag:?}, open(p).read().strip() if os.path.exists(p) else 'missing')\n"
    )
}

// ---- 1. Each editor save style: exactly one run, complete content ----

fn check_save_style(save: fn(&Path, &str)) {
    let project = Project::new();
    project.write("lib.py", &versioned("v0"));
    let mut host = project.spawn(&["lib.py"]);
    wait_run(&mut host, 1);
    for v in 1..=3 {
        save(&project.path("lib.py"), &versioned(&format!("v{v}")));
        expect_runs_exactly(&mut host, v + 1, &format!("save #{v}"));
    }
    // Every run printed its line: no run saw an empty or partial file.
    assert_eq!(
        tagged(&host, "content:"),
        ["content: v0", "content: v1", "content: v2", "content: v3"],
        "\n--- transcript ---\n{}",
        host.transcript()
    );
    assert_no_errors(&host);
}

#[test]
fn in_place_save_runs_exactly_once_with_new_content() {
    check_save_style(save_in_place);
}

#[test]
fn truncate_then_write_save_runs_once_and_never_sees_an_empty_file() {
    check_save_style(save_truncate_then_write);
}

#[test]
fn temp_file_and_rename_save_runs_exactly_once_with_new_content() {
    check_save_style(save_via_rename);
}

#[test]
fn vim_backupcopy_auto_save_runs_exactly_once_with_new_content() {
    check_save_style(save_vim);
}

#[test]
fn jetbrains_safe_write_save_runs_exactly_once_with_new_content() {
    check_save_style(save_jetbrains);
}

// ---- 2. Saves in sequence ----

#[test]
fn every_save_in_a_sequence_runs_and_the_last_content_is_shown_last() {
    let project = Project::new();
    project.write("lib.py", &versioned("s0"));
    let mut host = project.spawn(&["lib.py"]);
    wait_run(&mut host, 1);
    let styles: [fn(&Path, &str); 6] = [
        save_in_place,
        save_via_rename,
        save_vim,
        save_jetbrains,
        save_truncate_then_write,
        save_in_place,
    ];
    for (i, save) in styles.iter().enumerate() {
        save(&project.path("lib.py"), &versioned(&format!("s{}", i + 1)));
        wait_run(&mut host, i + 2);
    }
    expect_runs_exactly(&mut host, 7, "six saves");
    let expected: Vec<String> = (0..=6).map(|i| format!("content: s{i}")).collect();
    assert_eq!(
        tagged(&host, "content:"),
        expected,
        "\n--- transcript ---\n{}",
        host.transcript()
    );
    assert_no_errors(&host);
}

#[test]
fn rapid_atomic_saves_end_with_the_last_content_and_no_partial_run() {
    let project = Project::new();
    project.write("lib.py", &versioned("r0"));
    let mut host = project.spawn(&["lib.py"]);
    wait_run(&mut host, 1);
    // Back to back, without waiting for runs: saves may be merged, but the last one wins.
    host.mark();
    for i in 1..=10 {
        save_via_rename(&project.path("lib.py"), &versioned(&format!("r{i}")));
    }
    host.wait_for("content: r10");
    host.settle(SETTLE);
    let shown = tagged(&host, "content:");
    assert_eq!(
        shown.last().map(String::as_str),
        Some("content: r10"),
        "\n{}",
        host.transcript()
    );
    // Each run printed a line (atomic saves: no run can see a partial file).
    assert_eq!(
        shown.len(),
        runs(&host),
        "\n--- transcript ---\n{}",
        host.transcript()
    );
    assert!(
        runs(&host) <= 11,
        "\n--- transcript ---\n{}",
        host.transcript()
    );
    assert_no_errors(&host);
}

#[test]
fn saves_during_a_slow_run_are_gathered_into_one_run_afterwards() {
    let project = Project::new();
    let slow = |v: &str| {
        format!(
            "import time\nprint('start', {v:?}, flush=True)\ntime.sleep(1)\nprint('end', {v:?})\n"
        )
    };
    project.write("lib.py", &slow("v0"));
    let mut host = project.spawn(&["lib.py"]);
    wait_run(&mut host, 1);
    host.mark();
    save_via_rename(&project.path("lib.py"), &slow("v1"));
    host.wait_for("start v1");
    // Three saves while run 2 sleeps.
    host.mark();
    for v in ["v2", "v3", "v4"] {
        save_via_rename(&project.path("lib.py"), &slow(v));
    }
    host.wait_for("end v4");
    expect_runs_exactly(&mut host, 3, "saves during a run");
    assert_eq!(
        tagged(&host, "end"),
        ["end v0", "end v1", "end v4"],
        "\n{}",
        host.transcript()
    );
}

#[test]
fn save_during_a_slow_first_import_still_counts() {
    let project = Project::new();
    project.write(
        "lib.py",
        "import time\nprint('first start', flush=True)\ntime.sleep(1)\nprint('first end')\n",
    );
    let mut host = project.spawn(&["lib.py"]);
    host.wait_for("first start");
    host.mark();
    save_in_place(&project.path("lib.py"), &versioned("second"));
    host.wait_for("content: second");
    expect_runs_exactly(&mut host, 2, "a save during the first import");
}

// ---- 3. Bursts ----
//
// session/batch.rs: the first save wakes the host; whatever is already queued joins it; only if
// that makes more than one file does it wait for quiet (50 ms, 250 ms for 100 files or more,
// or --debounce) before running. So what it guarantees is that the last run comes after the
// last save and sees all of it. How many runs a burst causes depends on how many events are
// queued each time the host wakes, and on the writer: one descheduled for longer than the quiet
// window (a loaded machine) has split its burst there, as the README says it should. The README
// promises one run per burst ("waits until it has been quiet for 50 ms and then runs once"), so
// the count tests below assert that for every burst, except where it was split at a pause of
// the writer's long enough to split it (the `-v` changed lists say which saves each run saw).

/// batch.rs's BURST_GAP: a save this long after a run ended is a new edit, run at once.
const BURST_GAP: Duration = Duration::from_millis(10);
/// batch.rs's BURST_MAX: a burst that never goes quiet runs after this long (or after four
/// times its quiet window, if that is longer).
const BURST_MAX: Duration = Duration::from_secs(2);
/// The --debounce of the count tests: longer than the pauses a busy machine usually gives a
/// writer in a tight loop.
const DEBOUNCE_MS: u64 = 250;

/// Writes `n` files `burst/dK/mI.py` (10 per directory) containing `v = 0`.
fn burst_files(project: &Project, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let rel = format!("burst/d{}/m{i}.py", i / 10);
            project.write(&rel, "v = 0\n");
            project.path(&rel)
        })
        .collect()
}

/// Spawns the host on a burst project; run 1 sees all `n` files at `v = 0`.
fn burst_host(project: &Project, n: usize) -> Host {
    burst_host_with(project, n, &[])
}

fn burst_host_with(project: &Project, n: usize, extra: &[&str]) -> Host {
    project.write("lib.py", &burst_reporter("burst"));
    let mut args = vec!["lib.py", "-v"];
    args.extend_from_slice(extra);
    let mut host = project.spawn(&args);
    host.wait_for(&format!("burst: v = 0 x{n}"));
    wait_run(&mut host, 1);
    host
}

/// How a burst went: when the writer started and finished each save, and which saves (indexes
/// into the files) each of the runs it caused saw, from the `-v` changed lists.
struct Burst {
    starts: Vec<Instant>,
    ends: Vec<Instant>,
    runs: Vec<Vec<usize>>,
}

impl Burst {
    /// From the start of save `i - 1` to the end of save `i`: at least as long as any silence
    /// the host can have seen between the events of the two, however the writer was scheduled.
    fn pause_before(&self, i: usize) -> Duration {
        self.ends[i] - self.starts[i.saturating_sub(1)]
    }

    /// The places where a run ended and the next one took over although the writer kept
    /// every pause there below `window` (and the burst had not been going on for long enough
    /// that it had to run anyway), as (run, the pause before the next run's first save).
    fn splits_within(&self, window: Duration) -> Vec<(usize, Duration)> {
        let cap = BURST_MAX.max(window * 4);
        let mut splits = Vec::new();
        for (j, pair) in self.runs.windows(2).enumerate() {
            let first = *pair[0].iter().min().unwrap();
            // The first save after run j's last one (the split is between the two).
            let next = (*pair[0].iter().max().unwrap() + 1).min(self.ends.len() - 1);
            let pause = self.pause_before(next);
            let capped = self.ends[next] - self.starts[first] >= cap;
            if pause < window && !capped {
                splits.push((j + 1, pause));
            }
        }
        splits
    }
}

/// Saves every file with `v = round` (`between` apart; zero: a tight loop); checks that the
/// last run saw all of them and that every save was in a run.
fn burst_round(
    host: &mut Host,
    files: &[PathBuf],
    round: usize,
    (save, between): (fn(&Path, &str), Duration),
) -> Burst {
    host.mark();
    let before = runs(host);
    let changed_before = changed_lines(host).len();
    let content = format!("v = {round}\n");
    let (mut starts, mut ends) = (Vec::new(), Vec::new());
    for (i, f) in files.iter().enumerate() {
        if i > 0 && !between.is_zero() {
            std::thread::sleep(between); // the formatter's work on the next file
        }
        starts.push(Instant::now());
        save(f, &content);
        ends.push(Instant::now());
    }
    let all_new = format!("burst: v = {round} x{}", files.len());
    host.wait_for(&all_new);
    host.settle(SETTLE);
    let transcript = || format!("\n--- transcript ---\n{}", host.transcript());
    assert_eq!(
        tagged(host, "burst:").last(),
        Some(&all_new),
        "the last run must see the whole burst{}",
        transcript()
    );
    assert_eq!(host.count("[hotload] error"), 0, "{}", transcript());
    let index = |name: &str| {
        let rel = &name[name
            .find("burst/")
            .unwrap_or_else(|| panic!("{name}{}", transcript()))..];
        files
            .iter()
            .position(|f| f.ends_with(rel))
            .unwrap_or_else(|| panic!("{name}{}", transcript()))
    };
    let runs_seen: Vec<Vec<usize>> = changed_lines(host)[changed_before..]
        .iter()
        .map(|line| line.split(", ").map(index).collect())
        .collect();
    assert_eq!(runs_seen.len(), runs(host) - before, "{}", transcript());
    let mut all: Vec<usize> = runs_seen.iter().flatten().copied().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        all,
        (0..files.len()).collect::<Vec<_>>(),
        "{}",
        transcript()
    );
    Burst {
        starts,
        ends,
        runs: runs_seen,
    }
}

/// `rounds` bursts; each may split where the writer paused for `window` or more, and at
/// `allowed` other places besides.
fn check_burst_counts(
    host: &mut Host,
    files: &[PathBuf],
    writer: (fn(&Path, &str), Duration),
    rounds: usize,
    window: Duration,
    allowed: usize,
) {
    for round in 1..=rounds {
        let burst = burst_round(host, files, round, writer);
        let splits = burst.splits_within(window);
        assert!(
            splits.len() <= allowed,
            "burst {round} ran {} times, split after runs {splits:?} (run, the writer's pause \
             there) with pauses below {window:?}; at most {allowed} such splits expected\n\
             --- transcript ---\n{}",
            burst.runs.len(),
            host.transcript()
        );
    }
}

// What the code guarantees, whatever the timing: the burst runs, and its last run sees all of it.
// (No bound on the number of runs: 3 and 42 runs were seen for one 50-file burst.)

#[test]
fn burst_of_50_in_place_writes_ends_with_a_run_that_sees_all_of_them() {
    let project = Project::new();
    let files = burst_files(&project, 50);
    let mut host = burst_host(&project, 50);
    for round in 1..=3 {
        burst_round(&mut host, &files, round, (save_in_place, Duration::ZERO));
    }
}

#[test]
fn checkout_like_burst_of_300_renames_ends_with_a_run_that_sees_all_of_them() {
    let project = Project::new();
    let files = burst_files(&project, 300);
    let mut host = burst_host(&project, 300);
    for round in 1..=3 {
        burst_round(&mut host, &files, round, (save_via_rename, Duration::ZERO));
    }
}

#[test]
fn checkout_like_burst_with_new_directories_and_deletions_ends_with_a_complete_run() {
    // Like switching branches: files replaced, a new directory tree appears, files vanish.
    let project = Project::new();
    let files = burst_files(&project, 200);
    let mut host = burst_host(&project, 200);
    host.mark();
    let before = runs(&host);
    // Not counted: see the count tests.
    for f in &files[..150] {
        save_via_rename(f, "v = 1\n");
    }
    for f in &files[150..] {
        std::fs::remove_file(f).unwrap();
    }
    for i in 0..50 {
        let p = project.path(&format!("burst/fresh/e{}/n{i}.py", i / 10));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "v = 1\n").unwrap();
    }
    host.wait_for("burst: v = 1 x200");
    host.settle(SETTLE);
    assert_eq!(
        tagged(&host, "burst:").last().unwrap(),
        "burst: v = 1 x200",
        "\n{}",
        host.transcript()
    );
    assert!(runs(&host) > before, "\n{}", host.transcript());
    assert_eq!(
        host.count("[hotload] error"),
        0,
        "\n--- transcript ---\n{}",
        host.transcript()
    );
    // The new directories are watched.
    save_in_place(&project.path("burst/fresh/e4/n49.py"), "v = 2\n");
    host.wait_for("burst: v = 1 x199, v = 2 x1");
}

// README: "a burst of many files (a checkout, a formatter) waits until it has been quiet for
// 50 ms and then runs once". Five bursts in a row, so that a race that splits a burst shows.
// Without --debounce a lone save runs at once, so a burst runs at most twice: once for its
// first file, once more for everything after it has been quiet (README, "What is watched").
// A writer pausing for BURST_GAP can split it more: a save that long after a run ended is a
// new edit, run at once.

#[test]
fn burst_of_50_writes_runs_at_most_twice_by_default() {
    let project = Project::new();
    let files = burst_files(&project, 50);
    let mut host = burst_host(&project, 50);
    let writer = (save_in_place as fn(&Path, &str), Duration::ZERO);
    check_burst_counts(&mut host, &files, writer, 5, BURST_GAP, 1);
}

#[test]
fn burst_of_50_writes_runs_exactly_once_with_debounce() {
    let project = Project::new();
    let files = burst_files(&project, 50);
    let debounce = DEBOUNCE_MS.to_string();
    let mut host = burst_host_with(&project, 50, &["--debounce", &debounce]);
    let writer = (save_in_place as fn(&Path, &str), Duration::ZERO);
    let window = Duration::from_millis(DEBOUNCE_MS);
    check_burst_counts(&mut host, &files, writer, 5, window, 0);
}

#[test]
fn checkout_like_burst_of_300_renames_runs_at_most_twice_by_default() {
    let project = Project::new();
    let files = burst_files(&project, 300);
    let mut host = burst_host(&project, 300);
    let writer = (save_via_rename as fn(&Path, &str), Duration::ZERO);
    check_burst_counts(&mut host, &files, writer, 5, BURST_GAP, 1);
}

#[test]
fn checkout_like_burst_of_300_renames_runs_exactly_once_with_debounce() {
    let project = Project::new();
    let files = burst_files(&project, 300);
    let debounce = DEBOUNCE_MS.to_string();
    let mut host = burst_host_with(&project, 300, &["--debounce", &debounce]);
    let writer = (save_via_rename as fn(&Path, &str), Duration::ZERO);
    let window = Duration::from_millis(DEBOUNCE_MS);
    check_burst_counts(&mut host, &files, writer, 5, window, 0);
}

/// A formatter (`black .`, `ruff format`) rewrites files one after another with some work in
/// between: here 40 files, 5 ms apart (below BURST_GAP, far below the 50 ms quiet window).
const FORMATTER: (fn(&Path, &str), Duration) = (save_via_rename, Duration::from_millis(5));

#[test]
fn formatter_like_burst_with_writes_a_few_ms_apart_runs_at_most_twice() {
    let project = Project::new();
    let files = burst_files(&project, 40);
    let mut host = burst_host(&project, 40);
    check_burst_counts(&mut host, &files, FORMATTER, 1, BURST_GAP, 1);
}

#[test]
fn formatter_like_burst_runs_once_with_debounce() {
    let project = Project::new();
    let files = burst_files(&project, 40);
    let debounce = DEBOUNCE_MS.to_string();
    let mut host = burst_host_with(&project, 40, &["--debounce", &debounce]);
    let window = Duration::from_millis(DEBOUNCE_MS);
    check_burst_counts(&mut host, &files, FORMATTER, 1, window, 0);
}

// ---- 4. Deleted, recreated and new files and directories ----

#[test]
fn deleted_then_recreated_target_keeps_being_watched() {
    let project = Project::new();
    project.write("lib.py", &versioned("d0"));
    let mut host = project.spawn(&["lib.py"]);
    wait_run(&mut host, 1);
    // Deleting a watched module is a change: one run, which says what happened.
    host.mark();
    std::fs::remove_file(project.path("lib.py")).unwrap();
    host.wait_for("lib.py was deleted or renamed: module lib keeps its last loaded version");
    expect_runs_exactly(&mut host, 2, "deleting the target");
    host.mark();
    std::fs::write(project.path("lib.py"), versioned("d1")).unwrap();
    expect_runs_exactly(&mut host, 3, "recreating the target");
    host.mark();
    save_in_place(&project.path("lib.py"), &versioned("d2"));
    expect_runs_exactly(&mut host, 4, "saving the recreated target");
    assert_eq!(
        tagged(&host, "content:"),
        ["content: d0", "content: d1", "content: d2"],
        "\n{}",
        host.transcript()
    );
    assert!(
        !host.transcript().contains("panicked"),
        "{}",
        host.transcript()
    );
}

#[test]
fn deleted_then_recreated_subdirectory_keeps_being_watched() {
    let project = Project::new();
    project.write("lib.py", &file_reporter("sub:", "sub/a.py"));
    project.write("sub/a.py", "a0");
    let mut host = project.spawn(&["lib.py"]);
    host.wait_for("sub: a0");
    wait_run(&mut host, 1);
    // The directory held a watched file: its deletion is one change, one run.
    host.mark();
    std::fs::remove_dir_all(project.path("sub")).unwrap();
    host.wait_for("sub: missing");
    expect_runs_exactly(&mut host, 2, "deleting a directory with a watched file");
    host.mark();
    std::fs::create_dir(project.path("sub")).unwrap();
    std::fs::write(project.path("sub/a.py"), "a1").unwrap();
    host.wait_for("sub: a1");
    host.settle(SETTLE);
    host.mark();
    let n = runs(&host);
    save_in_place(&project.path("sub/a.py"), "a2");
    host.wait_for("sub: a2");
    expect_runs_exactly(&mut host, n + 1, "saving a file in the recreated directory");
    assert_no_errors(&host);
}

#[test]
fn new_subdirectory_created_at_runtime_is_watched_and_triggers() {
    let project = Project::new();
    project.write("lib.py", &file_reporter("newdir:", "newdir/deeper/a.py"));
    let mut host = project.spawn(&["lib.py"]);
    host.wait_for("newdir: missing");
    wait_run(&mut host, 1);
    // mkdir -p and write at once: the file may exist before the host has watched the directory.
    host.mark();
    std::fs::create_dir_all(project.path("newdir/deeper")).unwrap();
    std::fs::write(project.path("newdir/deeper/a.py"), "n1").unwrap();
    host.wait_for("newdir: n1");
    host.settle(SETTLE);
    assert_eq!(
        tagged(&host, "newdir:").last().unwrap(),
        "newdir: n1",
        "\n{}",
        host.transcript()
    );
    // The new directory is now watched: a later save there runs once.
    host.mark();
    let n = runs(&host);
    save_in_place(&project.path("newdir/deeper/a.py"), "n2");
    host.wait_for("newdir: n2");
    expect_runs_exactly(&mut host, n + 1, "saving in the new directory");
    assert_no_errors(&host);
}

#[test]
fn new_file_in_new_directory_written_slowly_is_not_run_before_its_write_completes() {
    // An editor creating a file in a new folder: mkdir, then open + write + close (VS Code
    // truncates, then writes). A run must not see the file before it is closed.
    let project = Project::new();
    project.write("lib.py", &file_reporter("newdir:", "newdir/a.py"));
    let mut host = project.spawn(&["lib.py"]);
    host.wait_for("newdir: missing");
    wait_run(&mut host, 1);
    host.mark();
    std::fs::create_dir(project.path("newdir")).unwrap();
    save_truncate_then_write(&project.path("newdir/a.py"), "n1");
    host.wait_for("newdir: n1");
    host.settle(SETTLE);
    assert_eq!(
        tagged(&host, "newdir:"),
        ["newdir: missing", "newdir: n1"],
        "a run saw the file before its save completed\n--- transcript ---\n{}",
        host.transcript()
    );
}

#[test]
fn new_module_file_that_the_entry_starts_importing_just_works() {
    let project = Project::new();
    project.write("lib.py", "print('helper: none')\n");
    let mut host = project.spawn(&["lib.py"]);
    host.wait_for("helper: none");
    wait_run(&mut host, 1);
    // A new module next to the entry (a save of a .py in the root runs the entry once).
    host.mark();
    std::fs::write(project.path("helper.py"), "NAME = 'h1'\n").unwrap();
    expect_runs_exactly(&mut host, 2, "creating helper.py");
    // A new package in a new directory, created at runtime.
    host.mark();
    std::fs::create_dir(project.path("newpkg")).unwrap();
    std::fs::write(project.path("newpkg/__init__.py"), "").unwrap();
    std::fs::write(project.path("newpkg/mod.py"), "VALUE = 42\n").unwrap();
    wait_run(&mut host, 3);
    host.settle(SETTLE);
    host.mark();
    let n = runs(&host);
    // The entry starts importing both.
    save_in_place(
        &project.path("lib.py"),
        "import helper\nimport newpkg.mod\nprint('helper:', helper.NAME, newpkg.mod.VALUE)\n",
    );
    host.wait_for("helper: h1 42");
    expect_runs_exactly(&mut host, n + 1, "entry now imports the new modules");
    assert_no_errors(&host);
}

#[test]
fn renamed_directory_and_a_new_directory_with_the_old_name_are_both_watched() {
    // `mv pkg pkg_old` (or a branch switch that renames a tree), then `pkg` appears again.
    let project = Project::new();
    project.write(
        "lib.py",
        "import os\n\
         here = os.path.dirname(os.path.abspath(__file__))\n\
         def show(rel):\n\
         \x20   p = os.path.join(here, rel)\n\
         \x20   return open(p).read().strip() if os.path.exists(p) else '-'\n\
         print('dirs:', show('pkg/sub/x.py'), show('pkg_old/sub/x.py'))\n",
    );
    project.write("pkg/sub/x.py", "a0");
    let mut host = project.spawn(&["lib.py", "-v"]);
    host.wait_for("dirs: a0 -");
    host.mark();
    std::fs::rename(project.path("pkg"), project.path("pkg_old")).unwrap();
    host.wait_for("dirs: - a0");
    // The moved tree is watched under its new name, and events carry the new paths.
    host.mark();
    save_in_place(&project.path("pkg_old/sub/x.py"), "b1");
    host.wait_for("dirs: - b1");
    let moved = canon(&project.path("pkg_old/sub/x.py"))
        .display()
        .to_string();
    assert_eq!(
        changed_lines(&host).last(),
        Some(&moved),
        "\n--- transcript ---\n{}",
        host.transcript()
    );
    // A new tree with the old name.
    host.mark();
    std::fs::create_dir_all(project.path("pkg/sub")).unwrap();
    std::fs::write(project.path("pkg/sub/x.py"), "c1").unwrap();
    host.wait_for("dirs: c1 b1");
    host.settle(SETTLE);
    host.mark();
    let n = runs(&host);
    save_in_place(&project.path("pkg/sub/x.py"), "c2");
    host.wait_for("dirs: c2 b1");
    expect_runs_exactly(&mut host, n + 1, "a save in the recreated pkg/sub");
    host.mark();
    save_in_place(&project.path("pkg_old/sub/x.py"), "b2");
    host.wait_for("dirs: c2 b2");
    expect_runs_exactly(&mut host, n + 2, "a save in the moved pkg_old/sub");
}

#[test]
fn directory_moved_in_from_outside_the_project_is_watched() {
    let project = Project::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join("incoming/deep")).unwrap();
    std::fs::write(outside.path().join("incoming/deep/m.py"), "m1").unwrap();
    project.write("lib.py", &file_reporter("moved:", "incoming/deep/m.py"));
    let mut host = project.spawn(&["lib.py"]);
    host.wait_for("moved: missing");
    // Same filesystem (both under the temp dir), so this is a rename: one IN_MOVED_TO.
    host.mark();
    std::fs::rename(outside.path().join("incoming"), project.path("incoming")).unwrap();
    host.wait_for("moved: m1");
    host.settle(SETTLE);
    host.mark();
    let n = runs(&host);
    save_in_place(&project.path("incoming/deep/m.py"), "m2");
    host.wait_for("moved: m2");
    expect_runs_exactly(&mut host, n + 1, "a save in the moved-in directory");
}

#[test]
fn directory_moved_out_of_the_project_is_no_longer_watched() {
    let project = Project::new();
    let outside = tempfile::tempdir().unwrap();
    project.write("lib.py", &versioned("o0"));
    project.write("pkg/sub/x.py", "");
    project.write("pkg/y.py", "");
    let mut host = project.spawn(&["lib.py", "-v"]);
    wait_run(&mut host, 1);
    host.mark();
    std::fs::rename(project.path("pkg"), outside.path().join("pkg")).unwrap();
    expect_no_new_run(&mut host, 1, "moving a directory out");
    host.mark();
    save_in_place(&outside.path().join("pkg/y.py"), "x = 1\n");
    save_in_place(&outside.path().join("pkg/sub/x.py"), "x = 1\n");
    expect_no_new_run(&mut host, 1, "saves in a directory that left the project");
}

// ---- 5. Stale bytecode ----

#[test]
fn two_quick_saves_of_the_same_size_both_take_effect() {
    // The saved module is imported by the target (imports write bytecode; the target itself
    // runs from source, as a script does).
    let project = Project::new();
    project.write("helper.py", "x = 0\n");
    project.write("lib.py", "import helper\nprint('x is', helper.x)\n");
    let mut host = project.spawn(&["lib.py"]);
    host.wait_for("x is 0");
    // Bytecode is really written in this environment (else this test proves nothing).
    let pycache = project.path("__pycache__");
    let has_pyc = || {
        std::fs::read_dir(&pycache)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("helper."))
            })
            .unwrap_or(false)
    };
    assert!(
        has_pyc(),
        "no helper.*.pyc in __pycache__: is bytecode writing disabled?"
    );
    for x in 1..=4 {
        host.mark();
        save_in_place(&project.path("helper.py"), &format!("x = {x}\n"));
        host.wait_for(&format!("x is {x}"));
        wait_run(&mut host, x + 1);
    }
    assert_eq!(
        tagged(&host, "x is"),
        ["x is 0", "x is 1", "x is 2", "x is 3", "x is 4"],
        "\n{}",
        host.transcript()
    );
}

/// Writes `content` and sets the modification time to `mtime` before closing, so the save
/// looks (to Python's .pyc check: mtime in whole seconds + size) exactly like the previous one.
fn save_with_mtime(path: &Path, content: &str, mtime: std::time::SystemTime) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    f.write_all(content.as_bytes()).unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
}

#[test]
fn saves_with_identical_mtime_and_size_do_not_run_stale_bytecode() {
    let project = Project::new();
    let mtime = std::time::SystemTime::now() - Duration::from_secs(3600);
    project.write("lib.py", "x = 0\nprint('x is', x)\n");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(project.path("lib.py"))
        .unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    let mut host = project.spawn(&["lib.py"]);
    host.wait_for("x is 0");
    for x in 1..=3 {
        save_with_mtime(
            &project.path("lib.py"),
            &format!("x = {x}\nprint('x is', x)\n"),
            mtime,
        );
        host.wait_for(&format!("x is {x}"));
        wait_run(&mut host, x + 1);
    }
    assert_eq!(
        tagged(&host, "x is"),
        ["x is 0", "x is 1", "x is 2", "x is 3"],
        "\n{}",
        host.transcript()
    );
}

// ---- 6. What is ignored ----

/// A project with every kind of ignored place, created before the host starts.
fn ignored_project() -> Project {
    let project = Project::new();
    project.write("lib.py", &versioned("i0"));
    project.write("pkg/mod.py", "");
    project.write(".gitignore", "build/\ngenerated_*.py\n");
    for rel in [
        ".venv/lib/python3/site-packages/dep.py",
        "myenv/lib/python3/thing.py",
        "node_modules/pkg/x.py",
        "__pycache__/stray.py",
        ".git/hooks/hook.py",
        "build/out.py",
        "data/raw/table.py",
        "pkg/proto_gen.py",
        "generated_a.py",
    ] {
        project.write(rel, "");
    }
    project.write("myenv/pyvenv.cfg", "home = /usr/bin\nversion = 3.11.0\n");
    project
}

#[test]
fn saves_in_ignored_places_never_trigger_a_run() {
    let project = ignored_project();
    let mut host = project.spawn(&["lib.py", "-v", "-i", "*_gen.py", "-i", "data/"]);
    wait_run(&mut host, 1);
    let writes = [
        ".venv/lib/python3/site-packages/dep.py",
        ".venv/new.py",
        "myenv/lib/python3/thing.py",
        "myenv/new.py",
        "node_modules/pkg/x.py",
        "node_modules/new.py",
        "__pycache__/stray.py",
        "__pycache__/stray.cpython-311.pyc",
        "pkg/__pycache__/stray.cpython-311.pyc",
        ".git/hooks/hook.py",
        ".git/index",
        "build/out.py",
        "build/new.py",
        "generated_a.py",
        "generated_b.py",
        "data/raw/table.py",
        "data/new.py",
        "pkg/proto_gen.py",
        "lib.py~",
        ".lib.py.swp",
        "4913",
        "pkg/.mod.py.swp",
        "pkg/#mod.py#",
        "notes.txt",
        "pkg/data.json",
        "lib.pyc",
        "lib.py.bak",
    ];
    for rel in writes {
        let p = project.path(rel);
        host.mark();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        save_in_place(&p, "x = 1\n");
    }
    // Also via rename, and whole ignored directories created at runtime.
    host.mark();
    save_via_rename(&project.path("node_modules/pkg/x.py"), "x = 2\n");
    save_vim(&project.path("build/out.py"), "x = 2\n");
    for rel in [
        "node_modules/fresh/a.py",
        "build/fresh/a.py",
        ".tox/py311/c.py",
        "pkg/__pycache__/new/d.py",
    ] {
        let p = project.path(rel);
        host.mark();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "x = 1\n").unwrap();
    }
    expect_no_new_run(&mut host, 1, "saves in ignored places");
    // The watcher is alive, and the next run's changed list holds only the real save.
    host.mark();
    save_in_place(&project.path("lib.py"), &versioned("i1"));
    expect_runs_exactly(&mut host, 2, "a real save after ignored ones");
    assert_eq!(
        changed_lines(&host),
        [canon(&project.path("lib.py")).display().to_string()],
        "\n--- transcript ---\n{}",
        host.transcript()
    );
    assert_no_errors(&host);
}

#[test]
fn creating_a_virtualenv_at_runtime_triggers_no_run() {
    // The real thing: `python3 -m venv venv` (with pip) inside the watched project.
    let project = Project::new();
    project.write("lib.py", &versioned("v0"));
    let mut host = project.spawn(&["lib.py", "-v"]);
    wait_run(&mut host, 1);
    let status = std::process::Command::new("python3")
        .args(["-m", "venv", "venv"])
        .current_dir(project.path(""))
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .stdin(Stdio::null())
        .status()
        .expect("python3 -m venv");
    assert!(status.success());
    assert!(project.path("venv/pyvenv.cfg").exists());
    expect_no_new_run(&mut host, 1, "python3 -m venv");
    host.mark();
    save_in_place(&project.path("lib.py"), &versioned("v1"));
    expect_runs_exactly(&mut host, 2, "a real save after creating the venv");
    assert_eq!(
        changed_lines(&host),
        [canon(&project.path("lib.py")).display().to_string()],
        "\n{}",
        host.transcript()
    );
}

#[test]
fn gitignore_files_of_parent_and_nested_directories_are_honoured() {
    // Repository top has .git and a .gitignore; the target's root is a subdirectory.
    let project = Project::new();
    std::fs::create_dir(project.path(".git")).unwrap();
    project.write(".gitignore", "gen/\n");
    project.write("app/lib.py", &versioned("g0"));
    project.write("app/gen/out.py", "");
    project.write("app/pkg/.gitignore", "*_pb2.py\n!keep_pb2.py\n");
    project.write("app/pkg/a_pb2.py", "");
    project.write("app/pkg/keep_pb2.py", "");
    project.write("app/pkg/mod.py", "");
    let mut host = project.spawn(&["app/lib.py", "-v"]);
    wait_run(&mut host, 1);
    host.mark();
    save_in_place(&project.path("app/gen/out.py"), "x = 1\n");
    save_in_place(&project.path("app/pkg/a_pb2.py"), "x = 1\n");
    expect_no_new_run(
        &mut host,
        1,
        "files ignored by .gitignore above the root and below it",
    );
    host.mark();
    save_in_place(&project.path("app/pkg/keep_pb2.py"), "x = 1\n");
    expect_runs_exactly(&mut host, 2, "a file whitelisted by a nested .gitignore");
    host.mark();
    save_in_place(&project.path("app/pkg/mod.py"), "x = 1\n");
    expect_runs_exactly(&mut host, 3, "a file no .gitignore mentions");
}

#[test]
fn directories_given_to_watch_are_watched_even_when_an_ignore_rule_names_them() {
    // The target's own directory and a -w directory are both gitignored (say, a scratch dir
    // and generated code): naming them is asking for them. Their ignored subdirectories stay out.
    let project = Project::new();
    std::fs::create_dir(project.path(".git")).unwrap();
    project.write(".gitignore", "scratch/\ngen/\nout/\n");
    project.write("scratch/try.py", &versioned("s0"));
    project.write("scratch/helper.py", "");
    project.write("scratch/out/result.py", "");
    project.write("gen/api.py", "");
    let mut host = project.spawn(&["scratch/try.py", "-w", "scratch", "-w", "gen", "-v"]);
    wait_run(&mut host, 1);
    host.mark();
    save_in_place(&project.path("scratch/helper.py"), "x = 1\n");
    expect_runs_exactly(
        &mut host,
        2,
        "a neighbour of the target in an ignored directory",
    );
    host.mark();
    save_via_rename(&project.path("gen/api.py"), "x = 1\n");
    expect_runs_exactly(&mut host, 3, "a file in an ignored directory given to -w");
    host.mark();
    save_in_place(&project.path("scratch/out/result.py"), "x = 1\n");
    expect_no_new_run(&mut host, 3, "an ignored directory inside a watched one");
    assert_no_errors(&host);
}

#[test]
fn ignored_directories_get_no_watches() {
    // Same tree with and without a big pile of ignored directories: same watch counts.
    let plain = Project::new();
    plain.write("lib.py", "");
    plain.write("pkg/mod.py", "");
    plain.write("pkg/sub/deep.py", "");
    let mut host = plain.spawn(&["lib.py", "-v"]);
    let without = watch_counts(&mut host);
    drop(host);

    let busy = Project::new();
    busy.write("lib.py", "");
    busy.write("pkg/mod.py", "");
    busy.write("pkg/sub/deep.py", "");
    busy.write(".gitignore", "build/\n");
    busy.write("myenv/pyvenv.cfg", "home = /usr/bin\n");
    for i in 0..40 {
        for top in [
            "node_modules",
            ".venv/lib/python3/site-packages",
            "myenv/lib",
            ".git/objects",
            "build",
            "pkg/__pycache__",
            "site-packages",
            "thing.egg-info",
        ] {
            busy.write(&format!("{top}/d{i}/m.py"), "");
        }
    }
    let mut host = busy.spawn(&["lib.py", "-v"]);
    let with = watch_counts(&mut host);
    assert_eq!(
        with,
        without,
        "ignored directories were watched\n--- transcript ---\n{}",
        host.transcript()
    );
    assert_eq!(
        without,
        (3, 3),
        "lib.py, pkg/mod.py, pkg/sub/deep.py in ., pkg, pkg/sub"
    );
}

#[test]
fn user_ignore_glob_for_a_directory_adds_no_watches() {
    let project = Project::new();
    project.write("lib.py", "");
    for i in 0..20 {
        project.write(&format!("data/d{i}/x.py"), "");
    }
    let mut host = project.spawn(&["lib.py", "-v", "-i", "data/"]);
    assert_eq!(
        watch_counts(&mut host),
        (1, 1),
        "\n--- transcript ---\n{}",
        host.transcript()
    );
}

// ---- 7. -e, -w and the target ----

#[test]
fn extra_extension_triggers_and_others_do_not() {
    let project = Project::new();
    project.write("lib.py", &file_reporter("conf:", "conf/app.toml"));
    project.write("conf/app.toml", "t0");
    project.write("conf/app.yaml", "");
    let mut host = project.spawn(&["lib.py", "-e", "py,toml"]);
    host.wait_for("conf: t0");
    host.mark();
    save_in_place(&project.path("conf/app.toml"), "t1");
    host.wait_for("conf: t1");
    expect_runs_exactly(&mut host, 2, "saving a .toml with -e py,toml");
    host.mark();
    save_via_rename(&project.path("conf/app.toml"), "t2");
    host.wait_for("conf: t2");
    expect_runs_exactly(&mut host, 3, "renaming a .toml into place");
    host.mark();
    save_in_place(&project.path("conf/app.yaml"), "y");
    save_in_place(&project.path("notes.txt"), "n");
    expect_no_new_run(&mut host, 3, "saving other extensions");
    host.mark();
    save_in_place(&project.path("other.py"), "");
    expect_runs_exactly(&mut host, 4, "a .py still triggers with -e py,toml");
    assert_no_errors(&host);
}

#[test]
fn watch_flag_with_a_file_watches_that_file_and_not_its_neighbours() {
    let project = Project::new();
    project.write("lib.py", &file_reporter("cfg:", "settings.cfg"));
    project.write("settings.cfg", "c0");
    project.write("other.cfg", "");
    project.write("other.py", "");
    project.write("pkg/mod.py", "");
    let mut host = project.spawn(&["lib.py", "-w", "settings.cfg"]);
    host.wait_for("cfg: c0");
    host.mark();
    save_in_place(&project.path("settings.cfg"), "c1");
    host.wait_for("cfg: c1");
    expect_runs_exactly(&mut host, 2, "saving the -w file");
    host.mark();
    save_via_rename(&project.path("settings.cfg"), "c2");
    host.wait_for("cfg: c2");
    expect_runs_exactly(&mut host, 3, "atomic save of the -w file");
    host.mark();
    save_vim(&project.path("settings.cfg"), "c3");
    host.wait_for("cfg: c3");
    expect_runs_exactly(&mut host, 4, "vim save of the -w file");
    host.mark();
    save_in_place(&project.path("other.cfg"), "x");
    save_in_place(&project.path("other.py"), "x = 1\n");
    save_in_place(&project.path("pkg/mod.py"), "x = 1\n");
    expect_no_new_run(&mut host, 4, "files not given to -w");
    host.mark();
    save_in_place(
        &project.path("lib.py"),
        &file_reporter("cfg again:", "settings.cfg"),
    );
    host.wait_for("cfg again: c3");
    expect_runs_exactly(&mut host, 5, "the target is always watched");
    assert_no_errors(&host);
}

#[test]
fn watch_flag_with_a_directory_watches_it_recursively_and_the_target_still_triggers() {
    let project = Project::new();
    project.write("app/lib.py", &versioned("w0"));
    project.write("src/a.py", "");
    project.write("src/deep/b.py", "");
    project.write("app/other.py", "");
    project.write("elsewhere.py", "");
    let mut host = project.spawn(&["app/lib.py", "-w", "src", "-v"]);
    wait_run(&mut host, 1);
    assert_eq!(
        watch_counts(&mut host),
        (3, 3),
        "src/a.py, src/deep/b.py and app/lib.py"
    );
    host.mark();
    save_in_place(&project.path("src/a.py"), "a = 1\n");
    expect_runs_exactly(&mut host, 2, "a file in the -w directory");
    host.mark();
    save_jetbrains(&project.path("src/deep/b.py"), "b = 1\n");
    expect_runs_exactly(&mut host, 3, "a file in a subdirectory of the -w directory");
    host.mark();
    std::fs::create_dir(project.path("src/new")).unwrap();
    std::fs::write(project.path("src/new/c.py"), "c = 1\n").unwrap();
    wait_run(&mut host, 4);
    host.settle(SETTLE);
    host.mark();
    let n = runs(&host);
    save_in_place(&project.path("app/other.py"), "x = 1\n");
    save_in_place(&project.path("elsewhere.py"), "x = 1\n");
    expect_no_new_run(&mut host, n, "files outside -w");
    host.mark();
    save_in_place(&project.path("app/lib.py"), &versioned("w1"));
    host.wait_for("content: w1");
    expect_runs_exactly(&mut host, n + 1, "the target outside -w");
    assert_no_errors(&host);
}

#[test]
fn target_triggers_even_when_its_extension_is_not_listed_or_it_matches_an_ignore() {
    for args in [
        &["lib.py", "-e", "toml"][..],
        &["lib.py", "-i", "*.py"][..],
        &["lib.py", "-i", "lib.py"][..],
    ] {
        let project = Project::new();
        project.write("lib.py", &versioned("t0"));
        project.write("other.py", "");
        let mut host = project.spawn(args);
        wait_run(&mut host, 1);
        host.mark();
        save_in_place(&project.path("lib.py"), &versioned("t1"));
        host.wait_for("content: t1");
        expect_runs_exactly(&mut host, 2, &format!("the target with {args:?}"));
        if args[2] != "lib.py" {
            // Other .py files are excluded by these flags.
            host.mark();
            save_in_place(&project.path("other.py"), "x = 1\n");
            expect_no_new_run(&mut host, 2, &format!("other.py with {args:?}"));
        }
    }
}

// ---- 8. File list on stdin ----

#[test]
fn file_list_on_stdin_watches_exactly_the_listed_files() {
    let project = Project::new();
    project.write("lib.py", &versioned("l0"));
    project.write("listed.py", "");
    project.write("sub/listed2.py", "");
    project.write("unlisted.py", "");
    project.write("sub/unlisted2.py", "");
    let mut cmd = project.command(&["lib.py", "-v"]);
    cmd.stdin(Stdio::piped());
    let mut host = Host::spawn(cmd);
    let mut stdin = host.child.stdin.take().unwrap();
    // As `find . -name '*.py'` prints them, plus one that does not exist yet.
    stdin
        .write_all(b"./lib.py\n./listed.py\n./sub/listed2.py\n./later.py\n")
        .unwrap();
    drop(stdin);
    wait_run(&mut host, 1);
    assert_eq!(
        host.count("later.py (from stdin) does not exist yet"),
        1,
        "\n{}",
        host.transcript()
    );
    host.mark();
    save_in_place(&project.path("listed.py"), "x = 1\n");
    expect_runs_exactly(&mut host, 2, "a listed file");
    host.mark();
    save_via_rename(&project.path("sub/listed2.py"), "x = 1\n");
    expect_runs_exactly(&mut host, 3, "a listed file in a subdirectory");
    host.mark();
    save_in_place(&project.path("unlisted.py"), "x = 1\n");
    save_in_place(&project.path("sub/unlisted2.py"), "x = 1\n");
    std::fs::write(project.path("brand_new.py"), "x = 1\n").unwrap();
    expect_no_new_run(&mut host, 3, "unlisted files");
    host.mark();
    std::fs::write(project.path("later.py"), "x = 1\n").unwrap();
    expect_runs_exactly(&mut host, 4, "a listed file created later");
    host.mark();
    save_in_place(&project.path("lib.py"), &versioned("l1"));
    host.wait_for("content: l1");
    expect_runs_exactly(&mut host, 5, "the target");
}

// ---- 9. Polling ----

#[test]
fn polling_picks_up_in_place_saves() {
    let project = Project::new();
    project.write("lib.py", &versioned("p0"));
    project.write("pkg/mod.py", "");
    project.write("node_modules/x.py", "");
    let mut host = project.spawn(&["lib.py", "--poll", "50", "-v"]);
    host.wait_for("(polling)");
    wait_run(&mut host, 1);
    // Saves a poll interval or so apart, as a user saving twice in quick succession: several
    // of them fall within the same second of modification time.
    for v in 1..=5 {
        host.mark();
        save_in_place(&project.path("lib.py"), &versioned(&format!("p{v}")));
        host.wait_for(&format!("content: p{v}"));
    }
    expect_runs_exactly(&mut host, 6, "five in-place saves while polling");
    host.mark();
    save_in_place(&project.path("pkg/mod.py"), "x = 1\n");
    expect_runs_exactly(
        &mut host,
        7,
        "in-place save in a subdirectory while polling",
    );
    host.mark();
    save_in_place(&project.path("notes.txt"), "x");
    save_in_place(&project.path("node_modules/x.py"), "x");
    expect_no_new_run(&mut host, 7, "ignored files while polling");
    host.mark();
    save_via_rename(&project.path("lib.py"), &versioned("p6"));
    host.wait_for("content: p6");
    expect_runs_exactly(&mut host, 8, "atomic save while polling");
    assert_no_errors(&host);
}

// ---- 10. Environment and output ----

/// The host with stdout and stderr on one pipe, so the order of the module's output and the
/// host's own lines can be checked.
struct Merged {
    child: std::process::Child,
    rx: Receiver<String>,
    lines: Vec<String>,
}

impl Merged {
    fn spawn(project: &Project, args: &[&str]) -> Merged {
        let (reader, writer) = std::io::pipe().unwrap();
        let mut cmd = project.command(args);
        cmd.stdin(Stdio::null())
            .stdout(writer.try_clone().unwrap())
            .stderr(writer);
        let child = cmd.spawn().unwrap();
        drop(cmd); // our copies of the write end
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Merged {
            child,
            rx,
            lines: Vec::new(),
        }
    }

    fn wait_for_run(&mut self, n: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.lines.iter().any(|l| is_status_of_run(l, n)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => self.lines.push(line),
                Err(e) => panic!(
                    "{e:?} waiting for run {n}\n--- output ---\n{}",
                    self.lines.join("\n")
                ),
            }
        }
    }
}

impl Drop for Merged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn module_sees_a_plain_environment_and_writes_bytecode() {
    let project = Project::new();
    // (Imported modules write bytecode; the target itself runs from source, as a script does.)
    project.write("helper.py", "");
    project.write(
        "lib.py",
        "import os, sys, helper\n\
         print('env:', os.environ.get('PYTHONUNBUFFERED'), os.environ.get('PYTHONDONTWRITEBYTECODE'), \
         sys.flags.dont_write_bytecode, sys.dont_write_bytecode, os.environ.get('HOTLOAD_RUNNING'))\n",
    );
    let mut host = project.spawn(&["lib.py"]);
    host.wait_for("env:");
    assert_eq!(
        tagged(&host, "env:"),
        ["env: None None 0 False HOTLOAD_RUNNING"],
        "\n{}",
        host.transcript()
    );
    let pyc = std::fs::read_dir(project.path("__pycache__"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(pyc > 0, "no bytecode written\n{}", host.transcript());
}

#[test]
fn module_output_is_flushed_before_each_status_line_and_while_the_host_stays_up() {
    let project = Project::new();
    // No newline-triggered flush on a pipe, and output on both streams.
    project.write(
        "lib.py",
        "import sys\nprint('out v0')\nsys.stderr.write('err v0\\n')\nprint('tail v0', end='')\n",
    );
    let mut host = Merged::spawn(&project, &["lib.py"]);
    host.wait_for_run(1);
    for v in 1..=3 {
        save_in_place(
            &project.path("lib.py"),
            &format!(
                "import sys\nprint('out v{v}')\nsys.stderr.write('err v{v}\\n')\nprint('tail v{v}', end='')\n"
            ),
        );
        host.wait_for_run(v + 1);
    }
    assert!(host.child.try_wait().unwrap().is_none(), "the host exited");
    for v in 0..=3 {
        let status = host
            .lines
            .iter()
            .position(|l| is_status_of_run(l, v + 1))
            .unwrap();
        for needle in [
            format!("out v{v}"),
            format!("err v{v}"),
            format!("tail v{v}"),
        ] {
            assert!(
                host.lines
                    .iter()
                    .position(|l| l.contains(&needle))
                    .is_some_and(|i| i <= status),
                "{needle:?} not shown before the status line of run {}\n--- output ---\n{}",
                v + 1,
                host.lines.join("\n")
            );
        }
    }
}

#[test]
fn module_output_without_flush_appears_while_the_host_waits_for_the_next_save() {
    // stdout is a pipe (block-buffered in Python): the host must flush after each run, or the
    // output would only appear when the buffer fills or the host exits.
    let project = Project::new();
    project.write("lib.py", "print('first')\n");
    let mut host = project.spawn(&["lib.py"]);
    host.wait_for("first");
    host.mark();
    save_in_place(&project.path("lib.py"), "print('second')\n");
    host.wait_for("second");
    assert!(host.child.try_wait().unwrap().is_none(), "the host exited");
}

#[test]
fn a_file_written_into_a_directory_just_created_always_runs() {
    // The host watches a new directory and lists it; a file written between the two was lost
    // when the listing came first (a few in a thousand here, with the writer's other threads
    // starting processes as other tests do, and its pause swept across the host's reaction
    // time). Each of these saves must run.
    let project = Project::new();
    project.write("app/lib.py", &versioned("n0"));
    std::fs::create_dir(project.path("src")).unwrap();
    let mut host = project.spawn(&["app/lib.py", "-w", "src"]);
    wait_run(&mut host, 1);
    let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let spawners: Vec<_> = (0..2)
        .map(|_| {
            let busy = busy.clone();
            std::thread::spawn(move || {
                while busy.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::process::Command::new("true").status();
                }
            })
        })
        .collect();
    for i in 0..300 {
        host.mark();
        let dir = project.path(&format!("src/n{i}"));
        std::fs::create_dir(&dir).unwrap();
        // Somewhere between "before the host saw the directory" and "after it listed it".
        std::thread::sleep(Duration::from_micros(100 * (i % 20)));
        std::fs::write(dir.join("c.py"), "c = 1\n").unwrap();
        host.wait_saved_run();
    }
    busy.store(false, std::sync::atomic::Ordering::Relaxed);
    for s in spawners {
        s.join().unwrap();
    }
}

#[test]
fn a_big_tree_is_watched_whole_and_its_ignore_rules_hold() {
    // 321 directories: enough that the walk lists most of them on helper threads (listing.rs).
    // The rules found deep in the tree (a nested .gitignore, a virtualenv, a hidden directory)
    // hold there as in a small tree, and every directory that counts is watched once.
    let project = Project::new();
    project.write("lib.py", &versioned("t0"));
    for i in 0..20 {
        for j in 0..15 {
            project.write(&format!("a{i:02}/b{j:02}/m.py"), "");
        }
    }
    project.write("a19/b14/.gitignore", "gen/\n*_pb2.py\n");
    project.write("a19/b14/gen/x.py", "");
    project.write("a19/b14/y_pb2.py", "");
    project.write("a10/b03/env/pyvenv.cfg", "home = /usr/bin\n");
    project.write("a10/b03/env/lib/y.py", "");
    project.write("a05/b05/.cache/z.py", "");
    let mut host = project.spawn(&["lib.py", "-v"]);
    assert_eq!(
        watch_counts(&mut host),
        (301, 321),
        "lib.py and 300 m.py; the root, 20 a*/ and 300 b*/\n{}",
        host.transcript()
    );
    wait_run(&mut host, 1);
    host.mark();
    save_in_place(&project.path("a19/b14/gen/x.py"), "x = 1\n");
    save_in_place(&project.path("a19/b14/y_pb2.py"), "x = 1\n");
    save_in_place(&project.path("a10/b03/env/lib/y.py"), "x = 1\n");
    save_in_place(&project.path("a05/b05/.cache/z.py"), "x = 1\n");
    expect_no_new_run(&mut host, 1, "ignored files deep in a big tree");
    for (n, rel) in ["a00/b00/m.py", "a19/b14/m.py", "a10/b03/m.py"]
        .iter()
        .enumerate()
    {
        host.mark();
        save_in_place(&project.path(rel), "x = 1\n");
        expect_runs_exactly(&mut host, n + 2, rel);
    }
}
