//! Where filesystem events come from, behind one interface: the session polls the backend's
//! file descriptor beside its other inputs (on the main thread, the interpreter released) and
//! reads the events that are there. Linux uses our own inotify reader; `--poll`, and every
//! other platform, use notify's watchers, whose thread hands events over through a pipe.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};

/// One thing that happened to a path in a watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsEvent {
    /// A file open for writing was closed.
    Written(PathBuf),
    /// Something was renamed into a watched directory.
    MovedTo(PathBuf),
    /// Something was renamed out of a watched directory.
    MovedFrom(PathBuf),
    Created {
        path: PathBuf,
        dir: bool,
    },
    Removed {
        path: PathBuf,
        dir: bool,
    },
    /// Contents changed (backends without close events: polling, FSEvents).
    Modified(PathBuf),
    /// Events were lost (queue overflow): assume anything changed.
    Overflow,
}

pub enum AddError {
    /// The directory vanished before it could be watched.
    Gone,
    /// The directory is watched already, under another path (a bind mount).
    Alias,
    /// The OS limit on watches.
    Limit,
    Other(std::io::Error),
}

pub trait Backend {
    /// Readable when events are waiting.
    fn fd(&self) -> RawFd;
    /// Appends the events that are there, without blocking.
    fn read(&mut self, out: &mut Vec<FsEvent>);
    fn add(&mut self, dir: &Path) -> Result<(), AddError>;
    fn remove(&mut self, dir: &Path);
    /// Whether saves show as close-after-write (else: as creations and modifications).
    fn reports_close(&self) -> bool;
    fn name(&self) -> &'static str;
}

/// Which backend a session uses.
pub fn open(poll: Option<Duration>) -> std::io::Result<Box<dyn Backend>> {
    if let Some(interval) = poll {
        return Notified::polling(interval).map(|b| Box::new(b) as Box<dyn Backend>);
    }
    // HOTLOAD_WATCHER=notify selects notify's recommended watcher, the one other platforms
    // use, so that its path is exercised by the tests on Linux too.
    #[cfg(target_os = "linux")]
    if std::env::var_os("HOTLOAD_WATCHER").is_none_or(|v| v != "notify") {
        return super::inotify::Inotify::new().map(|b| Box::new(b) as Box<dyn Backend>);
    }
    Notified::recommended().map(|b| Box::new(b) as Box<dyn Backend>)
}

/// A notify watcher: its thread queues events and writes a byte to a pipe the session polls.
pub struct Notified {
    watcher: Box<dyn Watcher>,
    queue: Arc<Mutex<Vec<FsEvent>>>,
    wake_read: OwnedFd,
    polling: bool,
}

impl Notified {
    fn polling(interval: Duration) -> std::io::Result<Notified> {
        // notify's poller compares modification times in whole seconds; comparing contents is
        // what catches two saves within the same second.
        let config = notify::Config::default()
            .with_poll_interval(interval)
            .with_compare_contents(true);
        Notified::with(true, |handler| {
            notify::PollWatcher::new(handler, config).map(|w| Box::new(w) as Box<dyn Watcher>)
        })
    }

    fn recommended() -> std::io::Result<Notified> {
        Notified::with(false, |handler| {
            notify::recommended_watcher(handler).map(|w| Box::new(w) as Box<dyn Watcher>)
        })
    }

    fn with(
        polling: bool,
        make: impl FnOnce(
            Box<dyn FnMut(notify::Result<notify::Event>) + Send>,
        ) -> notify::Result<Box<dyn Watcher>>,
    ) -> std::io::Result<Notified> {
        let (wake_read, wake_write) = pipe()?;
        let queue: Arc<Mutex<Vec<FsEvent>>> = Arc::default();
        let sink = queue.clone();
        let handler = Box::new(move |event: notify::Result<notify::Event>| {
            let mut events = Vec::new();
            match event {
                Ok(event) => convert(event, &mut events),
                Err(_) => events.push(FsEvent::Overflow),
            }
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(events);
            // SAFETY: one byte to our own non-blocking pipe; a full pipe already wakes.
            unsafe { libc::write(wake_write.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        });
        let watcher = with_sigint_blocked(|| make(handler)).map_err(to_io)?;
        Ok(Notified {
            watcher,
            queue,
            wake_read,
            polling,
        })
    }
}

impl Backend for Notified {
    fn fd(&self) -> RawFd {
        self.wake_read.as_raw_fd()
    }

    fn read(&mut self, out: &mut Vec<FsEvent>) {
        let mut buf = [0u8; 256];
        // SAFETY: draining our own non-blocking pipe into a local buffer.
        while unsafe { libc::read(self.wake_read.as_raw_fd(), buf.as_mut_ptr().cast(), 256) } > 0 {}
        out.append(&mut self.queue.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn add(&mut self, dir: &Path) -> Result<(), AddError> {
        self.watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| match e.kind {
                notify::ErrorKind::PathNotFound => AddError::Gone,
                notify::ErrorKind::MaxFilesWatch => AddError::Limit,
                notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                    AddError::Gone
                }
                notify::ErrorKind::Io(io) => AddError::Other(io),
                other => AddError::Other(std::io::Error::other(format!("{other:?}"))),
            })
    }

    fn remove(&mut self, dir: &Path) {
        let _ = self.watcher.unwatch(dir);
    }

    fn reports_close(&self) -> bool {
        !self.polling && cfg!(target_os = "linux")
    }

    fn name(&self) -> &'static str {
        if self.polling {
            "polling"
        } else {
            "OS events (notify)"
        }
    }
}

/// notify's event kinds as ours.
fn convert(event: notify::Event, out: &mut Vec<FsEvent>) {
    if event.need_rescan() {
        out.push(FsEvent::Overflow);
        return;
    }
    let paths = event.paths;
    let each = |out: &mut Vec<FsEvent>, f: &dyn Fn(PathBuf) -> FsEvent| {
        out.extend(paths.iter().cloned().map(f));
    };
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => each(out, &FsEvent::Written),
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => each(out, &FsEvent::MovedTo),
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) => each(out, &FsEvent::MovedFrom),
        // notify's inotify watcher reports the two halves of a rename as From and To too.
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {}
        EventKind::Modify(ModifyKind::Name(_)) => each(out, &|p: PathBuf| {
            if p.exists() {
                FsEvent::MovedTo(p)
            } else {
                FsEvent::MovedFrom(p)
            }
        }),
        EventKind::Modify(_) => each(out, &FsEvent::Modified),
        EventKind::Create(kind) => each(out, &|path: PathBuf| FsEvent::Created {
            dir: kind == CreateKind::Folder
                || std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()),
            path,
        }),
        EventKind::Remove(kind) => each(out, &|path| FsEvent::Removed {
            path,
            dir: kind == RemoveKind::Folder,
        }),
        _ => {}
    }
}

fn to_io(e: notify::Error) -> std::io::Error {
    match e.kind {
        notify::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

/// SIGINT is the main thread's (Python raises KeyboardInterrupt there): notify's threads are
/// started with it blocked, so a Ctrl-C never lands on one of them.
fn with_sigint_blocked<T>(f: impl FnOnce() -> T) -> T {
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

/// A non-blocking, close-on-exec pipe: (read end, write end). (pipe + fcntl rather than
/// pipe2, which macOS lacks.)
pub fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe fills two fds that we own immediately; fcntl on those fds.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fd in [&read, &write] {
        unsafe {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK);
        }
    }
    Ok((read, write))
}
