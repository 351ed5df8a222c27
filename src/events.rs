//! The one channel the main thread waits on: filesystem events from the watcher and wake-ups
//! from Python's signal handler. Waiting happens detached from the interpreter; every Python
//! call stays on the main thread.

use crossbeam_channel::{Receiver, Sender, unbounded};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

/// What can wake the main loop.
pub enum Msg {
    Fs(notify::Result<notify::Event>),
    /// A signal arrived (Python's C handler wrote to the wake-up fd). Whether it was SIGINT is
    /// Python's to say: `PyErr_CheckSignals` raises KeyboardInterrupt if one is pending.
    Signal,
    /// Stdin (a terminal) has input while the host is idle: key commands.
    Stdin,
}

pub fn channel_pair() -> (Sender<Msg>, Receiver<Msg>) {
    unbounded()
}

/// A socketpair whose write end is given to `signal.set_wakeup_fd`; a thread turns each
/// wake-up into `Msg::Signal`. Returns the write end's fd (kept open for the process lifetime).
pub fn signal_wakeups(tx: Sender<Msg>) -> std::io::Result<i32> {
    let (mut reader, writer) = UnixStream::pair()?;
    writer.set_nonblocking(true)?;
    let fd = writer.as_raw_fd();
    std::mem::forget(writer); // Python holds the fd from now on.
    spawn_quiet("hotload-signals", move || {
        let mut buf = [0u8; 64];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(Msg::Signal).is_err() {
                break;
            }
        }
    })?;
    Ok(fd)
}

/// Runs `f` with SIGINT blocked for the calling thread, so threads created inside (ours and
/// notify's) inherit a mask that leaves SIGINT to the main thread: a Ctrl-C then interrupts
/// the main thread's blocking calls (`time.sleep`, `input()`) instead of a helper thread's.
pub fn with_sigint_blocked<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: plain signal-mask manipulation on the current thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        let out = f();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        out
    }
}

/// Spawns a helper thread that never receives SIGINT.
pub fn spawn_quiet(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    with_sigint_blocked(|| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map(|_| ())
    })
}
