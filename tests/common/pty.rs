//! The pty harness: hotload-host on a pseudo-terminal (stdin, stdout and stderr the slave, the
//! slave its controlling terminal), everything it writes collected from the master; and `Tty`,
//! a bare pseudo-terminal to put only the host's stdout on. Waits are after-action, as for
//! `Host`: `mark()` (called by `send` / `press`) takes in everything written so far and moves
//! the cursor to the end; `expect*` match only after the cursor and move it past the match.

use std::ffi::c_int;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Host, Project, TIMEOUT};

/// Held around every spawn in this test binary, so that no child started by a parallel test
/// inherits a pty fd in the moment before it is marked close-on-exec.
pub static SPAWN: Mutex<()> = Mutex::new(());

// ---- The pty harness ----

pub struct Output {
    pub bytes: Vec<u8>,
    pub eof: bool,
}

pub type Shared = Arc<(Mutex<Output>, Condvar)>;

/// hotload-host running on a fresh pty (stdin, stdout and stderr all the slave, the slave its
/// controlling terminal), with everything it writes collected from the master.
pub struct Pty {
    pub child: Child,
    master: Arc<OwnedFd>,
    /// Kept open so that the terminal's settings can be read after the host exits.
    pub slave: Option<OwnedFd>,
    shared: Shared,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    /// Byte offset in the output up to which `expect` has consumed.
    cursor: usize,
    /// Byte offset where the last `mark()` put the cursor.
    marked: usize,
    exit: Option<ExitStatus>,
    /// The terminal settings right after the host exited.
    final_termios: Option<libc::termios>,
    pub home: tempfile::TempDir,
}

/// A command for the real binary as a user in a terminal would run it: TERM=xterm, HOME a
/// fresh temp dir, no HOTLOAD_* / NO_COLOR / PYTHON* overrides from the test's environment.
pub fn pty_command(project: &Project, home: &Path, args: &[&str]) -> Command {
    let mut cmd = project.command(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("HOTLOAD_") {
            cmd.env_remove(key);
        }
    }
    for var in ["NO_COLOR", "INPUTRC", "COLUMNS", "LINES", "PYTHONINSPECT"] {
        cmd.env_remove(var);
    }
    cmd.env("TERM", "xterm").env("HOME", home);
    cmd
}

impl Pty {
    pub fn start(project: &Project, args: &[&str]) -> Pty {
        Pty::start_with(project, args, |_| {})
    }

    pub fn start_with(project: &Project, args: &[&str], env: impl FnOnce(&mut Command)) -> Pty {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = pty_command(project, home.path(), args);
        env(&mut cmd);
        Pty::spawn(cmd, home)
    }

    pub fn spawn(cmd: Command, home: tempfile::TempDir) -> Pty {
        Pty::spawn_with(cmd, home, true, false)
    }

    /// As `spawn`, but stdin stays as `cmd` set it (stdout and stderr on the pty).
    pub fn spawn_keeping_stdin(cmd: Command, home: tempfile::TempDir) -> Pty {
        Pty::spawn_with(cmd, home, false, false)
    }

    /// As `spawn`, with SIGHUP ignored, as under `nohup`.
    pub fn spawn_ignoring_hangup(cmd: Command, home: tempfile::TempDir) -> Pty {
        Pty::spawn_with(cmd, home, true, true)
    }

    fn spawn_with(
        mut cmd: Command,
        home: tempfile::TempDir,
        pty_stdin: bool,
        ignore_hangup: bool,
    ) -> Pty {
        let guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        let (master, slave) = open_pty();
        set_nonblocking(&master);
        let size = libc::winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ with a valid winsize on our master.
        let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        assert_eq!(r, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
        if pty_stdin {
            cmd.stdin(Stdio::from(slave.try_clone().unwrap()));
        }
        cmd.stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        // SAFETY: only async-signal-safe calls between fork and exec. Stdio is already in place
        // on 0/1/2 when this runs: a new session, with the pty as its controlling terminal (so
        // Ctrl-C on the master becomes SIGINT for the host, as on a real terminal).
        unsafe { cmd.pre_exec(new_session_on_the_pty) };
        super::user_signals(&mut cmd);
        if ignore_hangup {
            // SAFETY: only signal(2) between fork and exec, after `user_signals`.
            unsafe {
                cmd.pre_exec(|| {
                    libc::signal(libc::SIGHUP, libc::SIG_IGN);
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().expect("spawn hotload-host on a pty");
        drop(cmd); // closes the parent's copies of the slave given to Stdio
        drop(guard);

        let (master, shared, stop, reader) = start_reader(master);
        Pty {
            child,
            master,
            slave: Some(slave),
            shared,
            stop,
            reader: Some(reader),
            cursor: 0,
            marked: 0,
            exit: None,
            final_termios: None,
            home,
        }
    }

    /// Takes in everything the host has written so far (what is still in the master too) and
    /// moves the cursor to the end: the `expect`s that follow match only output written after
    /// this. `send` and `press` call it right before typing.
    pub fn mark(&mut self) {
        let (lock, _) = &*self.shared;
        let mut out = lock.lock().unwrap();
        read_available(&self.master, &mut out);
        self.cursor = out.bytes.len();
        self.marked = self.cursor;
    }

    /// Byte offset of the last `mark()` (for `text_from`).
    pub fn marked(&self) -> usize {
        self.marked
    }

    /// What the host wrote since the last `mark()`.
    pub fn text_since_mark(&self) -> String {
        self.text_from(self.marked)
    }

    /// Marks, then types bytes at the terminal.
    pub fn send(&mut self, bytes: &[u8]) {
        self.mark();
        self.send_unmarked(bytes);
    }

    /// Types bytes at the terminal without moving the cursor (more of the same input).
    pub fn send_unmarked(&self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            // SAFETY: writing from a live slice to our master fd.
            let n =
                unsafe { libc::write(self.master.as_raw_fd(), rest.as_ptr().cast(), rest.len()) };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                if err.kind() == std::io::ErrorKind::WouldBlock {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                self.fail(&format!("writing {bytes:?} to the pty: {err}"));
            }
            rest = &rest[n as usize..];
        }
    }

    /// Presses a key once the host is idle with keys on (line mode and echo off): a key typed
    /// while the host is busy belongs to the module, not to the host.
    pub fn press(&mut self, key: &[u8]) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let t = self.termios();
            if t.c_lflag & (libc::ICANON | libc::ECHO) == 0 {
                break;
            }
            if !self.running() {
                self.fail(&format!("the host exited before {key:?} could be pressed"));
            }
            if Instant::now() >= deadline {
                self.fail(&format!("the host never went idle (to press {key:?})"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.send(key);
    }

    /// Waits until the host's main thread is blocked in select(), as readline is while it
    /// waits for a key. CPython's readline only notices Ctrl-C when select() is interrupted
    /// by it; one that arrives while readline is still handling the previous key is acted on
    /// only after the next Enter (plain `python3` does the same), so tests that type and then
    /// press Ctrl-C wait for this first.
    pub fn wait_in_select(&mut self) {
        #[cfg(target_arch = "x86_64")]
        let calls = [
            libc::SYS_pselect6,
            libc::SYS_select,
            libc::SYS_poll,
            libc::SYS_ppoll,
        ];
        #[cfg(not(target_arch = "x86_64"))]
        let calls = [libc::SYS_pselect6, libc::SYS_pselect6];
        let path = format!("/proc/{0}/task/{0}/syscall", self.child.id());
        if std::fs::read_to_string(&path).is_err() {
            // No /proc access to the host's syscalls here: give readline a moment instead.
            std::thread::sleep(Duration::from_millis(300));
            return;
        }
        let in_select = || {
            std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| {
                    s.split_whitespace()
                        .next()
                        .and_then(|n| n.parse::<libc::c_long>().ok())
                })
                .is_some_and(|n| calls.contains(&n))
        };
        let deadline = Instant::now() + TIMEOUT;
        let mut seen = 0;
        while seen < 3 {
            if !self.running() {
                self.fail("the host exited while waiting for it to block in select()");
            }
            if Instant::now() >= deadline {
                self.fail("the host's main thread never blocked in select()");
            }
            seen = if in_select() { seen + 1 } else { 0 };
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn raw(&self) -> Vec<u8> {
        self.shared.0.lock().unwrap().bytes.clone()
    }

    /// Everything the host wrote so far (lossy UTF-8, escape codes as they are).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw()).into_owned()
    }

    /// What the host wrote from byte offset `from` on.
    pub fn text_from(&self, from: usize) -> String {
        let raw = self.raw();
        String::from_utf8_lossy(&raw[from.min(raw.len())..]).into_owned()
    }

    /// The transcript for failure messages: one `{:?}` line per output line, so escape codes
    /// and carriage returns are visible.
    pub fn transcript(&self) -> String {
        let text = self.text();
        let mut out = String::new();
        for line in text.split_inclusive('\n') {
            out.push_str(&format!("{line:?}\n"));
        }
        out
    }

    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\nexit status: {:?}\n{}--- pty transcript ---\n{}",
            self.exit,
            self.diagnosis(),
            self.transcript()
        )
    }

    /// For failure messages: the terminal's mode, unread input, and (while the host runs)
    /// what each of its threads is blocked in.
    pub fn diagnosis(&self) -> String {
        let Some(slave) = &self.slave else {
            return String::new();
        };
        // SAFETY: ioctl/tcgetattr into locals on an fd we own.
        let mut unread: c_int = 0;
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        unsafe {
            libc::ioctl(slave.as_raw_fd(), libc::FIONREAD, &mut unread);
            libc::tcgetattr(slave.as_raw_fd(), &mut t);
        }
        let mut out = format!(
            "terminal: ICANON {} ECHO {}, {unread} unread input bytes\n",
            t.c_lflag & libc::ICANON != 0,
            t.c_lflag & libc::ECHO != 0
        );
        if self.exit.is_none()
            && let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
        {
            for task in tasks.flatten() {
                let read = |f: &str| {
                    std::fs::read_to_string(task.path().join(f))
                        .unwrap_or_default()
                        .trim()
                        .to_string()
                };
                let syscall = read("syscall");
                let nr = syscall.split(' ').next().unwrap_or("");
                let status = read("status");
                let sig: Vec<&str> = status
                    .lines()
                    .filter(|l| {
                        ["SigPnd", "ShdPnd", "SigBlk"]
                            .iter()
                            .any(|k| l.starts_with(k))
                    })
                    .collect();
                out.push_str(&format!(
                    "thread {:?}: {} (syscall {nr}) {}\n",
                    read("comm"),
                    read("wchan"),
                    sig.join(" ")
                ));
            }
        }
        out
    }

    /// Waits until `found` says where a match ends in the output after the cursor (given the
    /// output from the cursor on); moves the cursor past it. Panics with the transcript on
    /// timeout, or when the host exited without it.
    pub fn wait_match(&mut self, what: &str, found: impl Fn(&[u8]) -> Option<usize>) {
        let deadline = Instant::now() + TIMEOUT;
        let mut exited_at: Option<Instant> = None;
        loop {
            {
                let (lock, cv) = &*self.shared;
                let mut out = lock.lock().unwrap();
                if let Some(end) = found(&out.bytes[self.cursor..]) {
                    self.cursor += end;
                    return;
                }
                if !out.eof {
                    out = cv.wait_timeout(out, Duration::from_millis(100)).unwrap().0;
                    if let Some(end) = found(&out.bytes[self.cursor..]) {
                        self.cursor += end;
                        return;
                    }
                }
                if out.eof {
                    drop(out);
                    let _ = self.try_exit();
                    self.fail(&format!("the pty closed before {what}"));
                }
            }
            if exited_at.is_none() && self.try_exit().is_some() {
                exited_at = Some(Instant::now());
            }
            if exited_at.is_some_and(|t| t.elapsed() > Duration::from_secs(2)) {
                self.fail(&format!("the host exited before {what}"));
            }
            if Instant::now() >= deadline {
                self.fail(&format!("timed out waiting for {what}"));
            }
        }
    }

    /// Waits for `needle` (raw bytes, escape codes included) after the cursor.
    pub fn expect(&mut self, needle: &str) {
        let n = needle.as_bytes().to_vec();
        self.wait_match(&format!("{needle:?}"), move |hay| {
            find(hay, &n).map(|i| i + n.len())
        });
    }

    /// Waits for `needle` in the output after the cursor with escape codes removed.
    pub fn expect_clean(&mut self, needle: &str) {
        let n = needle.as_bytes().to_vec();
        self.wait_match(&format!("{needle:?} (escape codes removed)"), move |hay| {
            let (clean, map) = strip_ansi_map(hay);
            find(&clean, &n).map(|i| map[i + n.len() - 1] + 1)
        });
    }

    /// Occurrences of `needle` in the whole output.
    pub fn count(&self, needle: &str) -> usize {
        count(&self.raw(), needle.as_bytes())
    }

    /// Occurrences of `needle` in the whole output with escape codes removed.
    pub fn count_clean(&self, needle: &str) -> usize {
        count(&strip_ansi_map(&self.raw()).0, needle.as_bytes())
    }

    /// Waits until the output holds `n` occurrences of `needle` (escape codes removed).
    pub fn wait_count_clean(&mut self, needle: &str, n: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while self.count_clean(needle) < n {
            if self.try_exit().is_some() {
                std::thread::sleep(Duration::from_millis(300));
                if self.count_clean(needle) >= n {
                    return;
                }
                self.fail(&format!("the host exited before {n}x {needle:?}"));
            }
            if Instant::now() >= deadline {
                self.fail(&format!("timed out waiting for {n}x {needle:?}"));
            }
            let (lock, cv) = &*self.shared;
            let out = lock.lock().unwrap();
            let _ = cv.wait_timeout(out, Duration::from_millis(50)).unwrap();
        }
    }

    /// Lets output arrive for `d` (only to show that something did NOT happen).
    pub fn settle(&self, d: Duration) {
        std::thread::sleep(d);
    }

    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().unwrap();
        }
        self.exit
    }

    pub fn running(&mut self) -> bool {
        self.try_exit().is_none()
    }

    /// Waits for the host to exit; records the terminal's settings as it left them, then
    /// closes our slave so that the master reads to the end.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.try_exit() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                self.fail("the host did not exit");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.final_termios = Some(self.termios());
        self.slave = None;
        // The master now reads what is left, then EIO (end of file).
        let (lock, cv) = &*self.shared;
        let mut out = lock.lock().unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        while !out.eof && Instant::now() < until {
            out = cv.wait_timeout(out, Duration::from_millis(50)).unwrap().0;
        }
        status
    }

    /// The terminal's current settings.
    pub fn termios(&self) -> libc::termios {
        let fd = self
            .slave
            .as_ref()
            .map(|s| s.as_raw_fd())
            .unwrap_or(self.master.as_raw_fd());
        // SAFETY: tcgetattr into a zeroed termios on an fd we own.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::tcgetattr(fd, &mut t) };
        if r != 0 {
            self.fail(&format!("tcgetattr: {}", std::io::Error::last_os_error()));
        }
        t
    }

    /// After exit: the terminal is back in line mode with echo.
    pub fn assert_terminal_restored(&self) {
        let t = self
            .final_termios
            .unwrap_or_else(|| self.fail("no terminal settings recorded (call wait_exit)"));
        if t.c_lflag & libc::ICANON == 0 || t.c_lflag & libc::ECHO == 0 {
            self.fail(&format!(
                "terminal not restored after exit: ICANON {} ECHO {} (c_lflag {:#o})",
                t.c_lflag & libc::ICANON != 0,
                t.c_lflag & libc::ECHO != 0,
                t.c_lflag
            ));
        }
    }

    /// While idle: keys without Enter and no echo, but not raw mode (Ctrl-C still a signal,
    /// output still translates newlines).
    pub fn assert_key_mode(&self) {
        let t = self.termios();
        let lflag = t.c_lflag;
        let checks = [
            ("ICANON off", lflag & libc::ICANON == 0),
            ("ECHO off", lflag & libc::ECHO == 0),
            ("ISIG on", lflag & libc::ISIG != 0),
            ("OPOST on", t.c_oflag & libc::OPOST != 0),
            ("ONLCR on", t.c_oflag & libc::ONLCR != 0),
        ];
        for (what, ok) in checks {
            if !ok {
                self.fail(&format!(
                    "while idle the terminal should have {what}: {lflag:#o}"
                ));
            }
        }
    }

    /// While the module runs: the terminal as the user had it (line mode, echo).
    pub fn assert_line_mode(&self) {
        let t = self.termios();
        if t.c_lflag & libc::ICANON == 0 || t.c_lflag & libc::ECHO == 0 {
            self.fail(&format!(
                "the module's run should have the terminal in line mode with echo: {:#o}",
                t.c_lflag
            ));
        }
    }

    /// Every newline on the terminal came out as CR LF (output newline translation on).
    pub fn assert_crlf(&self) {
        let raw = self.raw();
        for (i, b) in raw.iter().enumerate() {
            if *b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
                let from = i.saturating_sub(40);
                self.fail(&format!(
                    "a bare LF at byte {i}: ...{:?}",
                    String::from_utf8_lossy(&raw[from..=i])
                ));
            }
        }
    }

    /// Every occurrence of `line` is a whole line on the screen: it starts at column 0 of a
    /// row holding nothing else (a carriage return followed by an erase-line counts, as
    /// readline's redraw does it), and the next thing written is the line end. At least one.
    pub fn assert_whole_line(&self, line: &str) {
        let raw = self.raw();
        let (clean, map) = strip_ansi_map(&raw);
        let mut seen = 0;
        let mut at = 0;
        while let Some(found) = find(&clean[at..], line.as_bytes()) {
            let i = at + found;
            at = i + line.len();
            seen += 1;
            let start = map[i];
            let row_start = raw[..start]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |n| n + 1);
            let before_ok = starts_clean_row(&raw[row_start..start]);
            let after_ok = clean[at..].starts_with(b"\r\n");
            if !before_ok || !after_ok {
                let from = row_start.saturating_sub(20);
                let to = (map[at - 1] + 12).min(raw.len());
                self.fail(&format!(
                    "{line:?} is not a whole line at column 0: {:?}",
                    String::from_utf8_lossy(&raw[from..to])
                ));
            }
        }
        if seen == 0 {
            self.fail(&format!("{line:?} never appeared"));
        }
    }
}

/// Whether what was written on a row before some text leaves the cursor at column 0 of an
/// empty row: nothing printable, or a carriage return / cursor-home after which the row (or the
/// screen) was erased.
pub fn starts_clean_row(before: &[u8]) -> bool {
    let mut col0 = true;
    let mut leftovers = false; // printable text on the row, not erased
    let mut i = 0;
    while i < before.len() {
        match before[i] {
            b'\r' => {
                col0 = true;
                i += 1;
            }
            0x1b if before.get(i + 1) == Some(&b'[') => {
                let mut j = i + 2;
                while j < before.len() && !(0x40..=0x7e).contains(&before[j]) {
                    j += 1;
                }
                let params = &before[i + 2..j.min(before.len())];
                match before.get(j) {
                    // Erase in line: to its end (from column 0: all of it), or all of it.
                    Some(b'K')
                        if ((params.is_empty() || params == b"0") && col0) || params == b"2" =>
                    {
                        leftovers = false;
                    }
                    Some(b'J') if params == b"2" => leftovers = false,
                    Some(b'H') if params.is_empty() => col0 = true,
                    _ => {}
                }
                i = j + 1;
            }
            0x1b => i += 2,
            b if b >= 0x20 => {
                col0 = false;
                leftovers = true;
                i += 1;
            }
            _ => i += 1,
        }
    }
    col0 && !leftovers
}

impl Drop for Pty {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.stop.store(true, Ordering::SeqCst);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// Sets O_NONBLOCK on `fd`: reads happen only under the output lock, and read what is there.
pub fn set_nonblocking(fd: &OwnedFd) {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}

/// The thread that reads `master` into the shared output until told to stop (or end of file).
fn start_reader(master: OwnedFd) -> (Arc<OwnedFd>, Shared, Arc<AtomicBool>, JoinHandle<()>) {
    let master = Arc::new(master);
    let shared: Shared = Arc::new((
        Mutex::new(Output {
            bytes: Vec::new(),
            eof: false,
        }),
        Condvar::new(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (master, shared, stop) = (master.clone(), shared.clone(), stop.clone());
        std::thread::spawn(move || read_master(&master, &shared, &stop))
    };
    (master, shared, stop, reader)
}

/// A new pseudo-terminal pair (master, slave), both close-on-exec; default termios and size.
/// Called with SPAWN held, so that no child spawned meanwhile inherits the fds.
fn open_pty() -> (OwnedFd, OwnedFd) {
    let (mut m, mut s): (c_int, c_int) = (-1, -1);
    // SAFETY: openpty with valid out-pointers; no name, default termios and size.
    let r = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty just returned these two fds; we own them from here on.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
    for fd in [&master, &slave] {
        // SAFETY: fcntl on an fd we own.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    (master, slave)
}

/// Reads everything the (non-blocking) master holds right now into `out`, with the output
/// lock held: once this returns, `out` has every byte written before it was called.
pub fn read_available(master: &OwnedFd, out: &mut Output) {
    let mut buf = [0u8; 4096];
    while !out.eof {
        // SAFETY: reading into a local buffer from our master fd.
        let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            out.bytes.extend_from_slice(&buf[..n as usize]);
            continue;
        }
        if n < 0 {
            match std::io::Error::last_os_error().kind() {
                std::io::ErrorKind::Interrupted => continue,
                std::io::ErrorKind::WouldBlock => return,
                _ => {}
            }
        }
        out.eof = true; // 0 or EIO: the other side is gone
    }
}

/// The reader thread: everything from the master into the shared buffer, until EOF (EIO once
/// no slave is open any more) or until asked to stop. It reads only with the lock held.
pub fn read_master(master: &OwnedFd, shared: &Shared, stop: &AtomicBool) {
    let fd = master.as_raw_fd();
    while !stop.load(Ordering::SeqCst) {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, 50) };
        if r < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if r == 0 {
            continue;
        }
        let (lock, cv) = &**shared;
        let mut out = lock.lock().unwrap();
        read_available(master, &mut out);
        let eof = out.eof;
        drop(out);
        cv.notify_all();
        if eof {
            return;
        }
    }
    let (lock, cv) = &**shared;
    lock.lock().unwrap().eof = true;
    cv.notify_all();
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn count(hay: &[u8], needle: &[u8]) -> usize {
    let mut n = 0;
    let mut at = 0;
    while let Some(i) = find(&hay[at..], needle) {
        n += 1;
        at += i + needle.len();
    }
    n
}

/// The bytes with escape sequences (CSI, OSC, two- and three-byte ESC sequences) removed, and
/// for each byte kept, its offset in the input.
pub fn strip_ansi_map(raw: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::with_capacity(raw.len());
    let mut map = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != 0x1b {
            out.push(raw[i]);
            map.push(i);
            i += 1;
            continue;
        }
        i += 1;
        match raw.get(i) {
            Some(b'[') => {
                i += 1;
                while i < raw.len() && !(0x40..=0x7e).contains(&raw[i]) {
                    i += 1;
                }
                i += 1;
            }
            Some(b']') => {
                while i < raw.len() && raw[i] != 0x07 && !(raw[i] == b'\\' && raw[i - 1] == 0x1b) {
                    i += 1;
                }
                i += 1;
            }
            Some(b'(' | b')' | b'#') => i += 2,
            Some(_) => i += 1,
            None => {}
        }
    }
    (out, map)
}

pub fn strip_ansi(text: &str) -> String {
    String::from_utf8_lossy(&strip_ansi_map(text.as_bytes()).0).into_owned()
}

/// Whether `text` holds an SGR (colour/style) escape sequence.
pub fn has_sgr(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len()).any(|i| {
        b[i] == 0x1b && b.get(i + 1) == Some(&b'[') && {
            let mut j = i + 2;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b';') {
                j += 1;
            }
            b.get(j) == Some(&b'm')
        }
    })
}

/// In the child before exec: a new session with the pty (on fd 1) as controlling terminal.
pub fn new_session_on_the_pty() -> std::io::Result<()> {
    // SAFETY: async-signal-safe calls only.
    unsafe {
        if libc::setsid() < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::ioctl(1, libc::TIOCSCTTY as _, 0) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A bare pseudo-terminal to put only the host's stdout on (stderr still collected by `Host`):
/// for what the host does only when stdout is a terminal (clearing it). Same after-action
/// cursor as `Pty`.
pub struct Tty {
    master: Arc<OwnedFd>,
    /// Held open ourselves so that reading the master waits instead of failing.
    slave: OwnedFd,
    shared: Shared,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    cursor: usize,
}

impl Tty {
    pub fn open() -> Tty {
        let guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        let (master, slave) = open_pty();
        drop(guard);
        set_nonblocking(&master);
        let (master, shared, stop, reader) = start_reader(master);
        Tty {
            master,
            slave,
            shared,
            stop,
            reader: Some(reader),
            cursor: 0,
        }
    }

    /// The host from `cmd` with its stdout on this terminal, stderr collected by the `Host`.
    pub fn spawn(&self, mut cmd: Command) -> Host {
        let guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        cmd.stdout(Stdio::from(self.slave.try_clone().unwrap()));
        let host = Host::spawn_stderr_only(cmd);
        drop(guard);
        host
    }

    /// Everything written to the terminal so far (lossy UTF-8, escape codes as they are).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.shared.0.lock().unwrap().bytes).into_owned()
    }

    /// Takes in everything written so far and moves the cursor to the end.
    pub fn mark(&mut self) {
        let (lock, _) = &*self.shared;
        let mut out = lock.lock().unwrap();
        read_available(&self.master, &mut out);
        self.cursor = out.bytes.len();
    }

    /// Waits for `needle` on the terminal after the cursor; moves the cursor past it.
    pub fn expect(&mut self, needle: &str) {
        let deadline = Instant::now() + TIMEOUT;
        let (lock, cv) = &*self.shared;
        let mut out = lock.lock().unwrap();
        loop {
            if let Some(i) = find(&out.bytes[self.cursor..], needle.as_bytes()) {
                self.cursor += i + needle.len();
                return;
            }
            assert!(
                Instant::now() < deadline && !out.eof,
                "timed out waiting for {needle:?} on the terminal (after the cursor):\n{:?}",
                String::from_utf8_lossy(&out.bytes)
            );
            out = cv.wait_timeout(out, Duration::from_millis(50)).unwrap().0;
        }
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}
