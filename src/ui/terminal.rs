//! The user's terminal on stdin, for single-key commands while idle. Only line buffering and
//! echo are turned off (not full raw mode): output keeps its newline translation and Ctrl-C
//! still sends SIGINT. The module's own code always runs with the terminal as the user had it,
//! so `input()` works normally; keys are read only while the host is idle (the session polls
//! stdin then, beside the file watcher).

use std::os::fd::RawFd;
use std::sync::Mutex;

/// The terminal settings to put back on any exit path.
static ORIGINAL: Mutex<Option<libc::termios>> = Mutex::new(None);

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
    *ORIGINAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(term);
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
    let Some(original) = *ORIGINAL.lock().unwrap_or_else(|e| e.into_inner()) else {
        return;
    };
    let mut term = original;
    if !on {
        term.c_lflag &= !(libc::ICANON | libc::ECHO);
        term.c_cc[libc::VMIN] = 1;
        term.c_cc[libc::VTIME] = 0;
    }
    // SAFETY: setting our own terminal's attributes.
    unsafe { libc::tcsetattr(STDIN, libc::TCSANOW, &term) };
}

/// Puts the terminal back as the user had it (the exit path calls this).
pub fn restore() {
    set_line_mode(true);
}
