"""Which loaded project modules import which, and in what order a save re-runs them
(`--reload changed` and `deep`).

A project module is a loaded module whose source file is under one of the project roots (the
target's root and the watched directories) and not in an installed location (stdlib,
site-packages). Imports are read from each module's source with `ast` (module level and inside
functions alike, in source order), cached until the host reports the file saved, so a save
re-parses only the files that changed.

Edges. `import a.b` and `from a.b import c` (c a module) make the module depend *strongly* on
the module they name (a.b, a.b.c), which they run and read, and *weakly* on the packages they
pass through (a, and a.b for the second): those are only traversed. `from pkg import name`
depends strongly on pkg when `name` is not a loaded submodule. Both kinds decide what a save
affects; only strong edges can make a cycle that changes the order.

The rules (the README can quote them):

    What a save re-runs: the saved project modules and every loaded project module that
    imports them, transitively, and the target, which always runs, with the project modules
    that import it (say a test module doing `from calc import add`), after it.
    Order: every module after the modules it imports, so each one reads the new values of
    its imports. Modules that import each other (a cycle) run as a fresh import would run
    them: the cycle starts with the module a fresh import of the target enters first, and when
    its body reaches `import b` / `from b import x` of a module of the cycle that has not run
    yet, that module runs right there, in place, before the importer goes on. So derived
    values equal those of a fresh run, and each module runs once.
    Laziness: a saved module that no loaded project module (nor the target, nor a module a
    step names) imports any more, and that nothing else holds (a plugin registry, a test
    runner), is not re-run: it is removed from sys.modules (with its submodules), so the next
    `import` of it runs it fresh.

Interface:

    order, evict = graph.reload_order(changed_paths, entry, roots=(), deleted=frozenset())
    names = graph.affected(changed_real_paths, {name: real path})  # loaded or not (test files)
    graph.evict(evict)                          # sys.modules entries and parent attributes
    with ReloadPass(order, reload_one) as rp:   # re-runs cycle members at their import
        for name in order:
            rp.run(name)                        # reload_one(name), unless it already ran

`order` holds the entry at its place; the caller runs the entry's hooks around it. Without an
entry (`hotload-host test`: pytest imports the test modules itself) `order` is just the loaded
project modules the save affects, and `roots` (there: every loaded project module) count as
imported.
"""

import os
import sys

from hotload._names import absolute_name, import_statements


class ImportGraph:
    def __init__(self):
        self.roots = []
        self._parsed = {}  # path -> (imports in source order), until the file is saved
        self._project_path = {}  # module __file__ -> its real path if a project file, else None
        self._modules = (None, None)  # (sys.modules size when worked out, project modules)
        self._dirty = set()  # saved since they were parsed
        # (project modules, strong, weak, importers, {path: imports}) as last worked out, and
        # reload orders already worked out for it (see reload_order).
        self._structure = None
        self._orders = {}
        # name -> the code object that ran (the host's): what a module imports while its
        # saved source does not parse.
        self.code_of = lambda name: None

    def set_roots(self, roots):
        self.roots = sorted({os.path.realpath(r) + os.sep for r in roots})
        self._project_path.clear()
        self._modules = (None, None)

    def forget_sources(self, paths):
        """These files were saved (or deleted): parse them again when they are next needed.
        (The host's events say when a file changed: no stat per module per save.)"""
        self._dirty.update(paths)

    def project_modules(self):
        """{module name: source path} of loaded project modules (worked out again when
        sys.modules grows or shrinks)."""
        size, found = self._modules
        if size == len(sys.modules):
            return found
        found = self._project_modules()
        self._modules = (len(sys.modules), found)
        return found

    def _project_modules(self):
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

    def is_project(self, module):
        """Whether a loaded module is a project module (its file is under the roots)."""
        path = getattr(module, "__file__", None)
        if not path:
            return False
        real = self._project_path.get(path, 0)
        if real == 0:
            real = self._project_path[path] = self._classify(path)
        return real is not None

    def _classify(self, path):
        if not isinstance(path, str) or not path.endswith(".py") or path.startswith("<"):
            return None  # (`<hotload-host>/...`: this package, embedded in the binary)
        real = os.path.realpath(path)
        if not any(real.startswith(r) for r in self.roots):
            return None
        installed = {os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}}
        if any(real.startswith(p) for p in installed) or _installed(real):
            return None
        return real

    def _imports(self, name, path):
        """[(imported module name, candidate submodule names)] of `name`'s source, in order.
        A file that does not parse (a syntax error being fixed) keeps the imports it had: the
        module still depends on them until a version that parses says otherwise."""
        cached = self._parsed.get(path)
        if cached is None or path in self._dirty:
            found = _import_statements(name, path)
            if found is not None:
                cached = self._parsed[path] = tuple(found)
                self._dirty.discard(path)
            elif cached is None:
                code = self.code_of(name)
                module = sys.modules.get(name)
                package = getattr(module, "__package__", None) or name.rpartition(".")[0]
                cached = tuple(import_statements(code, package)) if code is not None else ()
        return cached

    def edges(self, name, path, known):
        """(strong, weak) lists of the project modules in `known` that `name` imports, in
        source order (see the module docstring)."""
        strong, weak = [], []
        for base, fromlist in self._imports(name, path):
            parts = base.split(".")
            for i in range(1, len(parts)):
                weak.append(".".join(parts[:i]))
            if fromlist is None:
                strong.append(base)
                continue
            subs = [base + "." + n for n in fromlist if base + "." + n in known]
            strong.extend(subs)
            if len(subs) < len(fromlist):
                strong.append(base)  # reads names of `base` itself
            else:
                weak.append(base)
        strong = _unique(n for n in strong if n in known and n != name)
        weak = _unique(n for n in weak if n in known and n != name and n not in strong)
        return strong, weak

    def imports_of(self, name, path, known):
        """Project modules that module `name` (source at `path`) imports."""
        strong, weak = self.edges(name, path, known)
        return set(strong) | set(weak)

    def affected(self, changed_paths, modules):
        """The names in `modules` ({name: real source path}, loaded or not: the test files
        pytest imports afresh each run) whose file is one of the real paths `changed_paths`, or
        that import one of those, transitively (strong and weak edges alike)."""
        importers = {name: [] for name in modules}
        for name, path in modules.items():
            strong, weak = self.edges(name, path, modules)
            for dep in strong + weak:
                importers[dep].append(name)
        found = set()
        stack = [name for name, path in modules.items() if path in changed_paths]
        while stack:
            n = stack.pop()
            if n not in found:
                found.add(n)
                stack.extend(importers[n])
        return found

    def reload_order(self, changed_paths, entry, roots=(), deleted=frozenset()):
        """What a save of `changed_paths` re-runs, and in which order.

        Returns (order, evict). `order`: the loaded project modules to re-run, the entry
        included at its place (the caller runs the entry's hooks around it); modules whose
        file was deleted are left out (they keep their last version; their importers still
        re-run). `evict`: modules the current code no longer imports and nothing holds; the
        caller removes them (see `evict`) instead of re-running them. `roots` are modules the
        run uses besides the entry (those a step or hook names): they count as imported.
        `deleted`: real paths of source files that are gone (the host decides).
        """
        modules = self.project_modules()
        if set(modules) <= {entry}:
            # Nothing but the entry (the common small project), or nothing at all.
            return ([entry] if entry is not None else []), []
        changed = set()
        reals = set(changed_paths)  # the host's paths are real paths
        for name, path in modules.items():
            if path in reals:
                changed.add(name)
        strong, weak, importers = self._edges_of(modules)
        # The same graph, save and steps give the same order, unless something outside the
        # import system had a say (see _live): then it is worked out each time.
        key = (frozenset(changed), entry, tuple(roots), frozenset(deleted))
        known = self._orders.get(key)
        if known is not None:
            return list(known[0]), list(known[1])
        order, evict, dynamic = self._reload_order(modules, changed, strong, weak, importers, entry, roots, deleted)
        if not dynamic:
            if len(self._orders) >= 256:
                self._orders.clear()
            self._orders[key] = (tuple(order), tuple(evict))
        return order, evict

    def _edges_of(self, modules):
        """(strong, weak, importers) of the loaded project modules `modules`, worked out again
        only when the modules or a saved file's imports changed (a chain of 200 modules costs
        a millisecond and a half to work out)."""
        cached = self._structure
        if cached is not None and cached[0] is modules:
            imports = cached[4]
            same = True
            for path in [p for p in self._dirty if p in imports]:
                names = [n for n, p in modules.items() if p == path]
                if any(self._imports(n, path) != imports[path] for n in names):
                    same = False
            if same:
                return cached[1], cached[2], cached[3]
        strong, weak = {}, {}
        for name, path in modules.items():
            strong[name], weak[name] = self.edges(name, path, modules)
        importers = {name: set() for name in modules}
        for name in modules:
            for d in strong[name] + weak[name]:
                importers[d].add(name)
        imports = {path: self._parsed.get(path, ()) for path in modules.values()}
        self._structure = (modules, strong, weak, importers, imports)
        self._orders = {}
        return strong, weak, importers

    def _reload_order(self, modules, changed, strong, weak, importers, entry, roots, deleted):
        """reload_order's work: (order, evict, whether something outside the graph decided)."""
        affected = set()
        stack = list(changed) + ([entry] if entry in modules else [])
        while stack:
            n = stack.pop()
            if n in affected:
                continue
            affected.add(n)
            stack.extend(importers.get(n, ()))
        start = ([entry] if entry is not None else []) + [r for r in roots if r in modules and r != entry]
        live, dynamic = self._live(start, strong, weak, modules, affected)
        evict = sorted(n for n in affected if n not in live and n != entry)
        evict = _with_submodules(evict, live, modules)
        if entry is None:
            starts = start + sorted(changed) + sorted(affected)
            order = [
                n for n in _order(starts, strong, weak)
                if n in affected and n not in evict and modules[n] not in deleted
            ]
            return order, evict, dynamic
        # Affected modules the entry neither imports nor is imported by (it loads them some
        # other way: importlib, a plugin registry) run before it, as if it imported them.
        from_entry = _reach([entry], strong, weak)
        into_entry = set()
        stack = [entry]
        while stack:
            n = stack.pop()
            if n not in into_entry:
                into_entry.add(n)
                stack.extend(importers.get(n, ()))
        weak = dict(weak)
        weak[entry] = list(weak.get(entry, ())) + sorted(
            n for n in affected if n not in from_entry and n not in into_entry and n not in evict
        )
        starts = start + sorted(changed) + sorted(affected)
        order = [
            n for n in _order(starts, strong, weak)
            if n in affected and n not in evict and (n == entry or modules[n] not in deleted)
        ]
        if entry not in order:
            order.append(entry)
        return order, evict, dynamic

    def _live(self, start, strong, weak, modules, affected):
        """Modules reachable by imports from `start`, or held by something other than the
        import system (then they and what they import count as imported). Returns (live,
        whether anything besides the imports was asked)."""
        live = _reach(start, strong, weak)
        candidates = [n for n in affected if n not in live]
        dynamic = bool(candidates)
        while candidates:
            held = _held_elsewhere(candidates)
            if not held:
                break
            live |= _reach(held, strong, weak)
            candidates = [n for n in candidates if n not in live]
        return live, dynamic

    def evict(self, names):
        evict(names)


def evict(names):
    """Removes modules from sys.modules and from their parent package's attributes, so that
    the next import runs them fresh."""
    for name in names:
        module = sys.modules.pop(name, None)
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(parent_name) if parent_name else None
        if module is not None and parent is not None and getattr(parent, child, None) is module:
            try:
                delattr(parent, child)
            except (AttributeError, TypeError):
                pass


def _unique(items):
    seen = set()
    out = []
    for n in items:
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out


def _reach(start, strong, weak):
    seen = set()
    stack = list(start)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(strong.get(n, ()))
        stack.extend(weak.get(n, ()))
        parent = n.rpartition(".")[0]
        if parent:
            stack.append(parent)  # importing pkg.mod imports pkg
    return seen


def _with_submodules(evict, live, modules):
    """An evicted package takes its loaded submodules along (a fresh `import pkg.mod` would run
    both); a package some live module needs is kept."""
    out = set(evict)
    for name in modules:
        if name not in live and any(name.startswith(p + ".") for p in evict):
            out.add(name)
    return sorted(out)


def _held_elsewhere(names):
    """Those of the modules `names` that something other than the import system holds: a
    registry, a test runner's collection, a module's namespace outside the candidates."""
    import gc
    import types

    mods = {id(sys.modules[n]): n for n in names if n in sys.modules}
    if not mods:
        return []
    ignore = {id(sys.modules), id(mods)}
    for n in names:
        module = sys.modules.get(n)
        if module is not None:
            ignore.add(id(module.__dict__))
        parent = sys.modules.get(n.rpartition(".")[0])
        if parent is not None:
            ignore.add(id(parent.__dict__))
    held = set()
    # A tuple: `f(*t)` hands the tuple itself to a C function, so the only temporary holding
    # the modules is this one (ignored).
    targets = tuple(sys.modules[n] for n in names if n in sys.modules)
    ignore.add(id(targets))
    referrers = gc.get_referrers(*targets)
    for ref in referrers:
        if id(ref) in ignore or isinstance(ref, types.FrameType):
            continue
        for obj in gc.get_referents(ref):
            n = mods.get(id(obj))
            if n is not None:
                held.add(n)
    return sorted(held)


def _order(starts, strong, weak):
    """Every module reachable from `starts`: a module after those it imports; modules in an
    import cycle in the order a fresh import enters them (depth-first, imports in source
    order). Tarjan's algorithm over all edges; inside a component, strong edges only decide
    (a package's weak edges to its submodules make no cycle)."""
    index = {}
    low = {}
    stack = []
    on_stack = set()
    order = []
    counter = [0]

    def neighbours(n):
        return _unique(list(strong.get(n, ())) + list(weak.get(n, ())))

    def visit(root):
        # Iterative Tarjan (deep import chains must not hit the recursion limit).
        work = [(root, iter(neighbours(root)))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            n, it = work[-1]
            advanced = False
            for m in it:
                if m not in index:
                    index[m] = low[m] = counter[0]
                    counter[0] += 1
                    stack.append(m)
                    on_stack.add(m)
                    work.append((m, iter(neighbours(m))))
                    advanced = True
                    break
                if m in on_stack:
                    low[n] = min(low[n], index[m])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[n])
            if low[n] == index[n]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == n:
                        break
                order.extend(_order_component(component, strong, index))

    for s in starts:
        if s not in index and (s in strong or s in weak):
            visit(s)
    return order


def _order_component(component, strong, index):
    """One strongly connected component: by strong edges (dependencies first), and where
    those make a cycle, in the order the depth-first walk entered the modules."""
    if len(component) == 1:
        return component
    members = set(component)
    sub_strong = {n: [m for m in strong.get(n, ()) if m in members] for n in component}
    entered = sorted(component, key=index.get)
    out = []
    # Tarjan again on strong edges inside the component; components of that come out
    # dependencies first; inside one, by entry order.
    idx, low, st, on, counter = {}, {}, [], set(), [0]

    def visit(n):
        idx[n] = low[n] = counter[0]
        counter[0] += 1
        st.append(n)
        on.add(n)
        for m in sub_strong[n]:
            if m not in idx:
                visit(m)
                low[n] = min(low[n], low[m])
            elif m in on:
                low[n] = min(low[n], idx[m])
        if low[n] == idx[n]:
            group = []
            while True:
                m = st.pop()
                on.discard(m)
                group.append(m)
                if m == n:
                    break
            out.extend(sorted(group, key=index.get))

    for n in entered:
        if n not in idx:
            visit(n)
    return out


class ReloadPass:
    """Re-runs the modules of one reload order, each once. While it is active, an import
    statement (`import b`, `from b import x`, `from . import b`) naming a module of the order
    that has not run yet runs that module first, at that point, in the importing thread: what
    a fresh import does inside an import cycle. Only installed (as a wrapper around
    builtins.__import__) when the order has more than one module.

        with ReloadPass(order, reload_one) as rp:
            for name in order:
                rp.run(name)

    `reload_one(name)` re-runs one module (and may raise: the exception propagates out of the
    import statement that triggered it, as a failing import would).
    """

    def __init__(self, order, reload_one):
        self.pending = list(order)
        self._pending = set(order)
        self.ran = []
        self._reload_one = reload_one
        self._saved = None
        self._thread = None

    def run(self, name):
        if name not in self._pending:
            return False
        self._pending.discard(name)
        self.ran.append(name)
        self._reload_one(name)
        return True

    def __enter__(self):
        if len(self._pending) > 1:
            import builtins
            import threading

            self._thread = threading.get_ident()
            original = builtins.__import__
            self._saved = original
            get_ident = threading.get_ident
            pass_ = self

            def __import__(name, globals=None, locals=None, fromlist=(), level=0):
                pending = pass_._pending
                # (`import b` of a module that ran already, the usual case, costs one lookup.)
                if pending and (level or fromlist or name in pending) and get_ident() == pass_._thread:
                    pass_._before_import(name, globals, fromlist, level)
                return original(name, globals, locals, fromlist, level)

            builtins.__import__ = __import__
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            import builtins

            builtins.__import__ = self._saved
            self._saved = None
        return False

    def _before_import(self, name, globals, fromlist, level):
        if level:
            package = (globals or {}).get("__package__")
            if package is None:
                spec = (globals or {}).get("__spec__")
                package = getattr(spec, "parent", None)
            target = absolute_name(name, level, package)
        else:
            target = name
        if not target:
            return
        wanted = []
        if fromlist:
            reads_package = False
            for attr in fromlist:
                sub = target + "." + attr if isinstance(attr, str) else None
                if sub is not None and (sub in self._pending or sub in sys.modules):
                    wanted.append(sub)
                else:
                    reads_package = True
            if reads_package:
                wanted.insert(0, target)
        else:
            wanted.append(target)
        for n in wanted:
            if n in self._pending and n in sys.modules:
                self.run(n)


def _installed(path):
    parts = path.split(os.sep)
    return "site-packages" in parts or "dist-packages" in parts


def _import_statements(name, path):
    """[(absolute module name, fromlist or None)] of every import in the file, in source order.
    `import a.b` gives ("a.b", None); `from a import b, c` gives ("a", ("b", "c")); a star
    import gives an empty fromlist."""
    import ast

    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return None  # unreadable or broken: what it imported is not known
    module = sys.modules.get(name)
    package = getattr(module, "__package__", None)
    if package is None:
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(((node.lineno, node.col_offset), alias.name, None))
        elif isinstance(node, ast.ImportFrom):
            base = absolute_name(node.module, node.level, package)
            if base is None:
                continue
            names = tuple(a.name for a in node.names if a.name != "*")
            found.append(((node.lineno, node.col_offset), base, names))
    found.sort(key=lambda item: item[0])
    return [(base, names) for _, base, names in found]
