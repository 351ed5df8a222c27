//! What the watcher is started from: the watch spec worked out from the settings and the
//! resolved target, and the original tool's file list read from stdin.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Settings, WatchEntry};
use crate::target::Target;
use crate::watch::Spec;

/// What the watcher needs, from the settings and the resolved target.
pub fn watch_spec(
    settings: &Settings,
    target: Option<&Target>,
    stdin_list: Option<Vec<PathBuf>>,
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
    } else if let Some(list) = stdin_list {
        files.extend(list);
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
/// Read only when stdin is a pipe or a file and no --watch was given. Missing files are
/// reported and still watched (creating them later triggers a run).
pub fn read_stdin_list(cwd: &Path, warn: impl Fn(&str)) -> Option<Vec<PathBuf>> {
    let stdin = std::io::stdin();
    // SAFETY: fstat on our own stdin fd into a zeroed struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(stdin.as_raw_fd(), &mut st) } != 0 {
        return None;
    }
    let kind = st.st_mode & libc::S_IFMT;
    if kind != libc::S_IFIFO && kind != libc::S_IFREG {
        return None;
    }
    let mut text = String::new();
    if let Err(e) = stdin.lock().read_to_string(&mut text) {
        warn(&format!("could not read the file list on stdin: {e}"));
        return None;
    }
    let mut files = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let path = cwd.join(line);
        match std::fs::canonicalize(&path) {
            Ok(abs) if abs.is_dir() => warn(&format!(
                "{line} (from stdin) is a directory; use --watch for directories"
            )),
            Ok(abs) => files.push(abs),
            Err(_) => {
                let parent = path.parent().and_then(|p| std::fs::canonicalize(p).ok());
                match (parent, path.file_name()) {
                    (Some(dir), Some(name)) => {
                        warn(&format!(
                            "{line} (from stdin) does not exist yet; watching for it"
                        ));
                        files.push(dir.join(name));
                    }
                    _ => warn(&format!(
                        "{line} (from stdin): no such file or directory; ignored"
                    )),
                }
            }
        }
    }
    if files.is_empty() { None } else { Some(files) }
}
