//! `--print-config`: one row per declared key, its folded value and where it came from; and the
//! README's key table, generated from the same declarations (a test keeps the README in step).

#[cfg(test)]
use super::keys::{Env, Flag, Form, Scope};
use super::keys::{KEYS, Key, Kind, Step, Val};
use super::text::quoted;
use super::{Origin, Settings};

impl Settings {
    /// The settings, one per line, each with its origin (`--print-config`).
    pub fn describe(&self) -> String {
        let mut out = match &self.config {
            Some(c) => format!(
                "# config file: {}\n",
                shown_path(&c.path.display().to_string())
            ),
            None => "# config file: none\n".to_string(),
        };
        for (key, s) in KEYS.iter().zip(&self.folded) {
            let value = self.show(key, &s.value, &s.origin);
            out.push_str(&format!(
                "{:<10} = {value:<40} # {}\n",
                key.name,
                shown_path(&s.origin.to_string())
            ));
        }
        out
    }

    fn show(&self, key: &Key, value: &Val, origin: &Origin) -> String {
        let unset = || key.unset.to_string();
        match value {
            Val::Unset | Val::Ms(None) => unset(),
            Val::Str(s) if key.kind == Kind::Target => quoted(&self.shown_path(s, origin)),
            Val::Str(s) => quoted(s),
            Val::List(l) if l.is_empty() && !key.unset.is_empty() => unset(),
            Val::List(l) => format!(
                "[{}]",
                l.iter().map(|s| quoted(s)).collect::<Vec<_>>().join(", ")
            ),
            Val::Bool(b) => b.to_string(),
            Val::Ms(Some(ms)) => format!("{ms} ms"),
            Val::Reload(m) => m.name().to_string(),
            Val::Steps(s) if s.is_empty() => unset(),
            Val::Steps(steps) => format!(
                "[{}]",
                steps
                    .iter()
                    .map(describe_step)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// A path in a header or origin, with control characters escaped.
fn shown_path(p: &str) -> String {
    super::text::shown(p)
}

fn describe_step(step: &Step) -> String {
    match step {
        Step::Clear => "{ clear = true }".into(),
        Step::Reload(m) => format!("{{ reload = {} }}", quoted(m)),
        Step::Call(c) => format!("{{ call = {} }}", quoted(c)),
        Step::Run(r) => format!("{{ run = {} }}", quoted(r)),
    }
}

#[cfg(test)]
/// The README key table's row for `key`: `| key | type | env | flag |`.
pub fn readme_row(key: &Key) -> String {
    let env: Vec<String> = key
        .env
        .iter()
        .map(|e| match e {
            Env::Value(n) => {
                let note = match key.kind {
                    k if k.is_list() => " (comma-separated)",
                    Kind::Bool => " (true/false)",
                    _ => "",
                };
                format!("`{n}`{note}")
            }
            Env::Marker(n, _) => format!("`{n}={n}`"),
        })
        .collect();
    let flags: Vec<String> = key.flags.iter().map(flag_shown).collect();
    let cells = [
        format!("`{}`", key.name),
        key.doc.to_string(),
        env.join(", "),
        flags.join(", "),
    ];
    let cells: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.is_empty() {
                " ".into()
            } else {
                format!(" {c} ")
            }
        })
        .collect();
    format!("|{}|", cells.join("|"))
}

#[cfg(test)]
fn flag_shown(f: &Flag) -> String {
    let name = match (f.form, f.short) {
        (Form::Optional { name, .. }, _) => format!("{}[={name}]", f.name),
        (_, Some(c)) => format!("-{c}`, `{}", f.name),
        _ => f.name.to_string(),
    };
    match f.scope {
        Scope::Test => format!("`test {name}`"),
        _ => format!("`{name}`"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::fold::fold;
    use super::*;

    const README: &str = include_str!("../../README.md");

    #[test]
    fn the_readme_key_table_is_the_declaration() {
        let header = "| key | type | env | flag |";
        let start = README
            .find(header)
            .expect("README has the key table header");
        let rows: Vec<&str> = README[start..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .collect();
        let expected: Vec<String> = KEYS.iter().map(readme_row).collect();
        assert_eq!(
            rows,
            expected,
            "README.md's key table differs from src/config/keys.rs; it should read:\n{}",
            expected.join("\n")
        );
    }

    #[test]
    fn print_config_has_one_row_per_declared_key_in_order() {
        let folded = fold(&[], Path::new("/cwd"));
        let s = Settings::from_folded(folded, None, Path::new("/cwd"));
        let text = s.describe();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("# config file: none"));
        let keys: Vec<&str> = lines
            .map(|l| l.split_once(" = ").expect(l).0.trim())
            .collect();
        let declared: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        assert_eq!(keys, declared);
        for line in text.lines().skip(1) {
            assert!(line.ends_with("# default"), "{line}");
        }
        assert!(text.contains("\nreload     = changed "), "{text}");
        assert!(text.contains("\nclear      = auto (when stdout is a terminal) "));
        assert!(text.contains("\ndata-files = true "), "{text}");
    }

    #[test]
    fn escapes_in_values_are_shown_escaped() {
        let mut cli = super::super::Layer::default();
        cli.set(
            "args",
            Val::List(vec!["a\u{1b}[31m".into()]),
            Origin::Cli("-- ARGS"),
        );
        let folded = fold(&[&cli], Path::new("/cwd"));
        let s = Settings::from_folded(folded, None, Path::new("/cwd"));
        let text = s.describe();
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert!(text.contains("[\"a\\u{1b}[31m\"]"), "{text}");
    }
}
