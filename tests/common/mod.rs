//! Test harness: a temp project, the real hotload-host binary spawned on it, its output read
//! line by line with timeouts, and file saves done the way real editors do them.
#![allow(dead_code)]

pub mod pty;

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
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

/// Ctrl-C, Ctrl-\, hang-up and SIGTERM as a user's shell leaves them, whatever `cargo test` was
/// started under: a background job of a non-interactive shell has SIGINT ignored, and Python
/// keeps an ignored SIGINT ignored (no KeyboardInterrupt in the host, its workers or a plain
/// `python3`); under `nohup` SIGHUP is ignored, and the host keeps it so, as a program run under
/// nohup should.
pub fn user_signals(cmd: &mut Command) {
    // SAFETY: only signal(), async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGTERM] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
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
        user_signals(&mut cmd);
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

impl Stream {
    fn index(self) -> usize {
        match self {
            Stream::Out => 0,
            Stream::Err => 1,
        }
    }
}

/// One of the child's output pipes, read only while holding the `Readers` lock (so that
/// `Host::mark` can read whatever is still in the pipe itself and know it has it all).
struct Pipe {
    fd: OwnedFd,
    stream: Stream,
    partial: Vec<u8>,
    eof: bool,
}

struct Readers {
    pipes: Vec<Pipe>,
    tx: Sender<(Stream, String)>,
}

impl Readers {
    /// Reads what pipe `i` holds right now (non-blocking), sending each complete line.
    fn pump(&mut self, i: usize) {
        let mut buf = [0u8; 8192];
        let pipe = &mut self.pipes[i];
        while !pipe.eof {
            // SAFETY: reading into a local buffer from a non-blocking fd we own.
            let n = unsafe { libc::read(pipe.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                pipe.partial.extend_from_slice(&buf[..n as usize]);
                while let Some(nl) = pipe.partial.iter().position(|b| *b == b'\n') {
                    let mut line: Vec<u8> = pipe.partial.drain(..=nl).collect();
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    let _ = self
                        .tx
                        .send((pipe.stream, String::from_utf8_lossy(&line).into_owned()));
                }
                continue;
            }
            if n < 0 {
                match std::io::Error::last_os_error().kind() {
                    std::io::ErrorKind::Interrupted => continue,
                    std::io::ErrorKind::WouldBlock => return,
                    _ => {}
                }
            }
            // End of file (or an error): the last unterminated line counts as a line.
            pipe.eof = true;
            if !pipe.partial.is_empty() {
                let line = String::from_utf8_lossy(&pipe.partial).into_owned();
                pipe.partial.clear();
                let _ = self.tx.send((pipe.stream, line));
            }
        }
    }

    fn pump_all(&mut self) {
        for i in 0..self.pipes.len() {
            self.pump(i);
        }
    }
}

/// A running hotload-host with its output collected in order of arrival.
///
/// Waits are after-action: `mark()` (called by the save/signal helpers, or by the test right
/// before it acts) takes in everything the host has written so far and moves the cursor to the
/// end, so that `wait_for` only ever matches output produced after the action. `wait_for` then
/// moves the cursor past the line it matched (per stream, like `expect` on each pipe), so that
/// waiting twice for the same text waits for two lines. `count` / `wait_count` are totals over
/// the whole run, for tests that mean totals.
pub struct Host {
    pub child: Child,
    readers: Arc<Mutex<Readers>>,
    rx: Receiver<(Stream, String)>,
    pub lines: Vec<(Stream, String)>,
    /// Per stream: index in `lines` from which `wait_for` matches.
    cursor: [usize; 2],
    /// Index in `lines` where the last `mark()` put the cursor.
    marked: usize,
    /// Index in `lines` after the status line the last `wait_status` returned.
    status_cursor: usize,
}

impl Host {
    pub fn spawn(mut cmd: Command) -> Host {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        Host::spawn_piped(cmd)
    }

    /// As `spawn`, but stdout goes where `cmd` already sends it (e.g. a terminal); only stderr
    /// is collected.
    pub fn spawn_stderr_only(mut cmd: Command) -> Host {
        cmd.stderr(Stdio::piped());
        Host::spawn_piped(cmd)
    }

    fn spawn_piped(mut cmd: Command) -> Host {
        user_signals(&mut cmd);
        let mut child = cmd.spawn().expect("spawn hotload-host");
        let mut pipes = Vec::new();
        if let Some(out) = child.stdout.take() {
            pipes.push((Stream::Out, OwnedFd::from(out)));
        }
        if let Some(err) = child.stderr.take() {
            pipes.push((Stream::Err, OwnedFd::from(err)));
        }
        let (tx, rx) = channel();
        let mut raw = Vec::new();
        let pipes = pipes
            .into_iter()
            .map(|(stream, fd)| {
                // SAFETY: fcntl on an fd we own.
                unsafe {
                    let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
                    libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
                }
                raw.push(fd.as_raw_fd());
                Pipe {
                    fd,
                    stream,
                    partial: Vec::new(),
                    eof: false,
                }
            })
            .collect();
        let readers = Arc::new(Mutex::new(Readers { pipes, tx }));
        for (i, fd) in raw.into_iter().enumerate() {
            let readers = readers.clone();
            std::thread::spawn(move || {
                loop {
                    let mut pfd = libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: poll on one pollfd; the fd stays open while `readers` lives,
                    // which this thread keeps alive.
                    unsafe { libc::poll(&mut pfd, 1, 100) };
                    let mut r = readers.lock().unwrap_or_else(|e| e.into_inner());
                    r.pump(i);
                    if r.pipes[i].eof {
                        break;
                    }
                }
            });
        }
        Host {
            child,
            readers,
            rx,
            lines: Vec::new(),
            cursor: [0, 0],
            marked: 0,
            status_cursor: 0,
        }
    }

    /// Takes in everything the host has written so far (without waiting for more) and moves
    /// the cursor to the end: the waits that follow match only output written after this.
    /// Call it right before an action (a save, a signal, a key); the `save_*`, `signal` and
    /// `interrupt` methods of `Host` do.
    pub fn mark(&mut self) {
        self.drain();
        self.marked = self.lines.len();
        self.cursor = [self.marked; 2];
    }

    /// Takes in everything the host has written so far, without waiting and without moving
    /// the cursor (after a status line: the output the run wrote before it, on either pipe).
    pub fn drain(&mut self) {
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pump_all();
        while let Ok(line) = self.rx.try_recv() {
            self.lines.push(line);
        }
    }

    /// Whether every pipe has reached end of file (all it will ever hold is in `lines` after
    /// the next `drain`).
    fn all_at_eof(&self) -> bool {
        let readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        readers.pipes.iter().all(|pipe| pipe.eof)
    }

    /// Moves the cursor back to the last `mark()`: the next wait matches any line since the
    /// action, in whatever order the two streams delivered them.
    pub fn rewind(&mut self) {
        self.cursor = [self.marked; 2];
    }

    /// The lines collected since the last `mark()`.
    pub fn since_mark(&self) -> &[(Stream, String)] {
        &self.lines[self.marked..]
    }

    /// Number of lines since the last `mark()` containing `needle`.
    pub fn count_since_mark(&self, needle: &str) -> usize {
        self.since_mark()
            .iter()
            .filter(|(_, l)| l.contains(needle))
            .count()
    }

    pub fn transcript(&self) -> String {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, (s, l))| {
                format!(
                    "{}{}| {l}\n",
                    if i == self.marked && i > 0 {
                        "--- mark ---\n"
                    } else {
                        ""
                    },
                    if *s == Stream::Out { "out" } else { "err" }
                )
            })
            .collect()
    }

    /// For a timeout's message: each thread of the host with its state, kernel wait channel,
    /// current system call and signal masks (from /proc), so that a hang seen once under load
    /// says where it was.
    fn where_it_waits(&self) -> String {
        let tasks = format!("/proc/{}/task", self.child.id());
        let Ok(entries) = std::fs::read_dir(&tasks) else {
            return format!("({tasks} unreadable: the host is gone)\n");
        };
        let read = |path: PathBuf| std::fs::read_to_string(path).unwrap_or_default();
        let mut out = String::new();
        for task in entries.flatten() {
            let dir = task.path();
            let stat = read(dir.join("stat"));
            let state = stat.rsplit_once(") ").map_or("?", |(_, rest)| &rest[..1]);
            let status = read(dir.join("status"));
            let masks: Vec<&str> = status
                .lines()
                .filter(|l| l.starts_with("Sig") || l.starts_with("ShdPnd"))
                .collect();
            out += &format!(
                "thread {} {:?}: state {state}, wchan {}, syscall {}; {}\n",
                task.file_name().to_string_lossy(),
                read(dir.join("comm")).trim(),
                read(dir.join("wchan")).trim(),
                read(dir.join("syscall"))
                    .split(' ')
                    .next()
                    .unwrap_or("?")
                    .trim(),
                masks.join(", ")
            );
        }
        out
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

    /// Number of collected lines containing `needle` (a total over the whole run).
    pub fn count(&self, needle: &str) -> usize {
        self.lines
            .iter()
            .filter(|(_, l)| l.contains(needle))
            .count()
    }

    /// Takes one more line, waiting until `deadline`; panics with `what` otherwise.
    fn take_line(&mut self, deadline: Instant, what: &dyn Fn() -> String) {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(line) => self.lines.push(line),
            Err(RecvTimeoutError::Timeout) => panic!(
                "timed out waiting for {}\n--- transcript ---\n{}--- where the host is ---\n{}",
                what(),
                self.transcript(),
                self.where_it_waits()
            ),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "host exited ({:?}) before {}\n--- transcript ---\n{}",
                self.child.try_wait(),
                what(),
                self.transcript()
            ),
        }
    }

    /// Waits until `n` lines in total (over the whole run, not since the mark) contain
    /// `needle`. A total: the cursor stays. Panics with the transcript otherwise.
    pub fn wait_count(&mut self, needle: &str, n: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while self.count(needle) < n {
            self.take_line(deadline, &|| format!("{n}x {needle:?}"));
        }
    }

    /// Index of the first line at or after the cursor (of its stream) that `found` accepts.
    fn find_after_cursor(&self, found: &dyn Fn(Stream, &str) -> bool) -> Option<usize> {
        let from = self.cursor[0].min(self.cursor[1]);
        (from..self.lines.len()).find(|&i| {
            let (s, l) = &self.lines[i];
            i >= self.cursor[s.index()] && found(*s, l)
        })
    }

    /// Waits for a line after the cursor that `found` accepts; moves the cursor (of that
    /// line's stream) past it and returns it.
    pub fn wait_line(&mut self, what: &str, found: impl Fn(Stream, &str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(i) = self.find_after_cursor(&found) {
                let (s, l) = &self.lines[i];
                self.cursor[s.index()] = i + 1;
                return l.clone();
            }
            self.take_line(deadline, &|| what.to_string());
        }
    }

    /// Waits for a line containing `needle` after the cursor: after the last `mark()`, and
    /// after the line the previous wait matched on the same stream. Moves the cursor past it
    /// and returns the line.
    pub fn wait_for(&mut self, needle: &str) -> String {
        self.wait_line(&format!("{needle:?} (after the cursor)"), |_, l| {
            l.contains(needle)
        })
    }

    /// As `wait_for`, on stderr only.
    pub fn wait_err(&mut self, needle: &str) -> String {
        self.wait_line(
            &format!("{needle:?} on stderr (after the cursor)"),
            |s, l| s == Stream::Err && l.contains(needle),
        )
    }

    /// Waits for the next status line after the mark (whatever its run; the next one after
    /// the one the previous `wait_status` returned) and returns it. The status line ends a
    /// run: the cursor stays, so that the run's output (before it on stderr) can be waited
    /// for next.
    pub fn wait_status(&mut self) -> String {
        self.wait_status_where("a status line (after the mark)", |_| true)
    }

    /// As `wait_status`, for a run a save caused (`(run N, after saving x.py)`): a save made
    /// as the previous run ends may come before that run's own status line.
    pub fn wait_saved_run(&mut self) -> String {
        self.wait_status_where("the status line of a run after a save", |st| {
            st.cause
                .as_deref()
                .is_some_and(|c| c.starts_with("after saving"))
        })
    }

    fn wait_status_where(&mut self, what: &str, ok: impl Fn(&Status) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let from = self.status_cursor.max(self.marked);
            let at = (from..self.lines.len()).find(|&i| {
                let (s, l) = &self.lines[i];
                *s == Stream::Err && Status::parse(l).is_some_and(|st| ok(&st))
            });
            if let Some(i) = at {
                self.status_cursor = i + 1;
                self.output_before_status();
                return self.lines[i].1.clone();
            }
            self.take_line(deadline, &|| what.to_string());
        }
    }

    /// Waits for the status line of run `run` (`[hotload] ok: … (run N)` or `(run N, after
    /// saving x.py)`) and returns it. Run numbers are unique, so this does not depend on the
    /// cursor, and the cursor stays (the run's output comes before its status line).
    pub fn wait_run(&mut self, run: u64) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(i) = self.status_index(run) {
                self.output_before_status();
                return self.lines[i].1.clone();
            }
            self.take_line(deadline, &|| format!("the status line of run {run}"));
        }
    }

    /// After a status line has arrived: takes in what the host wrote before it on the other
    /// pipe too. (The host flushes the module's output before it prints its status, so that
    /// output is in the pipe by now; but the reader thread of that pipe may not have run yet,
    /// under load, and a check of the run's stdout would then miss a line.)
    fn output_before_status(&mut self) {
        self.drain();
    }

    fn status_index(&self, run: u64) -> Option<usize> {
        self.lines.iter().position(|(s, l)| {
            *s == Stream::Err && Status::parse(l).is_some_and(|st| st.run == run)
        })
    }

    /// The status line of run `run`, if it has arrived.
    pub fn status_line(&self, run: u64) -> Option<String> {
        self.status_index(run).map(|i| self.lines[i].1.clone())
    }

    /// Number of status lines (runs reported) so far.
    pub fn runs(&self) -> usize {
        self.lines
            .iter()
            .filter(|(s, l)| *s == Stream::Err && Status::parse(l).is_some())
            .count()
    }

    /// Collects output for `d` (to check that something does NOT happen). The cursor stays.
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

    /// Marks, then sends `sig`.
    pub fn signal(&mut self, sig: i32) {
        self.mark();
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Marks, then sends SIGINT.
    pub fn interrupt(&mut self) {
        self.signal(libc::SIGINT);
    }

    /// Marks, then writes `content` to `path` in place.
    pub fn save_in_place(&mut self, path: &Path, content: &str) {
        self.mark();
        save_in_place(path, content);
    }

    /// Marks, then saves through a rename.
    pub fn save_via_rename(&mut self, path: &Path, content: &str) {
        self.mark();
        save_via_rename(path, content);
    }

    /// Waits for the process to exit, draining its output; panics on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Its output ends at EOF on every pipe; a process it left behind may hold
                // them open, so give that 2 s.
                let until = Instant::now() + Duration::from_secs(2);
                loop {
                    self.drain();
                    if self.all_at_eof() || Instant::now() >= until {
                        return status;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            if Instant::now() >= deadline {
                let waits = self.where_it_waits();
                let _ = self.child.kill();
                panic!(
                    "host did not exit in {timeout:?}\n--- transcript ---\n{}--- where the host \
                     was ---\n{waits}",
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

/// A parsed status line, the one line the host writes after each run:
/// `[hotload] <kind>: <text> (run N)` or `(run N, <cause>)`, then maybe `: summary` / `; …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `ok`, `error`, `exit`, `interrupted`, `stopped` (or a test command's marks).
    pub kind: String,
    pub run: u64,
    /// `after saving x.py`, when a save caused the run.
    pub cause: Option<String>,
}

impl Status {
    pub fn parse(line: &str) -> Option<Status> {
        let rest = line.strip_prefix("[hotload] ")?;
        let (kind, text) = rest.split_once(": ")?;
        if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_lowercase()) {
            return None;
        }
        let at = text.rfind("(run ")?;
        let tail = &text[at + "(run ".len()..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        let run = tail[..digits].parse().ok()?;
        let after = &tail[digits..];
        let cause = if after.starts_with(')') {
            None
        } else {
            let c = after.strip_prefix(", ")?;
            Some(c[..c.find(')')?].to_string())
        };
        Some(Status {
            kind: kind.to_string(),
            run,
            cause,
        })
    }

    /// Whether `line` is the status line of run `run`.
    pub fn is_of(line: &str, run: u64) -> bool {
        Status::parse(line).is_some_and(|s| s.run == run)
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
