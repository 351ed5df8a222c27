"""Removed names go away: after a reload, the module-level names that the previous version of a
module bound and the new version does not bind are deleted from the module, as if it had been
imported fresh. Used in `changed` and `deep` mode.

The rule (the README quotes it):

    A version of a module *binds* a name when
      - its code can store it: an assignment, `def`, `class`, `import`, `for`, `with ... as`,
        `except ... as`, `:=`, `match` capture or `del` at module level, or a `global`
        statement followed by a store in any function or class body inside the module;
      - or `from m import *` brings it in (m's `__all__`, else its public names);
      - or it appeared or changed in the module's namespace while that version's body ran
        (`globals()[...] = ...`, `exec`, another module setting it during the import).
    After a reload, a name the previous version bound that the new version does not is
    deleted. Everything else stays: names set on the module from outside (another module doing
    `lib.flag = 1`, the console) or by a function called after the import, and names the new
    version may bind, even if this run did not (`try: x = x / except NameError: x = ...` keeps
    `x`). The import system's own names (`__name__`, `__file__`, `__spec__`, ...) and loaded
    submodules of a package are never deleted; a docstring that went away becomes None.

Where the names come from: the module's code object is decoded directly (no `dis`, no `ast`):
each instruction is two bytes, opcode then argument, on every CPython from 3.6; EXTENDED_ARG
prefixes widen the argument; 3.11+ CACHE entries are opcode 0 and are skipped; `import *` is
IMPORT_STAR up to 3.11 and CALL_INTRINSIC_1 INTRINSIC_IMPORT_STAR from 3.12. Opcode numbers come
from the stdlib `opcode` module (imported on first use; they differ from version to version).

Interface, for whoever executes modules (one `NameRecords` per interpreter is enough):

    before = records.before_exec(module)      # right before a version runs; None if fresh
    ... exec the version's code in module.__dict__ ...
    removed = records.after_exec(module, code, before, complete=True)

`code` is the code object that ran (None if unknown: then nothing is removed this time).
`capture_code()` collects the code objects that importlib compiles while it is active, for a
caller that lets importlib run the module.
"""

import sys
import _weakref

# Set by the import system, not by the module's code: never deleted.
_SYSTEM = frozenset(
    ("__name__", "__doc__", "__package__", "__loader__", "__spec__", "__file__", "__cached__",
     "__builtins__", "__path__")
)
_INTRINSIC_IMPORT_STAR = 2  # 3.12, 3.13: dis documents it; stable so far
_ops = None


def _opcodes():
    global _ops
    if _ops is None:
        import opcode

        m = opcode.opmap
        _ops = {
            "stores_here": bytes(m[k] for k in ("STORE_NAME", "DELETE_NAME")),
            "stores_global": bytes(m[k] for k in ("STORE_GLOBAL", "DELETE_GLOBAL")),
            "ext": m["EXTENDED_ARG"],
            "import_name": m["IMPORT_NAME"],
            "load_const": m["LOAD_CONST"],
            "cache": m.get("CACHE", -1),
            "import_star": m.get("IMPORT_STAR", -1),
            "intrinsic1": m.get("CALL_INTRINSIC_1", -1),
            "setup_annotations": m.get("SETUP_ANNOTATIONS", -1),
        }
    return _ops


def _arg(ops, args, i, ext):
    """The full argument of instruction i (EXTENDED_ARG prefixes included)."""
    value = args[i]
    shift = 8
    i -= 1
    while i >= 0 and ops[i] == ext:
        value |= args[i] << shift
        shift += 8
        i -= 1
    return value


def _positions(ops, op):
    i = ops.find(op)
    while i >= 0:
        yield i
        i = ops.find(op, i + 1)


def _previous(ops, i, skip):
    """Index of the instruction before i, CACHE entries and EXTENDED_ARG prefixes skipped."""
    i -= 1
    while i >= 0 and ops[i] in skip:
        i -= 1
    return i


# stored_names of the code objects alive (a dependent that re-runs unchanged code gets the same
# answer): id -> (weak reference to the code, result). A code object that is gone takes its
# entry with it; holding the code itself would keep every version ever run alive.
_memo = {}


def stored_names(code):
    """`_stored_names(code)`, remembered while `code` is alive."""
    key = id(code)
    hit = _memo.get(key)
    if hit is not None and hit[0]() is code:
        return hit[1]
    result = _stored_names(code)

    def forget(ref):
        if _memo.get(key, (None,))[0] is ref:
            del _memo[key]

    _memo[key] = (_weakref.ref(code, forget), result)
    return result


def _stored_names(code):
    """What the module code object `code` can bind in its module's namespace.

    Returns (names, star_imports): `names` a frozenset of the names stored or deleted by the
    module-level code (STORE_NAME, DELETE_NAME, STORE_GLOBAL, DELETE_GLOBAL, `__annotations__`
    for SETUP_ANNOTATIONS) and by `global` stores in every nested code object (functions,
    lambdas, comprehensions, class bodies); `star_imports` a tuple of (module, level) for each
    `from module import *` (level as in `__import__`; module None if it could not be decoded).
    Class-body stores are the class's attributes, not the module's, and are not counted.
    """
    o = _opcodes()
    names = set()
    stars = []
    co_code = code.co_code
    ops, args = co_code[0::2], co_code[1::2]
    co_names = code.co_names
    for op in o["stores_here"] + o["stores_global"]:
        for i in _positions(ops, bytes((op,))):
            names.add(co_names[_arg(ops, args, i, o["ext"])])
    if o["setup_annotations"] >= 0 and bytes((o["setup_annotations"],)) in ops:
        names.add("__annotations__")
    star_positions = []
    if o["import_star"] >= 0:
        star_positions = list(_positions(ops, bytes((o["import_star"],))))
    elif o["intrinsic1"] >= 0:
        star_positions = [
            i for i in _positions(ops, bytes((o["intrinsic1"],)))
            if _arg(ops, args, i, o["ext"]) == _INTRINSIC_IMPORT_STAR
        ]
    skip = {o["cache"], o["ext"]}
    for i in star_positions:
        stars.append(_star_source(code, ops, args, i, o, skip))
    _global_stores(code, names, o)
    return frozenset(names), tuple(stars)


def _star_source(code, ops, args, i, o, skip):
    """(module, level) of the `from module import *` whose star instruction is at i."""
    j = _previous(ops, i, skip)
    if j < 0 or ops[j] != o["import_name"]:
        return (None, 0)
    module = code.co_names[_arg(ops, args, j, o["ext"])]
    k = _previous(ops, _previous(ops, j, skip), skip)  # LOAD_CONST level, LOAD_CONST ('*',)
    level = 0
    if k >= 0 and ops[k] == o["load_const"]:
        value = code.co_consts[_arg(ops, args, k, o["ext"])]
        if isinstance(value, int):
            level = value
    return (module, level)


def import_statements(code, package):
    """[(absolute module name, fromlist or None)] of the module-level imports of a module's code
    object, in order (as the import graph reads them from source): for a module whose current
    source does not parse, what the version that ran imports."""
    o = _opcodes()
    co_code = code.co_code
    ops, args = co_code[0::2], co_code[1::2]
    skip = {o["cache"], o["ext"]}
    found = []
    for i in _positions(ops, bytes((o["import_name"],))):
        name = code.co_names[_arg(ops, args, i, o["ext"])]
        j = _previous(ops, i, skip)  # LOAD_CONST fromlist
        k = _previous(ops, j, skip) if j >= 0 else -1  # LOAD_CONST level
        consts = [
            code.co_consts[_arg(ops, args, x, o["ext"])] if x >= 0 and ops[x] == o["load_const"] else None
            for x in (k, j)
        ]
        level = consts[0] if isinstance(consts[0], int) else 0
        fromlist = tuple(consts[1]) if isinstance(consts[1], tuple) else None
        base = absolute_name(name, level, package)
        if base:
            found.append((base, tuple(n for n in fromlist if n != "*") if fromlist else None))
    return found


def _global_stores(code, names, o):
    code_type = type(code)
    stack = [c for c in code.co_consts if type(c) is code_type]
    global_ops = [bytes((op,)) for op in o["stores_global"]]
    while stack:
        c = stack.pop()
        stack.extend(k for k in c.co_consts if type(k) is code_type)
        co_code = c.co_code
        ops = co_code[0::2]
        for op in global_ops:
            if op in ops:
                args = co_code[1::2]
                for i in _positions(ops, op):
                    names.add(c.co_names[_arg(ops, args, i, o["ext"])])


def absolute_name(module, level, package):
    """The absolute module name of `from <level dots><module> import ...` inside `package`."""
    if not level:
        return module or None
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base) or None


def _star_names(stars, package):
    """Names the star imports bring in, or None if one of them cannot be resolved."""
    names = set()
    for module, level in stars:
        name = absolute_name(module, level, package) if module is not None or level else None
        source = sys.modules.get(name) if name else None
        if source is None:
            return None
        exported = getattr(source, "__all__", None)
        if exported is None:
            exported = [n for n in getattr(source, "__dict__", {}) if not n.startswith("_")]
        names.update(n for n in exported if isinstance(n, str))
    return names


_MISSING = object()


def bound_names(code, namespace, before, package=None):
    """The names one version of a module binds (see the module docstring), or None if that
    cannot be told (an unresolvable `import *`).

    `code` is the module code object that ran in `namespace` (None if unknown: only the names
    that appeared or changed during the run are known then); `before` a copy of the namespace
    taken right before it ran, or None for a fresh module (then every name in it counts).
    """
    if before is None:
        changed = set(namespace)
    else:
        changed = {k for k, v in namespace.items() if before.get(k, _MISSING) is not v}
    if code is None:
        return frozenset(changed)
    stored, stars = stored_names(code)
    names = changed | stored
    if stars:
        star = _star_names(stars, package)
        if star is None:
            return None
        names |= star
    return frozenset(names)


class NameRecords:
    """The names each loaded module's current version bound, and removal of those a new
    version no longer binds. Keyed by module name."""

    def __init__(self):
        self._bound = {}  # module name -> frozenset of names, or None when unknown

    def before_exec(self, module):
        """Call right before a new version of `module` runs in its existing namespace. Returns
        the snapshot to hand to after_exec (a shallow copy of the namespace). Also starts the
        new version with no module `__annotations__`, so annotations the new code dropped do
        not linger (SETUP_ANNOTATIONS would reuse the old dict)."""
        before = dict(module.__dict__)
        module.__dict__.pop("__annotations__", None)
        return before

    def after_exec(self, module, code, before, complete=True):
        """Call right after a version of `module` ran (or failed, `complete=False`).

        `before` is what before_exec returned, or None for a fresh module (first import, or an
        import after eviction). Deletes the names the previous version bound that this one does
        not (only after a complete run of a reload, with both versions known) and records what
        this version bound. Returns the deleted names, sorted.
        """
        namespace = module.__dict__
        name = module.__name__
        if before is not None and "__annotations__" not in namespace and "__annotations__" in before:
            if not complete:
                namespace["__annotations__"] = before["__annotations__"]
        package = getattr(module, "__package__", None)
        if before is None:
            # A fresh module: every name in it counts; what its code could store besides is
            # worked out when a reload first needs it (that decoding imports `opcode`, which
            # start-up can do without).
            self._bound[name] = _Fresh(frozenset(namespace), code, package)
            return []
        current = bound_names(code, namespace, before, package)
        previous = self._resolve(name)
        removed = []
        if complete and before is not None and previous is not None and current is not None and code is not None:
            for attr in previous - current:
                if attr in namespace and self._removable(name, attr, namespace[attr]):
                    if attr == "__doc__":
                        namespace[attr] = None
                        continue
                    del namespace[attr]
                    removed.append(attr)
        if before is not None and (not complete or code is None):
            # A failed run, or one whose code is unknown: what it bound adds to what was bound
            # (removing anything now could hit a name the new code binds).
            if previous is not None and current is not None:
                current = previous | current
        self._bound[name] = current
        return sorted(removed)

    def _resolve(self, name):
        bound = self._bound.get(name)
        if isinstance(bound, _Fresh):
            bound = self._bound[name] = bound.names_bound()
        return bound

    @staticmethod
    def _removable(module_name, attr, value):
        if attr in _SYSTEM and attr != "__doc__":
            return False
        sub = sys.modules.get(module_name + "." + attr)
        return not (sub is not None and sub is value)  # a loaded submodule of this package

    def forget(self, module_name):
        """Drop what is known about a module (it was evicted: its next import is fresh)."""
        self._bound.pop(module_name, None)

    def bound(self, module_name):
        """The names the current version of the module bound, or None if unknown."""
        return self._resolve(module_name)


class _Fresh:
    """What a fresh module bound, before its code's stores are decoded."""

    __slots__ = ("names", "code", "package")

    def __init__(self, names, code, package):
        self.names, self.code, self.package = names, code, package

    def names_bound(self):
        if self.code is None:
            return self.names
        stored, stars = stored_names(self.code)
        names = self.names | stored
        if stars:
            star = _star_names(stars, self.package)
            if star is None:
                return None
            names |= star
        return frozenset(names)


class capture_code:
    """While active, records the code object importlib's source loaders compile or read for
    each module (`codes[module name] = code`). For callers that let importlib execute modules
    (importlib.import_module, importlib.reload) and still need the code that ran.

        with capture_code() as codes:
            importlib.reload(module)
        code = codes.get(module.__name__)

    Nested captures: each module's code goes to the innermost one only. The loader's
    `get_code` is wrapped once, the first time (every run enters a capture, twice per module
    it re-runs: patching the class each time would clear the interpreter's attribute caches
    for every loader class on each of them); outside a capture the wrapper only passes on.
    """

    def __init__(self):
        self.codes = {}

    def __enter__(self):
        if not _capturing:
            _wrap_get_code()
        _capturing.append(self.codes)
        return self.codes

    def __exit__(self, *exc):
        # (By identity: two captures' dicts may be equal.)
        for i in range(len(_capturing) - 1, -1, -1):
            if _capturing[i] is self.codes:
                del _capturing[i]
                break
        return False


_capturing = []  # the active captures' dicts, innermost last
_wrapped = []


def _wrap_get_code():
    if _wrapped:
        return
    import _frozen_importlib_external as _bootstrap_external

    loader = _bootstrap_external.SourceLoader
    base = loader.__dict__["get_code"]

    def get_code(self, fullname):
        code = base(self, fullname)
        if _capturing:
            _capturing[-1][fullname] = code
        return code

    get_code.__wrapped__ = base
    loader.get_code = get_code
    _wrapped.append(base)
