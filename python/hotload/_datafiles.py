"""Data files: what the module reads while it runs (`open`, `pathlib` reads,
`importlib.resources`, `os.open` for reading) under the project's roots, seen through an audit
hook on the `open` event. The host adds them to the watch set, so saving one runs again.

Audit hooks cannot be removed, so the hook is installed once and does nothing outside a run
(or when `--no-data-files` turned it off). Source and bytecode files (the import system opens
them too) and files opened for writing are not data files.
"""

import os
import sys

_CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".pyd", ".so")
_state = {"active": False, "roots": (), "seen": set(), "new": [], "skip_hidden": False}
_installed = []


def start(roots, skip_hidden=False):
    """Records from now until `stop()`: reads under `roots` (absolute directory paths); with
    `skip_hidden`, not those inside a hidden directory (pytest's `.pytest_cache`)."""
    if not _installed:
        sys.addaudithook(_hook)
        _installed.append(True)
    _state["roots"] = tuple(r.rstrip(os.sep) + os.sep for r in roots)
    _state["skip_hidden"] = skip_hidden
    _state["active"] = True


def stop():
    """Stops recording; returns the files first read since `start()` (sorted)."""
    _state["active"] = False
    new, _state["new"] = _state["new"], []
    return sorted(new)


def _hook(event, args):
    if event != "open" or not _state["active"]:
        return
    _state["active"] = False  # nothing here may record itself
    try:
        path, mode, flags = (tuple(args) + (None, None))[:3]
        if isinstance(path, int) or path is None or not _reading(mode, flags):
            return
        path = os.path.abspath(os.fsdecode(path))
        if path.endswith(_CODE_SUFFIXES) or path in _state["seen"]:
            return
        if path.startswith(_state["roots"]) and os.sep + "__pycache__" + os.sep not in path:
            if _state["skip_hidden"] and _hidden(path):
                return
            _state["seen"].add(path)
            _state["new"].append(path)
    except Exception:
        pass
    finally:
        _state["active"] = True


def _hidden(path):
    """Whether `path` is inside a hidden directory (or is a hidden file) below its root."""
    for root in _state["roots"]:
        if path.startswith(root):
            rel = path[len(root):]
            return rel.startswith(".") or (os.sep + ".") in rel
    return False


def _reading(mode, flags):
    if isinstance(mode, str):
        return not any(c in mode for c in "wax+")
    if isinstance(flags, int):
        return flags & os.O_ACCMODE == os.O_RDONLY
    return False
