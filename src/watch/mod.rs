//! Which files are watched and what counts as a save. Directories get OS watches (never files:
//! editors replace files by renaming); ignored directories get none. A filesystem event becomes
//! a "saved path" only when the write is complete: close-after-write or rename-into-place
//! (with --poll: changed contents).

use std::collections::HashSet;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

pub mod backend;
#[cfg(target_os = "linux")]
mod inotify;
mod rules;
pub mod spec;

use backend::{AddError, Backend, FsEvent};
use rules::DirRules;

/// What to watch, as decided from the command line (and later the config file).
#[derive(Clone)]
pub struct Spec {
    /// Directories watched recursively for files with one of `exts`.
    pub dirs: Vec<PathBuf>,
    /// Files watched whatever their extension.
    pub files: Vec<PathBuf>,
    /// Globs (with the directory they start from): matching files count whatever their extension.
    pub globs: Vec<(PathBuf, globset::Glob)>,
    pub exts: Vec<String>,
    /// Gitignore-style globs, anchored at `base`.
    pub ignore: Vec<String>,
    pub base: PathBuf,
    pub poll: Option<Duration>,
}

pub enum WatchError {
    /// The OS ran out of watches or watcher instances: the message says which sysctl to raise.
    Limit(String),
    Other(String),
}

impl std::fmt::Display for WatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WatchError::Limit(m) | WatchError::Other(m) => f.write_str(m),
        }
    }
}

pub struct Watch {
    backend: Box<dyn Backend>,
    /// Directories whose files count when their extension matches.
    roots: Vec<PathBuf>,
    /// Directories walked for `globs`.
    glob_roots: Vec<PathBuf>,
    globs: globset::GlobSet,
    files: HashSet<PathBuf>,
    exts: Vec<String>,
    base: PathBuf,
    user_ignore: Gitignore,
    /// .gitignore / .ignore matchers, one per directory that has them.
    gitignores: Vec<Gitignore>,
    /// Every directory with an OS watch.
    dirs: HashSet<PathBuf>,
    /// The directories reached by walking the watched trees (never ignored ones): files in
    /// them count by name and extension. (Other watched directories only hold listed files.)
    walked: HashSet<PathBuf>,
    file_count: usize,
}

impl Watch {
    pub fn start(spec: Spec) -> Result<Watch, WatchError> {
        let backend = backend::open(spec.poll).map_err(|e| describe_open(&e))?;
        let mut ignore = GitignoreBuilder::new(&spec.base);
        for glob in &spec.ignore {
            ignore
                .add_line(None, glob)
                .map_err(|e| WatchError::Other(format!("--ignore {glob}: {e}")))?;
        }
        let user_ignore = ignore
            .build()
            .map_err(|e| WatchError::Other(format!("--ignore: {e}")))?;

        let mut globs = globset::GlobSetBuilder::new();
        for (_, glob) in &spec.globs {
            globs.add(glob.clone());
        }
        let globs = globs
            .build()
            .map_err(|e| WatchError::Other(format!("watch: {e}")))?;
        let mut watch = Watch {
            backend,
            roots: spec.dirs.clone(),
            glob_roots: spec.globs.iter().map(|(base, _)| base.clone()).collect(),
            globs,
            files: HashSet::new(),
            exts: spec.exts.clone(),
            base: spec.base.clone(),
            user_ignore,
            gitignores: Vec::new(),
            dirs: HashSet::new(),
            walked: HashSet::new(),
            file_count: 0,
        };
        for root in &spec.dirs {
            watch.load_parent_ignores(root);
        }
        let mut found = Vec::new();
        for root in spec
            .dirs
            .iter()
            .chain(spec.globs.iter().map(|(base, _)| base))
        {
            watch.add_tree(root, &mut found)?;
        }
        for file in &spec.files {
            let Some(parent) = file.parent() else {
                continue;
            };
            watch.files.insert(file.clone());
            watch.add_dir(parent)?;
        }
        watch.file_count = found.len() + watch.files.iter().filter(|f| !found.contains(f)).count();
        Ok(watch)
    }

    pub fn dir_count(&self) -> usize {
        self.dirs.len()
    }

    pub fn file_count(&self) -> usize {
        self.file_count
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Readable when events are waiting (for the session's poll).
    pub fn fd(&self) -> RawFd {
        self.backend.fd()
    }

    /// The events that are waiting, without blocking.
    pub fn read_events(&mut self) -> Vec<FsEvent> {
        let mut events = Vec::new();
        self.backend.read(&mut events);
        events
    }

    /// Adds to `out` the paths that this event says were saved. Also follows new directories.
    /// Returns false if events were lost (queue overflow): the caller must assume a change.
    pub fn saved_paths(
        &mut self,
        event: &FsEvent,
        out: &mut Vec<PathBuf>,
    ) -> Result<bool, WatchError> {
        // Backends without close events (polling, FSEvents) report a save as a creation or a
        // modification of contents.
        let no_close = !self.backend.reports_close();
        match event {
            FsEvent::Overflow => return Ok(false),
            FsEvent::Written(path) => self.push_relevant(path, out),
            FsEvent::MovedTo(path) if path.is_dir() => self.follow_new_dir(path, out)?,
            FsEvent::MovedTo(path) => self.push_relevant(path, out),
            FsEvent::Created { path, dir } if *dir || path.is_dir() => {
                self.follow_new_dir(path, out)?
            }
            FsEvent::Created { path, .. } | FsEvent::Modified(path) if no_close => {
                if path.is_file() {
                    self.push_relevant(path, out)
                }
            }
            FsEvent::Created { .. } | FsEvent::Modified(_) => {}
            FsEvent::Removed { path, dir } => {
                // A deleted module file is a change worth a run: the run reports it.
                if !dir && !path.exists() {
                    self.push_relevant(path, out);
                }
                self.forget_dirs_under(path);
            }
            // A rename away is no save: editors rename the original aside while saving.
            FsEvent::MovedFrom(path) => self.forget_dirs_under(path),
        }
        Ok(true)
    }

    /// A directory deleted or moved away takes its subdirectories with it: forget them all,
    /// so that a new directory with the same name gets watched afresh.
    fn forget_dirs_under(&mut self, path: &Path) {
        let gone: Vec<PathBuf> = self
            .dirs
            .iter()
            .filter(|d| d.starts_with(path))
            .cloned()
            .collect();
        for dir in gone {
            self.dirs.remove(&dir);
            self.walked.remove(&dir);
            self.backend.remove(&dir);
        }
    }

    fn push_relevant(&self, path: &Path, out: &mut Vec<PathBuf>) {
        if self.is_relevant(path) && !out.iter().any(|p| p == path) {
            out.push(path.to_path_buf());
        }
    }

    fn follow_new_dir(&mut self, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), WatchError> {
        let is_root = self.roots.iter().chain(&self.glob_roots).any(|r| r == dir);
        let in_walked_dir = dir
            .parent()
            .is_some_and(|p| self.walked.contains(p) && !self.rules_for(p).skips_dir(dir));
        if (is_root || in_walked_dir) && !self.walked.contains(dir) {
            // Files may have been written before the watch existed: report them as saved,
            // except those still open for writing (their close, now watched, will report them).
            let mut found = Vec::new();
            self.add_tree(dir, &mut found)?;
            for f in found {
                if !out.contains(&f) && !open_for_writing(&f) {
                    out.push(f);
                }
            }
        }
        Ok(())
    }

    /// Files the module read (data files) join the watched files, unless an ignore rule or
    /// the editor-junk rule names them. Returns those newly watched.
    pub fn add_data_files(&mut self, files: &[PathBuf]) -> Vec<PathBuf> {
        let mut added = Vec::new();
        for file in files {
            let Ok(file) = std::fs::canonicalize(file) else {
                continue;
            };
            let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
                continue;
            };
            let junk = name.to_str().is_none_or(rules::is_junk_file);
            if self.is_relevant(&file) || junk || self.rules_for(dir).ignores(&file, false) {
                continue;
            }
            if self.add_dir(dir).is_ok() {
                self.files.insert(file.clone());
                self.file_count += 1;
                added.push(file);
            }
        }
        added
    }

    /// True if a save of this file should trigger a run.
    pub fn is_relevant(&self, path: &Path) -> bool {
        self.files.contains(path)
            || path
                .parent()
                .is_some_and(|dir| self.walked.contains(dir) && self.rules_for(dir).counts(path))
    }

    fn rules_for(&self, dir: &Path) -> DirRules<'_> {
        DirRules {
            watch: self,
            exts_apply: self.roots.iter().any(|r| dir.starts_with(r)),
            under_base: dir.starts_with(&self.base),
            gitignores: (self.gitignores.iter().rev())
                .filter(|gi| dir.starts_with(gi.path()))
                .collect(),
        }
    }

    /// Watches `dir` and the directories under it that are not ignored; `found` gets the
    /// relevant files. One directory listing per directory and no probing stats: ignore files
    /// and venv markers are seen in the listing.
    fn add_tree(&mut self, dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), WatchError> {
        let entries: Vec<(PathBuf, std::fs::FileType)> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|e| e.file_type().ok().map(|t| (e.path(), t)))
                .collect(),
            Err(_) => Vec::new(),
        };
        let has = |name: &str| {
            entries
                .iter()
                .any(|(p, t)| !t.is_dir() && p.file_name().is_some_and(|n| n == name))
        };
        let is_root = self.roots.iter().chain(&self.glob_roots).any(|r| r == dir);
        if has("pyvenv.cfg") && !is_root {
            return Ok(()); // a virtualenv: never watched
        }
        for name in [".gitignore", ".ignore"] {
            if has(name) {
                self.load_ignore_file(dir, name);
            }
        }
        self.add_dir(dir)?;
        self.walked.insert(dir.to_path_buf());
        let rules = self.rules_for(dir);
        let mut subdirs = Vec::new();
        for (path, kind) in entries {
            if kind.is_dir() {
                if !rules.skips_dir(&path) {
                    subdirs.push(path);
                }
            } else if kind.is_file() && (self.files.contains(&path) || rules.counts(&path)) {
                found.push(path);
            }
        }
        for subdir in subdirs {
            self.add_tree(&subdir, found)?;
        }
        Ok(())
    }

    fn add_dir(&mut self, dir: &Path) -> Result<(), WatchError> {
        if self.dirs.contains(dir) {
            return Ok(());
        }
        match self.backend.add(dir) {
            Ok(()) => {
                self.dirs.insert(dir.to_path_buf());
                Ok(())
            }
            // Deleted between listing and watching: nothing to watch.
            Err(AddError::Gone) => Ok(()),
            Err(AddError::Limit) => Err(limit(self.dirs.len())),
            Err(AddError::Other(e)) => Err(WatchError::Other(format!(
                "cannot watch {}: {e}",
                dir.display()
            ))),
        }
    }

    fn load_ignores(&mut self, dir: &Path) {
        for name in [".gitignore", ".ignore"] {
            if dir.join(name).is_file() {
                self.load_ignore_file(dir, name);
            }
        }
    }

    fn load_ignore_file(&mut self, dir: &Path, name: &str) {
        let (gi, _err) = Gitignore::new(dir.join(name));
        if !gi.is_empty() {
            // Keep parents before children so that iterating in reverse goes deepest first.
            let depth = dir.components().count();
            let at = self
                .gitignores
                .iter()
                .position(|g| g.path().components().count() > depth)
                .unwrap_or(self.gitignores.len());
            self.gitignores.insert(at, gi);
        }
    }

    /// Ignore files above a watched root, up to the repository's top (the directory with .git).
    fn load_parent_ignores(&mut self, root: &Path) {
        if root.join(".git").exists() {
            return;
        }
        let mut dir = root.parent();
        while let Some(d) = dir {
            self.load_ignores(d);
            if d.join(".git").exists() {
                break;
            }
            dir = d.parent();
        }
    }
}

/// Whether some process has `path` open for writing: a read lease is refused exactly then.
/// (Filesystems without leases, or files we do not own, answer "no"; so do systems without
/// leases at all.)
#[cfg(not(target_os = "linux"))]
fn open_for_writing(_path: &Path) -> bool {
    false
}

#[cfg(target_os = "linux")]
fn open_for_writing(path: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    // SAFETY: fcntl lease calls on a descriptor we own; the lease is dropped at once.
    let refused = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) } != 0
        && std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN);
    if !refused {
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
    }
    refused
}

fn limit(watched: usize) -> WatchError {
    WatchError::Limit(format!(
        "the OS limit on file watches was reached after {watched} directories \
         (fs.inotify.max_user_watches).\nRaise it: sudo sysctl fs.inotify.max_user_watches=524288 \
         (persist it in /etc/sysctl.d/), watch less (-w, -i, .gitignore), or use --poll."
    ))
}

fn describe_open(io: &std::io::Error) -> WatchError {
    if io.raw_os_error() == Some(libc::EMFILE) {
        return WatchError::Limit(format!(
            "the OS limit on inotify instances was reached (fs.inotify.max_user_instances): {io}.\n\
             Raise it: sudo sysctl fs.inotify.max_user_instances=1024, or use --poll."
        ));
    }
    WatchError::Other(format!("cannot watch files: {io}"))
}
