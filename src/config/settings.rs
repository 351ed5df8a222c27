//! The folded, checked settings as typed fields: what a session, the watcher and the run plan
//! are built from.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use super::keys::{KEYS, ReloadMode, Step, Val, index};
use super::{ConfigFile, Origin, Sourced};

/// Everything a session needs to know, folded and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Option<ConfigFile>,
    pub cwd: PathBuf,
    pub target: Sourced<Option<String>>,
    pub args: Sourced<Vec<String>>,
    pub watch: Sourced<Vec<String>>,
    pub ignore: Sourced<Vec<String>>,
    pub ext: Sourced<Vec<String>>,
    /// None: clear when stdout is a terminal.
    pub clear: Sourced<Option<bool>>,
    pub pre: Sourced<Option<String>>,
    pub post: Sourced<Option<String>>,
    pub entrypoint: Sourced<Option<String>>,
    pub poll: Sourced<Option<u64>>,
    /// 0: a lone save runs at once.
    pub debounce: Sourced<u64>,
    pub reload: Sourced<ReloadMode>,
    /// Run the target as `__main__`.
    #[allow(dead_code)] // declared; the behaviour comes later
    pub main: Sourced<bool>,
    /// Files the module reads join the watch set.
    #[allow(dead_code)] // declared; the behaviour comes later
    pub data_files: Sourced<bool>,
    pub steps: Sourced<Vec<Step>>,
    /// `hotload-host test`: pytest's arguments, and whether to run the whole selection.
    pub test_args: Sourced<Vec<String>>,
    pub test_all: Sourced<bool>,
    /// Every key's value in declaration order, as folded (what `--print-config` shows).
    pub(super) folded: Vec<Sourced<Val>>,
}

/// A typed field from a folded value (already checked, so every conversion is total).
trait FromVal: Sized {
    fn from_val(v: &Val) -> Self;
}

impl FromVal for Option<String> {
    fn from_val(v: &Val) -> Self {
        match v {
            Val::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromVal for Vec<String> {
    fn from_val(v: &Val) -> Self {
        match v {
            Val::List(l) => l.clone(),
            _ => Vec::new(),
        }
    }
}

impl FromVal for Option<bool> {
    fn from_val(v: &Val) -> Self {
        match v {
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl FromVal for bool {
    fn from_val(v: &Val) -> Self {
        matches!(v, Val::Bool(true))
    }
}

impl FromVal for Option<u64> {
    fn from_val(v: &Val) -> Self {
        match v {
            Val::Ms(Some(ms)) => u64::try_from(*ms).ok(),
            _ => None,
        }
    }
}

impl FromVal for u64 {
    fn from_val(v: &Val) -> Self {
        <Option<u64>>::from_val(v).unwrap_or(0)
    }
}

impl FromVal for ReloadMode {
    fn from_val(v: &Val) -> Self {
        match v {
            Val::Reload(m) => *m,
            _ => ReloadMode::Changed,
        }
    }
}

impl FromVal for Vec<Step> {
    fn from_val(v: &Val) -> Self {
        match v {
            Val::Steps(s) => s.clone(),
            _ => Vec::new(),
        }
    }
}

/// Hands out each folded value once, by key name, and remembers which were taken.
struct Fields<'a> {
    folded: &'a [Sourced<Val>],
    taken: RefCell<Vec<bool>>,
}

impl Fields<'_> {
    fn get<T: FromVal>(&self, key: &str) -> Sourced<T> {
        let i = index(key);
        self.taken.borrow_mut()[i] = true;
        let s = &self.folded[i];
        Sourced {
            value: T::from_val(&s.value),
            origin: s.origin.clone(),
        }
    }

    fn untaken(&self) -> Vec<&'static str> {
        KEYS.iter()
            .zip(self.taken.borrow().iter())
            .filter(|(_, t)| !**t)
            .map(|(k, _)| k.name)
            .collect()
    }
}

impl Settings {
    pub(super) fn from_folded(
        folded: Vec<Sourced<Val>>,
        config: Option<ConfigFile>,
        cwd: &Path,
    ) -> Settings {
        let f = Fields {
            folded: &folded,
            taken: RefCell::new(vec![false; KEYS.len()]),
        };
        let s = Settings {
            target: f.get("target"),
            args: f.get("args"),
            watch: f.get("watch"),
            ignore: f.get("ignore"),
            ext: f.get("ext"),
            clear: f.get("clear"),
            pre: f.get("pre"),
            post: f.get("post"),
            entrypoint: f.get("entrypoint"),
            poll: f.get("poll"),
            debounce: f.get("debounce"),
            reload: f.get("reload"),
            main: f.get("main"),
            data_files: f.get("data-files"),
            steps: f.get("steps"),
            test_args: f.get("test.args"),
            test_all: f.get("test.all"),
            config,
            cwd: cwd.to_path_buf(),
            folded: Vec::new(),
        };
        debug_assert!(f.untaken().is_empty(), "no field for {:?}", f.untaken());
        Settings { folded, ..s }
    }

    /// Something to run: a target, or an explicit step list.
    pub fn require_target(&self) -> Result<(), String> {
        if self.target.value.is_none() && self.steps.value.is_empty() {
            return Err(match &self.config {
                Some(c) => format!(
                    "no target: give one (hotload-host lib.py) or set `target` in {}",
                    c.path.display()
                ),
                None => "no target: give a module or file to run (e.g. hotload-host lib.py), or write a config with `hotload-host init`".into(),
            });
        }
        Ok(())
    }

    /// Whether a clear step runs before each run.
    pub fn clears(&self) -> bool {
        use std::io::IsTerminal;
        self.clear.value.unwrap_or(true) && std::io::stdout().is_terminal()
    }

    /// The directory the target is resolved against and that goes on sys.path when the plan
    /// has no target (an explicit step list): the config file's directory, else cwd.
    pub fn project_dir(&self) -> PathBuf {
        self.config
            .as_ref()
            .map(|c| c.dir().to_path_buf())
            .unwrap_or_else(|| self.cwd.clone())
    }

    /// The directory a relative value from `origin` is relative to.
    pub fn base_dir(&self, origin: &Origin) -> PathBuf {
        origin.base(&self.cwd)
    }

    /// A path as the user wrote it: relative to the config file's directory or to cwd.
    pub fn shown_path(&self, path: &str, origin: &Origin) -> String {
        Path::new(path)
            .strip_prefix(self.base_dir(origin))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| path.to_string())
    }

    /// `problem` about `reference` (a `module:function` or module the plan names), pointing
    /// at where it was written: the config file position, the flag or the variable.
    pub fn where_written(&self, reference: &str, problem: &str) -> String {
        for s in [&self.pre, &self.post] {
            if s.value.as_deref() == Some(reference) {
                return s.origin.error(None, problem);
            }
        }
        if let Some(e) = &self.entrypoint.value
            && reference.rsplit_once(':').is_some_and(|(_, f)| f == e)
        {
            return self.entrypoint.origin.error(None, problem);
        }
        let names = |s: &Step| matches!(s, Step::Reload(r) | Step::Call(r) if r == reference);
        if let Some(i) = self.steps.value.iter().position(names) {
            return self.steps.origin.error(Some(i), problem);
        }
        format!("{reference}: {problem}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::fold::fold;
    use super::*;

    #[test]
    fn every_declared_key_becomes_a_field() {
        // from_folded asserts (debug builds) that it took every declared key.
        let folded = fold(&[], Path::new("/cwd"));
        let s = Settings::from_folded(folded, None, Path::new("/cwd"));
        assert_eq!(s.ext.value, ["py"]);
        assert!(s.data_files.value);
        assert_eq!(s.debounce.value, 0);
        assert_eq!(s.poll.value, None);
    }
}
