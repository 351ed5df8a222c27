//! What the watcher is started from: the watch spec worked out from the settings and the
//! resolved target, and the original tool's file list read from stdin.

use std::collections::HashSet;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Settings, WatchEntry};
use crate::target::Target;
use crate::watch::Spec;

/// What the watcher needs, from the settings and the resolved target.
pub fn watch_spec(
    settings: &Settings,
    target: Option<&Target>,
    stdin_list: &[PathBuf],
) -> Result<Spec, String> {
    let mut dirs = Vec::new();
    let mut globs = Vec::new();
    let mut files: Vec<PathBuf> = target.map(|t| t.file.clone()).into_iter().collect();
    if let Some(c) = &settings.config {
        files.push(c.path.clone()); // edits to the config are applied live
    }
    if !settings.watch.value.is_empty() {
        for entry in &settings.watch.value {
            match crate::config::watch_entry(entry).map_err(|e| format!("watch {entry}: {e}"))? {
                WatchEntry::Glob(base, glob) => globs.push((base, glob)),
                WatchEntry::Dir(d) => dirs.push(d),
                WatchEntry::File(f) => files.push(f),
            }
        }
    } else if !stdin_list.is_empty() {
        files.extend(stdin_list.iter().cloned());
    } else if let Some(t) = target {
        if t.file.starts_with(&t.root) && t.root.starts_with(&settings.cwd)
            || settings.config.is_some() && t.file.starts_with(settings.project_dir())
        {
            dirs.push(t.root.clone());
        } else if t.file.ends_with("__init__.py") {
            // A package found outside the project: watch just that package.
            dirs.extend(t.file.parent().map(Path::to_path_buf));
        }
    } else {
        dirs.push(std::fs::canonicalize(settings.project_dir()).map_err(|e| e.to_string())?);
    }
    let exts: Vec<String> = settings
        .ext
        .value
        .iter()
        .map(|e| e.trim().trim_start_matches('.').to_string())
        .filter(|e| !e.is_empty())
        .collect();
    Ok(Spec {
        dirs,
        files,
        globs,
        exts: if exts.is_empty() {
            vec!["py".into()]
        } else {
            exts
        },
        ignore: settings.ignore.value.clone(),
        // Ignore globs are relative to where they were written: the config file's directory or cwd.
        base: settings.base_dir(&settings.ignore.origin),
        poll: settings
            .poll
            .value
            .map(|ms| Duration::from_millis(ms.max(1))),
    })
}

/// The original tool's habit: `find . -name '*.py' | hotload lib.py` names the files to watch.
/// Read only when stdin is a pipe, a socket or a file and no --watch was given, and read as it
/// arrives, beside everything else (a pipe that stays open never holds anything up). Missing
/// files are reported and still watched (creating them later triggers a run).
pub struct StdinList {
    cwd: PathBuf,
    /// Bytes after the last newline so far.
    partial: Vec<u8>,
    /// The files named so far, in order.
    pub files: Vec<PathBuf>,
    seen: HashSet<PathBuf>,
    /// Until end of file (or a read error).
    pub open: bool,
}

impl StdinList {
    /// A reader of stdin's file list, if stdin is a pipe, a socket or a file.
    pub fn open(cwd: &Path) -> Option<StdinList> {
        // SAFETY: fstat on our own stdin fd into a zeroed struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(STDIN, &mut st) } != 0 {
            return None;
        }
        let kind = st.st_mode & libc::S_IFMT;
        if kind != libc::S_IFIFO && kind != libc::S_IFREG && kind != libc::S_IFSOCK {
            return None;
        }
        Some(StdinList {
            cwd: cwd.to_path_buf(),
            partial: Vec::new(),
            files: Vec::new(),
            seen: HashSet::new(),
            open: true,
        })
    }

    /// Reads whatever is there now, without waiting: returns the files it names that were not
    /// named before. Call when stdin is readable (or hung up); one read, so it never blocks.
    pub fn read(&mut self, warn: impl Fn(&str)) -> Vec<PathBuf> {
        let mut buf = vec![0u8; 64 * 1024];
        // SAFETY: reading into our own buffer from stdin, which poll said is ready.
        let n = unsafe { libc::read(STDIN, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if !matches!(
                e.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            ) {
                warn(&format!("could not read the file list on stdin: {e}"));
                self.open = false;
            }
            return Vec::new();
        }
        let n = n as usize;
        if n == 0 {
            self.open = false;
            let rest = std::mem::take(&mut self.partial);
            return self.take_lines(&rest, &warn);
        }
        let mut bytes = std::mem::take(&mut self.partial);
        bytes.extend_from_slice(&buf[..n]);
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.partial = bytes.split_off(complete);
        self.take_lines(&bytes, &warn)
    }

    /// Reads what is there without waiting (a file, or a list already written to the pipe).
    pub fn read_ready(&mut self, warn: impl Fn(&str)) -> Vec<PathBuf> {
        let mut new = Vec::new();
        while self.open && ready_now(STDIN) {
            new.extend(self.read(&warn));
        }
        new
    }

    fn take_lines(&mut self, bytes: &[u8], warn: &impl Fn(&str)) -> Vec<PathBuf> {
        let text = String::from_utf8_lossy(bytes);
        let mut new = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(file) = resolve_listed(&self.cwd, line, warn)
                && self.seen.insert(file.clone())
            {
                self.files.push(file.clone());
                new.push(file);
            }
        }
        new
    }
}

const STDIN: RawFd = 0;

fn ready_now(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: a zero-timeout poll of one descriptor we own.
    unsafe { libc::poll(&mut pfd, 1, 0) > 0 }
}

/// One line of the list as a file to watch.
fn resolve_listed(cwd: &Path, line: &str, warn: &impl Fn(&str)) -> Option<PathBuf> {
    let path = cwd.join(line);
    match std::fs::canonicalize(&path) {
        Ok(abs) if abs.is_dir() => {
            warn(&format!(
                "{line} (from stdin) is a directory; use --watch for directories"
            ));
            None
        }
        Ok(abs) => Some(abs),
        Err(_) => {
            let parent = path.parent().and_then(|p| std::fs::canonicalize(p).ok());
            match (parent, path.file_name()) {
                (Some(dir), Some(name)) => {
                    warn(&format!(
                        "{line} (from stdin) does not exist yet; watching for it"
                    ));
                    Some(dir.join(name))
                }
                _ => {
                    warn(&format!(
                        "{line} (from stdin): no such file or directory; ignored"
                    ));
                    None
                }
            }
        }
    }
}
