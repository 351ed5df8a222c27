//! Every line the host itself prints goes through the `Printer`: status lines, tracebacks,
//! notes from the Python side, warnings, verbose detail, the dashboard header and clearing the
//! screen. `-q`, `--color` and `NO_COLOR` are applied here and nowhere else. The module's own
//! output never passes through this module.

pub mod terminal;
pub mod test_status;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crossterm::style::{Color, Stylize};

use crate::config::ColorChoice;
pub use test_status::TestPass;

/// How a run ended, as the status line reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Traceback text (host frames removed); may be empty when it was printed already.
    Failed(String),
    /// `sys.exit(code)` in user code.
    Exited(String),
    /// KeyboardInterrupt while user code ran; traceback text.
    Interrupted(String),
    /// SIGTERM or SIGHUP (the signal number): the session ends after this run.
    Stopped(i32),
    /// `hotload-host test`: the pytest passes of the run (none: no test was affected).
    Tests(Vec<TestPass>),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        match self {
            Outcome::Ok => true,
            Outcome::Tests(passes) => test_status::all_ok(passes),
            _ => false,
        }
    }

    /// pytest refused its arguments: bad input, which ends the session on the first run.
    pub fn refused_arguments(&self) -> bool {
        matches!(self, Outcome::Tests(passes) if passes.iter().any(|p| p.usage))
    }
}

/// How loud a line from the Python side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Hidden by `-q`.
    Info,
    /// Shown even with `-q`.
    Warn,
}

/// What one status line says about a run.
pub struct Status<'a> {
    pub label: &'a str,
    pub outcome: &'a Outcome,
    pub elapsed: Duration,
    pub run: u64,
    /// What triggered the run, for the dashboard footer ("after saving lib.py"); may be empty.
    pub cause: &'a str,
}

pub struct Printer {
    color: bool,
    quiet: bool,
    verbose: bool,
    /// --once: no "waiting for the next save" after a run, since none comes.
    once: bool,
}

const CLEAR_SCREEN: &[u8] = b"\x1b[H\x1b[2J\x1b[3J";

impl Printer {
    pub fn new(quiet: bool, verbose: bool, color: ColorChoice, once: bool) -> Printer {
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        Printer {
            color,
            quiet,
            verbose,
            once,
        }
    }

    pub fn verbose(&self) -> bool {
        self.verbose
    }

    /// Clears the terminal (stdout), when stdout is one.
    pub fn clear_screen(&self) {
        let mut out = std::io::stdout().lock();
        if out.is_terminal() {
            let _ = out.write_all(CLEAR_SCREEN);
            let _ = out.flush();
        }
    }

    /// The dashboard's first line, drawn after clearing.
    pub fn header(&self, text: &str) {
        if self.quiet {
            return;
        }
        let text = if self.color {
            format!("{}", text.reverse())
        } else {
            text.to_string()
        };
        write_stderr(&format!("{text}\n"));
    }

    /// The one line after each run, after the traceback when there is one.
    pub fn status(&self, s: &Status<'_>) {
        let took = format_duration(s.elapsed);
        let run = if s.cause.is_empty() {
            s.run.to_string()
        } else {
            format!("{}, {}", s.run, s.cause)
        };
        let module = s.label;
        let (waiting, watching) = if self.once {
            ("", "")
        } else {
            ("; waiting for the next save", "; still watching")
        };
        let (mark, color, text, detail) = match s.outcome {
            Outcome::Ok => (
                "ok",
                Color::Green,
                format!("{module} ran in {took} (run {run})"),
                None,
            ),
            Outcome::Failed(tb) => (
                "error",
                Color::Red,
                match last_line(tb) {
                    "" => format!("{module} failed after {took} (run {run}){waiting}"),
                    summary => {
                        format!("{module} failed after {took} (run {run}): {summary}{waiting}")
                    }
                },
                Some(tb),
            ),
            Outcome::Exited(code) => (
                "exit",
                Color::Yellow,
                format!("{module} called sys.exit({code}) after {took} (run {run}){watching}"),
                None,
            ),
            Outcome::Interrupted(tb) => (
                "interrupted",
                Color::Yellow,
                format!("{module} interrupted by Ctrl-C after {took} (run {run}){watching}"),
                Some(tb),
            ),
            Outcome::Stopped(sig) => (
                "stopped",
                Color::Yellow,
                format!(
                    "{module} stopped by {} after {took} (run {run}); exiting",
                    signal_name(*sig)
                ),
                None,
            ),
            Outcome::Tests(passes) => {
                let (mark, color, text) = test_status::line(passes, &took, &run, waiting);
                (mark, color, text, None)
            }
        };
        let mut text_out = String::new();
        if let Some(tb) = detail.filter(|tb| !tb.is_empty()) {
            text_out.push_str(tb);
            if !tb.ends_with('\n') {
                text_out.push('\n');
            }
        }
        if !self.quiet {
            text_out.push_str(&self.line(mark, color, &text));
            text_out.push('\n');
        }
        write_stderr(&text_out);
    }

    /// Ends a line the module's output left open, so that the host's lines start on their own.
    pub fn end_partial_line(&self) {
        write_stderr("\n");
    }

    /// A line the Python side asked for (a deep-reload fallback, a deleted module file).
    pub fn note(&self, level: Level, text: &str) {
        match level {
            Level::Info => self.info(text),
            Level::Warn => self.warn(text),
        }
    }

    /// A verbose-only detail line.
    pub fn detail(&self, text: &str) {
        if self.verbose {
            write_stderr(&format!("{}\n", self.line("", Color::DarkGrey, text)));
        }
    }

    /// A line about the host itself (suppressed by --quiet).
    pub fn info(&self, text: &str) {
        if !self.quiet {
            write_stderr(&format!("{}\n", self.line("", Color::DarkGrey, text)));
        }
    }

    /// Something the user should know even in quiet mode.
    pub fn warn(&self, text: &str) {
        let text = escaped(text);
        write_stderr(&format!("{}\n", self.line("warning", Color::Yellow, &text)));
    }

    fn line(&self, mark: &str, color: Color, text: &str) -> String {
        let prefix = "[hotload]";
        match (self.color, mark.is_empty()) {
            (false, true) => format!("{prefix} {text}"),
            (false, false) => format!("{prefix} {mark}: {text}"),
            (true, true) => format!("{} {}", prefix.dark_grey(), text.dark_grey()),
            (true, false) => format!(
                "{} {} {text}",
                prefix.dark_grey(),
                format!("{mark}:").with(color).bold()
            ),
        }
    }
}

/// A fatal error before or after the session (usage, environment): printed plainly.
pub fn fatal(text: &str) {
    write_stderr(&format!("hotload-host: error: {}\n", escaped(text)));
}

/// What a command prints on stdout (`--print-config`, `init`, `--help`). A reader that went
/// away (`| head -1`) ends it quietly; any other write error is one line for `fatal`.
pub fn out(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write to stdout: {e}")),
    }
}

/// Control characters other than newline and tab (an escape sequence in a config value) are
/// shown escaped, never sent to the terminal.
fn escaped(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A warning after the session ended (no printer any more): plain, never coloured.
pub fn late_warning(text: &str) {
    write_stderr(&format!("[hotload] warning: {text}\n"));
}

/// Writes whole text to stderr in one call and flushes (stderr may be a pipe that another
/// process reads line by line); a failing stderr is ignored, there is nowhere else to say it.
fn write_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// SIGTERM, SIGKILL, ... (or "signal N").
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// "3 files", "1 directory", "2 directories".
pub fn plural(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {noun}s"),
    }
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}
