//! Everything the host itself prints goes through here: status lines, warnings, verbose detail,
//! and clearing the screen. The module's own output never passes through this file.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crossterm::style::{Color, Stylize};

use crate::config::{ColorChoice, Invocation};

/// How a run ended, as the status line reports it.
#[derive(Debug)]
pub enum Outcome {
    Ok,
    /// Traceback text (host frames removed).
    Failed(String),
    /// `sys.exit(code)` in user code.
    Exited(String),
    /// KeyboardInterrupt while user code ran; traceback text.
    Interrupted(String),
}

pub struct Ui {
    color: bool,
    quiet: bool,
    verbose: bool,
    /// --once: no "waiting for the next save" after a run, since none comes.
    once: bool,
}

impl Ui {
    pub fn new(cli: &Invocation) -> Ui {
        let color = match cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        Ui {
            color,
            quiet: cli.quiet,
            verbose: cli.verbose,
            once: cli.once,
        }
    }

    pub fn verbose(&self) -> bool {
        self.verbose
    }

    /// Clears the terminal and draws the dashboard header (target, watched files, reload mode).
    pub fn clear_with_header(&self, header: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(b"\x1b[H\x1b[2J\x1b[3J");
        let _ = out.flush();
        drop(out);
        if !self.quiet {
            let mut err = std::io::stderr().lock();
            let text = if self.color {
                format!("{}", header.reverse())
            } else {
                header.to_string()
            };
            let _ = err.write_all(format!("{text}\n").as_bytes());
            let _ = err.flush();
        }
    }

    /// The one line after each run, plus the traceback when there is one. `cause` names the
    /// saved file that triggered it (the dashboard's footer).
    pub fn report(&self, module: &str, outcome: &Outcome, elapsed: Duration, run: u64) {
        self.report_after(module, outcome, elapsed, run, "");
    }

    pub fn report_after(
        &self,
        module: &str,
        outcome: &Outcome,
        elapsed: Duration,
        run: u64,
        cause: &str,
    ) {
        let took = format_duration(elapsed);
        let run = if cause.is_empty() {
            run.to_string()
        } else {
            format!("{run}, {cause}")
        };
        let (waiting, watching) = if self.once {
            ("", "")
        } else {
            ("; waiting for the next save", "; still watching")
        };
        let (mark, color, text, detail) = match outcome {
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
        };
        let mut err = std::io::stderr().lock();
        if let Some(tb) = detail {
            let newline = if tb.ends_with('\n') { "" } else { "\n" };
            let _ = err.write_all(format!("{tb}{newline}").as_bytes());
        }
        if !self.quiet {
            let _ = err.write_all(format!("{}\n", self.line(mark, color, &text)).as_bytes());
        }
        let _ = err.flush();
    }

    /// A verbose-only detail line.
    pub fn detail(&self, text: &str) {
        if self.verbose {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(format!("{}\n", self.line("", Color::DarkGrey, text)).as_bytes());
        }
    }

    /// A line about the host itself (suppressed by --quiet).
    pub fn info(&self, text: &str) {
        if !self.quiet {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(format!("{}\n", self.line("", Color::DarkGrey, text)).as_bytes());
        }
    }

    /// Something the user should know even in quiet mode.
    pub fn warn(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let text = escaped(text);
        let _ =
            err.write_all(format!("{}\n", self.line("warning", Color::Yellow, &text)).as_bytes());
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

/// A fatal error before the loop starts (usage, environment): printed plainly, the caller exits.
pub fn fatal(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(format!("hotload-host: error: {}\n", escaped(text)).as_bytes());
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

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}
