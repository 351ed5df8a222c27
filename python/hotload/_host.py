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
import traceback

from hotload._original import LaunchHandOver, run_steps
from hotload._state import begin_run, state

# Frames from these files are host plumbing, never shown in a user's traceback.
_INTERNAL_FILES = {__file__}
_INTERNAL_PREFIXES = ("<frozen importlib", "<hotload-host", os.path.dirname(importlib.__file__) + os.sep)

_wakeup_fd = -1
# Set when the target was a launch script calling hotload.hotload(): its steps replace the reload.
_launch = None
_watch_override = None


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


def find_origin(name):
    """The source file of an importable module that is not under the current directory."""
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        return None
    if spec is None or not spec.has_location or not spec.origin:
        return None
    return spec.origin if spec.origin.endswith(".py") else None


def run(name, entrypoint, changed, phases, run_no):
    """One run: the target's @before_reload hooks, import (first time) or reload, its
    @after_reload hooks, then `entrypoint()`. A launch script's steps replace all of that.

    Returns (outcome, detail): outcome is "ok", "error", "exit" or "interrupt"; detail is the
    traceback text, the exit code, or None. `phases` receives (name, nanoseconds) pairs.
    """
    begin_run(run_no, changed, time.time())
    errors = []
    try:
        t0 = time.perf_counter_ns()
        _forget_bytecode(changed)
        importlib.invalidate_caches()
        if _launch is not None:
            if not run_steps(_launch.steps, changed, format_exception):
                errors.append("")  # run_steps printed each traceback itself
            phases.append(("steps", time.perf_counter_ns() - t0))
        else:
            _load(name, changed, errors, phases)
            if not errors and entrypoint:
                t1 = time.perf_counter_ns()
                _call_entrypoint(name, entrypoint)
                phases.append(("entrypoint", time.perf_counter_ns() - t1))
    except SystemExit as exc:
        return "exit", _exit_code_text(exc.code)
    except KeyboardInterrupt as exc:
        return "interrupt", format_exception(exc)
    except BaseException as exc:
        errors.append(format_exception(exc))
    finally:
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


def _load(name, changed, errors, phases):
    """Import or reload `name` with its hooks around it; hook failures go to `errors`."""
    global _launch, _watch_override
    module = sys.modules.get(name)
    if module is not None:
        _run_hooks("before", errors)
    # The module registers its hooks again as it runs; keep the old ones if the reload fails.
    detached = _detach_hooks(name) if module is not None else {}
    t0 = time.perf_counter_ns()
    try:
        if module is None:
            importlib.import_module(name)
        else:
            importlib.reload(module)
    except LaunchHandOver as handover:
        _launch, _watch_override = handover, handover.files
    except BaseException:
        _restore_hooks(detached)
        raise
    phases.append(("reload" if module is not None else "import", time.perf_counter_ns() - t0))
    if _launch is not None:
        # The launch script handed its steps over: run them now, as the original did at start.
        if not run_steps(_launch.steps, [], format_exception):
            errors.append("")
        return
    _run_hooks("after", errors)


def _call_entrypoint(name, entrypoint):
    func = getattr(sys.modules.get(name), entrypoint, None)
    if not callable(func):
        raise AttributeError("module %r has no function %s() to call as the entrypoint" % (name, entrypoint))
    func()


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
    seen = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = _user_frames(current.__traceback__)
        current = current.__cause__ or current.__context__
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


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
    for path in paths:
        if path.endswith(".py"):
            try:
                os.remove(importlib.util.cache_from_source(path))
            except (OSError, ValueError, NotImplementedError):
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
