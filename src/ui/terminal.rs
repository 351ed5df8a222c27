//! The user's terminal on stdin, for single-key commands while idle. Only line buffering and
//! echo are turned off (not full raw mode): output keeps its newline translation and Ctrl-C
//! still sends SIGINT. The module's own code always runs with the terminal as the user had it,
//! so `input()` works normally; keys are read only while the host is idle (the session polls
//! stdin then, beside the file watcher).

use std::os::fd::RawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The terminal as the user had it (put back on every exit path, and before user code runs),
/// and the same with line buffering and echo off (while idle). Read from signal handlers too,
/// so set once and never locked.
static MODES: OnceLock<Modes> = OnceLock::new();
/// Whether the terminal is in key mode now (for a Ctrl-Z / `fg` in the middle of it).
static IN_KEY_MODE: AtomicBool = AtomicBool::new(false);

struct Modes {
    original: libc::termios,
    keys: libc::termios,
}

pub const STDIN: RawFd = 0;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    RunNow,
    Clear,
    TogglePause,
    Quit,
    Help,
}

pub const HELP: &str =
    "keys: r or Enter run again · c clear · p pause/resume watching · q quit · ? this help";

/// Key commands on a terminal stdin.
pub struct Keys {
    /// False once the terminal hung up: no more keys.
    pub open: bool,
}

impl Keys {
    /// Key commands, when stdin is a terminal.
    pub fn new() -> Option<Keys> {
        remember_terminal().then_some(Keys { open: true })
    }

    /// Before waiting: keys without Enter, no echo.
    pub fn idle(&mut self) {
        set_line_mode(false);
    }

    /// Before running user code: the terminal as the user had it.
    pub fn busy(&mut self) {
        restore();
    }

    /// Right after user code ran (before the status line, which is when a person starts
    /// typing commands again): what was typed meanwhile was typed for the module, and what it
    /// did not read is discarded rather than taken as commands.
    pub fn after_run(&mut self) {
        // SAFETY: discarding unread input on our own terminal.
        unsafe { libc::tcflush(STDIN, libc::TCIFLUSH) };
    }

    /// Stdin was reported readable: the keys typed since (possibly none, if the module read
    /// them itself meanwhile).
    pub fn take(&mut self) -> Vec<Key> {
        let mut keys = Vec::new();
        let mut buf = [0u8; 64];
        while readable_now() {
            // SAFETY: reading into a local buffer from our stdin, known readable.
            let n = unsafe { libc::read(STDIN, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            keys.extend(buf[..n as usize].iter().filter_map(|b| key(*b)));
        }
        keys
    }
}

/// Records the terminal's settings for `restore`; false when stdin is no terminal.
pub fn remember_terminal() -> bool {
    // SAFETY: isatty/tcgetattr on our own stdin.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::isatty(STDIN) } != 1 || unsafe { libc::tcgetattr(STDIN, &mut term) } != 0 {
        return false;
    }
    let mut keys = term;
    keys.c_lflag &= !(libc::ICANON | libc::ECHO);
    keys.c_cc[libc::VMIN] = 1;
    keys.c_cc[libc::VTIME] = 0;
    let _ = MODES.set(Modes {
        original: term,
        keys,
    });
    true
}

fn key(byte: u8) -> Option<Key> {
    match byte {
        b'r' | b'R' | b'\n' | b'\r' => Some(Key::RunNow),
        b'c' | b'C' => Some(Key::Clear),
        b'p' | b'P' => Some(Key::TogglePause),
        b'q' | b'Q' => Some(Key::Quit),
        b'?' | b'h' => Some(Key::Help),
        _ => None,
    }
}

fn readable_now() -> bool {
    let mut fds = libc::pollfd {
        fd: STDIN,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one valid pollfd, no waiting.
    unsafe { libc::poll(&mut fds, 1, 0) == 1 && fds.revents & libc::POLLIN != 0 }
}

fn set_line_mode(on: bool) {
    let Some(modes) = MODES.get() else {
        return;
    };
    IN_KEY_MODE.store(!on, Ordering::SeqCst);
    let term = if on { &modes.original } else { &modes.keys };
    // SAFETY: setting our own terminal's attributes (async-signal-safe).
    unsafe { libc::tcsetattr(STDIN, libc::TCSANOW, term) };
}

/// Puts the terminal back as the user had it (the exit path calls this).
pub fn restore() {
    set_line_mode(true);
}

/// Signals that would end or stop the process without the exit path: the terminal is put
/// back first. Fatal ones then end the process as they would have (after saying so); Ctrl-Z
/// stops it and, on `fg`, key mode comes back if the host was idle. Installed before Python's
/// faulthandler, which chains to these after printing the Python traceback.
pub fn give_back_on_fatal_signals() {
    for sig in [
        libc::SIGTSTP,
        libc::SIGQUIT,
        libc::SIGSEGV,
        libc::SIGABRT,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGILL,
    ] {
        install(sig, on_signal);
    }
}

fn install(sig: i32, handler: extern "C" fn(i32)) {
    // SAFETY: installing a handler that only calls async-signal-safe functions.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, std::ptr::null_mut());
    }
}

extern "C" fn on_signal(sig: i32) {
    let idle = IN_KEY_MODE.load(Ordering::SeqCst);
    if let Some(modes) = MODES.get() {
        // SAFETY: tcsetattr is async-signal-safe.
        unsafe { libc::tcsetattr(STDIN, libc::TCSANOW, &modes.original) };
    }
    if sig == libc::SIGTSTP {
        // SAFETY: the default action (stop) for our own process, with SIGTSTP unblocked (it
        // is blocked while its handler runs); execution resumes here on SIGCONT.
        unsafe {
            libc::signal(libc::SIGTSTP, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTSTP);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(libc::SIGTSTP);
        }
        install(libc::SIGTSTP, on_signal);
        if idle && let Some(modes) = MODES.get() {
            // SAFETY: as above.
            unsafe { libc::tcsetattr(STDIN, libc::TCSANOW, &modes.keys) };
        }
        return;
    }
    let what: &[u8] = match sig {
        libc::SIGQUIT => b"\n[hotload] hotload-host quit (SIGQUIT)\n",
        libc::SIGSEGV => b"[hotload] hotload-host crashed: segmentation fault (SIGSEGV)\n",
        libc::SIGABRT => b"[hotload] hotload-host aborted (SIGABRT)\n",
        libc::SIGBUS => b"[hotload] hotload-host crashed: bus error (SIGBUS)\n",
        libc::SIGFPE => b"[hotload] hotload-host crashed: arithmetic error (SIGFPE)\n",
        _ => b"[hotload] hotload-host crashed: illegal instruction (SIGILL)\n",
    };
    // SAFETY: write(2), signal(2) and raise(3) are async-signal-safe; the default action of a
    // fatal signal ends the process as it would have ended.
    unsafe {
        libc::write(2, what.as_ptr().cast(), what.len());
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}
