//! Test harness: a temp project, the real hotload-host binary spawned on it, its output read
//! line by line with timeouts, and file saves done the way real editors do them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// The hotload-host under test: `$HOTLOAD_HOST_BIN` when set (scripts/check-wheel sets it to a
/// venv's installed `hotload-host`, the wheel's console script), else the binary cargo built.
pub fn bin() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| match std::env::var_os("HOTLOAD_HOST_BIN") {
        Some(bin) if !bin.is_empty() => PathBuf::from(bin),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_hotload-host")),
    })
}
/// Generous: CI machines are slow and shared. Never a timing assertion, only a give-up point.
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Creates or overwrites a file (parents created) before the host starts.
    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, content).unwrap();
    }

    /// A command for the real binary in this project, with an environment like a real user's:
    /// no PYTHONUNBUFFERED / PYTHONDONTWRITEBYTECODE / venv / colour overrides.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(args).current_dir(self.dir.path());
        // Trust records (`hotload-host trust`) go to the project's own state directory, never
        // the user's.
        cmd.env("XDG_STATE_HOME", self.dir.path().join(".state"));
        for var in [
            "PYTHONUNBUFFERED",
            "PYTHONDONTWRITEBYTECODE",
            "PYTHONPATH",
            "PYTHONHOME",
            "PYTHONSTARTUP",
            "VIRTUAL_ENV",
            "HOTLOAD_NO_CLEAR",
            "HOTLOAD_RUNNING",
            "NO_COLOR",
            "LD_LIBRARY_PATH",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Spawns the host with stdin at /dev/null (so no stdin file list).
    pub fn spawn(&self, args: &[&str]) -> Host {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null());
        Host::spawn(cmd)
    }

    /// Runs the host to completion (e.g. --once, or a usage error) with a time limit.
    pub fn run(&self, args: &[&str]) -> Finished {
        let mut host = self.spawn(args);
        let status = host.wait_exit(TIMEOUT);
        Finished {
            status,
            stdout: host.stdout_text(),
            stderr: host.stderr_text(),
        }
    }
}

pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stream {
    Out,
    Err,
}

/// A running hotload-host with its output collected in order of arrival.
pub struct Host {
    pub child: Child,
    rx: Receiver<(Stream, String)>,
    pub lines: Vec<(Stream, String)>,
}

impl Host {
    pub fn spawn(mut cmd: Command) -> Host {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn hotload-host");
        let (tx, rx) = channel();
        for (stream, reader) in [
            (
                Stream::Out,
                Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            ),
            (Stream::Err, Box::new(child.stderr.take().unwrap())),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(reader).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((stream, line)).is_err() {
                        break;
                    }
                }
            });
        }
        Host {
            child,
            rx,
            lines: Vec::new(),
        }
    }

    pub fn transcript(&self) -> String {
        self.lines
            .iter()
            .map(|(s, l)| format!("{}| {l}\n", if *s == Stream::Out { "out" } else { "err" }))
            .collect()
    }

    pub fn stdout_text(&self) -> String {
        self.lines
            .iter()
            .filter(|(s, _)| *s == Stream::Out)
            .map(|(_, l)| format!("{l}\n"))
            .collect()
    }

    pub fn stderr_text(&self) -> String {
        self.lines
            .iter()
            .filter(|(s, _)| *s == Stream::Err)
            .map(|(_, l)| format!("{l}\n"))
            .collect()
    }

    /// Number of collected lines containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.lines
            .iter()
            .filter(|(_, l)| l.contains(needle))
            .count()
    }

    /// Waits until `n` lines in total contain `needle`; panics with the transcript otherwise.
    pub fn wait_count(&mut self, needle: &str, n: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while self.count(needle) < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => self.lines.push(line),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "timed out waiting for {n}x {needle:?}\n--- transcript ---\n{}",
                    self.transcript()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "host exited ({:?}) before {n}x {needle:?}\n--- transcript ---\n{}",
                    self.child.try_wait(),
                    self.transcript()
                ),
            }
        }
    }

    /// Waits for one more line containing `needle` than there is now.
    pub fn wait_next(&mut self, needle: &str) {
        let n = self.count(needle) + 1;
        self.wait_count(needle, n);
    }

    /// Waits for at least one line containing `needle`.
    pub fn wait_for(&mut self, needle: &str) {
        self.wait_count(needle, 1.max(self.count(needle)));
    }

    /// Collects output for `d` (to check that something does NOT happen).
    pub fn settle(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.rx.recv_timeout(left) {
                Ok(line) => self.lines.push(line),
                Err(_) => break,
            }
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    pub fn interrupt(&self) {
        self.signal(libc::SIGINT);
    }

    /// Waits for the process to exit, draining its output; panics on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Output threads end at EOF.
                while let Ok(line) = self.rx.recv_timeout(Duration::from_secs(2)) {
                    self.lines.push(line);
                }
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "host did not exit in {timeout:?}\n--- transcript ---\n{}",
                    self.transcript()
                );
            }
            if let Ok(line) = self.rx.recv_timeout(Duration::from_millis(5)) {
                self.lines.push(line);
            }
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- Saves, the way editors do them ----

/// Plain in-place write: open with truncate, write, close.
pub fn save_in_place(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap();
}

/// VS Code style: truncate first, then write a moment later in the same open file. A host that
/// reloads on the first modify event would read an empty file.
pub fn save_truncate_then_write(path: &Path, content: &str) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .create(true)
        .open(path)
        .unwrap();
    f.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    f.write_all(content.as_bytes()).unwrap();
    f.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    f.write_all(b"\n").unwrap();
    drop(f);
}

/// Write a temp file beside the target, then rename it into place (atomic save).
pub fn save_via_rename(path: &Path, content: &str) {
    let tmp = path.with_file_name(format!(
        ".{}.tmp{}",
        path.file_name().unwrap().to_str().unwrap(),
        std::process::id()
    ));
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Vim with `backupcopy=auto`: probe file 4913, rename the original to `file~`, write the new
/// file, delete the backup.
pub fn save_vim(path: &Path, content: &str) {
    let dir = path.parent().unwrap();
    let probe = dir.join("4913");
    std::fs::write(&probe, "").unwrap();
    std::fs::remove_file(&probe).unwrap();
    let backup = path.with_file_name(format!("{}~", path.file_name().unwrap().to_str().unwrap()));
    std::fs::rename(path, &backup).unwrap();
    std::fs::write(path, content).unwrap();
    std::fs::remove_file(&backup).unwrap();
}

/// JetBrains safe-write: write `X___jb_tmp___`, rename X to `X___jb_old___`, rename the temp
/// into place, delete the old one.
pub fn save_jetbrains(path: &Path, content: &str) {
    let name = path.file_name().unwrap().to_str().unwrap();
    let tmp = path.with_file_name(format!("{name}___jb_tmp___"));
    let old = path.with_file_name(format!("{name}___jb_old___"));
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(path, &old).unwrap();
    std::fs::rename(&tmp, path).unwrap();
    std::fs::remove_file(&old).unwrap();
}
