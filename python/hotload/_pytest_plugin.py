"""The plugin `hotload-host test` hands to each `pytest.main` (see _pytest.py). Not a public API.

It narrows collection to the pass's selection (None: everything the arguments select): files
and directories outside it are not collected at all (`pytest_ignore_collect`, so their modules
are not even imported), and within collected files only the selected tests are kept (the rest
are deselected, as `--deselect` would). It never widens what the arguments select, so `-k`,
`-m`, paths and `--ignore` work as on the command line.

It counts outcomes the way pytest's summary line does and records what the next run needs:
the tests that failed or errored (a collection error: the whole file or directory), the tests
that ran, the test modules pytest made, the modules registered as plugins, whether a
conftest.py failed to load, and whether Ctrl-C interrupted the pass.
"""

import os
import stat
import types

import pytest

from hotload._pytest_fresh import Terminated

_COUNTS = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed")


class Plugin:
    def __init__(self, selection):
        self.selection = selection
        self.counts = dict.fromkeys(_COUNTS, 0)
        # node id -> (real path, whole): what failed or errored in this pass.
        self.failed = {}
        # Node ids of tests that ended (ran, or were skipped or errored in setup).
        self.ran = set()
        # Node ids of collectors that collected without error.
        self.collected_ok = set()
        # What collection found (before deselection), and what the pass was to run.
        self.collected_ids = set()
        self.collected_files = set()
        self.selected = {}
        # Real paths of the files pytest made test modules of, and of those with tests; the
        # names of the test modules and conftests it imported (real path -> module name).
        self.module_paths = set()
        self.test_files = set()
        self.module_names = {}
        # Real paths of the modules registered as plugins (conftests aside: `-p`, `pytest_plugins`).
        self.plugin_files = set()
        self.patterns = None
        self.root = os.getcwd()
        self.configured = False
        self.conftest_failed = False
        self.collection_done = False
        self.interrupted = False
        self._real = {}  # path -> (real path, is a directory)

    def real(self, path):
        """`os.path.realpath(path)`, remembered for the pass."""
        return self._resolve(str(path))[0]

    def _resolve(self, key):
        # One lstat per path: a path that is no symlink is its directory's real path joined
        # with its name, and every directory is resolved once.
        known = self._real.get(key)
        if known is not None:
            return known
        head, name = os.path.split(key)
        try:
            mode = os.lstat(key).st_mode
        except OSError:
            mode = None
        if mode is None or stat.S_ISLNK(mode) or name in ("", ".", "..") or head == key:
            real = os.path.realpath(key)
            known = (real, os.path.isdir(real))
        else:
            known = (os.path.join(self._resolve(head)[0], name), stat.S_ISDIR(mode))
        self._real[key] = known
        return known

    def report(self, scope, status):
        """The pass's tuple (see _pytest.py)."""
        usage = (status == 4 and not self.conftest_failed) or (status == 3 and not self.configured)
        c = self.counts
        return (scope, status, usage, self.conftest_failed, self.interrupted) + tuple(c[k] for k in _COUNTS)

    # ---- set-up ----

    @pytest.hookimpl(hookwrapper=True)
    def pytest_load_initial_conftests(self):
        outcome = yield
        if outcome.excinfo is not None:
            self.conftest_failed = True

    def pytest_configure(self, config):
        self.configured = True
        self.root = str(config.rootpath)
        self.patterns = list(config.getini("python_files"))

    # ---- collection ----

    @pytest.hookimpl(tryfirst=True)
    def pytest_ignore_collect(self, collection_path):
        if self.selection is None or collection_path.name == "conftest.py":
            return None
        if self.selection.wants_path(*self._resolve(str(collection_path))):
            return None  # pytest's own rules (--ignore, norecursedirs) still apply
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(self, module_path):
        self.module_paths.add(self.real(module_path))

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config, items):
        # Collection got through (pytest_collection_finish also comes after a Ctrl-C).
        self.collection_done = True
        keep, drop = [], []
        for item in items:
            path = self.real(item.path)
            self.collected_ids.add(item.nodeid)
            self.test_files.add(path)
            if path in self.module_paths and path not in self.module_names:
                module = getattr(item, "module", None)
                if isinstance(module, types.ModuleType):
                    self.module_names[path] = module.__name__
            if self.selection is None or self.selection.wants_item(item.nodeid, path):
                keep.append(item)
            else:
                drop.append(item)
        self.collected_files |= self.test_files
        if drop:
            items[:] = keep
            config.hook.pytest_deselected(items=drop)

    def pytest_collection_finish(self, session):
        if self.collection_done:
            self.selected = {item.nodeid: self.real(item.path) for item in session.items}

    def pytest_collectreport(self, report):
        if report.failed:
            self.counts["errors"] += 1
            self.failed[report.nodeid] = (self._path_of(report.nodeid), True)
            return
        self.collected_ok.add(report.nodeid)
        if report.skipped:
            self.counts["skipped"] += 1  # a module-level skip

    def pytest_sessionfinish(self, session):
        for plugin in session.config.pluginmanager.get_plugins():
            path = getattr(plugin, "__file__", None) if isinstance(plugin, types.ModuleType) else None
            if not isinstance(path, str):
                continue
            if os.path.basename(path) == "conftest.py":
                self.module_names[self.real(path)] = plugin.__name__
            else:
                self.plugin_files.add(self.real(path))

    # ---- running ----

    def pytest_runtest_logreport(self, report):
        xfail = hasattr(report, "wasxfail")
        if report.when == "call":
            if report.passed:
                key = "xpassed" if xfail else "passed"
            elif report.failed:
                key = "failed"
            else:
                key = "xfailed" if xfail else "skipped"
        elif report.failed:
            key = "errors"
        elif report.skipped:
            key = "xfailed" if xfail else "skipped"
        else:
            key = None
        if key is not None:
            self.counts[key] += 1
        if report.when == "call" or key is not None:
            self.ran.add(report.nodeid)
        if report.failed:
            path = self.selected.get(report.nodeid) or self._path_of(report.nodeid)
            self.failed[report.nodeid] = (path, False)

    def pytest_keyboard_interrupt(self, excinfo):
        # pytest.exit(), "Interrupted: 1 error during collection" and SIGTERM (`Terminated`:
        # the host ends after the pass) come here too; only Ctrl-C is an interruption.
        if issubclass(excinfo.type, KeyboardInterrupt) and not issubclass(
            excinfo.type, (pytest.Session.Interrupted, Terminated)
        ):
            self.interrupted = True

    def _path_of(self, nodeid):
        return self.real(os.path.join(self.root, nodeid.split("::")[0]))
