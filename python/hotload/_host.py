"""The Python half of a run, as hotload-host drives it. Not a public API.

The Rust side owns the loop, the plan and every line the host prints. One `Host` object owns the
reloader's state (reload mode, import graph, loaded sources, a launch script's hand-over) and each
step that touches Python: import or reload a module, call a function, run a launch script's
steps. The Rust bridge (src/python/bridge.rs) is the only caller.

Each step returns `(outcome, detail, notes, phases, handover)`:
  outcome   "ok", "error", "exit" or "interrupt"
  detail    the traceback text ("error", "interrupt"), the exit code ("exit"), or None
  notes     [(level, text)]: lines for the host to print ("info", or "warn" even under -q)
  phases    [(name, nanoseconds)]: what took the time, for -v
  handover  the watch list of a launch script that just called hotload.hotload(), else None
"""

import importlib
import os
import signal
import sys
import time

from hotload._errors import PlainError, exit_code_text, format_exception
from hotload._graph import ImportGraph
from hotload._original import LaunchHandOver, run_steps
from hotload._patch import patch_module, snapshot
from hotload._state import begin_run, state


class Host:
    def __init__(self):
        # "entry" reloads only the module a step names; "changed" first reloads the changed
        # project modules and every project module importing them, dependencies first; "deep"
        # also patches the previous objects of each reloaded module in place (see _patch.py).
        self.mode = "changed"
        self.graph = ImportGraph()
        # Source files of the modules the host has (re)loaded: saves of these need no
        # import-cache reset.
        self.loaded_sources = set()
        # Set once the target was a launch script calling hotload.hotload().
        self.launch = None
        self.wakeup_fd = -1
        # Real paths of saved files that are gone (the host decides, from its own stat).
        self.deleted = set()
        # Per run: what changed, what was reloaded already, what the plan reloads itself.
        self._changed = []
        self._reloaded = set()
        self._plan_reloads = set()
        # Per step: collected for the step's report.
        self._notes = []
        self._phases = []
        self._handover = None

    # ---- set-up (between runs) ----

    def configure(self, mode, roots):
        """Reload strategy and the directories whose modules count as the project's."""
        self.mode = mode
        self.graph.set_roots(roots)

    def set_wakeup_fd(self, fd):
        """Route signal wake-ups to the host's socket so Ctrl-C wakes an idle host."""
        self.wakeup_fd = fd
        signal.set_wakeup_fd(fd, warn_on_full_buffer=False)

    def prepare(self, root, argv):
        """Put the target's root first on sys.path and give the module its argv and the
        environment the original tool set."""
        if root not in sys.path[:1]:
            sys.path.insert(0, root)
        sys.argv[:] = argv
        os.environ["HOTLOAD_RUNNING"] = "HOTLOAD_RUNNING"
        state["under_host"] = True

    # ---- one run: begin_run, the steps, end_run ----

    def begin_run(self, run_no, changed, deleted, plan_reloads):
        begin_run(run_no, changed, time.time())
        self.deleted.difference_update(os.path.realpath(p) for p in changed)
        self.deleted.update(os.path.realpath(p) for p in deleted)
        self._changed = changed
        self._reloaded.clear()
        self._plan_reloads = set(plan_reloads)
        _forget_bytecode(changed, self.graph, self.loaded_sources)
        if any(os.path.realpath(p) not in self.loaded_sources for p in changed):
            # A file no loaded module came from: maybe a new module; let imports find it.
            importlib.invalidate_caches()
        self._report_deleted(deleted)
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

    def launch_steps(self):
        """The launch script's own steps, in place of the plan."""
        return self._step(self._run_launch_steps, None)

    def end_run(self):
        """After the last step: the module's output flushed, the wake-up fd taken back."""
        flush()
        if self.wakeup_fd >= 0:
            # User code (asyncio, say) may have taken the wake-up fd; take it back.
            try:
                signal.set_wakeup_fd(self.wakeup_fd, warn_on_full_buffer=False)
            except (ValueError, OSError):
                pass

    def _step(self, func, arg):
        errors = []
        try:
            func(arg, errors)
            outcome, detail = ("error", "".join(errors)) if errors else ("ok", None)
        except SystemExit as exc:
            outcome, detail = "exit", exit_code_text(exc.code)
        except KeyboardInterrupt as exc:
            outcome, detail = "interrupt", format_exception(exc)
        except BaseException as exc:
            outcome, detail = "error", "".join(errors) + format_exception(exc)
        finally:
            flush()
        phases, self._phases = self._phases, []
        handover, self._handover = self._handover, None
        return outcome, detail, self._take_notes(), phases, handover

    def _take_notes(self):
        notes, self._notes = self._notes, []
        return notes

    def _note(self, text, level="info"):
        self._notes.append((level, text))

    # ---- the steps' work ----

    def _load(self, name, errors):
        module = sys.modules.get(name)
        if module is not None:
            self._run_hooks("before", errors)
        # The module registers its hooks again as it runs; keep the old ones if the reload fails.
        detached = _detach_hooks(name) if module is not None else {}
        try:
            if module is not None and self.mode != "entry" and self._changed:
                self._reload_dependencies(name)
            t0 = time.perf_counter_ns()
            if module is None:
                self._remember_source(importlib.import_module(name))
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
        self._phases.append(("reload" if module is not None else "import", time.perf_counter_ns() - t0))
        self._run_hooks("after", errors)

    def _reload_dependencies(self, entry):
        """Changed project modules and their importers, dependencies first (not `entry`)."""
        entry_file = getattr(sys.modules.get(entry), "__file__", None)
        changed = self._changed
        if entry_file and all(os.path.realpath(p) == os.path.realpath(entry_file) for p in changed):
            return  # the common save: only the entry changed, nothing else to reload
        for dep in self.graph.reload_order(changed, entry):
            module = sys.modules.get(dep)
            if module is None or dep in self._reloaded or dep in self._plan_reloads:
                continue
            t0 = time.perf_counter_ns()
            self._reload(module)
            self._reloaded.add(dep)
            self._phases.append(("reload " + dep, time.perf_counter_ns() - t0))

    def _reload(self, module):
        """importlib.reload, plus in-place patching of the old objects in deep mode. No bytecode
        is written for the reloaded module: the next save would only delete it again (and
        writing it costs as much as the reload itself)."""
        before = snapshot(module) if self.mode == "deep" else None
        writes = sys.dont_write_bytecode
        sys.dont_write_bytecode = True
        try:
            importlib.reload(module)
        finally:
            sys.dont_write_bytecode = writes
        self._remember_source(module)
        if before is not None:
            patch_module(module, before, lambda text: self._note("deep: " + text))

    def _remember_source(self, module):
        origin = getattr(getattr(module, "__spec__", None), "origin", None)
        if origin:
            self.loaded_sources.add(os.path.realpath(origin))

    def _call_pre(self, ref, errors):
        try:
            _resolve(ref)()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            errors.append("Error in pre hook %s (the reload goes on):\n%s" % (ref, format_exception(exc)))

    def _run_launch_steps(self, _arg, errors):
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
        if origin and os.path.realpath(origin) in self.deleted:
            raise PlainError(
                "%s was deleted or renamed: module %s keeps its last loaded version; "
                "save it again to reload" % (origin, module.__name__)
            )

    def _report_deleted(self, deleted):
        """Says which loaded modules lost their file (they keep their last loaded version)."""
        for path in deleted:
            real = os.path.realpath(path)
            # (A module the plan reloads itself reports its own missing file, as a failure.)
            names = [
                name
                for name, module in list(sys.modules.items())
                if name not in self._plan_reloads
                and getattr(module, "__file__", None)
                and os.path.realpath(module.__file__) == real
            ]
            if names:
                self._note("%s was deleted: module %s keeps its last loaded version" % (path, ", ".join(names)))


def _resolve(ref):
    module_name, _, func_name = ref.partition(":")
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
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


def _forget_bytecode(paths, graph, loaded_sources):
    """Drop cached bytecode of changed sources: a save within the same second and with the
    same size as the last one would otherwise run the stale .pyc. Only for modules the host
    reloads, under the project's roots: the host never deletes files outside the project. (The
    paths come from the host's watcher, which reports real paths.)"""
    if sys.implementation.cache_tag is None:  # no bytecode cache at all
        return
    import importlib.util

    project = None
    for path in paths:
        if not path.endswith(".py") or not any(path.startswith(r) for r in graph.roots):
            continue
        if path not in loaded_sources:
            if project is None:
                project = set(graph.project_modules().values())
            if path not in project:
                continue
        try:
            os.remove(importlib.util.cache_from_source(path))
        except (OSError, ValueError):
            pass
