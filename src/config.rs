//! The config file: discovery (`hotload.toml`, or `[tool.hotload]` in `pyproject.toml`, in the
//! current directory or the nearest parent, stopping at a repository's top), parsing with
//! positions, and validation of every key. Errors name file, line and column.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{Document, Item, Table, Value};

/// A value from the file with where it stood (byte range in the file).
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Range<usize>,
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

/// Every key the file may set. `None`: not set in the file.
#[derive(Debug, Clone, Default)]
pub struct FileValues {
    pub target: Option<Spanned<String>>,
    pub args: Option<Vec<String>>,
    pub watch: Option<Vec<String>>,
    pub ignore: Option<Vec<String>>,
    pub ext: Option<Vec<String>>,
    pub clear: Option<bool>,
    pub pre: Option<Spanned<String>>,
    pub post: Option<Spanned<String>>,
    pub entrypoint: Option<Spanned<String>>,
    /// Some(None): `poll = false` (OS events, said explicitly).
    pub poll: Option<Option<u64>>,
    pub reload: Option<crate::cli::ReloadMode>,
    pub steps: Option<Vec<Spanned<Step>>>,
}

pub const KEYS: &[&str] = &[
    "target",
    "args",
    "watch",
    "ignore",
    "ext",
    "clear",
    "pre",
    "post",
    "entrypoint",
    "poll",
    "reload",
    "steps",
];

#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub text: String,
    pub values: FileValues,
}

impl ConfigFile {
    /// The directory relative paths in the file are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// `path:line:col: message` for a position in this file.
    pub fn error_at(&self, span: &Range<usize>, message: &str) -> String {
        error_at(&self.path, &self.text, span, message)
    }
}

/// The nearest config file from `start` upwards; a directory holding `.git` ends the search.
pub fn discover(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let own = d.join("hotload.toml");
        if own.is_file() {
            return Some(own);
        }
        let pyproject = d.join("pyproject.toml");
        if pyproject.is_file() && has_tool_hotload(&pyproject) {
            return Some(pyproject);
        }
        if d.join(".git").exists() {
            return None;
        }
        dir = d.parent();
    }
    None
}

fn has_tool_hotload(pyproject: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(pyproject) else {
        return false;
    };
    match Document::parse(text.as_str()) {
        Ok(doc) => doc.get("tool").and_then(|t| t.get("hotload")).is_some(),
        // A broken pyproject.toml that mentions the table is reported by load().
        Err(_) => text.contains("[tool.hotload"),
    }
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<ConfigFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc = Document::parse(text.as_str()).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        error_at(path, &text, &span, e.message())
    })?;
    let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
    let mut file = ConfigFile {
        path: path.to_path_buf(),
        text: text.clone(),
        values: FileValues::default(),
    };
    let table: &Table = if is_pyproject {
        match doc.get("tool").and_then(|t| t.get("hotload")) {
            Some(Item::Table(t)) => t,
            Some(other) => {
                return Err(file.error_at(&span_of(other), "[tool.hotload] must be a table"));
            }
            None => return Err(format!("{}: has no [tool.hotload] table", path.display())),
        }
    } else {
        doc.as_table()
    };
    file.values = parse_table(&file, table)?;
    Ok(file)
}

fn parse_table(file: &ConfigFile, table: &Table) -> Result<FileValues, String> {
    let mut v = FileValues::default();
    for (key, item) in table.iter() {
        let key_span = table
            .key(key)
            .and_then(|k| k.span())
            .unwrap_or_else(|| span_of(item));
        match key {
            "target" => v.target = Some(string(file, item)?),
            "args" => v.args = Some(strings(file, item)?),
            "watch" => v.watch = Some(strings(file, item)?),
            "ignore" => v.ignore = Some(strings(file, item)?),
            "ext" => v.ext = Some(strings(file, item)?),
            "clear" => v.clear = Some(boolean(file, item)?),
            "pre" => v.pre = Some(callable(file, item)?),
            "post" => v.post = Some(callable(file, item)?),
            "entrypoint" => {
                let s = string(file, item)?;
                if !is_identifier(&s.value) {
                    return Err(
                        file.error_at(&s.span, "entrypoint must be a function name, e.g. \"main\"")
                    );
                }
                v.entrypoint = Some(s);
            }
            "poll" => v.poll = Some(poll(file, item)?),
            "reload" => {
                let s = string(file, item)?;
                v.reload = Some(crate::cli::ReloadMode::parse(&s.value).ok_or_else(|| {
                    file.error_at(
                        &s.span,
                        &format!(
                            "`reload` is \"entry\", \"changed\" or \"deep\", not {:?}",
                            s.value
                        ),
                    )
                })?);
            }
            "steps" => v.steps = Some(steps(file, item)?),
            other => {
                return Err(file.error_at(
                    &key_span,
                    &format!(
                        "unknown key `{other}`{}; known keys: {}",
                        suggest(other, KEYS),
                        KEYS.join(", ")
                    ),
                ));
            }
        }
    }
    if v.steps.is_some() && (v.pre.is_some() || v.post.is_some() || v.entrypoint.is_some()) {
        let span = [v.pre.as_ref(), v.post.as_ref(), v.entrypoint.as_ref()]
            .into_iter()
            .flatten()
            .map(|s| s.span.clone())
            .next()
            .unwrap_or(0..0);
        return Err(file.error_at(
            &span,
            "`pre`/`post`/`entrypoint` wrap the target's reload; with an explicit `steps` list, use `call` steps instead",
        ));
    }
    Ok(v)
}

const STEP_KINDS: &[&str] = &["clear", "reload", "call", "run"];

fn steps(file: &ConfigFile, item: &Item) -> Result<Vec<Spanned<Step>>, String> {
    let tables: Vec<(&dyn TableLike, Range<usize>)> = match item {
        Item::ArrayOfTables(a) => a
            .iter()
            .map(|t| (t as &dyn TableLike, t.span().unwrap_or(0..0)))
            .collect(),
        Item::Value(Value::Array(a)) => {
            let mut out = Vec::new();
            for v in a.iter() {
                match v {
                    Value::InlineTable(t) => {
                        out.push((t as &dyn TableLike, t.span().unwrap_or(0..0)))
                    }
                    other => {
                        return Err(file.error_at(
                            &other.span().unwrap_or(0..0),
                            "each step must be a table, e.g. { run = \"pytest -q\" }",
                        ));
                    }
                }
            }
            out
        }
        other => {
            return Err(file.error_at(
                &span_of(other),
                "`steps` must be an array of tables ([[steps]])",
            ));
        }
    };
    let mut out = Vec::new();
    for (table, span) in tables {
        let entries = table.entries();
        if entries.len() != 1 {
            return Err(file.error_at(
                &span,
                &format!(
                    "a step needs exactly one of: {} (found {})",
                    STEP_KINDS.join(", "),
                    entries.len()
                ),
            ));
        }
        let (kind, value, value_span) = &entries[0];
        let text = |what: &str| -> Result<String, String> {
            value
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
                .ok_or_else(|| file.error_at(value_span, &format!("`{kind}` takes {what}")))
        };
        let step = match kind.as_str() {
            "clear" => match value.as_bool() {
                Some(true) => Step::Clear,
                _ => {
                    return Err(file.error_at(value_span, "`clear` step is written `clear = true`"));
                }
            },
            "reload" => {
                let m = text("a module name, e.g. \"app.main\"")?;
                if !is_dotted(&m) {
                    return Err(file.error_at(value_span, &format!("`{m}` is not a module name")));
                }
                Step::Reload(m)
            }
            "call" => {
                let c = text("\"module:function\"")?;
                check_callable_syntax(&c).map_err(|m| file.error_at(value_span, &m))?;
                Step::Call(c)
            }
            "run" => Step::Run(text("a shell command")?),
            other => {
                return Err(file.error_at(
                    value_span,
                    &format!(
                        "unknown step kind `{other}`{}; steps are: {}",
                        suggest(other, STEP_KINDS),
                        STEP_KINDS.join(", ")
                    ),
                ));
            }
        };
        out.push(Spanned {
            value: step,
            span: value_span.clone(),
        });
    }
    Ok(out)
}

/// Tables and inline tables alike: (key, value, span of value).
trait TableLike {
    fn entries(&self) -> Vec<(String, Value, Range<usize>)>;
}

impl TableLike for Table {
    fn entries(&self) -> Vec<(String, Value, Range<usize>)> {
        self.iter()
            .map(|(k, item)| {
                let value = item.as_value().cloned().unwrap_or_else(|| Value::from(""));
                (k.to_string(), value, span_of(item))
            })
            .collect()
    }
}

impl TableLike for toml_edit::InlineTable {
    fn entries(&self) -> Vec<(String, Value, Range<usize>)> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.clone(), v.span().unwrap_or(0..0)))
            .collect()
    }
}

fn span_of(item: &Item) -> Range<usize> {
    item.span().unwrap_or(0..0)
}

fn string(file: &ConfigFile, item: &Item) -> Result<Spanned<String>, String> {
    match item.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(Spanned {
            value: s.to_string(),
            span: span_of(item),
        }),
        Some(_) => Err(file.error_at(&span_of(item), "must not be empty")),
        None => Err(file.error_at(
            &span_of(item),
            &format!("expected a string, found {}", type_name(item)),
        )),
    }
}

fn strings(file: &ConfigFile, item: &Item) -> Result<Vec<String>, String> {
    if let Some(s) = item.as_str() {
        return Ok(vec![s.to_string()]);
    }
    let Some(array) = item.as_array() else {
        return Err(file.error_at(
            &span_of(item),
            &format!("expected a list of strings, found {}", type_name(item)),
        ));
    };
    array
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| file.error_at(&v.span().unwrap_or(0..0), "expected a string"))
        })
        .collect()
}

fn boolean(file: &ConfigFile, item: &Item) -> Result<bool, String> {
    item.as_bool().ok_or_else(|| {
        file.error_at(
            &span_of(item),
            &format!("expected true or false, found {}", type_name(item)),
        )
    })
}

fn poll(file: &ConfigFile, item: &Item) -> Result<Option<u64>, String> {
    match (item.as_bool(), item.as_integer()) {
        (Some(false), _) => Ok(None),
        (Some(true), _) => Ok(Some(100)),
        (_, Some(ms)) if ms > 0 => Ok(Some(ms as u64)),
        _ => Err(file.error_at(
            &span_of(item),
            "`poll` is a number of milliseconds (> 0), or true/false",
        )),
    }
}

fn callable(file: &ConfigFile, item: &Item) -> Result<Spanned<String>, String> {
    let s = string(file, item)?;
    check_callable_syntax(&s.value).map_err(|m| file.error_at(&s.span, &m))?;
    Ok(s)
}

/// `module:function` with a dotted module name and an identifier.
pub fn check_callable_syntax(s: &str) -> Result<(), String> {
    match s.split_once(':') {
        Some((m, f)) if is_dotted(m) && is_identifier(f) => Ok(()),
        _ => Err(format!(
            "`{s}` is not of the form \"module:function\" (e.g. \"app.main:run\")"
        )),
    }
}

fn is_dotted(s: &str) -> bool {
    s.split('.').all(is_identifier)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) | Item::Value(Value::InlineTable(_)) => "a table",
        Item::ArrayOfTables(_) | Item::Value(Value::Array(_)) => "a list",
        Item::Value(Value::String(_)) => "a string",
        Item::Value(Value::Integer(_)) => "an integer",
        Item::Value(Value::Float(_)) => "a float",
        Item::Value(Value::Boolean(_)) => "a boolean",
        Item::Value(Value::Datetime(_)) => "a date",
    }
}

fn suggest(word: &str, known: &[&str]) -> String {
    known
        .iter()
        .find(|k| distance(word, k) <= 2)
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `path:line:col: message` (1-based), counting columns in characters.
pub fn error_at(path: &Path, text: &str, span: &Range<usize>, message: &str) -> String {
    let upto = &text[..span.start.min(text.len())];
    let line = upto.matches('\n').count() + 1;
    let col = upto
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    format!("{}:{line}:{col}: {message}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileValues, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hotload.toml");
        std::fs::write(&path, text).unwrap();
        load(&path).map(|f| f.values)
    }

    #[test]
    fn all_keys_parse() {
        let v = parse(
            "target = \"app.main\"\nargs = [\"-x\"]\nwatch = [\"src\", \"conf/*.yaml\"]\nignore = [\"data/**\"]\n\
             ext = [\"py\", \"toml\"]\nclear = false\npre = \"app.main:teardown\"\npost = \"app.main:run\"\n\
             entrypoint = \"main\"\npoll = 250\n",
        )
        .unwrap();
        assert_eq!(v.target.unwrap().value, "app.main");
        assert_eq!(v.watch.unwrap(), ["src", "conf/*.yaml"]);
        assert_eq!(v.clear, Some(false));
        assert_eq!(v.poll, Some(Some(250)));
        assert_eq!(v.post.unwrap().value, "app.main:run");
    }

    #[test]
    fn steps_parse_in_order() {
        let v = parse("[[steps]]\nclear = true\n[[steps]]\nreload = \"lib\"\n[[steps]]\ncall = \"lib:main\"\n[[steps]]\nrun = \"echo hi\"\n").unwrap();
        let kinds: Vec<Step> = v.steps.unwrap().into_iter().map(|s| s.value).collect();
        assert_eq!(
            kinds,
            [
                Step::Clear,
                Step::Reload("lib".into()),
                Step::Call("lib:main".into()),
                Step::Run("echo hi".into())
            ]
        );
    }

    #[test]
    fn errors_have_line_and_column() {
        let e = parse("target = \"lib\"\ntagret = 1\n").unwrap_err();
        assert!(e.ends_with(":2:1: unknown key `tagret` (did you mean `target`?); known keys: target, args, watch, ignore, ext, clear, pre, post, entrypoint, poll, reload, steps"), "{e}");
        let e = parse("clear = \"yes\"\n").unwrap_err();
        assert!(
            e.contains(":1:9: expected true or false, found a string"),
            "{e}"
        );
        let e = parse("[[steps]]\nexec = \"x\"\n").unwrap_err();
        assert!(e.contains(":2:8: unknown step kind `exec`"), "{e}");
        let e = parse("post = \"app.main.run\"\n").unwrap_err();
        assert!(e.contains(":1:8: `app.main.run` is not of the form"), "{e}");
        let e = parse("target = [\n").unwrap_err();
        assert!(e.contains("hotload.toml:"), "{e}");
    }
}
