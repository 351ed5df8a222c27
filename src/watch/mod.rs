//! Which files are watched and what counts as a save. Directories get OS watches (never files:
//! editors replace files by renaming); ignored directories get none. A filesystem event becomes
//! a "saved path" only when the write is complete: close-after-write or rename-into-place
//! (with --poll: changed contents).
//!
//! Every directory is watched under its real path, once: symlinks to directories are never
//! followed (the directory they point to is watched where it really is, if it is in a watched
//! tree; a directory outside is watched only when named with -w, which resolves it). So a save
//! is always reported under the real path of the file, and removing a symlink never touches a
//! watch. A directory that cannot be read, or a pseudo-filesystem such as /proc, is skipped
//! with a notice. A watched root (or the directory of a listed file) that is deleted or moved
//! away is remembered as missing and watched again once it is back.

use std::collections::{BTreeSet, HashSet};

use rustc_hash::FxHashSet;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

pub mod backend;
#[cfg(target_os = "linux")]
mod inotify;
mod listing;
mod rules;
pub mod spec;

use backend::{AddError, Backend, FsEvent};
use listing::{Listed, Lister};
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
    /// Ctrl-C arrived during a long walk (the `stop` check said so).
    Interrupted,
}

impl std::fmt::Display for WatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WatchError::Limit(m) | WatchError::Other(m) => f.write_str(m),
            WatchError::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// Asked every `STOP_EVERY` directory entries of a walk: true ends the walk (Ctrl-C).
pub type Stop<'a> = &'a mut dyn FnMut() -> bool;

const STOP_EVERY: usize = 512;

/// Something the user should hear about: the whole line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A directory that cannot be read or watched, or a pseudo-filesystem: not watched.
    Skipped(String),
    /// A root (or a listed file's directory) was deleted or moved away.
    Gone(String),
    /// It is back, and watched again.
    Back(String),
}

pub struct Watch {
    backend: Box<dyn Backend>,
    /// Directories whose files count when their extension matches.
    roots: Vec<PathBuf>,
    /// Directories walked for `globs`.
    glob_roots: Vec<PathBuf>,
    globs: globset::GlobSet,
    files: FxHashSet<PathBuf>,
    exts: Vec<String>,
    base: PathBuf,
    user_ignore: Gitignore,
    /// .gitignore / .ignore matchers, one per directory that has them.
    gitignores: Vec<Gitignore>,
    /// Every directory with an OS watch. (Path sets are Fx hash sets: ordering paths compares
    /// them component by component, and SipHash over them was a tenth of the set-up time of a
    /// 10k-directory tree.)
    dirs: FxHashSet<PathBuf>,
    /// The directories reached by walking the watched trees (never ignored ones): files in
    /// them count by name and extension. (Other watched directories only hold listed files.)
    walked: FxHashSet<PathBuf>,
    /// Watched roots and directories of listed files that were deleted or moved away.
    missing: Vec<PathBuf>,
    notices: Vec<Notice>,
    file_count: usize,
}

impl Watch {
    pub fn start(spec: Spec, stop: Stop) -> Result<Watch, WatchError> {
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
            files: FxHashSet::default(),
            exts: spec.exts.clone(),
            base: spec.base.clone(),
            user_ignore,
            gitignores: Vec::new(),
            dirs: FxHashSet::default(),
            walked: FxHashSet::default(),
            missing: Vec::new(),
            notices: Vec::new(),
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
            watch.add_tree(root, &mut found, stop)?;
        }
        let found: FxHashSet<PathBuf> = found.into_iter().collect();
        watch.file_count = found.len();
        watch.add_files(&spec.files, |f| !found.contains(f))?;
        Ok(watch)
    }

    /// Watches more files (a file list arriving on stdin). `counts_new` says whether a file is
    /// not counted yet.
    pub fn add_files(
        &mut self,
        files: &[PathBuf],
        counts_new: impl Fn(&Path) -> bool,
    ) -> Result<(), WatchError> {
        for file in files {
            let Some(parent) = file.parent() else {
                continue;
            };
            if self.files.insert(file.clone()) && counts_new(file) {
                self.file_count += 1;
            }
            self.add_dir(parent)?;
        }
        Ok(())
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

    /// What the user should hear about since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// Whether a watched root (or a listed file's directory) is gone: `check_missing` then
    /// needs calling now and then.
    pub fn has_missing(&self) -> bool {
        !self.missing.is_empty()
    }

    /// Whether `path` is under a watched root that is gone.
    pub fn is_missing(&self, path: &Path) -> bool {
        self.missing.iter().any(|m| path.starts_with(m))
    }

    /// Whether the watched roots still exist: a root deleted while it is some process's
    /// current directory (ours, often) sends no event of its own until that process leaves it.
    /// Asked before a run of saves that include deleted files.
    pub fn check_roots(&mut self, out: &mut Vec<PathBuf>, stop: Stop) -> Result<(), WatchError> {
        for anchor in self.anchors() {
            if !self.is_missing(&anchor) && !is_real_dir(&anchor) {
                self.forget_dirs_under(&anchor);
                self.roots_gone_under(&anchor, out, stop)?;
            }
        }
        Ok(())
    }

    /// Watches again the missing directories that are back, and adds their files to `out`
    /// as saved (what is there now may differ from what was there before).
    pub fn check_missing(&mut self, out: &mut Vec<PathBuf>, stop: Stop) -> Result<(), WatchError> {
        for dir in std::mem::take(&mut self.missing) {
            if is_real_dir(&dir) {
                self.come_back(&dir, true, out, stop)?;
            } else {
                self.missing.push(dir);
            }
        }
        Ok(())
    }

    /// Adds to `out` the paths that this event says were saved (duplicates possible). Also
    /// follows new directories. Returns false if events were lost (queue overflow): the
    /// caller must assume a change.
    pub fn saved_paths(
        &mut self,
        event: &FsEvent,
        out: &mut Vec<PathBuf>,
        stop: Stop,
    ) -> Result<bool, WatchError> {
        // Backends without close events (polling, FSEvents) report a save as a creation or a
        // modification of contents.
        let no_close = !self.backend.reports_close();
        match event {
            FsEvent::Overflow => return Ok(false),
            FsEvent::Written(path) => self.push_relevant(path, out),
            // (A symlink is never followed: a symlink to a file counts as a save of its name.)
            FsEvent::MovedTo(path) if is_real_dir(path) => self.follow_new_dir(path, out, stop)?,
            FsEvent::MovedTo(path) => self.push_relevant(path, out),
            FsEvent::Created { path, dir } if *dir || is_real_dir(path) => {
                self.follow_new_dir(path, out, stop)?
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
                if self.forget_dirs_under(path) {
                    self.roots_gone_under(path, out, stop)?;
                }
            }
            // A rename away is no save: editors rename the original aside while saving.
            FsEvent::MovedFrom(path) => {
                if self.forget_dirs_under(path) {
                    self.roots_gone_under(path, out, stop)?;
                }
            }
        }
        Ok(true)
    }

    /// A directory deleted or moved away takes its subdirectories with it: forget them all,
    /// so that a new directory with the same name gets watched afresh. Returns whether any
    /// watched directory was forgotten.
    fn forget_dirs_under(&mut self, path: &Path) -> bool {
        // (A scan of every watched directory: this runs when a directory goes, not per save.)
        let gone: Vec<PathBuf> = (self.dirs.iter())
            .filter(|d| d.starts_with(path))
            .cloned()
            .collect();
        for dir in &gone {
            self.dirs.remove(dir);
            self.walked.remove(dir);
            self.backend.remove(dir);
        }
        !gone.is_empty()
    }

    /// The directories that must stay watched: the roots, and the directories of listed files.
    fn anchors(&self) -> BTreeSet<PathBuf> {
        let parents = self.files.iter().filter_map(|f| f.parent());
        (self.roots.iter().chain(&self.glob_roots))
            .map(PathBuf::as_path)
            .chain(parents)
            .map(Path::to_path_buf)
            .collect()
    }

    /// Watched directories under `path` are gone: a root among them is missing until it is
    /// back (unless it is back already: then it is watched again now).
    fn roots_gone_under(
        &mut self,
        path: &Path,
        out: &mut Vec<PathBuf>,
        stop: Stop,
    ) -> Result<(), WatchError> {
        for anchor in self.anchors() {
            if !anchor.starts_with(path) || self.missing.contains(&anchor) {
                continue;
            }
            if is_real_dir(&anchor) {
                self.come_back(&anchor, false, out, stop)?;
            } else if !self.missing.iter().any(|m| anchor.starts_with(m)) {
                self.missing.retain(|m| !m.starts_with(&anchor));
                self.missing.push(anchor.clone());
                self.notices.push(Notice::Gone(format!(
                    "{} was deleted or moved away: nothing there is watched until it is back \
                     (the interpreter keeps running)",
                    anchor.display()
                )));
            }
        }
        Ok(())
    }

    /// A root (or a listed file's directory) exists again: watch it, and report what is in it.
    fn come_back(
        &mut self,
        dir: &Path,
        was_missing: bool,
        out: &mut Vec<PathBuf>,
        stop: Stop,
    ) -> Result<(), WatchError> {
        if self.roots.iter().chain(&self.glob_roots).any(|r| r == dir) {
            self.follow_new_dir(dir, out, stop)?;
        } else {
            self.add_dir(dir)?;
        }
        let listed: Vec<PathBuf> = (self.files.iter())
            .filter(|f| f.parent() == Some(dir) && f.is_file())
            .cloned()
            .collect();
        out.extend(listed);
        self.notices.push(Notice::Back(format!(
            "{} {}: watching it again",
            dir.display(),
            if was_missing {
                "is back"
            } else {
                "was replaced"
            }
        )));
        Ok(())
    }

    fn push_relevant(&self, path: &Path, out: &mut Vec<PathBuf>) {
        if self.is_relevant(path) {
            out.push(path.to_path_buf());
        }
    }

    fn follow_new_dir(
        &mut self,
        dir: &Path,
        out: &mut Vec<PathBuf>,
        stop: Stop,
    ) -> Result<(), WatchError> {
        let is_root = self.roots.iter().chain(&self.glob_roots).any(|r| r == dir);
        let in_walked_dir = dir
            .parent()
            .is_some_and(|p| self.walked.contains(p) && !self.rules_for(p).skips_dir(dir));
        if (is_root || in_walked_dir) && !self.walked.contains(dir) {
            // Files may have been written before the watch existed: report them as saved,
            // except those still open for writing (their close, now watched, will report them).
            let mut found = Vec::new();
            self.add_tree(dir, &mut found, stop)?;
            let writing = open_for_writing(&found, stop)?;
            out.extend(found.into_iter().filter(|f| !writing.contains(f)));
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

    /// Watches `top` and the directories under it that are not ignored; `found` gets the
    /// relevant files. One directory listing per directory and no probing stats: ignore files,
    /// venv markers and symlinks are seen in the listing. Linear in the number of entries,
    /// and `stop` is asked now and then.
    fn add_tree(
        &mut self,
        top: &Path,
        found: &mut Vec<PathBuf>,
        stop: Stop,
    ) -> Result<(), WatchError> {
        if let Some(kind) = pseudo_filesystem(top) {
            self.notices.push(Notice::Skipped(format!(
                "{} is on a {kind} pseudo-filesystem, where nothing is saved: not watched",
                top.display()
            )));
            return Ok(());
        }
        std::thread::scope(|scope| {
            let mut lister = Lister::new();
            let walked = self.walk(top, found, stop, scope, &mut lister);
            lister.finish();
            walked
        })
    }

    /// add_tree's walk: each directory watched, then listed (on `lister`), then its entries
    /// sorted into subdirectories to walk and files that count.
    fn walk<'scope>(
        &mut self,
        top: &Path,
        found: &mut Vec<PathBuf>,
        stop: Stop,
        scope: &'scope std::thread::Scope<'scope, '_>,
        lister: &mut Lister<bool>,
    ) -> Result<(), WatchError> {
        let mut seen = 0usize;
        let mut queue = vec![top.to_path_buf()];
        loop {
            // The watch first, then the listing: a file written in between is in the listing,
            // one written after it gives events. (Listing first lost a file written between the
            // two into a directory just created.)
            while let Some(dir) = queue.pop() {
                let was_watched = self.dirs.contains(&dir);
                if self.add_dir(&dir)? {
                    lister.ask(scope, dir, was_watched);
                }
            }
            let Some(Listed {
                dir,
                tag: was_watched,
                entries,
            }) = lister.next()
            else {
                return Ok(());
            };
            let entries = match entries {
                Ok(entries) => entries,
                Err(e) => {
                    if !was_watched {
                        self.unwatch(&dir);
                    }
                    if e.kind() != std::io::ErrorKind::NotFound {
                        self.skipped(&dir, &e);
                    }
                    continue;
                }
            };
            let has = |name: &str| {
                entries
                    .iter()
                    .any(|e| !e.is_dir && e.name() == name.as_bytes())
            };
            let is_root = self.roots.iter().chain(&self.glob_roots).any(|r| *r == dir);
            if has("pyvenv.cfg") && !is_root {
                if !was_watched {
                    self.unwatch(&dir); // a virtualenv: never watched
                }
                continue;
            }
            for name in [".gitignore", ".ignore"] {
                if has(name) {
                    self.load_ignore_file(&dir, name);
                }
            }
            self.walked.insert(dir.clone());
            let rules = self.rules_for(&dir);
            for entry in entries {
                seen += 1;
                if seen.is_multiple_of(STOP_EVERY) && stop() {
                    return Err(WatchError::Interrupted);
                }
                // (A symlink is neither: a directory is walked under its real path only.)
                if entry.is_dir {
                    if !rules.skips_dir(&entry.path) {
                        queue.push(entry.path);
                    }
                } else if entry.is_file
                    && (rules.counts(&entry.path)
                        || (!self.files.is_empty() && self.files.contains(&entry.path)))
                {
                    found.push(entry.path);
                }
            }
        }
    }

    /// Watches `dir`. Ok(false): not watched (gone, unreadable, or already watched under
    /// another path), so not to be walked.
    fn add_dir(&mut self, dir: &Path) -> Result<bool, WatchError> {
        if self.dirs.contains(dir) {
            return Ok(true);
        }
        match self.backend.add(dir) {
            Ok(()) => {
                self.dirs.insert(dir.to_path_buf());
                Ok(true)
            }
            // Deleted between listing and watching: nothing to watch.
            Err(AddError::Gone) => Ok(false),
            // The same directory through another path (a bind mount): watched once.
            Err(AddError::Alias) => Ok(false),
            Err(AddError::Limit) => Err(limit(self.dirs.len())),
            Err(AddError::Other(e)) => {
                self.skipped(dir, &e);
                Ok(false)
            }
        }
    }

    /// Takes back the watch `add_dir` just gave `dir` (it turned out to be a virtualenv, or
    /// could not be listed).
    fn unwatch(&mut self, dir: &Path) {
        self.dirs.remove(dir);
        self.backend.remove(dir);
    }

    /// A directory that cannot be read or watched: said once, and the session goes on.
    fn skipped(&mut self, dir: &Path, e: &std::io::Error) {
        let why = match e.kind() {
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        self.notices.push(Notice::Skipped(format!(
            "cannot watch {} ({why}): skipped",
            dir.display()
        )));
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

/// A directory, and not a symlink to one.
fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// The kind of pseudo-filesystem `dir` is on (/proc, /sys, …), where files change without
/// anyone saving them and inotify reports nothing.
#[cfg(target_os = "linux")]
fn pseudo_filesystem(dir: &Path) -> Option<&'static str> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs into a zeroed struct we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c_path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // f_type's type differs between libcs
    Some(match st.f_type as i64 {
        0x9fa0 => "proc",
        0x6265_6572 => "sysfs",
        0x0027_e0eb | 0x6367_7270 => "cgroup",
        0x6462_6720 => "debugfs",
        0x7472_6163 => "tracefs",
        0x7363_6673 => "securityfs",
        0x1cd1 => "devpts",
        _ => return None,
    })
}

#[cfg(not(target_os = "linux"))]
fn pseudo_filesystem(_dir: &Path) -> Option<&'static str> {
    None
}

/// Which of `files` some process has open for writing (other systems than Linux have no leases
/// to ask with: none is).
#[cfg(not(target_os = "linux"))]
fn open_for_writing(_files: &[PathBuf], _stop: Stop) -> Result<HashSet<PathBuf>, WatchError> {
    Ok(HashSet::new())
}

/// Which of `files` some process has open for writing: a read lease is refused exactly then.
/// (Filesystems without leases, or files we do not own, answer "no".) An open, one fcntl and
/// the close, which drops a lease that was granted; `stop` is asked now and then.
#[cfg(target_os = "linux")]
fn open_for_writing(files: &[PathBuf], stop: Stop) -> Result<HashSet<PathBuf>, WatchError> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let mut writing = HashSet::new();
    if files.is_empty() {
        return Ok(writing);
    }
    // A writer opening a file in the instant we hold its lease makes the kernel send us SIGIO,
    // whose default action ends the process: while asking, ignore it unless someone handles it.
    let _sigio = IgnoreDefault::new(libc::SIGIO);
    for (i, path) in files.iter().enumerate() {
        if (i + 1).is_multiple_of(STOP_EVERY) && stop() {
            return Err(WatchError::Interrupted);
        }
        // Never blocking: a FIFO may have been put in the file's place meanwhile.
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
        else {
            continue;
        };
        // SAFETY: a lease request on a descriptor we own (closed right after).
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
        {
            writing.insert(path.clone());
        }
    }
    Ok(writing)
}

/// Ignores a signal whose disposition is the default, for as long as it lives.
#[cfg(target_os = "linux")]
struct IgnoreDefault {
    signal: libc::c_int,
    old: Option<libc::sigaction>,
}

#[cfg(target_os = "linux")]
impl IgnoreDefault {
    fn new(signal: libc::c_int) -> IgnoreDefault {
        // SAFETY: reading and setting one signal's disposition with zeroed structs we own.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction != libc::SIG_DFL
            {
                return IgnoreDefault { signal, old: None };
            }
            let mut ignore: libc::sigaction = std::mem::zeroed();
            ignore.sa_sigaction = libc::SIG_IGN;
            let set = libc::sigaction(signal, &ignore, std::ptr::null_mut()) == 0;
            IgnoreDefault {
                signal,
                old: set.then_some(old),
            }
        }
    }
}

#[cfg(target_os = "linux")]
impl Drop for IgnoreDefault {
    fn drop(&mut self) {
        if let Some(old) = &self.old {
            // SAFETY: restoring the disposition read in `new`.
            unsafe { libc::sigaction(self.signal, old, std::ptr::null_mut()) };
        }
    }
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// The kernel tells a lease holder that a writer is waiting with SIGIO, whose default
    /// action ends the process: while the host asks for leases, it must survive that.
    #[test]
    fn a_writer_breaking_a_lease_does_not_end_the_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.py");
        std::fs::write(&path, "x").unwrap();
        let _ignored = IgnoreDefault::new(libc::SIGIO);
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: a lease request on a descriptor we own.
        let leased = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) };
        assert_eq!(leased, 0, "{}", std::io::Error::last_os_error());
        let writer_path = path.clone();
        let writer = std::thread::spawn(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(writer_path)
                .map(drop)
        });
        // The writer's open now waits for the lease and the kernel has sent SIGIO.
        std::thread::sleep(Duration::from_millis(200));
        drop(file);
        writer.join().unwrap().unwrap();
    }
}
