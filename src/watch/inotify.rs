//! Linux: inotify read on the session's own thread. Watches are added directly (one syscall per
//! directory) and ask only for the events that matter (no IN_OPEN / IN_MODIFY / IN_ATTRIB:
//! reading or half-writing files wakes nobody). No thread: the session polls the inotify fd.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use super::backend::{AddError, Backend, FsEvent};

const MASK: u32 = libc::IN_CLOSE_WRITE
    | libc::IN_MOVED_TO
    | libc::IN_MOVED_FROM
    | libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR;

pub struct Inotify {
    fd: OwnedFd,
    /// watch descriptor -> directory
    dirs: FxHashMap<i32, PathBuf>,
    by_path: FxHashMap<PathBuf, i32>,
    buf: Vec<u8>,
}

impl Inotify {
    pub fn new() -> std::io::Result<Inotify> {
        // SAFETY: a plain syscall; the fd is owned immediately.
        let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Inotify {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
            dirs: FxHashMap::default(),
            by_path: FxHashMap::default(),
            buf: vec![0u8; 64 * 1024],
        })
    }
}

impl Backend for Inotify {
    fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn read(&mut self, out: &mut Vec<FsEvent>) {
        loop {
            // SAFETY: reading into our buffer from the non-blocking inotify fd.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                )
            };
            if n <= 0 {
                return;
            }
            let bytes = std::mem::take(&mut self.buf);
            parse(&bytes[..n as usize], &mut self.dirs, out);
            self.buf = bytes;
        }
    }

    fn add(&mut self, dir: &Path) -> Result<(), AddError> {
        let c_path = CString::new(dir.as_os_str().as_bytes()).map_err(|_| AddError::Gone)?;
        // SAFETY: adding a watch on our own inotify fd.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c_path.as_ptr(), MASK) };
        if wd < 0 {
            let err = std::io::Error::last_os_error();
            return Err(match err.raw_os_error() {
                Some(libc::ENOSPC) => AddError::Limit,
                Some(libc::ENOENT) | Some(libc::ENOTDIR) => AddError::Gone,
                _ => AddError::Other(err),
            });
        }
        // The kernel watches inodes: a directory reached by a second path gets the first
        // path's descriptor back. While the first path still is that directory (a bind
        // mount), keep it: its events keep their names, and removing the second path must not
        // remove the watch. (If it is not, the directory was moved and the new path takes over.)
        if let Some(first) = self.dirs.get(&wd)
            && first != dir
            && same_dir(first, dir)
        {
            return Err(AddError::Alias);
        }
        self.dirs.insert(wd, dir.to_path_buf());
        self.by_path.insert(dir.to_path_buf(), wd);
        Ok(())
    }

    fn remove(&mut self, dir: &Path) {
        if let Some(wd) = self.by_path.remove(dir) {
            // Another path may have taken over this wd (same inode, watched again).
            if self.dirs.get(&wd).is_some_and(|p| p == dir) {
                self.dirs.remove(&wd);
                // SAFETY: removing a watch on our own inotify fd (an already-gone wd is harmless).
                unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), wd) };
            }
        }
    }

    fn reports_close(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "OS events"
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Turns raw inotify records into events.
fn parse(mut bytes: &[u8], dirs: &mut FxHashMap<i32, PathBuf>, out: &mut Vec<FsEvent>) {
    const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
    while bytes.len() >= HEADER {
        // SAFETY: the kernel writes whole records; read the header unaligned.
        let header: libc::inotify_event =
            unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
        let len = header.len as usize;
        let name = &bytes[HEADER..(HEADER + len).min(bytes.len())];
        let name = OsStr::from_bytes(name.split(|b| *b == 0).next().unwrap_or(&[]));
        bytes = &bytes[(HEADER + len).min(bytes.len())..];
        let mask = header.mask;
        if mask & libc::IN_Q_OVERFLOW != 0 {
            out.push(FsEvent::Overflow);
            continue;
        }
        let Some(dir) = dirs.get(&header.wd) else {
            continue;
        };
        if mask & libc::IN_IGNORED != 0 {
            dirs.remove(&header.wd);
            continue;
        }
        let is_dir = mask & libc::IN_ISDIR != 0;
        let path = if name.is_empty() {
            dir.clone()
        } else {
            dir.join(name)
        };
        out.push(if mask & libc::IN_CLOSE_WRITE != 0 {
            FsEvent::Written(path)
        } else if mask & libc::IN_MOVED_TO != 0 {
            FsEvent::MovedTo(path)
        } else if mask & libc::IN_MOVED_FROM != 0 {
            FsEvent::MovedFrom(path)
        } else if mask & libc::IN_CREATE != 0 {
            FsEvent::Created { path, dir: is_dir }
        } else if mask & (libc::IN_DELETE | libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0 {
            FsEvent::Removed {
                path,
                dir: is_dir || name.is_empty(),
            }
        } else {
            continue;
        });
    }
}
