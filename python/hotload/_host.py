"""The Python half of a run, as hotload-host drives it. Not a public API.

The Rust side owns the loop, the plan and every line the host prints. One `Host` object owns the
reloader's state (reload mode, import graph, loaded sources, a launch script's hand-over) and each
step that touches Python: import or reload a module, call a function, run a launch script's
steps. The Rust bridge (src/python/bridge.rs) is the only caller. `hotload-host test` has one
step, `test`: the save's code modules reloaded here, then pytest (see _pytest.py).

Each step returns `(outcome, detail, notes, phases, handover)`:
  outcome   "ok", "error", "exit", "interrupt" or "stopped" (SIGTERM/SIGHUP: the host ends)
  detail    the traceback text ("error", "interrupt"), the exit code ("exit"), the signal
            number ("stopped"), or None
  notes     [(level, text)]: lines for the host to print ("info", or "warn" even under -q)
  phases    [(name, nanoseconds)]: what took the time, for -v
  handover  the watch list of a launch script that just called hotload.hotload(), else None
The `test` step returns that tuple and the reports of its pytest passes (see _pytest.py).
"""

import os
# The C module under `signal`: the same functions, without the enum set-up that importing
# `signal` costs at start-up (about a millisecond).
import _signal as signal
import sys
import time

from hotload import _datafiles, _exec, _streams
from hotload._errors import PlainError, exit_code_text, format_exception
from hotload._graph import ImportGraph, ReloadPass, evict
from hotload._names import NameRecords, capture_code
from hotload._state import LaunchHandOver, begin_run, state


class Host:
    def __init__(self, compile_source=None):
        # "entry" reloads only the module a step names; "changed" first reloads the changed
        # project modules and every project module importing them, dependencies first; "deep"
        # also patches the previous objects of each reloaded module in place (see _patch.py).
        self.mode = "changed"
        self.graph = ImportGraph()
        self.graph.code_of = lambda name: self.codes.get(name)
        # Source files of the modules the host has (re)loaded: saves of these need no
        # import-cache reset.
        self.loaded_sources = set()
        # Set once the target was a launch script calling hotload.hotload().
        self.launch = None
        self.wakeup_fd = -1
        # Real paths of saved files that are gone (the host decides, from its own stat).
        self.deleted = set()
        # The module's own SIGINT handler (or SIG_IGN): in force while its code runs; while
        # the host is idle, Ctrl-C is the host's (it quits).
        self._user_sigint = None
        # Names each project module's current version bound (removed names, see _names.py),
        # and the code object of that version (deep patching pairs old and new code).
        self.names = NameRecords()
        self.codes = {}
        # Modules whose last run failed part-way: their cached code is not their file's.
        self._stale = set()
        # The target's module name and file; with --main it runs as __main__ instead.
        self.target_name = None
        self.target_file = None
        self.as_main = False
        self._hinted_main = False
        # Files the module reads join the watch set (see _datafiles.py).
        self.data_files = True
        self.roots = []
        # Per run: what changed, what was reloaded already, what the plan reloads itself, and
        # the modules its steps name (they count as imported, see _graph.py).
        self._changed = []
        self._reloaded = set()
        self._plan_reloads = set()
        self._plan_roots = []
        self._changed_set = set()
        # Per step: collected for the step's report.
        self._notes = []
        self._phases = []
        self._handover = None
        # `hotload-host test`: the pytest side (_pytest.Tests), once pytest was found.
        self.tests = None
        _streams.install()
        # The host's compiler of module sources (see _exec.use_compiler).
        _exec.use_compiler(compile_source)

    # ---- set-up (between runs) ----

    def configure(self, mode, roots, data_files):
        """Reload strategy, the directories whose modules count as the project's, and whether
        files the module reads are watched."""
        self.mode = mode
        self.roots = list(roots)
        self.data_files = data_files
        self.graph.set_roots(roots)

    def set_wakeup_fd(self, fd):
        """Route signal wake-ups to the host's socket so Ctrl-C wakes an idle host; SIGTERM
        and SIGHUP end the session through the exit path (unless ignored, as under nohup);
        a crash in user code shows its Python traceback."""
        import faulthandler

        self.wakeup_fd = fd
        signal.set_wakeup_fd(fd, warn_on_full_buffer=False)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) != signal.SIG_IGN:
                signal.signal(sig, _stop)
        faulthandler.enable()
        os.register_at_fork(after_in_child=_child_signals)

    def prepare(self, root, argv, target_name, target_file, as_main):
        """Put the target's root first on sys.path and give the module its argv and the
        environment the original tool set; with --main (`as_main`), the target runs as
        __main__."""
        if root not in sys.path[:1]:
            sys.path.insert(0, root)
        sys.argv[:] = argv
        self.target_name, self.target_file, self.as_main = target_name, target_file, as_main
        os.environ["HOTLOAD_RUNNING"] = "HOTLOAD_RUNNING"
        state["under_host"] = True

    # ---- one run: begin_run, the steps, end_run ----

    def begin_run(self, run_no, changed, deleted, plan_reloads, plan_uses):
        begin_run(run_no, changed, time.time())
        _streams.repair()
        if self._user_sigint is not None:
            signal.signal(signal.SIGINT, self._user_sigint)
        # The host's paths are real paths already (it watches canonical directories).
        self.deleted.difference_update(changed)
        self.deleted.update(deleted)
        changed = changed + self._replaced(changed)
        self._changed = changed
        self._changed_set = set(changed)
        self.graph.forget_sources(changed)
        self._reloaded.clear()
        self._plan_reloads = {self._module_name(n) for n in plan_reloads}
        self._plan_roots = [self._module_name(n) for n in plan_uses]
        if any(p not in self.loaded_sources for p in changed):
            # A file no loaded module came from: maybe a new module; let imports find it.
            import importlib

            importlib.invalidate_caches()
        self._report_deleted(deleted)
        if self.data_files:
            # (pytest's cache lives in a hidden directory; reading it is not reading data.)
            _datafiles.start(self.roots, skip_hidden=self.tests is not None)
        return self._take_notes()

    def reload(self, name):
        """Import `name` the first time, reload it after, with its hooks around it."""
        return self._step(self._load, name)

    def call(self, ref):
        """Call `module:function`."""
        return self._step(lambda ref, errors: _resolve(ref)(), ref)

    def pre(self, ref):
        """Call the `pre` hook; a failure is reported as such (the run goes on)."""
        return self._step(self._call_pre, ref)

    def check_pytest(self):
        """Imports pytest once (`hotload-host test`). Returns why it cannot run, or None."""
        from hotload import _pytest

        problem = _pytest.problem()
        if problem is None and self.tests is None:
            self.tests = _pytest.Tests(self.graph, self._note)
        return problem

    def test(self, args, run_all):
        """The test step: reload the loaded code modules the save affects (in import order),
        then run the affected tests, and with `run_all` everything once they pass. Returns
        the step's tuple and the reports of the pytest passes ([] if no test was affected)."""
        reports = []

        def work(_arg, errors):
            reports.extend(self.tests.run(args, run_all, self._changed, self._reload_affected, self._phases))

        return self._step(work, None), reports

    def launch_steps(self):
        """The launch script's own steps, in place of the plan."""
        return self._step(self._run_launch_steps, None)

    def end_run(self):
        """After the last step: the module's output flushed, the wake-up fd taken back.
        Returns the files the run read for the first time (data files to watch)."""
        flush()
        read = _datafiles.stop()
        if self.wakeup_fd >= 0:
            # User code (asyncio, say) may have taken the wake-up fd; take it back.
            try:
                signal.set_wakeup_fd(self.wakeup_fd, warn_on_full_buffer=False)
            except (ValueError, OSError):
                pass
        handler = signal.getsignal(signal.SIGINT)
        if handler is not signal.default_int_handler:
            self._user_sigint = handler
            signal.signal(signal.SIGINT, signal.default_int_handler)
        return read

    def line_open(self):
        """Whether the module's output ended without a newline (the host ends the line before
        its own)."""
        if _streams.line_open():
            _streams.line_closed()
            return True
        return False

    def _step(self, func, arg):
        errors = []
        # Modules the step imports for the first time (through importlib): what each bound.
        fresh = capture_code()
        try:
            with fresh:
                func(arg, errors)
            outcome, detail = ("error", "".join(errors)) if errors else ("ok", None)
        except SystemExit as exc:
            outcome, detail = "exit", exit_code_text(exc.code)
        except KeyboardInterrupt as exc:
            outcome, detail = "interrupt", format_exception(exc)
        except Stopped as exc:
            outcome, detail = "stopped", str(exc.signum)
        except BaseException as exc:
            outcome, detail = "error", "".join(errors) + format_exception(exc)
        finally:
            flush()
            if self.mode != "entry":
                self._record_fresh(fresh.codes)
        phases, self._phases = self._phases, []
        handover, self._handover = self._handover, None
        return outcome, detail, self._take_notes(), phases, handover

    def _take_notes(self):
        notes, self._notes = self._notes, []
        return notes

    def _note(self, text, level="info"):
        self._notes.append((level, text))

    # ---- the steps' work ----

    def _module_name(self, name):
        """The module a step's name stands for: `__main__` for the target under --main."""
        return "__main__" if self.as_main and name == self.target_name else name

    def _load(self, step_name, errors):
        name = self._module_name(step_name)
        module = sys.modules.get(name)
        if name == "__main__" and getattr(module, "__file__", None) != self.target_file:
            module = None  # the interpreter's own __main__, not ours yet
        if module is not None:
            self._run_hooks("before", errors)
        # The module registers its hooks again as it runs; keep the old ones if the reload fails.
        detached = _detach_hooks(name) if module is not None else {}
        entry_ns = None
        try:
            t0 = time.perf_counter_ns()
            if module is None:
                self._remember_source(self._import(name))
            elif self.mode != "entry":
                entry_ns = self._reload_in_order(name, module)
            elif name not in self._reloaded:
                self._check_source_exists(module)
                self._reload(module)
            self._reloaded.add(name)
        except LaunchHandOver as handover:
            self.launch = handover
            self._handover = handover.files
            return  # the host runs the launch script's steps next
        except BaseException:
            _restore_hooks(detached)
            raise
        took = entry_ns if entry_ns is not None else time.perf_counter_ns() - t0
        self._phases.append(("reload" if module is not None else "import", took))
        self._run_hooks("after", errors)

    def _import(self, name):
        """The first import of a step's module, its body run without the import lock."""
        if name == "__main__":
            module, code = _exec.run_as_main(self.target_file)
        else:
            module, code = _exec.import_fresh(name)
            self._hint_main(name, code)
        if code is not None:
            if self.mode != "entry":
                self.names.after_exec(module, code, None)
            self.codes[name] = code
        return module

    def _hint_main(self, name, code):
        """Once: a target with an `if __name__ == "__main__":` block that does not run here."""
        if self._hinted_main or name != self.target_name or code is None:
            return
        if "__main__" in code.co_consts and "__name__" in code.co_names:
            self._hinted_main = True
            self._note(
                "%s has an `if __name__ == \"__main__\":` block, which does not run here (the "
                "module is imported as %s); run it as the main script with --main, or call a "
                "function from it with --entrypoint" % (os.path.basename(self.target_file), name)
            )

    def _reload_in_order(self, entry, module):
        """The entry and the loaded project modules the save affects, in import order (see
        _graph.py); modules the current code no longer imports are evicted instead. Returns
        the entry's own time."""
        order, evicted = self.graph.reload_order(self._changed, entry, self._plan_roots, self.deleted)
        self._evict(evicted)
        return self._run_order(order, entry, module)

    def _reload_affected(self, changed):
        """`hotload-host test`: the loaded project modules `changed` affects, in import order.
        There is no entry, and every loaded project module counts as used (a test module may
        import any of them), so none is evicted."""
        loaded = list(self.graph.project_modules())
        order, evicted = self.graph.reload_order(changed, None, loaded, self.deleted)
        self._evict(evicted)
        self._run_order(order, None, None)

    def _evict(self, names):
        if names:
            # Imported again later through importlib, which reads bytecode: drop it first.
            files = [getattr(sys.modules.get(n), "__file__", None) or "" for n in names]
            _forget_bytecode(files, self.graph.roots)
        evict(names)
        for name in names:
            self.names.forget(name)
            self.codes.pop(name, None)

    def _run_order(self, order, entry, module):
        """Re-runs `order` (see ReloadPass); returns the entry's own time."""
        entry_ns = [0]

        def reload_one(dep):
            if dep in self._reloaded or (dep in self._plan_reloads and dep != entry):
                return
            t0 = time.perf_counter_ns()
            if dep == entry:
                self._check_source_exists(module)
            self._reload(sys.modules.get(dep, module))
            self._reloaded.add(dep)
            took = time.perf_counter_ns() - t0
            if dep == entry:
                entry_ns[0] = took
            else:
                self._phases.append(("reload " + dep, took))

        with ReloadPass(order, reload_one) as rp:
            for dep in order:
                if dep == entry or dep in sys.modules:
                    rp.run(dep)
        return entry_ns[0]

    def _reload(self, module):
        """Runs the module's new source in its namespace (no import lock, no bytecode cache;
        see _exec.py). In changed/deep mode the names the new version no longer binds are
        removed (_names.py); in deep mode the old objects are patched (_patch.py)."""
        name = module.__name__
        tracked = self.mode != "entry"
        before = self.names.before_exec(module) if tracked else None
        old_code = self.codes.get(name)
        code = None
        complete = False
        # A module that re-runs because something it imports changed, while its own file did
        # not, runs the code it ran last time: no read, no compile.
        unchanged = self.codes.get(name)
        path = _exec.source_path(module)
        if name in self._stale or _real(path) in self._changed_set:
            unchanged = None
        try:
            with capture_code() as codes:
                ran = _exec.run_again(module, unchanged, path)
            code = ran or codes.get(name)
            complete = True
            if name == self._module_name(self.target_name or ""):
                flush()  # the target's output first; the bookkeeping after it
        finally:
            # A version that did not run to its end is not what the file holds: read it again
            # the next time, whatever changed then.
            if complete:
                self._stale.discard(name)
            else:
                self._stale.add(name)
            if tracked:
                self._record_fresh(codes, skip=name)
                self.names.after_exec(module, code, before, complete)
                if code is not None:
                    self.codes[name] = code
        # (Through importlib, the module may have found another file: a package now.)
        self._remember_source(module, path if ran is not None else None)
        if code is not None and not tracked:
            self.codes[name] = code
        if self.mode == "deep":
            from hotload._patch import patch_module  # (functools, types: deep mode only)

            patch_module(module, before, lambda text: self._note("deep: " + text), old_code=old_code, new_code=code)

    def _record_fresh(self, codes, skip=None):
        """Modules imported fresh while `codes` was captured: what each bound, for later
        reloads."""
        for name, code in codes.items():
            module = sys.modules.get(name)
            if name == skip or module is None or not self.graph.is_project(module):
                continue
            self.names.after_exec(module, code, None)
            self.codes[name] = code

    def _remember_source(self, module, path=None):
        origin = path or _exec.source_path(module) or getattr(getattr(module, "__spec__", None), "origin", None)
        if origin and origin not in self.loaded_sources:
            self.loaded_sources.add(origin)
            self.loaded_sources.add(_real(origin))

    def _call_pre(self, ref, errors):
        try:
            _resolve(ref)()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            errors.append("Error in pre hook %s (the reload goes on):\n%s" % (ref, format_exception(exc)))

    def _run_launch_steps(self, _arg, errors):
        from hotload._original import run_steps

        if not run_steps(self.launch.steps, self._changed, format_exception):
            errors.append("")  # run_steps printed each traceback itself

    def _run_hooks(self, kind, errors):
        for func in list(state[kind].values()):
            try:
                func()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:
                errors.append("Error in @%s_reload hook %s.%s:\n%s" % (
                    kind, func.__module__, func.__qualname__, format_exception(exc)))

    def _check_source_exists(self, module):
        origin = getattr(getattr(module, "__spec__", None), "origin", None)
        if origin and _real(origin) in self.deleted:
            raise PlainError(
                "%s was deleted or renamed: module %s keeps its last loaded version; "
                "save it again to reload" % (origin, module.__name__)
            )

    def _replaced(self, changed):
        """A new file standing where a loaded module's deleted file was, as the other form of
        the same module (`helper.py` became `helper/__init__.py`, or the other way round): that
        module counts as saved, so it re-runs (through importlib, which finds its new form)."""
        replaced = []
        for gone in list(self.deleted):
            stem, name = os.path.split(gone)
            if name == "__init__.py":
                other = stem + ".py"
            elif name.endswith(".py"):
                other = os.path.join(stem, name[:-3], "__init__.py")
            else:
                continue
            if other in changed:
                self.deleted.discard(gone)
                replaced.append(gone)
        return replaced

    def _report_deleted(self, deleted):
        """Says which loaded modules lost their file (they keep their last loaded version)."""
        if not deleted:
            return
        by_file = {}
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            # (A module the plan reloads itself reports its own missing file, as a failure.)
            if isinstance(file, str) and name not in self._plan_reloads:
                by_file.setdefault(_real(file), []).append(name)
        for path in deleted:  # the host's paths are real paths
            names = by_file.get(path)
            if names:
                self._note("%s was deleted: module %s keeps its last loaded version" % (path, ", ".join(names)))


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: the host ends its session (through its exit path, so atexit
    handlers run and files are flushed), after the run it interrupted."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _stop(signum, frame):
    raise Stopped(signum)


def _child_signals():
    """In a forked child (a pool's worker): the signals as in a plain Python process. A worker
    must die of SIGTERM (Pool.terminate sends it), and its signals must not wake the host."""
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        return  # forked from another thread: not the main thread here, leave it be
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is _stop:
            signal.signal(sig, signal.SIG_DFL)
    for sig in (signal.SIGTSTP, signal.SIGQUIT):  # the host's terminal handlers (Rust)
        signal.signal(sig, signal.SIG_DFL)


_reals = {}


def _real(path):
    """os.path.realpath, remembered (a module's path is looked up on every save that re-runs
    it; the host's own paths are real already)."""
    real = _reals.get(path)
    if real is None and path is not None:
        real = _reals[path] = os.path.realpath(path)
    return real


def _resolve(ref):
    module_name, _, func_name = ref.partition(":")
    module = sys.modules.get(module_name) or _exec.import_module(module_name)
    func = getattr(module, func_name, None)
    if not callable(func):
        raise AttributeError("module %r has no function %s()" % (module_name, func_name))
    return func


def _detach_hooks(name):
    detached = {}
    for kind in ("before", "after"):
        for key in [k for k in state[kind] if k[0] == name]:
            detached[(kind, key)] = state[kind].pop(key)
    return detached


def _restore_hooks(detached):
    for (kind, key), func in detached.items():
        state[kind].setdefault(key, func)


def flush():
    """Flush the module's output so it precedes the host's next line."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass


def _forget_bytecode(paths, roots):
    """Drop the cached bytecode of these sources (modules that will be imported again through
    importlib, which reads it: a save within the same second and with the same size as the
    last one would otherwise run the stale .pyc). Only under the project's roots: the host never
    deletes files outside the project. (Loaded modules re-run from source and never read it.)"""
    if sys.implementation.cache_tag is None:  # no bytecode cache at all
        return
    import importlib.util

    for path in paths:
        if not path.endswith(".py") or not path.startswith(tuple(roots)):
            continue
        try:
            os.remove(importlib.util.cache_from_source(path))
        except (OSError, ValueError):
            pass
