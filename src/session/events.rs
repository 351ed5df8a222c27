//! The one place the session waits: a single `poll` over the file watcher's descriptor, the
//! socket signal wake-ups arrive on, and stdin (keys or the console), with the
//! interpreter released. Everything happens on the main thread, which is also the thread
//! Python delivers SIGINT to; the one helper thread only passes signal wake-ups on
//! (`nudge.rs`).

use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use pyo3::Python;

/// What is ready after a wait (several may be).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    pub fs: bool,
    /// A signal arrived. Whether it was SIGINT is Python's to say (`PyErr_CheckSignals`).
    pub signal: bool,
    pub stdin: bool,
    /// The terminal on stdin hung up (or stdin was closed): read what is left, then stop
    /// polling it (it would be ready forever).
    pub stdin_gone: bool,
}

/// Where signals wake the session: Python's handler writes to `python` (its
/// `signal.set_wakeup_fd`); `nudge.rs`'s thread passes each byte on to `read`, which the
/// session polls.
pub struct Signals {
    read: UnixStream,
    python: UnixStream,
}

impl Signals {
    pub fn new() -> std::io::Result<Signals> {
        let (read, forwarded) = UnixStream::pair()?;
        let (from_python, python) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        forwarded.set_nonblocking(true)?;
        python.set_nonblocking(true)?;
        from_python.set_nonblocking(true)?;
        super::nudge::forward(from_python, forwarded)?;
        Ok(Signals { read, python })
    }

    /// The fd for `signal.set_wakeup_fd` (stays open as long as `self`).
    pub fn write_fd(&self) -> RawFd {
        self.python.as_raw_fd()
    }

    /// Whether a signal arrived since the last look (without waiting); clears it.
    pub fn take(&self) -> bool {
        let ready = ready_now(self.read.as_raw_fd());
        if ready {
            self.drain();
        }
        ready
    }

    fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.read).read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// Blocks (interpreter released) until the watcher, a signal or stdin is ready, or `timeout`.
pub fn wait(
    py: Python<'_>,
    fs: RawFd,
    signals: &Signals,
    stdin: Option<RawFd>,
    timeout: Option<Duration>,
) -> Ready {
    let mut fds = vec![pollin(fs), pollin(signals.read.as_raw_fd())];
    if let Some(fd) = stdin {
        fds.push(pollin(fd));
    }
    let ms = timeout.map_or(-1, |t| {
        // Round up: waking a little early would only mean waiting again.
        i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
    });
    // SAFETY: poll over descriptors we own for the duration of the call.
    let n = py.detach(|| unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) });
    let mut ready = Ready::default();
    if n < 0 {
        // EINTR: a signal handler ran; its byte may already be in the socket.
        ready.signal = true;
        return ready;
    }
    ready.fs = fds[0].revents != 0;
    if fds[1].revents != 0 {
        signals.drain();
        ready.signal = true;
    }
    if let Some(fd) = fds.get(2) {
        ready.stdin = fd.revents & libc::POLLIN != 0;
        ready.stdin_gone = fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0;
    }
    ready
}

/// Whether `fd` is readable now (a zero-timeout poll).
pub fn ready_now(fd: RawFd) -> bool {
    let mut pfd = pollin(fd);
    // SAFETY: a zero-timeout poll of one descriptor the caller owns.
    unsafe { libc::poll(&mut pfd, 1, 0) > 0 }
}

fn pollin(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// The process that installed the handlers below (a forked child is another process).
static HOST_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
/// Python's own C-level handler for SIGTERM and SIGHUP (it trips the Python handler that
/// ends the session, and writes to the wake-up socket).
static PYTHON_HANDLERS: [std::sync::atomic::AtomicUsize; 2] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 2];
const STOP_SIGNALS: [i32; 2] = [libc::SIGTERM, libc::SIGHUP];

/// SIGTERM and SIGHUP end the session through Python's handlers (installed by the bridge),
/// but a forked child (a process pool's worker) must die of them at once, as under plain
/// Python: `Pool.terminate` sends SIGTERM to workers, maybe before a new worker has put its
/// signals back to the defaults. So the OS-level handler is ours: in the host it calls
/// Python's; anywhere else it restores the default action and re-raises.
pub fn forward_stop_signals() {
    use std::sync::atomic::Ordering;
    // SAFETY: getpid, and reading/replacing two signals' dispositions with structs we own.
    unsafe {
        HOST_PID.store(libc::getpid(), Ordering::SeqCst);
        for (i, sig) in STOP_SIGNALS.into_iter().enumerate() {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction == libc::SIG_DFL
                || old.sa_sigaction == libc::SIG_IGN
                || old.sa_flags & libc::SA_SIGINFO != 0
            {
                continue; // not Python's handler (ignored under nohup, say): leave it
            }
            PYTHON_HANDLERS[i].store(old.sa_sigaction, Ordering::SeqCst);
            let mut ours = old;
            ours.sa_sigaction = on_stop_signal as *const () as usize;
            libc::sigaction(sig, &ours, std::ptr::null_mut());
        }
    }
}

extern "C" fn on_stop_signal(sig: i32) {
    use std::sync::atomic::Ordering;
    // SAFETY: getpid, signal, raise and calling Python's own C handler are async-signal-safe.
    unsafe {
        let index = STOP_SIGNALS.iter().position(|s| *s == sig).unwrap_or(0);
        let python = PYTHON_HANDLERS[index].load(Ordering::SeqCst);
        if libc::getpid() != HOST_PID.load(Ordering::SeqCst) || python == 0 {
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(sig);
            return;
        }
        let handler: extern "C" fn(i32) = std::mem::transmute(python);
        handler(sig);
    }
}
