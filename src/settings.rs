//! Turns the command line (and the original tool's stdin file list) into what the watcher
//! needs. The one place that decides defaults for watching.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::Cli;
use crate::target::Target;
use crate::watch::Spec;

pub fn watch_spec(cli: &Cli, target: &Target, cwd: &Path, stdin_list: Option<Vec<PathBuf>>) -> Result<Spec, String> {
    let mut dirs = Vec::new();
    let mut files = vec![target.file.clone()];
    if !cli.watch.is_empty() {
        for path in &cli.watch {
            let abs = std::fs::canonicalize(cwd.join(path))
                .map_err(|e| format!("--watch {}: {e}", path.display()))?;
            if abs.is_dir() { dirs.push(abs) } else { files.push(abs) }
        }
    } else if let Some(list) = stdin_list {
        files.extend(list);
    } else if target.file.starts_with(&target.root) && target.root.starts_with(cwd) {
        dirs.push(target.root.clone());
    } else if target.file.ends_with("__init__.py") {
        // A package found outside the current directory: watch just that package.
        dirs.extend(target.file.parent().map(Path::to_path_buf));
    }
    let mut exts: Vec<String> = cli
        .ext
        .iter()
        .map(|e| e.trim().trim_start_matches('.').to_string())
        .filter(|e| !e.is_empty())
        .collect();
    if exts.is_empty() {
        exts.push("py".into());
    }
    Ok(Spec {
        dirs,
        files,
        exts,
        ignore: cli.ignore.clone(),
        base: cwd.to_path_buf(),
        poll: cli.poll.map(|ms| Duration::from_millis(ms.max(1))),
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
            Ok(abs) if abs.is_dir() => warn(&format!("{line} (from stdin) is a directory; use --watch for directories")),
            Ok(abs) => files.push(abs),
            Err(_) => {
                let parent = path.parent().and_then(|p| std::fs::canonicalize(p).ok());
                match (parent, path.file_name()) {
                    (Some(dir), Some(name)) => {
                        warn(&format!("{line} (from stdin) does not exist yet; watching for it"));
                        files.push(dir.join(name));
                    }
                    _ => warn(&format!("{line} (from stdin): no such file or directory; ignored")),
                }
            }
        }
    }
    if files.is_empty() { None } else { Some(files) }
}
