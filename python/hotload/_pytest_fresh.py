"""What a fresh process would give each pass of `hotload-host test` (see _pytest.py), inside
one that stays warm. Not a public API.

- `Saved`: the working directory, sys.path, sys.argv and os.environ as they were before a pass
  (pytest's monkeypatch undoes its own changes; this undoes everyone's), and which threads
  existed;
- `forget_rewritten`: pytest's rewritten bytecode of a saved file (pytest before 9 trusts a
  cached file with the same size and modification second) and its lines in the line cache
  (which trusts the same);
- `StopAsInterrupt`: SIGTERM or SIGHUP while a pass runs stops pytest the way Ctrl-C does
  (`Terminated`); the host's own handler, which ends the session, runs once pytest returned.
"""

import os
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP while tests run: pytest stops the session as for Ctrl-C (it would
    take any other exception raised in a test for that test's failure, and go on)."""


class StopAsInterrupt:
    """While a pass runs, the host's SIGTERM/SIGHUP handlers (which end the session) raise
    `Terminated` instead; once pytest has returned, `reraise` calls the host's handler for
    the signal that came."""

    def __init__(self):
        self.signum = None
        self._saved = {}

    def _handler(self, signum, frame):
        self.signum = signum
        raise Terminated("stopped by signal %d" % signum)

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGHUP):
            handler = signal.getsignal(sig)
            if callable(handler):
                self._saved[sig] = handler
                signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        return False

    def reraise(self):
        handler = self._saved.get(self.signum)
        if handler is not None:
            handler(self.signum, None)


class Saved:
    """The process state a pass may change and the next one must not see: the working
    directory, sys.path, sys.argv, os.environ (pytest's monkeypatch undoes its own changes;
    this undoes everyone's), and which threads exist."""

    def __init__(self):
        self.cwd = os.getcwd()
        self.path = list(sys.path)
        self.argv = list(sys.argv)
        self.environ = dict(os.environ)
        self.threads = set(threading.enumerate())

    def restore(self):
        try:
            moved = os.getcwd() != self.cwd
        except OSError:
            moved = True  # the directory a test moved to is gone
        if moved:
            try:
                os.chdir(self.cwd)
            except OSError:
                pass
        sys.path[:] = self.path
        sys.argv[:] = self.argv
        for key in [k for k in os.environ if k not in self.environ]:
            del os.environ[key]
        for key, value in self.environ.items():
            if os.environ.get(key) != value:
                os.environ[key] = value

    def threads_left(self):
        return [t for t in threading.enumerate() if t not in self.threads and t.is_alive()]


def forget_rewritten(paths):
    """Drops pytest's rewritten bytecode of saved files (it trusts a cached file with the same
    size and modification second) and their lines in the line cache (tracebacks show the
    saved lines)."""
    import glob
    import importlib.util
    import linecache

    for path in paths:
        linecache.cache.pop(path, None)
        if not path.endswith(".py") or sys.implementation.cache_tag is None:
            continue
        try:
            cached = importlib.util.cache_from_source(path)
        except (ValueError, NotImplementedError):
            continue
        stem = os.path.basename(path)[:-3]
        pattern = "%s.%s-pytest-*.pyc" % (glob.escape(stem), sys.implementation.cache_tag)
        for pyc in glob.glob(os.path.join(glob.escape(os.path.dirname(cached)), pattern)):
            try:
                os.remove(pyc)
            except OSError:
                pass
