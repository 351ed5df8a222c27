//! The declaration table: every setting exactly once — its config key, environment variables,
//! command-line flags, value kind (which says how each source's text is parsed, which rules the
//! value obeys and how it is shown), default, help text and what `--print-config` and the
//! README show. Everything else in `config/` is driven by `KEYS`.

/// What a save reloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadMode {
    Entry,
    Changed,
    Deep,
}

impl ReloadMode {
    pub const ALL: [ReloadMode; 3] = [ReloadMode::Entry, ReloadMode::Changed, ReloadMode::Deep];

    pub fn name(self) -> &'static str {
        match self {
            ReloadMode::Entry => "entry",
            ReloadMode::Changed => "changed",
            ReloadMode::Deep => "deep",
        }
    }

    /// Case-insensitive, the same from every source.
    pub fn parse(s: &str) -> Option<ReloadMode> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// One step of an explicit `[[steps]]` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Clear the terminal.
    Clear,
    /// Import (first run) or reload a module.
    Reload(String),
    /// Call `module:function`.
    Call(String),
    /// Run a shell command; a non-zero status fails the step.
    Run(String),
}

/// A setting's value, whatever its kind. `Unset` is "not set anywhere" (e.g. no target).
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Unset,
    Str(String),
    List(Vec<String>),
    Bool(bool),
    /// Milliseconds; `None` is "off" (`poll = false`). Kept signed until the bounds check.
    Ms(Option<i64>),
    Reload(ReloadMode),
    Steps(Vec<Step>),
}

/// Longest `poll` / `debounce` accepted.
pub const MAX_MS: i64 = 60_000;

/// How a value is written in each source, and which rules it obeys (checked in `check.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A module name or a path; a relative path is relative to where it was written.
    Target,
    /// Files, directories or globs to watch; relative to where they were written.
    Watch,
    /// Gitignore-style globs, anchored where they were written.
    Ignore,
    /// File extensions.
    Exts,
    /// Strings passed on verbatim (a module's or pytest's arguments): no environment form.
    Args,
    Bool,
    /// `module:function`.
    Callable,
    /// A function name of the target module.
    Function,
    /// Milliseconds from `min` to `MAX_MS`; with `on`, `true` means `on` and `false` means off.
    Millis {
        min: i64,
        on: Option<i64>,
    },
    Reload,
    Steps,
}

impl Kind {
    /// List kinds: a string or a list of strings in TOML, comma-separated in the environment.
    pub fn is_list(self) -> bool {
        matches!(self, Kind::Watch | Kind::Ignore | Kind::Exts | Kind::Args)
    }
}

/// An environment variable that sets a key.
#[derive(Debug, Clone, Copy)]
pub enum Env {
    /// `NAME=text`, parsed as the key's kind.
    Value(&'static str),
    /// The original tool's style: only `NAME=NAME` counts, and sets this value.
    Marker(&'static str, fn() -> Val),
}

impl Env {
    pub fn name(&self) -> &'static str {
        match self {
            Env::Value(n) | Env::Marker(n, _) => n,
        }
    }
}

/// Which command line a flag belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `hotload-host [OPTIONS] [TARGET]` only.
    Run,
    /// `hotload-host test [OPTIONS]` only.
    Test,
    /// Both.
    Both,
}

#[derive(Debug, Clone, Copy)]
pub enum Form {
    /// The positional TARGET.
    Positional,
    /// Everything after `--`.
    Trailing,
    /// `--flag VALUE`, repeatable; `split`: VALUE is comma-separated.
    Value { name: &'static str, split: bool },
    /// `--flag` alone means `missing`; a value only as `--flag=VALUE` (or `--flag 250`: a number).
    Optional {
        name: &'static str,
        missing: &'static str,
    },
    /// A switch that sets this value.
    Switch(fn() -> Val),
}

#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// `--watch`, `TARGET` or `-- ARGS`: the flag's id, and its name in origins and messages.
    pub name: &'static str,
    pub short: Option<char>,
    pub form: Form,
    pub scope: Scope,
    pub help: &'static str,
}

#[derive(Debug)]
pub struct Key {
    /// The config key (`a.b` is key `b` of table `[a]`) and the `--print-config` row.
    pub name: &'static str,
    pub kind: Kind,
    pub default: fn() -> Val,
    /// Lowest precedence first: a later variable set in the same environment wins.
    pub env: &'static [Env],
    pub flags: &'static [Flag],
    /// The README key table's type column.
    #[allow(dead_code)]
    pub doc: &'static str,
    /// What `--print-config` shows for an unset or empty value ("" = the plain value).
    pub unset: &'static str,
}

const fn flag(name: &'static str, form: Form, help: &'static str) -> Flag {
    Flag {
        name,
        short: None,
        form,
        scope: Scope::Both,
        help,
    }
}

const fn short(c: char, f: Flag) -> Flag {
    Flag {
        short: Some(c),
        ..f
    }
}

const fn scoped(scope: Scope, f: Flag) -> Flag {
    Flag { scope, ..f }
}

pub static KEYS: &[Key] = &[
    Key {
        name: "target",
        kind: Kind::Target,
        default: || Val::Unset,
        env: &[Env::Value("HOTLOAD_TARGET")],
        flags: &[scoped(
            Scope::Run,
            flag(
                "TARGET",
                Form::Positional,
                "Module to run: a module name (`lib`, `pkg.sub`) or a path (`lib.py`, `pkg/sub.py`, \
                 `lib`). Default: `target` from the config file.",
            ),
        )],
        doc: "string",
        unset: "(none)",
    },
    Key {
        name: "args",
        kind: Kind::Args,
        default: || Val::List(Vec::new()),
        env: &[],
        flags: &[scoped(
            Scope::Run,
            flag(
                "-- ARGS",
                Form::Trailing,
                "Arguments for the module; it sees them as `sys.argv[1:]`.",
            ),
        )],
        doc: "list of strings",
        unset: "",
    },
    Key {
        name: "watch",
        kind: Kind::Watch,
        default: || Val::List(Vec::new()),
        env: &[Env::Value("HOTLOAD_WATCH")],
        flags: &[short(
            'w',
            flag(
                "--watch",
                Form::Value {
                    name: "PATH",
                    split: false,
                },
                "Watch this file, directory or glob (repeatable). Default: the target's root directory.",
            ),
        )],
        doc: "list of strings",
        unset: "(the target's root directory)",
    },
    Key {
        name: "ignore",
        kind: Kind::Ignore,
        default: || Val::List(Vec::new()),
        env: &[Env::Value("HOTLOAD_IGNORE")],
        flags: &[short(
            'i',
            flag(
                "--ignore",
                Form::Value {
                    name: "GLOB",
                    split: false,
                },
                "Ignore paths matching this gitignore-style glob (repeatable), e.g. `data/**` or `*_gen.py`.",
            ),
        )],
        doc: "list of strings",
        unset: "",
    },
    Key {
        name: "ext",
        kind: Kind::Exts,
        default: || Val::List(vec!["py".into()]),
        env: &[Env::Value("HOTLOAD_EXT")],
        flags: &[short(
            'e',
            flag(
                "--ext",
                Form::Value {
                    name: "EXTS",
                    split: true,
                },
                "File extensions that trigger a reload, comma-separated (repeatable). Default: py.",
            ),
        )],
        doc: "list of strings",
        unset: "",
    },
    Key {
        name: "clear",
        kind: Kind::Bool,
        default: || Val::Unset,
        env: &[
            Env::Value("HOTLOAD_CLEAR"),
            Env::Marker("HOTLOAD_NO_CLEAR", || Val::Bool(false)),
        ],
        flags: &[
            flag(
                "--clear",
                Form::Switch(|| Val::Bool(true)),
                "Clear the terminal before each run (the default when stdout is a terminal).",
            ),
            flag(
                "--no-clear",
                Form::Switch(|| Val::Bool(false)),
                "Never clear the terminal (also: HOTLOAD_NO_CLEAR=HOTLOAD_NO_CLEAR).",
            ),
        ],
        doc: "bool",
        unset: "auto (when stdout is a terminal)",
    },
    Key {
        name: "pre",
        kind: Kind::Callable,
        default: || Val::Unset,
        env: &[Env::Value("HOTLOAD_PRE")],
        flags: &[flag(
            "--pre",
            Form::Value {
                name: "MODULE:FUNC",
                split: false,
            },
            "Call `module:function` before each reload (teardown).",
        )],
        doc: "`\"module:function\"`",
        unset: "(none)",
    },
    Key {
        name: "post",
        kind: Kind::Callable,
        default: || Val::Unset,
        env: &[Env::Value("HOTLOAD_POST")],
        flags: &[flag(
            "--post",
            Form::Value {
                name: "MODULE:FUNC",
                split: false,
            },
            "Call `module:function` after each successful (re)load (re-init, main).",
        )],
        doc: "`\"module:function\"`",
        unset: "(none)",
    },
    Key {
        name: "entrypoint",
        kind: Kind::Function,
        default: || Val::Unset,
        env: &[Env::Value("HOTLOAD_ENTRYPOINT")],
        flags: &[flag(
            "--entrypoint",
            Form::Value {
                name: "FUNC",
                split: false,
            },
            "Call `FUNC()` of the module after each successful (re)load.",
        )],
        doc: "function name",
        unset: "(none)",
    },
    Key {
        name: "poll",
        kind: Kind::Millis {
            min: 1,
            on: Some(100),
        },
        default: || Val::Unset,
        env: &[Env::Value("HOTLOAD_POLL")],
        flags: &[flag(
            "--poll",
            Form::Optional {
                name: "MS",
                missing: "100",
            },
            "Poll the filesystem every MS milliseconds (default 100) instead of using OS events \
             (for network mounts, WSL's /mnt, container volumes).",
        )],
        doc: "milliseconds, or bool",
        unset: "off (OS events)",
    },
    Key {
        name: "debounce",
        kind: Kind::Millis { min: 0, on: None },
        default: || Val::Unset,
        env: &[Env::Value("HOTLOAD_DEBOUNCE")],
        flags: &[flag(
            "--debounce",
            Form::Value {
                name: "MS",
                split: false,
            },
            "Wait until no file has changed for MS milliseconds before each run. Default 0: a lone \
             save runs at once, and only bursts (many files, or saves right after a run) wait 50 ms.",
        )],
        doc: "milliseconds",
        unset: "0 ms (a lone save runs at once; bursts wait 50 ms)",
    },
    Key {
        name: "reload",
        kind: Kind::Reload,
        default: || Val::Reload(ReloadMode::Changed),
        env: &[
            Env::Marker("HOTLOAD_RECURSIVE", || Val::Reload(ReloadMode::Changed)),
            Env::Value("HOTLOAD_RELOAD"),
        ],
        flags: &[
            flag(
                "--reload",
                Form::Value {
                    name: "MODE",
                    split: false,
                },
                "What a save reloads: `entry` (only the target, as the original did), `changed` (the \
                 changed project modules and everything importing them, in order, then the target), \
                 `deep` (as changed, and old functions, classes and instances are patched in place).",
            ),
            flag(
                "--recursive",
                Form::Switch(|| Val::Reload(ReloadMode::Changed)),
                "The original tool's flag: the same as `--reload changed`.",
            ),
        ],
        doc: "`\"entry\"`, `\"changed\"`, `\"deep\"`",
        unset: "",
    },
    Key {
        name: "main",
        kind: Kind::Bool,
        default: || Val::Bool(false),
        env: &[Env::Value("HOTLOAD_MAIN")],
        flags: &[flag(
            "--main",
            Form::Switch(|| Val::Bool(true)),
            "Run the target as `__main__`, like `python lib.py`.",
        )],
        doc: "bool",
        unset: "",
    },
    Key {
        name: "data-files",
        kind: Kind::Bool,
        default: || Val::Bool(true),
        env: &[Env::Value("HOTLOAD_DATA_FILES")],
        flags: &[
            flag(
                "--data-files",
                Form::Switch(|| Val::Bool(true)),
                "Files the module reads during a run join the watch set (the default).",
            ),
            flag(
                "--no-data-files",
                Form::Switch(|| Val::Bool(false)),
                "Only watch source files, not the files the module reads.",
            ),
        ],
        doc: "bool",
        unset: "",
    },
    Key {
        name: "steps",
        kind: Kind::Steps,
        default: || Val::Steps(Vec::new()),
        env: &[],
        flags: &[],
        doc: "array of tables",
        unset: "(implied: clear, pre, reload target, post)",
    },
    Key {
        name: "test.args",
        kind: Kind::Args,
        default: || Val::List(Vec::new()),
        env: &[],
        flags: &[scoped(
            Scope::Test,
            flag(
                "-- PYTEST_ARGS",
                Form::Trailing,
                "Arguments for pytest, as on its own command line.",
            ),
        )],
        doc: "list of strings",
        unset: "",
    },
    Key {
        name: "test.all",
        kind: Kind::Bool,
        default: || Val::Bool(false),
        env: &[Env::Value("HOTLOAD_TEST_ALL")],
        flags: &[scoped(
            Scope::Test,
            flag(
                "--all",
                Form::Switch(|| Val::Bool(true)),
                "After the affected tests pass, run the whole selection.",
            ),
        )],
        doc: "bool",
        unset: "",
    },
];

/// Index of `name` in `KEYS`.
pub fn index(name: &str) -> usize {
    KEYS.iter()
        .position(|k| k.name == name)
        .unwrap_or_else(|| panic!("undeclared setting {name:?}"))
}

/// The top-level names a config table may hold (`test` for `test.args`), in declaration order.
pub fn top_level_names() -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for k in KEYS {
        let top = k.name.split('.').next().unwrap_or(k.name);
        if !out.contains(&top) {
            out.push(top);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_flags_and_variables_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for k in KEYS {
            assert!(seen.insert(k.name.to_string()), "key {}", k.name);
            for e in k.env {
                assert!(seen.insert(e.name().to_string()), "env {}", e.name());
                assert!(e.name().starts_with("HOTLOAD_"), "{}", e.name());
            }
            for f in k.flags {
                assert!(
                    seen.insert(format!("{:?}{}", f.scope, f.name)),
                    "{}",
                    f.name
                );
            }
        }
    }

    #[test]
    fn defaults_match_their_kind() {
        for k in KEYS {
            let ok = match ((k.default)(), k.kind) {
                (Val::Unset, _) => true,
                (Val::List(_), kind) => kind.is_list(),
                (Val::Bool(_), Kind::Bool) => true,
                (Val::Reload(_), Kind::Reload) => true,
                (Val::Steps(_), Kind::Steps) => true,
                _ => false,
            };
            assert!(ok, "default of {}", k.name);
        }
    }

    #[test]
    fn reload_modes_parse_case_insensitively() {
        assert_eq!(ReloadMode::parse("DEEP"), Some(ReloadMode::Deep));
        assert_eq!(ReloadMode::parse("entry"), Some(ReloadMode::Entry));
        assert_eq!(ReloadMode::parse("fast"), None);
    }
}
