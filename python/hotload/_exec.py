"""Running a module's body the way a script runs: read the source, compile it, exec it in the
module's namespace.

The first import and every reload of a plain source module go through here rather than through
importlib, for three reasons:
- no import lock is held while the body runs: a thread that imports the module or unpickles
  its functions meanwhile (a process pool's result handler) would otherwise wait for the body
  to end, and a pool the body waits on would never finish;
- `__pycache__` is neither read nor written: a same-size edit within the same second can never
  be served from stale bytecode, and a reload costs no stat of the cache;
- the code object that ran is known (for removed names and deep patching).

The module object is in `sys.modules` (and on its parent package) while its body runs, as
`__main__` is for a script; `__spec__`, `__loader__`, `__file__` and `__cached__` are what
importlib sets. Anything that is not a plain source file on disk — custom loaders, namespace
packages, extension modules, zip imports, a file that is gone or became a package — goes
through importlib as before (`code` is then None).
"""

import os
import sys

# The import system's own helpers (frozen, loaded with the interpreter): `importlib` and
# importlib.util would import warnings, contextlib, collections and functools at start-up,
# milliseconds that `python lib.py` does not pay.
from _frozen_importlib import _find_spec, _gcd_import, module_from_spec
from _frozen_importlib_external import SourceFileLoader as _SourceFileLoader


def import_module(name):
    """importlib.import_module(name) for an absolute name, without the `importlib` package."""
    return _gcd_import(name)


def import_fresh(name):
    """Imports `name` for the first time (its parents as usual). Returns (module, code)."""
    spec = _spec_of(name)
    if spec is None:
        raise ModuleNotFoundError("No module named %r" % name, name=name)
    if not _plain_source(spec):
        return _gcd_import(name), None
    code = _compile(spec.origin)
    module = module_from_spec(spec)
    parent, _, child = name.rpartition(".")
    sys.modules[name] = module
    spec._initializing = True
    try:
        exec(code, module.__dict__)
    except BaseException:
        if sys.modules.get(name) is module:
            del sys.modules[name]
        raise
    finally:
        spec._initializing = False
    module = sys.modules.get(name, module)  # a module may put something else in its place
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, module)
    return module, code


def run_as_main(path):
    """Runs the file at `path` as `__main__`, as `python path` would. Returns (module, code)."""
    code = _compile(path)
    module = type(sys)("__main__")
    module.__file__ = path
    module.__cached__ = None
    module.__loader__ = _SourceFileLoader("__main__", path)
    module.__spec__ = None
    sys.modules["__main__"] = module
    exec(code, module.__dict__)
    return module, code


def run_again(module, code=None, path=None):
    """Runs the current source of `module` in its namespace (or `code`, the code it ran last
    time, when its file did not change). `path`: its `source_path` (the caller worked it out
    already; None: importlib's business). Returns the code, or None when the module had to go
    through importlib.reload."""
    if path is not None:
        if code is None:
            try:
                code = _compile(path)
            except (FileNotFoundError, NotADirectoryError):
                code = None  # gone, moved, replaced by a package: let importlib find it
        if code is not None:
            exec(code, module.__dict__)
            return code
    import importlib

    importlib.reload(module)
    return None


def _spec_of(name):
    """What importlib.util.find_spec(name) gives for a module not imported yet: the parent
    package imported first, the module found on its path."""
    parent = name.rpartition(".")[0]
    path = None
    if parent:
        package = sys.modules.get(parent) or _gcd_import(parent)
        path = getattr(package, "__path__", None)
        if path is None:
            raise ModuleNotFoundError(
                "No module named %r; %r is not a package" % (name, parent), name=name
            )
    return _find_spec(name, path)


def _plain_source(spec):
    return (
        type(spec.loader) is _SourceFileLoader
        and spec.has_location
        and spec.origin is not None
        and spec.origin.endswith(".py")
    )


def source_path(module):
    """The source file a plain source module runs from, or None (importlib's business)."""
    if module.__name__ == "__main__" and getattr(module, "__spec__", None) is None:
        loader = getattr(module, "__loader__", None)
        return getattr(module, "__file__", None) if type(loader) is _SourceFileLoader else None
    spec = getattr(module, "__spec__", None)
    if spec is None or not _plain_source(spec) or spec.name != module.__name__:
        return None
    return spec.origin


# `compile_source(source_bytes, filename_bytes)`, lent by the host (Rust): compile() without
# the set-up of the ast module's node types that compile() does on first use (milliseconds at
# start-up). None: compile().
_compile_source = None


def use_compiler(compile_source):
    global _compile_source
    _compile_source = compile_source


def _compile(path):
    # os.open/os.read: half the cost of open().read() (no file object, no buffer layer); on
    # the hot path of every save.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    source = b"".join(chunks)
    if _compile_source is not None and b"\0" not in source:
        return _compile_source(source, os.fsencode(path))
    return compile(source, path, "exec", dont_inherit=True)
