"""The original hotload API, unchanged for its users.

A launch script written for the original tool runs as-is under plain Python (a polling loop, as
the original did) and under `hotload-host launch.py`, where `hotload()` hands its watch list and
steps to the host's event-driven loop instead of polling.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from abc import ABC, abstractmethod
from types import FunctionType, ModuleType
# Not `from typing import TYPE_CHECKING`: importing typing costs milliseconds at start-up;
# type checkers treat this constant the same way.
TYPE_CHECKING = False

from hotload._state import LaunchHandOver, begin_run, state

if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterable, List, Optional


def listfiles(folder: str, ext: str = "") -> List[str]:
    """All files under `folder` (recursively) whose name ends with `ext`."""
    found = []
    for root, _dirs, files in os.walk(folder):
        found.extend(os.path.join(root, f) for f in files if f.endswith(ext))
    return found


class Runnable(ABC):
    """A step of the loop: `run(changed_modules=...)` is called once per change."""

    @abstractmethod
    def run(self, **kwargs: Any) -> None:
        """Do the step's work."""


class PythonHandle(Runnable):
    """Calls a Python function on each change."""

    def __init__(self, code: Callable[[], Any]):
        self.code = code

    def run(self, **kwargs: Any) -> None:
        self.code()


class Command(Runnable):
    """Runs a shell command on each change (like the original, through os.system)."""

    def __init__(self, command: str):
        self.command = command

    def run(self, **kwargs: Any) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.system(self.command)


class ClearTerminal(Runnable):
    """Clears the terminal (only when stdout is one)."""

    def run(self, **kwargs: Any) -> None:
        try:
            if sys.stdout.isatty():
                sys.stdout.write("\x1b[H\x1b[2J\x1b[3J")
                sys.stdout.flush()
        except (AttributeError, ValueError):
            pass


class ReloadedPythonModule(Runnable):
    """Reloads a module on each change; override `pre_reload_hook(module)` for cleanup and
    `post_reload_hook(module)` for initialisation."""

    def __init__(self, module: ModuleType):
        assert isinstance(module, ModuleType), (
            "ReloadedPythonModule requires a module handle as input. "
            "Use ReloadedPythonModule.from_module_name to construct one from a module name (string)"
        )
        self.module = module
        # Just imported by from_module_name: the first run needs no reload (the body ran).
        self._fresh = False

    @classmethod
    def from_module_name(cls, module_name: str) -> "ReloadedPythonModule":
        already = module_name in sys.modules
        instance = cls(importlib.import_module(module_name))
        instance._fresh = not already
        return instance

    def pre_reload_hook(self, module: ModuleType) -> None:
        pass

    def post_reload_hook(self, module: ModuleType) -> None:
        pass

    def run(self, **kwargs: Any) -> None:
        if self._fresh:
            self._fresh = False
        else:
            self.pre_reload_hook(self.module)
            forget_bytecode(self.module)
            self.module = importlib.reload(self.module)
        self.post_reload_hook(self.module)
        import datetime

        print("Successfully reloaded {} @ {}".format(self.module.__name__, datetime.datetime.now()))

    def function(self, function_name: str) -> Callable[..., Any]:
        """The module's current function `function_name` (looked up at call time)."""
        function = self.module.__dict__[function_name]
        assert isinstance(function, FunctionType)
        return function


class ReloadModules(Runnable):
    """Reloads the modules whose files changed, except `module` (put it before the step that
    reloads `module`)."""

    def __init__(self, module: ModuleType):
        self.main_module = module

    def run(self, changed_modules: Iterable[ModuleType] = (), **kwargs: Any) -> None:
        for module in changed_modules:
            if module is not self.main_module:
                forget_bytecode(module)
                importlib.reload(module)


def forget_bytecode(module: ModuleType) -> None:
    """Drops the module's cached bytecode before a reload: CPython checks a .pyc by the source's
    modification time in whole seconds and its size, so a same-size edit within the same second
    would otherwise run the previous version."""
    source = getattr(module, "__file__", None)
    if not source or not source.endswith(".py") or sys.implementation.cache_tag is None:
        return
    import importlib.util

    try:
        os.remove(importlib.util.cache_from_source(source))
    except (OSError, ValueError):
        pass


def changed_modules(paths: Iterable[str]) -> List[ModuleType]:
    """Loaded modules whose source file is one of `paths`."""
    wanted = {os.path.realpath(p) for p in paths}
    found = []
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and os.path.realpath(file) in wanted:
            found.append(module)
    return found


def run_steps(
    steps: List[Runnable],
    paths: Iterable[str],
    format_exc: Optional[Callable[[BaseException], str]] = None,
) -> bool:
    """Runs each step; a failing step prints its traceback and the next step still runs (as in
    the original). KeyboardInterrupt propagates. Returns True if every step succeeded.
    `format_exc` formats the traceback (the host leaves out its own frames)."""
    modules = changed_modules(paths)
    ok = True
    for step in steps:
        try:
            step.run(changed_modules=modules)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            ok = False
            sys.stdout.flush()
            print("Error running {}".format(step), file=sys.stderr)
            if format_exc is None:
                import traceback

                traceback.print_exc()
            else:
                sys.stderr.write(format_exc(exc))
    return ok


def hotload(watch: Iterable[Iterable[str]], steps: List[Runnable], waittime_ms: float = 1.0 / 144) -> None:
    """Run `steps` now and again whenever one of the files in `watch` changes.

    `watch` is a list of file lists (e.g. `[hotload.listfiles(".", ext=".py")]`). Under
    hotload-host, the host watches them with OS events; under plain Python this polls every
    `waittime_ms` (a value below 1 is taken as seconds, as the original's default 1/144 is).
    Ctrl-C stops the loop.
    """
    files = sorted({os.path.abspath(p) for group in watch for p in group})
    if state["under_host"]:
        raise LaunchHandOver(files, list(steps))
    interval = waittime_ms if waittime_ms < 1 else waittime_ms / 1000.0
    last: Optional[Dict[str, float]] = None
    run = 0
    try:
        while True:
            now = _mtimes(files)
            if now == last:
                time.sleep(interval)
                continue
            changed = [] if last is None else [p for p in files if now.get(p) != last.get(p)]
            last = now
            run += 1
            begin_run(run, changed, time.time())
            run_steps(steps, changed)
    except KeyboardInterrupt:
        print("Interrupt received, stopping hotload")


def _mtimes(files: List[str]) -> Dict[str, float]:
    stamps = {}
    for path in files:
        try:
            stamps[path] = os.stat(path).st_mtime
        except OSError:
            stamps[path] = -1.0
    return stamps
