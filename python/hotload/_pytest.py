"""`hotload-host test`: pytest inside the warm interpreter. Not a public API.

The Host (`_host.py`) calls `Tests.run` once per run. This module owns the pytest side:

- pytest itself, imported once from the project's Python (`problem()` says why it cannot be);
- which tests a run runs. The first run: everything the arguments select. After a save: the
  tests still due (those that failed or errored, or were not reached, last time) and the tests
  in the test modules that import a saved module, transitively through the project's import
  graph (`_graph.py`), plus a saved test file itself; a saved conftest.py selects everything
  under its directory. Then, with `all`, the whole selection once those pass. A saved file
  that is not Python source (a data or config file) or a module pytest has as a plugin
  (`-p`, `pytest_plugins`), or a run with nothing saved (the `r` key), runs everything;
- one `pytest.main(args, plugins=[plugin])` per pass (`_pytest_plugin.py` narrows pytest's
  collection to the selection and counts the outcomes), and what a fresh process would give
  each pass: test modules and conftests are dropped from sys.modules after every pass, so
  pytest imports them again through its assertion-rewriting hook; the rest (saved state put
  back, rewritten bytecode of saved files dropped, SIGTERM) is _pytest_fresh.py's. The code
  modules stay loaded; the Host reloads those a save affects before the tests run.
  What pytest and pluggy look up in installed code (pytest's own plugins, site-packages) is
  worked out once, not once per pass (`_pytest_scans.py`), and which distributions have
  pytest plugins once per change of the import path (`_pytest_dists.py`).

Session-scoped fixtures are rebuilt every run: each pass is a new pytest session.

While a pass runs, the objects that existed before it are frozen for the garbage collector
(gc.freeze), so the collections pytest does itself only look at what the pass created; they
are unfrozen right after the pass.

Each pass is reported as a tuple:
    (scope, exit status, usage, conftest, interrupted,
     passed, failed, errors, skipped, xfailed, xpassed)
  scope        "full" (what the arguments select), "affected", or "all" (after `affected`)
  usage        pytest refused its arguments (or a plugin named with -p): bad input
  conftest     a conftest.py failed to load, so nothing ran
  interrupted  Ctrl-C stopped the pass (pytest printed its KeyboardInterrupt summary)
"""

import fnmatch
import gc
import os
import sys

from hotload._graph import evict
from hotload._pytest_fresh import Saved, StopAsInterrupt, forget_rewritten

_MIN_VERSION = (7, 0)
_HOW = "%s -m pip install pytest"


def problem():
    """Why pytest cannot run in this interpreter (None: it can). Imports pytest."""
    try:
        import pytest
    except Exception as exc:
        where = sys.executable or sys.prefix
        text = "pytest is not importable in the project's Python (%s): %s: %s\n" % (where, type(exc).__name__, exc)
        text += "Install it there: " + _HOW % where
        if not os.environ.get("VIRTUAL_ENV"):
            text += "\n(or activate the project's virtualenv first, so that hotload-host runs on its Python)"
        return text
    version = tuple(int(p) if p.isdigit() else 0 for p in pytest.__version__.split(".")[:2])
    if version < _MIN_VERSION:
        return "pytest %s is too old for hotload-host test (7.0 or newer): %s -m pip install -U pytest" % (
            pytest.__version__,
            sys.executable,
        )
    return None


def _main(pytest, args, plugin):
    try:
        return pytest.main(list(args), plugins=[plugin])
    except Exception as exc:
        if plugin.configured:
            raise
        # pytest before 9 lets a plugin named with -p that cannot be imported escape; pytest 9
        # prints it and returns 3 (which, before configuring, reads as bad input).
        sys.stderr.write("%s: %s\n" % (type(exc).__name__, exc))
        return 3


class Selection:
    """What a pass runs, within what pytest's arguments select: whole files, everything under
    some directories (a saved conftest.py), and single tests (node id -> its file). All paths
    are real paths."""

    def __init__(self):
        self.files = set()
        self.dirs = set()
        self.items = {}

    def __bool__(self):
        return bool(self.files or self.dirs or self.items)

    def merge(self, other):
        """Adds `other`'s tests; None (everything) if either is None."""
        if other is None:
            return None
        self.files |= other.files
        self.dirs |= other.dirs
        self.items.update(other.items)
        return self

    def _under_dirs(self, path):
        return any(path == d or path.startswith(d + os.sep) for d in self.dirs)

    def wants_path(self, path, is_dir):
        """Whether pytest should collect this file or directory."""
        if self._under_dirs(path):
            return True
        if is_dir:
            prefix = path + os.sep
            return any(d.startswith(prefix) for d in self.dirs) or any(
                f.startswith(prefix) for f in self.files.union(self.items.values())
            )
        return path in self.files or path in self.items.values()

    def wants_item(self, nodeid, path):
        return nodeid in self.items or path in self.files or self._under_dirs(path)


class Tests:
    """The pytest side's state across runs (one per host)."""

    def __init__(self, graph, note):
        self.graph = graph
        self.note = note
        # node id -> (real path of its file or directory, whole): what is still due. `whole`:
        # collecting it failed, so all of it is due.
        self.due = {}
        # What passes that ended before their tests ran still owe (None: everything, as
        # before the first pass got through collection).
        self.owed = None
        # Saved paths whose code modules failed to reload: reloaded and selected again.
        self.pending = []
        # Real path -> module name of the test modules and conftests pytest imported (they
        # are not loaded between passes, but their imports still count).
        self.test_modules = {}
        # Real paths of the files pytest collected tests from.
        self.test_files = set()
        self.patterns = ["test_*.py", "*_test.py"]
        # Real paths of modules pytest had as plugins (`-p`, `pytest_plugins`): a saved one
        # may change any test.
        self.plugin_files = set()
        self._reported_threads = set()

    def run(self, args, run_all, changed, reload, phases):
        """One run: `reload(paths)` (the Host's reload, in import order) for the code modules
        the saved paths affect, then the passes. Returns the passes' reports ([]: the save
        affects no test)."""
        changed = list(dict.fromkeys(self.pending + list(changed)))
        self.pending = changed
        reload(changed)  # raises: the run failed; the paths stay pending
        self.pending = []
        forget_rewritten(changed)
        selection = self._select(changed)
        if selection is not None and not selection:
            return []
        scope = "full" if selection is None else "affected"
        reports = [self._pass(args, selection, scope, phases)]
        if run_all and selection is not None and reports[0][1] == 0:
            reports.append(self._pass(args, None, "all", phases))
        return reports

    def _select(self, changed):
        owed, self.owed = self.owed, Selection()
        if owed is None or not changed or any(not p.endswith(".py") for p in changed):
            return None
        reals = {os.path.realpath(p) for p in changed}
        if reals & self.plugin_files:
            return None
        code = self.graph.project_modules()
        known = dict(code)
        for path, name in self.test_modules.items():
            known.setdefault(name, path)
        selection = Selection()
        for name in self.graph.affected(reals, known):
            self._add(selection, known[name])
        code_paths = set(code.values())
        for path in reals:
            base = os.path.basename(path)
            if path not in code_paths and any(fnmatch.fnmatch(base, p) for p in self.patterns):
                selection.files.add(path)  # a test file no test module imported yet (a new one)
            else:
                self._add(selection, path)
        for nodeid, (path, whole) in list(self.due.items()):
            if not os.path.exists(path):
                del self.due[nodeid]  # its file is gone
            elif not whole:
                selection.items[nodeid] = path
            elif os.path.isdir(path):
                selection.dirs.add(path)
            else:
                selection.files.add(path)
        return selection.merge(owed)

    def _add(self, selection, path):
        if os.path.basename(path) == "conftest.py":
            selection.dirs.add(os.path.dirname(path))
        elif path in self.test_files or path in self.test_modules:
            selection.files.add(path)

    def _pass(self, args, selection, scope, phases):
        import time

        import pytest

        from hotload import _pytest_dists, _pytest_scans
        from hotload._pytest_plugin import Plugin

        _pytest_scans.install()
        _pytest_dists.install()
        plugin = Plugin(selection)
        saved = Saved()
        # Owed until the pass gets through collection (see `owed`).
        self.owed = None if self.owed is None or selection is None else self.owed.merge(selection)
        t0 = time.perf_counter_ns()
        stop = StopAsInterrupt()
        gc.freeze()
        try:
            with stop:
                status = _main(pytest, args, plugin)
        finally:
            self._drop(plugin)
            gc.collect()
            gc.unfreeze()
            saved.restore()
            self._threads(saved)
        stop.reraise()
        phases.append(("pytest " + scope, time.perf_counter_ns() - t0))
        self._update(plugin, selection)
        return plugin.report(scope, int(status))

    def _update(self, plugin, selection):
        """What is due after a pass (see `due`), and what the pass learnt about test files."""
        if plugin.patterns:
            self.patterns = plugin.patterns
        self.test_files |= plugin.test_files
        self.plugin_files |= plugin.plugin_files
        if not plugin.collection_done:
            return  # nothing ran: all of the selection stays owed
        self.owed = Selection()
        for nodeid in plugin.ran | plugin.collected_ok:
            self.due.pop(nodeid, None)
        for nodeid, (path, whole) in list(self.due.items()):
            # A due test that its file no longer has (renamed, deleted) is not due any more.
            if not whole and path in plugin.collected_files and nodeid not in plugin.collected_ids:
                del self.due[nodeid]
        for nodeid, path in plugin.selected.items():
            if nodeid not in plugin.ran:
                self.due[nodeid] = (path, False)  # not reached (-x, a collection error, Ctrl-C)
        self.due.update(plugin.failed)

    def _drop(self, plugin):
        """Drops the test modules and conftests from sys.modules, so that the next pass imports
        them afresh through pytest's assertion-rewriting hook."""
        wanted = plugin.module_paths | set(self.test_modules)
        found = dict(plugin.module_names)  # (also those outside the project's directories)
        for name, path in self.graph.project_modules().items():
            if path in wanted or os.path.basename(path) == "conftest.py":
                found[path] = name
        self.test_modules.update(found)
        evict(found.values())

    def _threads(self, saved):
        left = [t for t in saved.threads_left() if id(t) not in self._reported_threads]
        if left:
            self._reported_threads.update(id(t) for t in left)
            names = ", ".join(t.name + (" (daemon)" if t.daemon else "") for t in left)
            self.note("tests left %d thread%s running: %s" % (len(left), "s" if len(left) > 1 else "", names))
