//! What counts as one burst of saves, as a pure function of events and times (no clock of its
//! own, no I/O), so that it is tested on a fake clock.
//!
//! A lone save runs at once: that is what keeps edit-to-output under a millisecond. Several
//! files at once, lost events, or a save hard on the heels of the last run (a checkout, a
//! formatter) is a burst: it runs once it has been quiet for `BURST_QUIET` (or `--debounce`),
//! and at the latest `BURST_MAX` after it began. With `--debounce`, every save waits; while
//! polling, every save waits for quiet longer than one scan (a scan can catch a file half-written).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a burst must be quiet before its run.
pub const BURST_QUIET: Duration = Duration::from_millis(50);
/// A burst this big (or one that lost events) is a checkout, a formatter or a generator, never a
/// person: it waits longer for quiet, so that its writer being descheduled for a moment (a busy
/// machine) does not split it into several runs, each of them costly at that size.
pub const BIG_BURST: usize = 100;
pub const BIG_BURST_QUIET: Duration = Duration::from_millis(250);
/// A save arriving this soon after the previous run ended continues a burst, not a new edit
/// (no person saves again within 10 ms of seeing a result; a checkout or formatter does).
pub const BURST_GAP: Duration = Duration::from_millis(10);
/// A burst that never goes quiet still runs after this long.
pub const BURST_MAX: Duration = Duration::from_secs(2);

/// Saves that belong to one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub paths: Vec<PathBuf>,
    /// Events were lost: something may have changed that `paths` does not name.
    pub lost: bool,
    /// When the first save of the batch was seen.
    pub first_at: Instant,
}

#[derive(Debug)]
pub struct Batcher {
    /// 0: lone saves run at once.
    debounce: Duration,
    /// Polling (no close-after-write events): a scan may see a file half-written, so every
    /// save waits until a later scan had its chance to see the rest (0 with OS events).
    settle: Duration,
    last_run_end: Option<Instant>,
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    batch: Batch,
    /// When the watcher last reported anything (saves or not): a burst waits for quiet.
    last_activity: Instant,
    burst: bool,
    /// The paths in `batch`, to keep them unique in constant time (a burst can have 20,000).
    seen: HashSet<PathBuf>,
}

impl Batcher {
    pub fn new(debounce: Duration) -> Batcher {
        Batcher {
            debounce,
            settle: Duration::ZERO,
            last_run_end: None,
            pending: None,
        }
    }

    /// What one read of the watcher found at `now`: the saved paths (possibly none: other
    /// activity, which still keeps a burst open; duplicates are dropped) and whether events
    /// were lost.
    pub fn add(&mut self, now: Instant, paths: Vec<PathBuf>, lost: bool) {
        if let Some(p) = &mut self.pending {
            p.burst |= !paths.is_empty() || lost;
            for path in paths {
                if p.seen.insert(path.clone()) {
                    p.batch.paths.push(path);
                }
            }
            p.batch.lost |= lost;
            p.last_activity = now;
            return;
        }
        if paths.is_empty() && !lost {
            return;
        }
        let mut seen = HashSet::with_capacity(paths.len());
        let paths: Vec<PathBuf> = paths
            .into_iter()
            .filter(|p| seen.insert(p.clone()))
            .collect();
        let continues_burst = self
            .last_run_end
            .is_some_and(|end| now.saturating_duration_since(end) < BURST_GAP);
        let burst = paths.len() > 1
            || lost
            || continues_burst
            || !self.debounce.is_zero()
            || !self.settle.is_zero();
        self.pending = Some(Pending {
            batch: Batch {
                paths,
                lost,
                first_at: now,
            },
            last_activity: now,
            burst,
            seen,
        });
    }

    /// The pending batch waits for quiet even if it is one file: a deletion (deletions come
    /// in groups, `rm -r` or a checkout, and the directory itself may go last).
    pub fn wait_for_quiet(&mut self) {
        if let Some(p) = &mut self.pending {
            p.burst = true;
        }
    }

    /// When the pending batch is due (None: nothing pending).
    pub fn due_at(&self) -> Option<Instant> {
        let p = self.pending.as_ref()?;
        if !p.burst {
            return Some(p.batch.first_at);
        }
        let quiet = self.quiet(p);
        let latest = p.batch.first_at + BURST_MAX.max(quiet * 4);
        Some((p.last_activity + quiet).min(latest))
    }

    /// The pending batch, if it is due at `now`.
    pub fn take_due(&mut self, now: Instant) -> Option<Batch> {
        if self.due_at()? <= now {
            self.pending.take().map(|p| p.batch)
        } else {
            None
        }
    }

    /// The config changed `--debounce`.
    pub fn set_debounce(&mut self, debounce: Duration) {
        self.debounce = debounce;
    }

    /// The watcher polls every `interval` (None: it reports close-after-write): a save is due
    /// only once a quiet period longer than one scan has passed, so that the scan after one
    /// that caught a file half-written (truncated, not yet written) joins the same run.
    pub fn set_poll_interval(&mut self, interval: Option<Duration>) {
        self.settle = interval.map_or(Duration::ZERO, |i| i + BURST_QUIET);
    }

    /// A run ended at `end`.
    pub fn ran(&mut self, end: Instant) {
        self.last_run_end = Some(end);
    }

    fn quiet(&self, p: &Pending) -> Duration {
        let quiet = if !self.debounce.is_zero() {
            self.debounce
        } else if p.batch.paths.len() >= BIG_BURST || p.batch.lost {
            BIG_BURST_QUIET
        } else {
            BURST_QUIET
        };
        quiet.max(self.settle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn a_lone_save_is_due_at_once() {
        let t0 = Instant::now();
        let mut b = Batcher::new(Duration::ZERO);
        b.add(t0, paths(&["a.py"]), false);
        assert_eq!(b.due_at(), Some(t0));
        let batch = b.take_due(t0).unwrap();
        assert_eq!(batch.paths, paths(&["a.py"]));
        assert!(b.take_due(t0 + ms(1)).is_none());
    }

    #[test]
    fn while_polling_a_save_waits_for_the_next_scan() {
        let t0 = Instant::now();
        let mut b = Batcher::new(Duration::ZERO);
        b.set_poll_interval(Some(ms(100)));
        // A scan caught the file truncated; the next one, 100 ms later, sees it written.
        b.add(t0, paths(&["a.py"]), false);
        assert!(
            b.take_due(t0 + ms(100)).is_none(),
            "due before the next scan"
        );
        b.add(t0 + ms(101), paths(&["a.py"]), false);
        assert!(
            b.take_due(t0 + ms(200)).is_none(),
            "quiet restarts at the second scan"
        );
        let batch = b.take_due(t0 + ms(101) + ms(150)).unwrap();
        assert_eq!(batch.paths, paths(&["a.py"]), "one run for both scans");
        // With OS events again, a lone save runs at once.
        b.set_poll_interval(None);
        b.add(t0 + ms(300), paths(&["b.py"]), false);
        assert_eq!(b.due_at(), Some(t0 + ms(300)));
    }

    #[test]
    fn the_same_file_twice_in_one_read_is_a_lone_save() {
        let t0 = Instant::now();
        let mut b = Batcher::new(Duration::ZERO);
        b.add(t0, paths(&["a.py", "a.py"]), false);
        assert_eq!(b.due_at(), Some(t0));
        assert_eq!(b.take_due(t0).unwrap().paths, paths(&["a.py"]));
    }

    #[test]
    fn a_big_burst_waits_longer_for_quiet() {
        let t0 = Instant::now();
        let mut b = Batcher::new(Duration::ZERO);
        let many: Vec<PathBuf> = (0..BIG_BURST)
            .map(|i| PathBuf::from(format!("{i}.py")))
            .collect();
        b.add(t0, many[..BIG_BURST - 1].to_vec(), false);
        assert_eq!(b.due_at(), Some(t0 + BURST_QUIET));
        b.add(t0 + ms(10), many.clone(), false);
        assert_eq!(b.due_at(), Some(t0 + ms(10) + BIG_BURST_QUIET));
        let mut b = Batcher::new(Duration::ZERO);
        b.add(t0, Vec::new(), true);
        assert_eq!(b.due_at(), Some(t0 + BIG_BURST_QUIET));
    }

    #[test]
    fn a_deletion_waits_for_quiet() {
        let t0 = Instant::now();
        let mut b = Batcher::new(Duration::ZERO);
        b.add(t0, paths(&["a.py"]), false);
        b.wait_for_quiet();
        assert_eq!(b.due_at(), Some(t0 + BURST_QUIET));
    }

    #[test]
    fn activity_without_saves_starts_nothing() {
        let t0 = Instant::now();
        let mut b = Batcher::new(Duration::ZERO);
        b.add(t0, Vec::new(), false);
        assert_eq!(b.due_at(), None);
    }

    #[test]
    fn several_files_at_once_wait_for_quiet_and_run_once() {
        let t0 = Instant::now();
        let mut b = Batcher::new(Duration::ZERO);
        b.add(t0, paths(&["a.py", "b.py"]), false);
        assert_eq!(b.due_at(), Some(t0 + BURST_QUIET));
        b.add(t0 + ms(30), paths(&["c.py", "a.py"]), false);
        assert!(b.take_due(t0 + ms(60)).is_none(), "quiet restarts at 30 ms");
        b.add(t0 + ms(70), Vec::new(), false); // other activity keeps it open
        assert!(b.take_due(t0 + ms(100)).is_none());
        let batch = b.take_due(t0 + ms(120)).unwrap();
        assert_eq!(batch.paths, paths(&["a.py", "b.py", "c.py"]));
        assert_eq!(batch.first_at, t0);
    }

    #[test]
    fn a_save_right_after_a_run_continues_a_burst() {
        let t0 = Instant::now();
        let mut b = Batcher::new(Duration::ZERO);
        b.ran(t0);
        b.add(t0 + ms(5), paths(&["a.py"]), false);
        assert_eq!(b.due_at(), Some(t0 + ms(5) + BURST_QUIET));
        // A person saving later than the gap gets an immediate run.
        let mut b = Batcher::new(Duration::ZERO);
        b.ran(t0);
        b.add(t0 + BURST_GAP, paths(&["a.py"]), false);
        assert_eq!(b.due_at(), Some(t0 + BURST_GAP));
    }

    #[test]
    fn lost_events_are_a_burst_even_without_paths() {
        let t0 = Instant::now();
        let mut b = Batcher::new(Duration::ZERO);
        b.add(t0, Vec::new(), true);
        let batch = b.take_due(t0 + BIG_BURST_QUIET).unwrap();
        assert!(batch.lost && batch.paths.is_empty());
    }

    #[test]
    fn a_burst_that_never_goes_quiet_runs_after_the_maximum() {
        let t0 = Instant::now();
        let mut b = Batcher::new(Duration::ZERO);
        b.add(t0, paths(&["a.py", "b.py"]), false);
        let mut t = t0;
        while t < t0 + BURST_MAX {
            t += ms(20);
            b.add(t, paths(&["a.py"]), false);
        }
        assert_eq!(b.due_at(), Some(t0 + BURST_MAX));
    }

    #[test]
    fn debounce_makes_every_save_wait() {
        let t0 = Instant::now();
        let mut b = Batcher::new(ms(100));
        b.add(t0, paths(&["a.py"]), false);
        assert_eq!(b.due_at(), Some(t0 + ms(100)));
        b.add(t0 + ms(90), paths(&["a.py"]), false);
        assert_eq!(b.due_at(), Some(t0 + ms(190)));
        // The cap is four quiet periods when that is longer than BURST_MAX.
        let mut b = Batcher::new(ms(1000));
        b.add(t0, paths(&["a.py"]), false);
        for i in 1..10 {
            b.add(t0 + ms(900 * i), Vec::new(), false);
        }
        assert_eq!(b.due_at(), Some(t0 + ms(4000)));
    }
}
