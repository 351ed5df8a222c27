//! Ctrl-C that lands just before a blocking call. Python's C-level handler only records a
//! signal; the main thread raises KeyboardInterrupt at its next check, or when a blocking
//! system call returns EINTR. A signal handled after the last check and before the call
//! starts (`print(...)` then `time.sleep(60)`, a preempted thread under load) leaves the
//! call blocked with the interrupt pending: the run ignores Ctrl-C until the call ends.
//! Plain Python has the same race; it showed up here about once in 200 tries on a loaded
//! machine.
//!
//! This module owns the fix: a thread (all signals blocked) that takes the bytes Python's
//! handler writes to its wake-up socket, passes them on to the session's socket, and, while a
//! run is executing user code, "nudges" the main thread a few times with a signal whose
//! handler does nothing. The blocked call returns EINTR, and CPython runs the pending handler
//! there, as if the signal had come a moment later (PEP 475: a call with nothing pending just
//! goes on). Between runs the session itself waits on the socket: nothing to nudge.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// After a signal during a run: when to nudge (from its arrival). Later ones cover a main
/// thread that was preempted before it reached the blocking call.
const NUDGES: [Duration; 4] = [
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_millis(100),
    Duration::from_millis(1000),
];

/// Set while a run executes user code (see `UserCodeRuns`).
static USER_CODE_RUNS: AtomicBool = AtomicBool::new(false);

/// While alive, signals that arrive get the main thread nudged.
pub struct UserCodeRuns(());

impl UserCodeRuns {
    pub fn start() -> UserCodeRuns {
        USER_CODE_RUNS.store(true, Ordering::SeqCst);
        UserCodeRuns(())
    }
}

impl Drop for UserCodeRuns {
    fn drop(&mut self) {
        USER_CODE_RUNS.store(false, Ordering::SeqCst);
    }
}

/// The signal that nudges: a real-time one nothing else uses (Linux), else SIGURG (ignored
/// by default everywhere).
fn nudge_signal() -> libc::c_int {
    #[cfg(target_os = "linux")]
    {
        libc::SIGRTMAX() - 1
    }
    #[cfg(not(target_os = "linux"))]
    {
        libc::SIGURG
    }
}

extern "C" fn nudged(_: libc::c_int) {}

/// Installs the no-op handler (no SA_RESTART: a nudge must interrupt the call, as SIGINT
/// would have) if the signal is free. Returns whether it is ours.
fn install_handler() -> bool {
    // SAFETY: reading and setting one signal's disposition with structs we own.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(nudge_signal(), std::ptr::null(), &mut old) != 0
            || old.sa_sigaction != libc::SIG_DFL
        {
            return false;
        }
        let mut ours: libc::sigaction = std::mem::zeroed();
        ours.sa_sigaction = nudged as *const () as usize;
        libc::sigemptyset(&mut ours.sa_mask);
        libc::sigaction(nudge_signal(), &ours, std::ptr::null_mut()) == 0
    }
}

/// Whether the handler is still ours (user code may have taken the signal since).
fn handler_is_ours() -> bool {
    // SAFETY: reading one signal's disposition into a struct we own.
    unsafe {
        let mut now: libc::sigaction = std::mem::zeroed();
        libc::sigaction(nudge_signal(), std::ptr::null(), &mut now) == 0
            && now.sa_sigaction == nudged as *const () as usize
    }
}

/// Starts the forwarding thread: bytes from `from` (Python's wake-up socket) go to `to` (the
/// session's). Called on the main thread, which is the one nudged.
pub fn forward(from: UnixStream, to: UnixStream) -> std::io::Result<()> {
    let nudging = install_handler();
    // SAFETY: pthread_self has no preconditions.
    let main = unsafe { libc::pthread_self() };
    let main = main as usize; // (pthread_t is an integer on Linux; carried across as one)
    with_all_signals_blocked(|| {
        std::thread::Builder::new()
            .name("hotload-signals".into())
            .spawn(move || forward_loop(from, to, nudging.then_some(main)))
            .map(drop)
    })
}

fn forward_loop(mut from: UnixStream, mut to: UnixStream, main: Option<usize>) {
    let mut arrived: Option<Instant> = None;
    let mut sent = 0;
    loop {
        let timeout = arrived.and_then(|at| {
            NUDGES
                .get(sent)
                .map(|d| (at + *d).saturating_duration_since(Instant::now()))
        });
        if readable(&from, timeout) {
            let mut buf = [0u8; 64];
            match from.read(&mut buf) {
                Ok(0) => return, // the session is gone
                Ok(n) => {
                    // Full (nobody read for long): the session's socket is readable anyway.
                    let _ = to.write(&buf[..n]);
                    if USER_CODE_RUNS.load(Ordering::SeqCst) {
                        arrived = Some(Instant::now());
                        sent = 0;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
            continue;
        }
        if arrived.is_some() {
            sent += 1;
            if sent >= NUDGES.len() {
                arrived = None;
            }
            if let Some(main) = main
                && USER_CODE_RUNS.load(Ordering::SeqCst)
                && handler_is_ours()
            {
                // SAFETY: the main thread lives as long as the process.
                unsafe { libc::pthread_kill(main as libc::pthread_t, nudge_signal()) };
            }
        }
    }
}

/// Waits until `fd` is readable (true) or `timeout` passes (false; None: no limit).
fn readable(fd: &UnixStream, timeout: Option<Duration>) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.map_or(-1, |t| {
        i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
    });
    // SAFETY: poll over one descriptor we own.
    unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
}

/// Runs `f` with every signal blocked on this thread, so that a thread it starts inherits
/// the mask and never takes a signal meant for the main thread.
fn with_all_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: plain signal-mask manipulation on the current thread.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let out = f();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        out
    }
}
