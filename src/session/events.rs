//! The one place the session waits: a single `poll` over the file watcher's descriptor, the
//! socket Python's signal handler writes to, and stdin (keys or the console), with the
//! interpreter released. No helper threads: everything happens on the main thread, which is
//! also the thread Python delivers SIGINT to.

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

/// A socketpair whose write end is given to `signal.set_wakeup_fd`.
pub struct Signals {
    read: UnixStream,
    write: UnixStream,
}

impl Signals {
    pub fn new() -> std::io::Result<Signals> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        Ok(Signals { read, write })
    }

    /// The fd for `signal.set_wakeup_fd` (stays open as long as `self`).
    pub fn write_fd(&self) -> RawFd {
        self.write.as_raw_fd()
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
