"""Which loaded project modules import which, for `--reload changed`.

A project module is a loaded module whose source file is under one of the project roots (the
target's root and the watched directories) and not in an installed location (stdlib,
site-packages). Imports are read from each module's source with `ast` (module-level and inside
functions alike), cached by file size and modification time, so a reload re-parses only files
that changed.
"""

import os
import sys


class ImportGraph:
    def __init__(self):
        self.roots = []
        self._parsed = {}  # path -> ((size, mtime_ns), frozenset of imported names)
        self._project_path = {}  # module __file__ -> its real path if a project file, else None

    def set_roots(self, roots):
        self.roots = sorted({os.path.realpath(r) + os.sep for r in roots})
        self._project_path.clear()

    def project_modules(self):
        """{module name: source path} of loaded project modules."""
        found = {}
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if not path:
                continue
            real = self._project_path.get(path, 0)
            if real == 0:
                real = self._project_path[path] = self._classify(path)
            if real is not None:
                found[name] = real
        return found

    def _classify(self, path):
        if not path.endswith(".py"):
            return None
        real = os.path.realpath(path)
        if not any(real.startswith(r) for r in self.roots):
            return None
        installed = {os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}}
        if any(real.startswith(p) for p in installed) or _installed(real):
            return None
        return real

    def imports_of(self, name, path, known):
        """Project modules that module `name` (source at `path`) imports."""
        try:
            st = os.stat(path)
            stamp = (st.st_size, st.st_mtime_ns)
        except OSError:
            return set()
        cached = self._parsed.get(path)
        if cached is None or cached[0] != stamp:
            cached = (stamp, frozenset(_imported_names(name, path)))
            self._parsed[path] = cached
        return {n for n in cached[1] if n in known and n != name}

    def reload_order(self, changed_paths, entry):
        """Loaded project modules to reload for a save of `changed_paths`, dependencies first:
        the changed modules and every module that imports them, transitively. The entry
        module is left out (the caller reloads it last, with its hooks)."""
        modules = self.project_modules()
        by_path = {}
        for name, path in modules.items():
            by_path.setdefault(path, []).append(name)
        changed = set()
        for p in changed_paths:
            changed.update(by_path.get(os.path.realpath(p), []))
        if not changed:
            return []
        deps = {name: self.imports_of(name, path, modules) for name, path in modules.items()}
        dependents = {name: set() for name in modules}
        for name, ds in deps.items():
            for d in ds:
                dependents[d].add(name)
        affected = set()
        stack = list(changed)
        while stack:
            n = stack.pop()
            if n in affected:
                continue
            affected.add(n)
            stack.extend(dependents.get(n, ()))
        order = []
        seen = set()

        def visit(n):
            # Dependencies first; a cycle is cut where it closes (no hang, some order).
            if n in seen:
                return
            seen.add(n)
            for d in sorted(deps.get(n, ())):
                if d in affected:
                    visit(d)
            order.append(n)

        for n in sorted(affected):
            visit(n)
        # A module whose file was deleted keeps its last version (it cannot be reloaded); the
        # modules importing it still reload.
        return [n for n in order if n != entry and os.path.exists(modules[n])]


def _installed(path):
    parts = path.split(os.sep)
    return "site-packages" in parts or "dist-packages" in parts


def _imported_names(name, path):
    import ast

    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return set()
    module = sys.modules.get(name)
    package = getattr(module, "__package__", None) or (name if path.endswith("__init__.py") else name.rpartition(".")[0])
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            if base is None:
                continue
            names.add(base)
            parts = base.split(".")
            names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
            for alias in node.names:
                if alias.name != "*":
                    names.add(base + "." + alias.name)
    return names


def _absolute(module, level, package):
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base) or None
