//! What counts inside a watched tree: for the entries of one walked directory, whether a file
//! counts (extension, watch globs, editor junk, ignore rules) and whether a subdirectory is
//! skipped (VCS metadata, caches, virtualenvs, ignored). Worked out once per directory.

use std::path::Path;

use ignore::Match;
use ignore::gitignore::Gitignore;

use super::Watch;

/// Directory names that are never watched: VCS metadata, caches, virtualenvs, dependencies.
/// (Hidden directories such as .git and .venv, and any directory holding pyvenv.cfg, are
/// skipped too.)
const JUNK_DIRS: &[&str] = &["__pycache__", "node_modules", "site-packages"];

/// What decides, for the entries of one walked directory, whether they are watched: worked
/// out once per directory. Ignore rules match an entry's own path only, as in git: the
/// directories above it were checked when they were walked (and a directory given with -w is
/// watched even if an ignore rule names it).
pub(super) struct DirRules<'a> {
    pub watch: &'a Watch,
    /// The directory is under a watched root, so watched extensions count there.
    pub exts_apply: bool,
    /// The directory is under the base the user's --ignore globs are anchored at.
    pub under_base: bool,
    /// The .gitignore / .ignore matchers of the directory and its parents, deepest first.
    pub gitignores: Vec<&'a Gitignore>,
}

impl DirRules<'_> {
    /// Whether a file counts: a watched extension or a watch glob takes it, its name is no
    /// editor junk and no ignore rule names it.
    pub fn counts(&self, path: &Path) -> bool {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        let ext = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => ext,
            _ => "",
        };
        let wanted = (self.exts_apply && self.watch.exts.iter().any(|e| e == ext))
            || (!self.watch.globs.is_empty() && self.watch.globs.is_match(path));
        wanted && !is_junk_file(name) && !self.ignores(path, false)
    }

    /// Whether a subdirectory is left alone: VCS metadata, caches, virtualenvs, ignored.
    pub fn skips_dir(&self, dir: &Path) -> bool {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with('.')
            || JUNK_DIRS.contains(&name)
            || name.ends_with(".egg-info")
            || self.ignores(dir, true)
    }

    pub fn ignores(&self, path: &Path, is_dir: bool) -> bool {
        let user = &self.watch.user_ignore;
        if !user.is_empty() {
            let matched = if self.under_base {
                user.matched(path, is_dir)
            } else {
                user.matched(path.file_name().unwrap_or_default(), is_dir)
            };
            if matched.is_ignore() {
                return true;
            }
        }
        // The first decision from the deepest ignore file wins.
        for gi in &self.gitignores {
            match gi.matched(path, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }
}

/// Editor swap, backup and temp files (Vim, Emacs, JetBrains, the usual `~`).
pub(super) fn is_junk_file(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name == "4913"
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
        || [".swp", ".swo", ".swx", ".tmp", ".bak", ".orig"]
            .iter()
            .any(|ext| name.ends_with(ext))
}
