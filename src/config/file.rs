//! The config file: which one (`--config`, `HOTLOAD_CONFIG`, or discovery of `hotload.toml` /
//! `[tool.hotload]` in `pyproject.toml` from the current directory upwards), and its layer:
//! each declared key read with its kind's TOML form, keeping file, line and column.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{Document, Item, TableLike, Value};

use super::keys::{KEYS, Key, Kind, ReloadMode, Step, Val, top_level_names};
use super::text::{shown, suggest};
use super::{At, Invocation, Layer, Origin, Place};

#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub text: String,
}

impl ConfigFile {
    /// The directory relative paths in the file are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// `path:line:col: message` for a position in this file.
    pub fn error_at(&self, span: &Range<usize>, message: &str) -> String {
        let at = self.at(span);
        format!("{}:{}:{}: {message}", self.path.display(), at.line, at.col)
    }

    fn at(&self, span: &Range<usize>) -> At {
        At::in_text(&self.text, span.clone())
    }

    fn origin(&self, span: &Range<usize>, items: Vec<Range<usize>>) -> Origin {
        Origin::File(Place {
            path: self.path.clone(),
            at: self.at(span),
            items: items.iter().map(|s| self.at(s)).collect(),
        })
    }
}

/// The config file to read, if any: `--no-config` none; `--config FILE`; `HOTLOAD_CONFIG`;
/// else the nearest one found from `cwd` upwards.
pub fn choose(inv: &Invocation, cwd: &Path) -> Option<PathBuf> {
    if inv.no_config {
        None
    } else if let Some(p) = &inv.config {
        Some(cwd.join(p))
    } else if let Some(p) = std::env::var_os("HOTLOAD_CONFIG").filter(|p| !p.is_empty()) {
        Some(cwd.join(p))
    } else {
        discover(cwd)
    }
}

/// The nearest config file from `start` upwards. The search ends at a repository's top (a
/// directory holding `.git`), at `$HOME`, and before crossing into another filesystem (as git
/// does): a config above those is not this project's.
pub fn discover(start: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .and_then(|h| std::fs::canonicalize(h).ok());
    let device = |d: &Path| std::fs::metadata(d).map(|m| m.dev()).ok();
    let start_device = device(start);
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
        if d.join(".git").exists() || home.as_deref() == Some(d) {
            return None;
        }
        dir = d.parent().filter(|p| device(p) == start_device);
    }
    None
}

/// A config file found by discovery (or named by HOTLOAD_CONFIG) is refused when someone else
/// could have written it: owned by another user (root excepted), or writable by group or
/// others. Git refuses such a repository the same way (`safe.directory`).
fn check_owner(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(()); // reading it reports the error
    };
    let me = unsafe { libc::geteuid() };
    let file = shown(&path.display().to_string());
    let why = "its settings can run commands as you";
    let instead = "name it with --config to use it anyway, or --no-config to ignore it";
    if meta.uid() != me && meta.uid() != 0 {
        return Err(format!(
            "{file} is owned by {} (uid {}), not by you (uid {me}) or root: refusing to read it, \
             since {why}; {instead}",
            user_name(meta.uid()).unwrap_or_else(|| "another user".into()),
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => "group and others",
            (true, false) => "its group",
            _ => "others",
        };
        return Err(format!(
            "{file} is writable by {who} (mode {mode:04o}): refusing to read it, since {why}; \
             `chmod go-w {file}` fixes that, or {instead}"
        ));
    }
    Ok(())
}

fn user_name(uid: u32) -> Option<String> {
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r fills `pwd` with pointers into `buf`, both alive while we read them.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc != 0 || out.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buf`, NUL-terminated by getpwuid_r.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

fn has_tool_hotload(pyproject: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(pyproject) else {
        return false;
    };
    match Document::parse(text.as_str()) {
        Ok(doc) => doc.get("tool").and_then(|t| t.get("hotload")).is_some(),
        // A broken pyproject.toml that mentions the table is reported by read().
        Err(_) => text.contains("[tool.hotload"),
    }
}

/// Reads a config file into its layer; type errors are reported here, rules after the fold.
/// `check_owner`: refuse a file someone else could have written (not for --config).
pub fn read(path: &Path, check_owner: bool) -> Result<(ConfigFile, Layer), String> {
    if check_owner {
        self::check_owner(path)?;
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = ConfigFile {
        path: path.to_path_buf(),
        text,
    };
    let doc = Document::parse(file.text.as_str()).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        file.error_at(&span, &shown(e.message()))
    })?;
    let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
    let table: &dyn TableLike = if is_pyproject {
        match doc.get("tool").and_then(|t| t.get("hotload")) {
            Some(item) => item
                .as_table_like()
                .ok_or_else(|| file.error_at(&span_of(item), "[tool.hotload] must be a table"))?,
            None => return Err(format!("{}: has no [tool.hotload] table", path.display())),
        }
    } else {
        doc.as_table()
    };
    let mut layer = Layer::default();
    read_table(&file, table, "", &mut layer)?;
    Ok((file, layer))
}

/// The keys of `table`; `prefix` is `""` or a table's name with a dot (`test.`).
fn read_table(
    file: &ConfigFile,
    table: &dyn TableLike,
    prefix: &str,
    layer: &mut Layer,
) -> Result<(), String> {
    for (name, item) in table.iter() {
        let full = format!("{prefix}{name}");
        if let Some(key) = KEYS.iter().find(|k| k.name == full) {
            let (value, items) = read_value(file, key, item)?;
            layer.set(key.name, value, file.origin(&span_of(item), items));
            continue;
        }
        let sub = format!("{full}.");
        if KEYS.iter().any(|k| k.name.starts_with(&sub))
            && let Some(t) = item.as_table_like()
        {
            read_table(file, t, &sub, layer)?;
            continue;
        }
        let key_span = table
            .key(name)
            .and_then(|k| k.span())
            .unwrap_or_else(|| span_of(item));
        let (known, table_name) = if prefix.is_empty() {
            (top_level_names(), String::new())
        } else {
            let names = KEYS
                .iter()
                .filter_map(|k| k.name.strip_prefix(prefix))
                .collect();
            (names, format!(" in [{}]", prefix.trim_end_matches('.')))
        };
        return Err(file.error_at(
            &key_span,
            &format!(
                "unknown key `{}`{}; known keys{table_name}: {}",
                shown(name),
                suggest(name, &known),
                known.join(", ")
            ),
        ));
    }
    Ok(())
}

/// One value in its kind's TOML form, with the positions of its entries (lists, steps).
fn read_value(
    file: &ConfigFile,
    key: &Key,
    item: &Item,
) -> Result<(Val, Vec<Range<usize>>), String> {
    let err = |span: &Range<usize>, m: &str| file.error_at(span, m);
    let here = span_of(item);
    Ok(match key.kind {
        Kind::Target | Kind::Callable | Kind::Function => (Val::Str(string(file, item)?), vec![]),
        Kind::Reload => {
            let s = string(file, item)?;
            let mode = ReloadMode::parse(&s).ok_or_else(|| err(&here, &reload_expected(&s)))?;
            (Val::Reload(mode), vec![])
        }
        Kind::Watch | Kind::Ignore | Kind::Exts | Kind::Args => {
            let (list, spans) = strings(file, item)?;
            (Val::List(list), spans)
        }
        Kind::Bool => (
            Val::Bool(item.as_bool().ok_or_else(|| {
                err(
                    &here,
                    &format!("expected true or false, found {}", type_name(item)),
                )
            })?),
            vec![],
        ),
        Kind::Millis { on, .. } => {
            let value = match (item.as_bool(), item.as_integer()) {
                (Some(false), _) if on.is_some() => None,
                (Some(true), _) if on.is_some() => on,
                (None, Some(ms)) => Some(ms),
                _ => return Err(err(&here, &super::check::ms_expected(key))),
            };
            (Val::Ms(value), vec![])
        }
        Kind::Steps => {
            let (steps, spans) = steps(file, item)?;
            (Val::Steps(steps), spans)
        }
    })
}

pub fn reload_expected(got: &str) -> String {
    format!(
        "`reload` is \"entry\", \"changed\" or \"deep\", not {}",
        super::text::quoted(got)
    )
}

const STEP_KINDS: &[&str] = &["clear", "reload", "call", "run"];

fn steps(file: &ConfigFile, item: &Item) -> Result<(Vec<Step>, Vec<Range<usize>>), String> {
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
    let mut steps = Vec::new();
    let mut spans = Vec::new();
    for (table, span) in tables {
        let entries: Vec<(&str, &Item)> = table.iter().collect();
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
        let (kind, value) = entries[0];
        let value_span = span_of(value);
        let text = |what: &str| -> Result<String, String> {
            value
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
                .ok_or_else(|| file.error_at(&value_span, &format!("`{kind}` takes {what}")))
        };
        let step = match kind {
            "clear" => match value.as_bool() {
                Some(true) => Step::Clear,
                _ => {
                    return Err(
                        file.error_at(&value_span, "`clear` step is written `clear = true`")
                    );
                }
            },
            "reload" => Step::Reload(text("a module name, e.g. \"app.main\"")?),
            "call" => Step::Call(text("\"module:function\"")?),
            "run" => Step::Run(text("a shell command")?),
            other => {
                return Err(file.error_at(
                    &value_span,
                    &format!(
                        "unknown step kind `{}`{}; steps are: {}",
                        shown(other),
                        suggest(other, STEP_KINDS),
                        STEP_KINDS.join(", ")
                    ),
                ));
            }
        };
        steps.push(step);
        spans.push(value_span);
    }
    Ok((steps, spans))
}

fn span_of(item: &Item) -> Range<usize> {
    item.span().unwrap_or(0..0)
}

fn string(file: &ConfigFile, item: &Item) -> Result<String, String> {
    match item.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s.to_string()),
        Some(_) => Err(file.error_at(&span_of(item), "must not be empty")),
        None => Err(file.error_at(
            &span_of(item),
            &format!("expected a string, found {}", type_name(item)),
        )),
    }
}

fn strings(file: &ConfigFile, item: &Item) -> Result<(Vec<String>, Vec<Range<usize>>), String> {
    if let Some(s) = item.as_str() {
        return Ok((vec![s.to_string()], vec![span_of(item)]));
    }
    let Some(array) = item.as_array() else {
        return Err(file.error_at(
            &span_of(item),
            &format!("expected a list of strings, found {}", type_name(item)),
        ));
    };
    let mut list = Vec::new();
    let mut spans = Vec::new();
    for v in array.iter() {
        let span = v.span().unwrap_or(0..0);
        let s = v
            .as_str()
            .ok_or_else(|| file.error_at(&span, "expected a string"))?;
        list.push(s.to_string());
        spans.push(span);
    }
    Ok((list, spans))
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

#[cfg(test)]
mod tests {
    use super::super::fold::fold;
    use super::*;

    fn parse(text: &str) -> Result<Layer, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hotload.toml");
        std::fs::write(&path, text).unwrap();
        read(&path, true).map(|(_, l)| l)
    }

    fn value(layer: &Layer, key: &str) -> Val {
        layer.get(key).unwrap().value.clone()
    }

    #[test]
    fn all_keys_parse() {
        let l = parse(
            "target = \"app.main\"\nargs = [\"-x\"]\nwatch = [\"src\", \"conf/*.yaml\"]\nignore = [\"data/**\"]\n\
             ext = [\"py\", \"toml\"]\nclear = false\npre = \"app.main:teardown\"\npost = \"app.main:run\"\n\
             entrypoint = \"main\"\npoll = 250\ndebounce = 20\nmain = true\ndata-files = false\n\
             [test]\nargs = [\"-q\"]\nall = true\n",
        )
        .unwrap();
        assert_eq!(value(&l, "target"), Val::Str("app.main".into()));
        assert_eq!(
            value(&l, "watch"),
            Val::List(vec!["src".into(), "conf/*.yaml".into()])
        );
        assert_eq!(value(&l, "clear"), Val::Bool(false));
        assert_eq!(value(&l, "poll"), Val::Ms(Some(250)));
        assert_eq!(value(&l, "debounce"), Val::Ms(Some(20)));
        assert_eq!(value(&l, "main"), Val::Bool(true));
        assert_eq!(value(&l, "data-files"), Val::Bool(false));
        assert_eq!(value(&l, "test.args"), Val::List(vec!["-q".into()]));
        assert_eq!(value(&l, "test.all"), Val::Bool(true));
        assert_eq!(value(&l, "post"), Val::Str("app.main:run".into()));
        // Positions of list entries are kept.
        let Origin::File(place) = &l.get("watch").unwrap().origin else {
            panic!()
        };
        assert_eq!((place.items[1].line, place.items[1].col), (3, 17));
    }

    #[test]
    fn steps_parse_in_order() {
        let l = parse("[[steps]]\nclear = true\n[[steps]]\nreload = \"lib\"\n[[steps]]\ncall = \"lib:main\"\n[[steps]]\nrun = \"echo hi\"\n").unwrap();
        assert_eq!(
            value(&l, "steps"),
            Val::Steps(vec![
                Step::Clear,
                Step::Reload("lib".into()),
                Step::Call("lib:main".into()),
                Step::Run("echo hi".into())
            ])
        );
    }

    #[test]
    fn errors_have_line_and_column() {
        let e = parse("target = \"lib\"\ntagret = 1\n").unwrap_err();
        assert!(
            e.ends_with(&format!(
                ":2:1: unknown key `tagret` (did you mean `target`?); known keys: {}",
                top_level_names().join(", ")
            )),
            "{e}"
        );
        let e = parse("clear = \"yes\"\n").unwrap_err();
        assert!(
            e.contains(":1:9: expected true or false, found a string"),
            "{e}"
        );
        let e = parse("[[steps]]\nexec = \"x\"\n").unwrap_err();
        assert!(e.contains(":2:8: unknown step kind `exec`"), "{e}");
        let e = parse("target = [\n").unwrap_err();
        assert!(e.contains("hotload.toml:"), "{e}");
        let e = parse("[test]\nal = true\n").unwrap_err();
        assert!(
            e.contains(
                ":2:1: unknown key `al` (did you mean `all`?); known keys in [test]: args, all"
            ),
            "{e}"
        );
    }

    #[test]
    fn rules_point_into_the_file_after_the_fold() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hotload.toml");
        std::fs::write(&path, "post = \"app.main.run\"\n").unwrap();
        let (_, layer) = read(&path, true).unwrap();
        let folded = fold(&[&layer], dir.path());
        let e = super::super::check::validate(&folded, dir.path(), true).unwrap_err();
        assert!(e.contains(":1:8: `app.main.run` is not of the form"), "{e}");
    }
}
