"""Which installed distributions have pytest plugins, found once per change of the import path.
Not a public API.

Every pytest pass (`_pytest.py`) asks importlib.metadata about every installed distribution
twice: pluggy, loading the `pytest11` entry points, and pytest, marking those plugins for
assertion rewriting. Each time, every distribution's entry_points.txt is read and parsed again:
a cost that grows with the venv (a few milliseconds per pass for a hundred distributions).

While those two run, `importlib.metadata.distributions()` gives those two callers (and no
other code: a plugin that asks while it is being imported gets the full answer) only the
distributions that have entry points in the group they look for. Which those are is worked
out again whenever the import path may have changed: sys.path, the finders on sys.meta_path,
the working directory, or the modification time of a sys.path directory (installing or
removing a distribution adds or removes its `*.dist-info` directory there). Outside those two
calls, `importlib.metadata.distributions` is what it was (the standard library's function, or
whatever replaced it).
"""

import os
import sys

_PLUGINS = "pytest11"


def install():
    """Wrap pytest's two look-ups (once; later calls do nothing)."""
    try:
        import importlib.metadata as metadata

        import pluggy
        from _pytest.config import Config, PytestPluginManager
    except ImportError:
        return
    load = getattr(PytestPluginManager, "load_setuptools_entrypoints", None)
    mark = getattr(Config, "_mark_plugins_for_rewrite", None)
    base = getattr(pluggy.PluginManager, "load_setuptools_entrypoints", None)
    if None in (load, mark, base) or getattr(load, "_hotload_dists", False):
        return
    narrowed = _Narrowed(metadata, {base.__code__: None, mark.__code__: _PLUGINS})

    def load_setuptools_entrypoints(self, group, name=None):
        with narrowed:
            return load(self, group, name=name)

    def _mark_plugins_for_rewrite(self, *args, **kwargs):
        with narrowed:
            return mark(self, *args, **kwargs)

    for wrapper, original in ((load_setuptools_entrypoints, load), (_mark_plugins_for_rewrite, mark)):
        wrapper._hotload_dists = True
        wrapper.__wrapped__ = original
    PytestPluginManager.load_setuptools_entrypoints = load_setuptools_entrypoints
    Config._mark_plugins_for_rewrite = _mark_plugins_for_rewrite


class _Narrowed:
    """While entered, `importlib.metadata.distributions` answers the callers it knows (a code
    object, and the entry-point group it looks for: None for the caller's `group` argument)
    with only the distributions that have entry points in that group; everyone else gets what
    was in place before (the standard library's function, or whatever replaced it), which is
    put back on leaving."""

    def __init__(self, metadata, callers):
        self._metadata = metadata
        self._outer = None  # what `distributions` was before entering
        self._key = None
        self._having = {}  # group -> [distributions with entry points in it]
        self._depth = 0

        def distributions(**kwargs):
            caller = sys._getframe(1)
            if kwargs or caller.f_code not in callers:
                return self._outer(**kwargs)
            group = callers[caller.f_code] or caller.f_locals.get("group")
            if not isinstance(group, str):
                return self._outer()
            return iter(self.having(group))

        self._distributions = distributions

    def __enter__(self):
        if self._depth == 0:
            self._outer = self._metadata.distributions
            self._metadata.distributions = self._distributions
        self._depth += 1

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth == 0:
            self._metadata.distributions = self._outer
        return False

    def having(self, group):
        key = (id(self._outer),) + _path_key()
        if key != self._key:
            self._key, self._having = key, {}
        found = self._having.get(group)
        if found is None:
            found = self._having[group] = [
                dist for dist in self._outer() if any(ep.group == group for ep in dist.entry_points)
            ]
        return found


def _path_key():
    """What importlib.metadata's answer depends on, as far as it can change between passes."""
    mtimes = []
    for entry in sys.path:
        try:
            mtimes.append(os.stat(entry or ".").st_mtime_ns)
        except (OSError, TypeError, ValueError):
            mtimes.append(None)
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    return tuple(sys.path), tuple(map(id, sys.meta_path)), tuple(mtimes), cwd
