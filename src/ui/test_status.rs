//! What a `hotload-host test` run reports — the pytest passes it made, each with pytest's
//! counts and exit status — and how its status line reads:
//!
//! ```text
//! [hotload] ok: 6 passed (affected tests) in 31 ms (run 3, after saving calc.py)
//! [hotload] failed: 1 failed, 5 passed (affected tests) in 31 ms (run 3, after saving calc.py); waiting for the next save
//! [hotload] ok: 6 passed (affected tests), then 200 passed (all) in 1.20 s (run 4, after saving calc.py)
//! ```

use crossterm::style::Color;

/// Which tests a pass ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything the arguments select (the first run, a saved non-Python file, `r`).
    Full,
    /// The tests still due and those a save affects.
    Affected,
    /// Everything, after the affected tests passed (`--all`).
    All,
}

/// One `pytest.main` of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPass {
    pub scope: Scope,
    /// pytest's exit status.
    pub status: i32,
    /// pytest refused its arguments (or a `-p` plugin): bad input.
    pub usage: bool,
    /// A conftest.py failed to load: nothing ran.
    pub conftest: bool,
    /// Ctrl-C stopped it.
    pub interrupted: bool,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    pub skipped: u64,
    pub xfailed: u64,
    pub xpassed: u64,
}

impl TestPass {
    fn broken(&self) -> bool {
        self.failed > 0 || self.errors > 0
    }

    /// The counts in the order of pytest's own summary line.
    fn counts(&self) -> String {
        let parts: Vec<String> = [
            (self.failed, "failed"),
            (self.passed, "passed"),
            (self.skipped, "skipped"),
            (self.xfailed, "xfailed"),
            (self.xpassed, "xpassed"),
            (
                self.errors,
                if self.errors == 1 { "error" } else { "errors" },
            ),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() {
            "no tests ran".into()
        } else {
            parts.join(", ")
        }
    }

    fn described(&self) -> String {
        match self.scope {
            Scope::Full => self.counts(),
            Scope::Affected => format!("{} (affected tests)", self.counts()),
            Scope::All => format!("{} (all)", self.counts()),
        }
    }
}

/// Whether the run is a success: every pass exited 0 (no pass: nothing was affected).
pub fn all_ok(passes: &[TestPass]) -> bool {
    passes.iter().all(|p| p.status == 0)
}

/// The status line's mark, colour and text; `took` and `run` are formatted already,
/// `waiting` is "; waiting for the next save" or "".
pub fn line(
    passes: &[TestPass],
    took: &str,
    run: &str,
    waiting: &str,
) -> (&'static str, Color, String) {
    let Some(last) = passes.last() else {
        return (
            "ok",
            Color::Green,
            format!("no tests affected by the save (run {run})"),
        );
    };
    let problem = if last.usage {
        Some("pytest did not accept its arguments (see its message above)")
    } else if last.conftest {
        Some("a conftest.py failed to load (see above), no tests ran")
    } else if last.status == 3 {
        Some("pytest stopped on an internal error (see above)")
    } else {
        None
    };
    if let Some(problem) = problem {
        return (
            "error",
            Color::Red,
            format!("{problem}, after {took} (run {run}){waiting}"),
        );
    }
    let described: Vec<String> = passes.iter().map(TestPass::described).collect();
    let text = described.join(", then ");
    if passes.iter().any(TestPass::broken) {
        return (
            "failed",
            Color::Red,
            format!("{text} in {took} (run {run}){waiting}"),
        );
    }
    match last.status {
        0 => ("ok", Color::Green, format!("{text} in {took} (run {run})")),
        5 => (
            "no tests",
            Color::Yellow,
            format!("pytest collected none in {took} (run {run}){waiting}"),
        ),
        status => (
            "failed",
            Color::Red,
            format!("{text}, pytest exit status {status}, in {took} (run {run}){waiting}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(scope: Scope, status: i32, passed: u64, failed: u64, errors: u64) -> TestPass {
        TestPass {
            scope,
            status,
            usage: false,
            conftest: false,
            interrupted: false,
            passed,
            failed,
            errors,
            skipped: 0,
            xfailed: 0,
            xpassed: 0,
        }
    }

    #[test]
    fn counts_read_like_pytests_summary() {
        let mut p = pass(Scope::Affected, 1, 5, 1, 2);
        p.skipped = 1;
        let (mark, _, text) = line(&[p], "31 ms", "3", "; waiting");
        assert_eq!(mark, "failed");
        assert_eq!(
            text,
            "1 failed, 5 passed, 1 skipped, 2 errors (affected tests) in 31 ms (run 3); waiting"
        );
    }

    #[test]
    fn all_after_affected_shows_both_passes() {
        let passes = [
            pass(Scope::Affected, 0, 6, 0, 0),
            pass(Scope::All, 0, 200, 0, 0),
        ];
        let (mark, _, text) = line(&passes, "1.20 s", "4", "; waiting");
        assert_eq!(mark, "ok");
        assert_eq!(
            text,
            "6 passed (affected tests), then 200 passed (all) in 1.20 s (run 4)"
        );
        assert!(all_ok(&passes));
    }

    #[test]
    fn nothing_affected_and_nothing_collected() {
        assert_eq!(line(&[], "1 ms", "2", "").0, "ok");
        let (mark, _, text) = line(&[pass(Scope::Full, 5, 0, 0, 0)], "9 ms", "1", "");
        assert_eq!(mark, "no tests");
        assert_eq!(text, "pytest collected none in 9 ms (run 1)");
    }

    #[test]
    fn refused_arguments_are_an_error() {
        let mut p = pass(Scope::Full, 4, 0, 0, 0);
        p.usage = true;
        let (mark, _, text) = line(&[p.clone()], "3 ms", "2", "");
        assert_eq!(mark, "error");
        assert!(
            text.starts_with("pytest did not accept its arguments"),
            "{text}"
        );
        assert!(!all_ok(&[p]));
    }
}
