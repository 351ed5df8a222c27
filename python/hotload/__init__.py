"""hotload: cooperate with hotload-host from inside a reloaded module.

Under hotload-host this package is served by the host itself (`import hotload` needs no
install). Under plain Python, install it with `pip install ./python`; every helper still works,
so the same module runs with `python lib.py` too.

    import hotload

    conn = hotload.keep("db", lambda: sqlite3.connect("app.db"))  # built once, kept on reloads

    @hotload.before_reload
    def close_server():
        server.shutdown()

    if hotload.info().run > 1:
        print("reloaded because of", hotload.info().changed)

The original hotload API (`hotload.hotload(watch=..., steps=...)`, `ReloadedPythonModule`, ...)
is here unchanged; see `hotload._original`.
"""

import os
import sys
# Not `from typing import TYPE_CHECKING`: importing typing costs milliseconds at start-up;
# type checkers treat this constant the same way.
TYPE_CHECKING = False

from hotload._state import state as _state

# The original tool's API lives in hotload._original, loaded when first used (it imports abc and
# types, which a module that only uses keep/once/hooks should not pay for at start-up).
_ORIGINAL = ("ClearTerminal", "Command", "PythonHandle", "ReloadedPythonModule", "ReloadModules",
             "Runnable", "hotload", "listfiles")

if TYPE_CHECKING:
    from hotload._original import (
        ClearTerminal,
        Command,
        PythonHandle,
        ReloadedPythonModule,
        ReloadModules,
        Runnable,
        hotload,
        listfiles,
    )


def __getattr__(name: "str") -> "Any":
    if name in _ORIGINAL:
        from hotload import _original

        value = getattr(_original, name)
        globals()[name] = value
        return value
    raise AttributeError("module 'hotload' has no attribute %r" % name)


def __dir__() -> "List[str]":
    return sorted(set(globals()) | set(_ORIGINAL))

__all__ = [
    "ClearTerminal",
    "Command",
    "PythonHandle",
    "ReloadInfo",
    "ReloadModules",
    "ReloadedPythonModule",
    "Runnable",
    "after_reload",
    "before_reload",
    "drop",
    "hotload",
    "info",
    "keep",
    "listfiles",
    "once",
    "running",
]

if TYPE_CHECKING:  # typing costs milliseconds at start-up; annotations are strings anyway
    from typing import Any, Callable, List, Optional, TypeVar

    T = TypeVar("T")
    F = TypeVar("F", bound=Callable[..., Any])

_MISSING = object()


def running() -> "bool":
    """True under hotload-host, or under the original tool (which sets HOTLOAD_RUNNING)."""
    return _state["under_host"] or os.environ.get("HOTLOAD_RUNNING") == "HOTLOAD_RUNNING"


class ReloadInfo:
    """What the current run is: see `info()`.

    running       running under hotload-host (or the original hotload)
    under_host    running under hotload-host specifically
    run           1 for the first import, 2 for the first reload, ...; 0 outside any loop
    changed       absolute paths of the files whose save triggered this run
    previous_run  time.time() at the start of the previous run, or None
    """

    __slots__ = ("running", "under_host", "run", "changed", "previous_run")

    def __init__(
        self,
        running: "bool",
        under_host: "bool",
        run: "int",
        changed: "List[str]",
        previous_run: "Optional[float]" = None,
    ) -> "None":
        self.running = running
        self.under_host = under_host
        self.run = run
        self.changed = changed
        self.previous_run = previous_run

    def __repr__(self) -> "str":
        fields = ", ".join("%s=%r" % (name, getattr(self, name)) for name in self.__slots__)
        return "ReloadInfo(%s)" % fields

    def __eq__(self, other: "object") -> "bool":
        return isinstance(other, ReloadInfo) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__
        )

def info() -> "ReloadInfo":
    """Information about the current run."""
    return ReloadInfo(
        running=running(),
        under_host=_state["under_host"],
        run=_state["run"],
        changed=list(_state["changed"]),
        previous_run=_state["previous_run"],
    )


def _caller_module(depth: "int" = 2) -> "str":
    return sys._getframe(depth).f_globals.get("__name__", "__main__")


def keep(key: "str", factory: "Callable[[], T]") -> "T":
    """Return the value kept under `key` for the calling module, building it with `factory()`
    the first time. Later reloads (and re-imports) of the module get the same object back.
    """
    slot = (_caller_module(), key)
    value = _state["kept"].get(slot, _MISSING)
    if value is _MISSING:
        value = factory()
        _state["kept"][slot] = value
    return value


def drop(key: "str", module: "Optional[str]" = None) -> "bool":
    """Forget the value kept under `key` (for the calling module, or `module`), so that the
    next `keep()` builds it again. Returns whether there was one. The value is not closed:
    close it yourself first if it holds a resource.
    """
    slot = (module or _caller_module(), key)
    return _state["kept"].pop(slot, _MISSING) is not _MISSING


def once(func: "Callable[[], T]") -> "Callable[[], T]":
    """Decorator: call `func()` once, keep its result across reloads, return it on every call.

        @hotload.once
        def model():
            return load_big_model()

    `model.forget()` drops the kept result so the next call computes it again.
    """
    slot = (func.__module__, "once:" + func.__qualname__)

    def wrapper() -> "T":
        value = _state["kept"].get(slot, _MISSING)
        if value is _MISSING:
            value = func()
            _state["kept"][slot] = value
        return value

    def forget() -> "bool":
        return _state["kept"].pop(slot, _MISSING) is not _MISSING

    wrapper.forget = forget  # type: ignore[attr-defined]
    wrapper.__wrapped__ = func  # type: ignore[attr-defined]
    wrapper.__name__ = func.__name__
    wrapper.__qualname__ = func.__qualname__
    wrapper.__doc__ = func.__doc__
    return wrapper


def before_reload(func: "F") -> "F":
    """Register `func()` to run before the module that defines it is reloaded (teardown: close
    a socket, stop a thread, release a port). Registering again on the next reload replaces
    the old registration; it never adds a second one.
    """
    _state["before"][(func.__module__, func.__qualname__)] = func
    return func


def after_reload(func: "F") -> "F":
    """Register `func()` to run after each successful load of the module that defines it,
    the first import included (re-init, start a server, call main). Replaces, never duplicates.
    """
    _state["after"][(func.__module__, func.__qualname__)] = func
    return func
