//! The user's terminal on stdin, for single-key commands while idle. Only line buffering and
//! echo are turned off (not full raw mode): output keeps its newline translation and Ctrl-C
//! still sends SIGINT. The module's own code always runs with the terminal as the user had it,
//! so `input()` works normally; keys are read only while the host is idle.

use std::os::fd::RawFd;
use std::sync::Mutex;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::events::{Msg, spawn_quiet};

/// The terminal settings to put back on any exit path.
static ORIGINAL: Mutex<Option<libc::termios>> = Mutex::new(None);

const STDIN: RawFd = 0;

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

pub struct Keys {
    arm: Sender<()>,
    armed: bool,
}

impl Keys {
    /// Key commands, when stdin is a terminal. Spawns a thread that only reports when stdin
    /// becomes readable; the main thread reads the bytes itself, and only while idle.
    pub fn start(tx: Sender<Msg>) -> Option<Keys> {
        // SAFETY: isatty/tcgetattr on our own stdin.
        let mut term: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::isatty(STDIN) } != 1 || unsafe { libc::tcgetattr(STDIN, &mut term) } != 0
        {
            return None;
        }
        *ORIGINAL.lock().unwrap() = Some(term);
        let (arm, armed_rx) = bounded::<()>(1);
        spawn_quiet("hotload-keys", move || watch_stdin(armed_rx, tx)).ok()?;
        Some(Keys { arm, armed: false })
    }

    /// Before waiting: keys without Enter, no echo; ask for a report when a key arrives.
    pub fn idle(&mut self) {
        set_line_mode(false);
        if !self.armed && self.arm.try_send(()).is_ok() {
            self.armed = true;
        }
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
        self.armed = false;
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

fn watch_stdin(armed: Receiver<()>, tx: Sender<Msg>) {
    while armed.recv().is_ok() {
        let mut fds = libc::pollfd {
            fd: STDIN,
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: poll on one valid pollfd.
            let r = unsafe { libc::poll(&mut fds, 1, -1) };
            if r > 0
                || (r < 0
                    && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted)
            {
                break;
            }
        }
        if fds.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
            && fds.revents & libc::POLLIN == 0
        {
            return; // the terminal went away: no more keys
        }
        if tx.send(Msg::Stdin).is_err() {
            return;
        }
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
    let Some(original) = *ORIGINAL.lock().unwrap() else {
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

/// Puts the terminal back as the user had it (every exit path calls this).
pub fn restore() {
    set_line_mode(true);
}
