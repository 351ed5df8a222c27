"""What the hotload-host binary calls inside the interpreter. Not a public API.

The Rust side owns the loop (events, signals, status lines); this module owns the Python side of
one run: import or reload the target, call its entrypoint, turn whatever it raised into text the
user can act on, and flush the module's output before the host prints its own line.
"""

import importlib
import importlib.machinery
import importlib.util
import os
import signal
import sys
import time

from hotload._graph import ImportGraph, ReloadPass, evict
from hotload._names import NameRecords, capture_code
from hotload._original import LaunchHandOver, run_steps
from hotload._patch import patch_module
from hotload._state import begin_run, state

# Frames from these files are host plumbing, never shown in a user's traceback.
_INTERNAL_FILES = {__file__}
_INTERNAL_PREFIXES = ("<frozen importlib", "<hotload-host", os.path.dirname(importlib.__file__) + os.sep)

_wakeup_fd = -1
# Set when the target was a launch script calling hotload.hotload(): its steps replace the reload.
_launch = None
_watch_override = None
# --reload: "entry" reloads only the module a step names; "changed" first reloads the changed
# project modules and every project module importing them, dependencies first; "deep" also
# patches the previous objects of each reloaded module in place (see _patch.py).
_mode = "changed"
_graph = ImportGraph()
_reloaded_this_run = set()
# Source files of the modules the host has (re)loaded: saves of these need no import-cache reset.
_loaded_sources = set()
# Modules that the plan's own reload steps reload (each in its step, in step order).
_plan_reloads = set()
# Modules the plan's steps name (reload, call, pre): they count as imported (see _graph).
_plan_roots = []
# Names each project module's current version bound (removed names, see _names.py), and the
# code object of that version (deep patching pairs old and new code by qualified name).
_names = NameRecords()
_codes = {}


def configure(mode, roots):
    """Reload strategy and the directories whose modules count as the project's."""
    global _mode
    _mode = mode
    _graph.set_roots(roots)


def set_wakeup_fd(fd):
    """Route signal wake-ups to the host's socket so Ctrl-C wakes an idle host."""
    global _wakeup_fd
    _wakeup_fd = fd
    signal.set_wakeup_fd(fd, warn_on_full_buffer=False)


def prepare(root, argv):
    """Put the target's root first on sys.path and give the module its argv."""
    if root not in sys.path[:1]:
        sys.path.insert(0, root)
    sys.argv[:] = argv
    state["under_host"] = True


def shadowed_by(name, root):
    """Why importing `name` would not load the user's file under `root`, or None."""
    top = name.partition(".")[0]
    loaded = sys.modules.get(top)
    if loaded is not None:
        where = getattr(loaded, "__file__", None) or "built into Python"
        if where == "built into Python" or not _is_under(where, root):
            return "Python already imported its own module '%s' (%s)" % (top, where)
    for finder in sys.meta_path:
        if finder is importlib.machinery.PathFinder:
            break
        try:
            spec = finder.find_spec(top, None)
        except Exception:
            spec = None
        if spec is not None:
            return "'%s' is a module built into Python (%s)" % (top, spec.origin)
    return None


def check_reference(ref, root):
    """Why `module` or `module:function` cannot be resolved, or None. Runs no user code: the
    module is located on sys.path without importing it and its source is only parsed."""
    import ast

    module_name, _, func_name = ref.partition(":")
    spec = _locate(module_name, [root] + sys.path)
    if spec is None:
        return "no module named '%s' on sys.path" % module_name
    if not func_name or not (spec.origin or "").endswith(".py"):
        return None
    try:
        with open(spec.origin, "rb") as f:
            tree = ast.parse(f.read(), spec.origin)
    except (OSError, SyntaxError, ValueError):
        return None  # the run will show the real error
    names = set()
    for node in _module_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None  # cannot tell statically
                names.add((alias.asname or alias.name).partition(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
        elif isinstance(node, ast.Expr) and _defines_dynamically(node):
            return None  # globals()[...] = ..., exec(...): cannot tell statically
    if func_name in names or "__getattr__" in names:
        return None
    return "%s (%s) defines no function '%s'" % (module_name, spec.origin, func_name)


def _defines_dynamically(node):
    import ast

    return any(
        isinstance(sub, ast.Name) and sub.id in ("globals", "exec", "setattr", "vars")
        for sub in ast.walk(node)
    )


def _module_level(body):
    """Statements that run at module level, including those inside if/try/with/for blocks
    (definitions inside functions and classes do not count)."""
    import ast

    for node in body:
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _module_level(getattr(node, field, []) or [])
        for handler in getattr(node, "handlers", []) or []:
            yield from _module_level(handler.body)
        for case in getattr(node, "cases", []) or []:
            yield from _module_level(case.body)


def _locate(module_name, paths):
    """The spec of a module found on `paths`, parents included, without importing anything."""
    if module_name in sys.modules:
        return getattr(sys.modules[module_name], "__spec__", None) or importlib.machinery.ModuleSpec(module_name, None)
    spec = None
    parts = module_name.split(".")
    for i in range(len(parts)):
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]), paths)
        if spec is None:
            return None
        paths = spec.submodule_search_locations or []
    return spec


def find_origin(name):
    """The source file of an importable module that is not under the current directory."""
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        return None
    if spec is None or not spec.has_location or not spec.origin:
        return None
    return spec.origin if spec.origin.endswith(".py") else None


def run(plan, changed, phases, run_no):
    """One run: the steps of `plan` in order, each a (kind, argument) pair:

    ("clear", "")       clear the terminal if stdout is one
    ("pre", "m:f")      call m.f() before the reload; not on the first run; a failure is
                        reported but the run goes on
    ("reload", "m")     import m the first time, reload it after, with its @before_reload /
                        @after_reload hooks around it
    ("call", "m:f")     call m.f() (importing m if needed)
    ("run", "cmd")      run a shell command; a non-zero status fails the step

    A failing step (other than "pre") stops the rest of the run. A launch script that called
    hotload.hotload() replaces the plan with its own steps.

    Returns (outcome, detail): outcome is "ok", "error", "exit" or "interrupt"; detail is the
    traceback text, the exit code, or None. `phases` receives (name, nanoseconds) pairs.
    """
    begin_run(run_no, changed, time.time())
    _reloaded_this_run.clear()
    errors = []
    lazily = capture_code()
    try:
        _forget_bytecode(changed)
        if any(os.path.realpath(p) not in _loaded_sources for p in changed):
            # A file no loaded module came from: maybe a new module; let imports find it.
            importlib.invalidate_caches()
        if _launch is not None:
            t0 = time.perf_counter_ns()
            if not run_steps(_launch.steps, changed, format_exception):
                errors.append("")  # run_steps printed each traceback itself
            phases.append(("steps", time.perf_counter_ns() - t0))
        else:
            _plan_reloads.clear()
            _plan_reloads.update(arg for kind, arg in plan if kind == "reload")
            _plan_roots[:] = [arg.partition(":")[0] for kind, arg in plan if kind in ("reload", "call", "pre")]
            _report_deleted(changed)
            lazily.__enter__()  # records modules the run imports outside reload steps
            for kind, arg in plan:
                t0 = time.perf_counter_ns()
                failures = len(errors)
                if kind == "clear":
                    _clear()
                elif kind == "pre":
                    if run_no > 1:
                        _call_soft(arg, errors)
                elif kind == "reload":
                    _load(arg, errors, phases, changed)
                elif kind == "call":
                    _call(arg)
                elif kind == "run":
                    _run_command(arg)
                if kind not in ("clear", "reload"):
                    phases.append(("%s %s" % (kind, arg), time.perf_counter_ns() - t0))
                # A failed step stops the run; a failed pre hook does not (the reload goes on).
                if len(errors) > failures and kind != "pre" or _launch is not None:
                    break
    except SystemExit as exc:
        return "exit", _exit_code_text(exc.code)
    except KeyboardInterrupt as exc:
        return "interrupt", format_exception(exc)
    except BaseException as exc:
        errors.append(format_exception(exc))
    finally:
        if lazily.active:
            lazily.__exit__(None, None, None)
            if _mode != "entry":
                _record_fresh(lazily.codes)
        flush()
        if _wakeup_fd >= 0:
            # User code (asyncio, say) may have taken the wake-up fd; take it back.
            try:
                signal.set_wakeup_fd(_wakeup_fd, warn_on_full_buffer=False)
            except (ValueError, OSError):
                pass
    if errors:
        return "error", "".join(errors)
    return "ok", None


def _clear():
    try:
        if sys.stdout.isatty():
            sys.stdout.write("\x1b[H\x1b[2J\x1b[3J")
            sys.stdout.flush()
    except (AttributeError, ValueError, OSError):
        pass


def _resolve(ref):
    module_name, _, func_name = ref.partition(":")
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    func = getattr(module, func_name, None)
    if not callable(func):
        raise AttributeError("module %r has no function %s()" % (module_name, func_name))
    return func


def _reload_in_order(entry, module, changed, phases):
    """The entry and the loaded project modules a save affects, in import order (see
    _graph.py): modules the current code no longer imports are evicted instead."""
    order, evicted = _graph.reload_order(changed, entry, _plan_roots)
    evict(evicted)
    for name in evicted:
        _names.forget(name)
        _codes.pop(name, None)

    entry_ns = [0]

    def reload_one(dep):
        if dep in _reloaded_this_run or (dep in _plan_reloads and dep != entry):
            return
        t0 = time.perf_counter_ns()
        if dep == entry:
            _check_source_exists(module)
            _reload(module)
        else:
            _reload(sys.modules[dep])
        _reloaded_this_run.add(dep)
        if dep == entry:
            entry_ns[0] = time.perf_counter_ns() - t0
        else:
            phases.append(("reload " + dep, time.perf_counter_ns() - t0))

    with ReloadPass(order, reload_one) as rp:
        for dep in order:
            if dep == entry or dep in sys.modules:
                rp.run(dep)
    return entry_ns[0]


def _report_deleted(changed):
    """Says which loaded modules lost their file (they keep their last loaded version)."""
    for path in changed:
        if os.path.exists(path):
            continue
        real = os.path.realpath(path)
        # (A module the plan reloads itself reports its own missing file, as a failure.)
        names = [
            name
            for name, module in list(sys.modules.items())
            if name not in _plan_reloads
            and getattr(module, "__file__", None)
            and os.path.realpath(module.__file__) == real
        ]
        if names:
            _note_line("%s was deleted: module %s keeps its last loaded version" % (path, ", ".join(names)))


def _check_source_exists(module):
    origin = getattr(getattr(module, "__spec__", None), "origin", None)
    if origin and origin.endswith(".py") and not os.path.exists(origin):
        raise PlainError(
            "%s was deleted or renamed: module %s keeps its last loaded version; "
            "save it again to reload" % (origin, module.__name__)
        )


def _reload(module):
    """importlib.reload; in changed/deep mode the names the new version no longer binds are
    removed (_names.py), and in deep mode the old objects are patched (_patch.py). No bytecode
    is written for the reloaded module: the next save would only delete it again (and writing
    it costs as much as the reload itself)."""
    name = module.__name__
    tracked = _mode != "entry"
    before = _names.before_exec(module) if tracked else None
    old_code = _codes.get(name)
    writes = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    complete = False
    codes = {}
    try:
        with capture_code() as codes:
            importlib.reload(module)
        complete = True
    finally:
        sys.dont_write_bytecode = writes
        if tracked:
            _record_fresh(codes, skip=name)
            _names.after_exec(module, codes.get(name), before, complete)
            if codes.get(name) is not None:
                _codes[name] = codes[name]
    _remember_source(module)
    if _mode == "deep":
        patch_module(module, before, _note, old_code=old_code, new_code=codes.get(name))


def _import(name):
    """First import of a step's module; records what the project modules it imported bound."""
    with capture_code() as codes:
        module = importlib.import_module(name)
    if _mode != "entry":
        _record_fresh(codes)
    return module


def _record_fresh(codes, skip=None):
    """Modules imported fresh while `codes` was captured: what each bound, for later reloads."""
    for name, code in codes.items():
        module = sys.modules.get(name)
        if name == skip or module is None or not _graph.is_project(module):
            continue
        _names.after_exec(module, code, None)
        _codes[name] = code


def _remember_source(module):
    origin = getattr(getattr(module, "__spec__", None), "origin", None)
    if origin:
        _loaded_sources.add(os.path.realpath(origin))


def _note(text):
    _note_line("deep: " + text)


def _note_line(text):
    flush()
    sys.stderr.write("[hotload] %s\n" % text)
    sys.stderr.flush()


def _call(ref):
    _resolve(ref)()


def _call_soft(ref, errors):
    try:
        _call(ref)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        errors.append("Error in pre hook %s (the reload goes on):\n%s" % (ref, format_exception(exc)))


def _run_command(cmd):
    import subprocess

    flush()
    status = subprocess.call(cmd, shell=True)
    if status != 0:
        raise PlainError("command `%s` exited with status %d" % (cmd, status))


class PlainError(Exception):
    """A failure whose message says it all (shown without a traceback)."""


def _load(name, errors, phases, changed):
    """Import or reload `name` with its hooks around it; hook failures go to `errors`."""
    global _launch, _watch_override
    module = sys.modules.get(name)
    if module is not None:
        _run_hooks("before", errors)
    # The module registers its hooks again as it runs; keep the old ones if the reload fails.
    detached = _detach_hooks(name) if module is not None else {}
    own = None
    try:
        t0 = time.perf_counter_ns()
        if module is None:
            _remember_source(_import(name))
        elif _mode != "entry":
            own = _reload_in_order(name, module, changed, phases)
        elif name not in _reloaded_this_run:
            _check_source_exists(module)
            _reload(module)
        _reloaded_this_run.add(name)
    except LaunchHandOver as handover:
        _launch, _watch_override = handover, handover.files
    except BaseException:
        _restore_hooks(detached)
        raise
    phases.append(("reload" if module is not None else "import", own if own is not None else time.perf_counter_ns() - t0))
    if _launch is not None:
        # The launch script handed its steps over: run them now, as the original did at start.
        if not run_steps(_launch.steps, [], format_exception):
            errors.append("")
        return
    _run_hooks("after", errors)


def _run_hooks(kind, errors):
    for func in list(state[kind].values()):
        try:
            func()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            errors.append("Error in @%s_reload hook %s.%s:\n%s" % (
                kind, func.__module__, func.__qualname__, format_exception(exc)))


def _detach_hooks(name):
    detached = {}
    for kind in ("before", "after"):
        for key in [k for k in state[kind] if k[0] == name]:
            detached[(kind, key)] = state[kind].pop(key)
    return detached


def _restore_hooks(detached):
    for (kind, key), func in detached.items():
        state[kind].setdefault(key, func)


def take_watch_override():
    """The file list a launch script gave hotload.hotload(), once; else None."""
    global _watch_override
    files, _watch_override = _watch_override, None
    return files


def flush():
    """Flush the module's output so it precedes the host's next line."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass


def format_exception(exc):
    """A traceback with the host's and importlib's frames left out."""
    import traceback

    if isinstance(exc, PlainError):
        return _printable("%s\n" % exc)
    seen = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = _user_frames(current.__traceback__)
        current = current.__cause__ or current.__context__
    return _printable("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def _printable(text):
    """Text the host can print: undecodable bytes (surrogates from os.listdir and the like)
    shown as escapes instead of failing."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _user_frames(tb):
    kept = []
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename not in _INTERNAL_FILES and not filename.startswith(_INTERNAL_PREFIXES):
            kept.append(tb)
        tb = tb.tb_next
    for a, b in zip(kept, kept[1:]):
        a.tb_next = b
    if kept:
        kept[-1].tb_next = None
        return kept[0]
    return None


def _forget_bytecode(paths):
    """Drop cached bytecode of changed sources: a save within the same second and with the
    same size as the last one would otherwise run the stale .pyc."""
    if sys.implementation.cache_tag is None:  # no bytecode cache at all
        return
    for path in paths:
        if path.endswith(".py"):
            try:
                os.remove(importlib.util.cache_from_source(path))
            except (OSError, ValueError):
                pass


def _exit_code_text(code):
    if code is None:
        return "0"
    return str(code) if isinstance(code, int) else repr(code)


def _is_under(path, root):
    try:
        return os.path.commonpath([os.path.realpath(path), os.path.realpath(root)]) == os.path.realpath(root)
    except ValueError:
        return False
