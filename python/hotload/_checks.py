"""Checks the host makes before any user code runs: where a target module lives, whether its
name is taken by one of Python's own modules, and whether each `module:function` a plan names
exists. Nothing here imports user code: modules are located on sys.path and their source is
only parsed (with `ast`, imported lazily: it costs milliseconds at start-up).
"""

import os
import sys

# (importlib.machinery's classes, without importing the `importlib` package at start-up)
from _frozen_importlib import ModuleSpec
from _frozen_importlib_external import PathFinder


# Standard-library modules hotload-host itself imports only when it needs them (a traceback
# to format, a reference to check, the console). A target with one of these names would take
# their place, so they are imported first and such a target is refused.
HOST_LAZY_IMPORTS = ("traceback", "linecache", "tokenize", "ast", "code", "codeop", "rlcompleter", "ctypes", "dis", "opcode", "inspect")


def shadowed_by(name, root):
    """Why importing `name` would not load the user's file under `root`, or None. A target
    named like a standard-library module that nobody imported yet runs (as `python json.py`
    would, `import json` anywhere then means the user's file); one whose name is taken already
    cannot, since `import` would return the module that is there."""
    top = name.partition(".")[0]
    if top == "hotload":
        return (
            "its name clashes with hotload-host's own package 'hotload' "
            "(the `import hotload` API every reloaded module can use)"
        )
    if _is_stdlib(top):
        for module in HOST_LAZY_IMPORTS:
            __import__(module)
    loaded = sys.modules.get(top)
    if loaded is not None:
        where = getattr(loaded, "__file__", None) or "built into Python"
        if where == "built into Python" or not _is_under(where, root):
            return (
                "Python's own module '%s' (%s) is already imported, by Python's start-up or by "
                "hotload-host itself, so `import %s` cannot load your file" % (top, where, top)
            )
    for finder in sys.meta_path:
        if finder is PathFinder:
            break
        try:
            spec = finder.find_spec(top, None)
        except Exception:
            spec = None
        if spec is not None:
            return "'%s' is a module built into Python (%s)" % (top, spec.origin)
    return None


def _is_stdlib(name):
    names = getattr(sys, "stdlib_module_names", None)  # 3.10+
    if names is not None:
        return name in names
    import sysconfig

    paths = [sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")]
    paths.append(os.path.join(paths[1], "lib-dynload"))
    return name in sys.builtin_module_names or PathFinder.find_spec(name, paths) is not None


def find_origin(name):
    """The source file of an importable module that is not under the current directory."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        return None
    if spec is None or not spec.has_location or not spec.origin:
        return None
    return spec.origin if spec.origin.endswith(".py") else None


def check_reference(ref, root):
    """Why `module` or `module:function` cannot be resolved, or None."""
    module_name, _, func_name = ref.partition(":")
    spec = _locate(module_name, [root] + sys.path)
    if spec is None:
        return "no module named '%s' on sys.path" % module_name
    if not func_name or not (spec.origin or "").endswith(".py"):
        return None
    import ast

    try:
        with open(spec.origin, "rb") as f:
            tree = ast.parse(f.read(), spec.origin)
    except (OSError, SyntaxError, ValueError):
        return None  # the run will show the real error
    names = set()
    for node in _module_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None  # cannot tell statically
                names.add((alias.asname or alias.name).partition(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
        elif isinstance(node, ast.Expr) and _defines_dynamically(node):
            return None  # globals()[...] = ..., exec(...): cannot tell statically
    if func_name in names or "__getattr__" in names:
        return None
    return "%s (%s) defines no function '%s'" % (module_name, spec.origin, func_name)


def _defines_dynamically(node):
    import ast

    return any(
        isinstance(sub, ast.Name) and sub.id in ("globals", "exec", "setattr", "vars")
        for sub in ast.walk(node)
    )


def _module_level(body):
    """Statements that run at module level, including those inside if/try/with/for blocks
    (definitions inside functions and classes do not count)."""
    import ast

    for node in body:
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _module_level(getattr(node, field, []) or [])
        for handler in getattr(node, "handlers", []) or []:
            yield from _module_level(handler.body)
        for case in getattr(node, "cases", []) or []:
            yield from _module_level(case.body)


def _locate(module_name, paths):
    """The spec of a module found on `paths`, parents included, without importing anything."""
    if module_name in sys.modules:
        return getattr(sys.modules[module_name], "__spec__", None) or ModuleSpec(module_name, None)
    spec = None
    parts = module_name.split(".")
    for i in range(len(parts)):
        spec = PathFinder.find_spec(".".join(parts[: i + 1]), paths)
        if spec is None:
            return None
        paths = spec.submodule_search_locations or []
    return spec


def _is_under(path, root):
    try:
        return os.path.commonpath([os.path.realpath(path), os.path.realpath(root)]) == os.path.realpath(root)
    except ValueError:
        return False
