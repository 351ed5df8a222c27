//! The command line: a clap `Command` built from the declarations (each setting's flags, help
//! and value names come from `KEYS`), plus the flags that are not settings, each declared once
//! below. Parsing yields an `Invocation`: those flags as plain fields and the command-line layer.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches};

use super::env::from_text;
use super::keys::{Flag, Form, KEYS, Scope, Val};
use super::{Layer, Origin};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// A subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Write a starter config.
    Init,
    /// Allow the `run` steps of the config file.
    Trust,
    /// pytest in the warm interpreter.
    Test,
}

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub command: Option<Command>,
    pub once: bool,
    pub repl: bool,
    pub print_config: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub color: ColorChoice,
    /// `--config FILE`: read this file instead of discovering one (and trust its `run` steps).
    pub config: Option<PathBuf>,
    pub no_config: bool,
    /// The settings given on the command line.
    pub layer: Layer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// `--help` or `--version`: print this on stdout, exit 0.
    Help(String),
    /// Bad usage: one line, exit 2.
    Usage(String),
}

const EXAMPLES: &str = "Examples:\n  hotload-host lib.py\n  hotload-host pkg.sub -- --port 8000\n  \
                        find . -name '*.py' | hotload-host lib.py\n  hotload-host app.py --entrypoint main -w conf -e py,toml";

/// The flags that are not settings. `global`: also accepted after a subcommand.
fn other_args() -> Vec<Arg> {
    let switch = |id: &'static str, help: &'static str| {
        Arg::new(id).long(id).action(ArgAction::SetTrue).help(help)
    };
    vec![
        switch(
            "once",
            "Import (and call the entrypoint) once, then exit: 0 on success, 1 on failure.",
        ),
        switch(
            "repl",
            "An interactive Python console on the module's globals, while saves keep reloading it.",
        )
        .conflicts_with("once"),
        switch(
            "print-config",
            "Print the merged settings and where each value came from, then exit.",
        ),
        Arg::new("config")
            .long("config")
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .conflicts_with("no-config")
            .global(true)
            .help("Use this config file instead of discovering hotload.toml / pyproject.toml."),
        switch("no-config", "Ignore config files.").global(true),
        switch(
            "quiet",
            "Print only the module's own output and errors; no status lines.",
        )
        .short('q')
        .conflicts_with("verbose")
        .global(true),
        switch(
            "verbose",
            "Also print changed paths, per-phase timings and the number of watches.",
        )
        .short('v')
        .global(true),
        Arg::new("color")
            .long("color")
            .value_name("WHEN")
            .value_parser(["auto", "always", "never"])
            .default_value("auto")
            .global(true)
            .help("When to colour the host's own lines."),
    ]
}

/// The clap command: settings' flags from the declarations, then the other flags.
pub fn command() -> clap::Command {
    let settings = |scope: Scope| {
        KEYS.iter()
            .flat_map(|k| k.flags)
            .filter(move |f| f.scope == scope || f.scope == Scope::Both)
            .map(arg)
            .collect::<Vec<_>>()
    };
    clap::Command::new("hotload-host")
        .version(env!("CARGO_PKG_VERSION"))
        .about(
            "Import a Python module once, keep the interpreter alive, and reload the module on every save.",
        )
        .after_help(EXAMPLES)
        .args_conflicts_with_subcommands(true)
        .args(settings(Scope::Run))
        .args(other_args())
        .subcommand(clap::Command::new("init").about(
            "Write a commented starter config: `[tool.hotload]` into pyproject.toml if it exists, \
             else hotload.toml. Never overwrites existing content.",
        ))
        .subcommand(clap::Command::new("trust").about(
            "Allow the `run` steps (shell commands) of the config file found from here, or named \
             with --config: records the file and a hash of its commands.",
        ))
        .subcommand(
            clap::Command::new("test")
                .about("Run pytest in the warm interpreter, and the affected tests again after every save.")
                .args(settings(Scope::Test)),
        )
}

fn arg(flag: &Flag) -> Arg {
    let a = Arg::new(flag.name).help(flag.help);
    let long = flag.name.trim_start_matches('-');
    let a = match flag.short {
        Some(c) => a.short(c),
        None => a,
    };
    match flag.form {
        Form::Positional => a.value_name(flag.name),
        Form::Trailing => a
            .value_name(flag.name.trim_start_matches("-- "))
            .num_args(0..)
            .last(true)
            .action(ArgAction::Append),
        Form::Value { name, split } => {
            let a = a.long(long).value_name(name).action(ArgAction::Append);
            if split { a.value_delimiter(',') } else { a }
        }
        Form::Optional { name, missing } => a
            .long(long)
            .value_name(name)
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value(missing)
            .action(ArgAction::Append),
        Form::Switch(_) => a.long(long).action(ArgAction::SetTrue),
    }
}

/// Parses the command line (`args` includes the program name).
pub fn parse_args<I, T>(args: I) -> Result<Invocation, ArgsError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args = join_optional_values(args.into_iter().map(Into::into).collect());
    let top = command().try_get_matches_from(args).map_err(|e| {
        use clap::error::ErrorKind::*;
        match e.kind() {
            DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand => {
                ArgsError::Help(e.render().to_string())
            }
            _ => ArgsError::Usage(one_line(&e.render().to_string())),
        }
    })?;
    let (command, m) = match top.subcommand() {
        Some(("init", m)) => (Some(Command::Init), m),
        Some(("trust", m)) => (Some(Command::Trust), m),
        Some(("test", m)) => (Some(Command::Test), m),
        _ => (None, &top),
    };
    let scope = if command == Some(Command::Test) {
        Scope::Test
    } else {
        Scope::Run
    };
    let flag = |id: &str| top.get_flag(id);
    Ok(Invocation {
        command,
        once: flag("once"),
        repl: flag("repl"),
        print_config: flag("print-config"),
        quiet: m.get_flag("quiet"),
        verbose: m.get_flag("verbose"),
        color: match m.get_one::<String>("color").map(String::as_str) {
            Some("always") => ColorChoice::Always,
            Some("never") => ColorChoice::Never,
            _ => ColorChoice::Auto,
        },
        config: m.get_one::<PathBuf>("config").cloned(),
        no_config: m.get_flag("no-config"),
        layer: if command.is_none() || command == Some(Command::Test) {
            layer(m, scope)?
        } else {
            Layer::default()
        },
    })
}

/// The command-line layer. When several flags of one key are given, the last one wins.
fn layer(m: &ArgMatches, scope: Scope) -> Result<Layer, ArgsError> {
    let mut layer = Layer::default();
    for key in KEYS {
        let mut last: Option<(usize, Val, &'static str)> = None;
        for flag in key
            .flags
            .iter()
            .filter(|f| f.scope == scope || f.scope == Scope::Both)
        {
            if m.value_source(flag.name) != Some(ValueSource::CommandLine) {
                continue;
            }
            let at = m
                .indices_of(flag.name)
                .and_then(|i| i.max())
                .unwrap_or_default();
            let value = match flag.form {
                Form::Switch(v) => v(),
                _ => {
                    let values: Vec<String> = m
                        .get_many::<String>(flag.name)
                        .into_iter()
                        .flatten()
                        .cloned()
                        .collect();
                    if key.kind.is_list() {
                        if values.is_empty() {
                            continue;
                        }
                        Val::List(values)
                    } else {
                        let text = values.last().map(String::as_str).unwrap_or_default();
                        from_text(key, text)
                            .map_err(|e| ArgsError::Usage(Origin::Cli(flag.name).error(None, &e)))?
                    }
                }
            };
            if last.as_ref().is_none_or(|(i, _, _)| at >= *i) {
                last = Some((at, value, flag.name));
            }
        }
        if let Some((_, value, name)) = last {
            layer.set(key.name, value, Origin::Cli(name));
        }
    }
    Ok(layer)
}

/// `--poll 250` means `--poll=250`, but `--poll lib.py` is `--poll` and the target: an
/// optional value is taken from the next argument only when it is a number.
fn join_optional_values(args: Vec<OsString>) -> Vec<OsString> {
    let optional: Vec<&str> = KEYS
        .iter()
        .flat_map(|k| k.flags)
        .filter(|f| matches!(f.form, Form::Optional { .. }))
        .map(|f| f.name)
        .collect();
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter().peekable();
    while let Some(a) = it.next() {
        if a == "--" {
            out.push(a);
            out.extend(it);
            break;
        }
        let is_optional = a.to_str().is_some_and(|s| optional.contains(&s));
        let next_is_number = it
            .peek()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_optional && next_is_number {
            let mut joined = a;
            joined.push("=");
            joined.push(it.next().unwrap_or_default());
            out.push(joined);
        } else {
            out.push(a);
        }
    }
    out
}

/// clap's message on one line: the error, its tip and possible values; no usage block.
fn one_line(text: &str) -> String {
    let mut parts = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if !line.is_empty() {
            parts.push(line.trim_start_matches("error: "));
        }
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::super::ReloadMode;
    use super::*;

    fn parse(args: &[&str]) -> Result<Invocation, ArgsError> {
        parse_args(std::iter::once("hotload-host").chain(args.iter().copied()))
    }

    fn value(inv: &Invocation, key: &str) -> Option<(Val, Origin)> {
        inv.layer
            .get(key)
            .map(|s| (s.value.clone(), s.origin.clone()))
    }

    #[test]
    fn the_command_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn settings_flags_make_the_command_line_layer() {
        let inv = parse(&[
            "lib.py", "-w", "a", "-w", "b", "-e", "py,toml", "--poll", "--reload", "DEEP", "--",
            "x",
        ])
        .unwrap();
        assert_eq!(
            value(&inv, "target"),
            Some((Val::Str("lib.py".into()), Origin::Cli("TARGET")))
        );
        assert_eq!(
            value(&inv, "watch"),
            Some((
                Val::List(vec!["a".into(), "b".into()]),
                Origin::Cli("--watch")
            ))
        );
        assert_eq!(
            value(&inv, "ext").unwrap().0,
            Val::List(vec!["py".into(), "toml".into()])
        );
        assert_eq!(value(&inv, "poll").unwrap().0, Val::Ms(Some(100)));
        assert_eq!(
            value(&inv, "reload").unwrap().0,
            Val::Reload(ReloadMode::Deep)
        );
        assert_eq!(
            value(&inv, "args"),
            Some((Val::List(vec!["x".into()]), Origin::Cli("-- ARGS")))
        );
        assert_eq!(value(&inv, "pre"), None);
    }

    #[test]
    fn the_last_of_several_flags_of_one_key_wins() {
        let inv = parse(&["--clear", "--no-clear"]).unwrap();
        assert_eq!(
            value(&inv, "clear"),
            Some((Val::Bool(false), Origin::Cli("--no-clear")))
        );
        let inv = parse(&["--no-clear", "--clear"]).unwrap();
        assert_eq!(value(&inv, "clear").unwrap().0, Val::Bool(true));
        let inv = parse(&["--reload", "deep", "--recursive"]).unwrap();
        assert_eq!(
            value(&inv, "reload"),
            Some((Val::Reload(ReloadMode::Changed), Origin::Cli("--recursive")))
        );
        let inv = parse(&["--pre", "a:b", "--pre", "c:d"]).unwrap();
        assert_eq!(value(&inv, "pre").unwrap().0, Val::Str("c:d".into()));
    }

    #[test]
    fn an_optional_value_never_swallows_the_target() {
        let inv = parse(&["--poll", "lib.py"]).unwrap();
        assert_eq!(value(&inv, "poll").unwrap().0, Val::Ms(Some(100)));
        assert_eq!(value(&inv, "target").unwrap().0, Val::Str("lib.py".into()));
        let inv = parse(&["lib.py", "--poll", "50"]).unwrap();
        assert_eq!(value(&inv, "poll").unwrap().0, Val::Ms(Some(50)));
        let inv = parse(&["lib.py", "--poll=250"]).unwrap();
        assert_eq!(value(&inv, "poll").unwrap().0, Val::Ms(Some(250)));
        // After `--`, nothing is touched.
        let inv = parse(&["lib.py", "--", "--poll", "5"]).unwrap();
        assert_eq!(
            value(&inv, "args").unwrap().0,
            Val::List(vec!["--poll".into(), "5".into()])
        );
    }

    #[test]
    fn other_flags_are_plain_fields() {
        let inv = parse(&["-q", "--once", "--color", "never", "--config", "x.toml"]).unwrap();
        assert!(inv.quiet && inv.once && !inv.repl && !inv.verbose);
        assert_eq!(inv.color, ColorChoice::Never);
        assert_eq!(inv.config, Some(PathBuf::from("x.toml")));
        assert!(inv.layer.is_empty());
        assert_eq!(parse(&["init"]).unwrap().command, Some(Command::Init));
        assert_eq!(parse(&["trust"]).unwrap().command, Some(Command::Trust));
    }

    #[test]
    fn the_test_subcommand_has_its_own_flags() {
        let inv = parse(&["test", "--all", "-w", "src", "--", "-x", "-k", "fast"]).unwrap();
        assert_eq!(inv.command, Some(Command::Test));
        assert_eq!(
            value(&inv, "test.all"),
            Some((Val::Bool(true), Origin::Cli("--all")))
        );
        assert_eq!(
            value(&inv, "test.args").unwrap().0,
            Val::List(vec!["-x".into(), "-k".into(), "fast".into()])
        );
        assert_eq!(
            value(&inv, "watch").unwrap().0,
            Val::List(vec!["src".into()])
        );
        assert!(matches!(parse(&["--all"]), Err(ArgsError::Usage(_))));
    }

    #[test]
    fn errors_are_one_line_and_help_is_not_an_error() {
        match parse(&["--bogus"]) {
            Err(ArgsError::Usage(m)) => {
                assert!(m.contains("--bogus") && !m.contains('\n'), "{m}")
            }
            other => panic!("{other:?}"),
        }
        match parse(&["--color", "purple"]) {
            Err(ArgsError::Usage(m)) => {
                assert!(m.contains("purple") && m.contains("always"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        match parse(&["--poll=abc"]) {
            Err(ArgsError::Usage(m)) => assert!(
                m.starts_with("command line --poll: ") && m.contains("\"abc\""),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse(&["--help"]), Err(ArgsError::Help(h)) if h.contains("--poll")));
        assert!(matches!(parse(&["--version"]), Err(ArgsError::Help(_))));
    }
}
