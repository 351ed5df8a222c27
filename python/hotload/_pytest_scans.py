"""Installed code's fixture and hook look-ups, worked out once, not once per pytest pass.
Not a public API.

Every pass of `hotload-host test` (`_pytest.py`) is a new pytest session: pytest registers its
own plugins and the installed ones again, and walks every attribute of each one twice: pluggy
for hook implementations (`_static_hook_attr`, per name), the FixtureManager for fixtures
(`parsefactories`). For code that does not change between passes (the standard library,
site-packages, the modules the binary serves) the answers do not change either. This module
remembers them:

- `parsefactories` is handed a digest of such a holder: a module with only the attributes
  that are, or wrap, a fixture (what pytest would register or warn about), or nothing to walk
  when there are none. An installed plugin instance is walked as it is when its class or the
  instance itself holds anything like a fixture, else not at all;
- pluggy's `_static_hook_attr` for such a module is remembered per (module, name);
- pluggy's `varnames` (the parameters of a hook implementation) per function, for any
  function with no `__wrapped__`: what it answers depends only on the function's code,
  defaults and qualified name, which are checked each time.

Each remembered answer is checked, every time it is used, against what the holder has now
(the same names bound to the same objects), so a module that did change is walked afresh.
Project code (test modules, conftests, the project's own plugins) is always walked as pytest
walks it. `install()` patches once per interpreter; internals a pytest or pluggy version does
not have are left alone.
"""

import inspect
import operator
import os
import sys
import types
import weakref

_SERVED = "<hotload-host>/"  # the `__file__` prefix of modules the binary serves
_ABSENT = object()


def install():
    """Patch pytest's fixture scan and pluggy's hook look-up (once; later calls do nothing)."""
    try:
        from _pytest import fixtures, nodes
    except ImportError:
        return
    manager = getattr(fixtures, "FixtureManager", None)
    original = getattr(manager, "parsefactories", None)
    marker = getattr(fixtures, "getfixturemarker", None)
    if original is None or marker is None or getattr(original, "_hotload_scans", False):
        return
    # pytest 7 looks fixtures up on a plugin instance, later ones on its class only.
    scans = Scans(marker, instances="holderobj_tp" not in original.__code__.co_varnames)
    manager.parsefactories = _scanning(original, scans, nodes.Node)
    _remember_hook_attrs(scans)
    _remember_varnames()


def _scanning(original, scans, node_type):
    def parsefactories(self, *args, **kwargs):
        # pytest 9 names the holder (`holder=`); before, it came first unless it was a node
        # (whose `.obj`, a test module or class, is project code).
        if "holder" in kwargs:
            walk = scans.substitute(kwargs["holder"])
            if walk is None:
                return None
            kwargs["holder"] = walk
        elif args and not isinstance(args[0], node_type):
            walk = scans.substitute(args[0])
            if walk is None:
                return None
            args = (walk,) + args[1:]
        return original(self, *args, **kwargs)

    parsefactories._hotload_scans = True
    parsefactories.__wrapped__ = original
    return parsefactories


def _remember_hook_attrs(scans):
    try:
        from pluggy import _manager
    except ImportError:
        return
    original = getattr(_manager, "_static_hook_attr", None)  # pluggy 1.6 and later
    if original is None or getattr(original, "_hotload_scans", False):
        return
    found = {}  # (id(module), name) -> (module, the object it held, the answer)

    def static_hook_attr(obj, name):
        if type(obj) is not types.ModuleType or not scans.installed(obj):
            return original(obj, name)
        held = obj.__dict__.get(name, _ABSENT)
        key = (id(obj), name)
        hit = found.get(key)
        if hit is not None and hit[0] is obj and hit[1] is held:
            return hit[2]
        answer = original(obj, name)
        found[key] = (obj, held, answer)
        return answer

    static_hook_attr._hotload_scans = True
    static_hook_attr.__wrapped__ = original
    _manager._static_hook_attr = static_hook_attr


def _remember_varnames():
    try:
        import pluggy
    except ImportError:
        return
    home = sys.modules.get(getattr(getattr(pluggy, "HookImpl", None), "__module__", None))
    original = getattr(home, "varnames", None)
    if original is None or getattr(original, "_hotload_scans", False):
        return
    found = weakref.WeakKeyDictionary()  # function -> {bound?: (code, defaults, qualname, answer)}

    def varnames(func, **kwargs):
        bound = type(func) is types.MethodType
        function = func.__func__ if bound else func
        if kwargs or type(function) is not types.FunctionType or "__wrapped__" in function.__dict__:
            return original(func, **kwargs)
        code, defaults, qualname = function.__code__, function.__defaults__, function.__qualname__
        answers = found.get(function)
        hit = answers.get(bound) if answers is not None else None
        if hit is not None and hit[0] is code and hit[1] is defaults and hit[2] == qualname:
            return hit[3]
        answer = original(func)
        found.setdefault(function, {})[bound] = (code, defaults, qualname, answer)
        return answer

    varnames._hotload_scans = True
    varnames.__wrapped__ = original
    home.varnames = varnames


class Scans:
    """What is installed, and the digests of installed holders (see the module docstring)."""

    def __init__(self, getfixturemarker, instances):
        self._marker = getfixturemarker
        self._instances = instances
        self._roots = _installed_roots()
        self._installed = weakref.WeakKeyDictionary()  # module -> bool
        self._digests = {}  # id(module or class) -> _Digest

    def installed(self, module):
        """Whether `module` comes from the standard library, site-packages or the binary."""
        try:
            return self._installed[module]
        except KeyError:
            pass
        except TypeError:  # not weak-referenceable: ask every time
            return self._is_installed(module)
        answer = self._installed[module] = self._is_installed(module)
        return answer

    def _is_installed(self, module):
        path = module.__dict__.get("__file__")
        if not isinstance(path, str):
            return False
        if path.startswith(_SERVED):
            return True
        return os.path.realpath(path).startswith(self._roots)

    def substitute(self, holder):
        """What `parsefactories` walks for `holder`: itself, a digest, or None (nothing)."""
        if isinstance(holder, types.ModuleType):
            if type(holder) is not types.ModuleType or not self.installed(holder):
                return holder
            if "__dir__" in holder.__dict__:
                return holder  # dir() that the namespace does not show (a module's
                # `__getattr__` is only asked for names it lacks, and the scan asks for none)
            return self._digest(holder, (holder.__dict__,)).module
        if isinstance(holder, type):
            return holder  # a test class: project code
        cls = type(holder)
        module = sys.modules.get(getattr(cls, "__module__", None))
        if not isinstance(module, types.ModuleType) or not self.installed(module):
            return holder
        if any(_ATTRIBUTE_HOOKS.intersection(c.__dict__) for c in cls.__mro__[:-1]):
            return holder
        if self._digest(cls, [c.__dict__ for c in cls.__mro__]).module is not None:
            return holder  # its class has fixtures: walk it as pytest does
        if self._instances:
            try:
                own = object.__getattribute__(holder, "__dict__")
            except AttributeError:
                own = {}
            if any(self._may_matter(value) for value in list(own.values())):
                return holder
        return None

    def _digest(self, holder, namespaces):
        digest = self._digests.get(id(holder))
        if digest is not None and digest.holder is holder and digest.holds(namespaces, self._may_matter):
            return digest
        digest = self._digests[id(holder)] = _Digest(holder, namespaces, self._may_matter)
        return digest

    def _may_matter(self, value):
        """Whether pytest would register `value` as a fixture or warn that it wraps one."""
        try:
            if isinstance(value, types.MemberDescriptorType):
                # A slot: its value is the instance's, which pytest 7 looks at and later
                # ones do not (they read the class, where the slot is this descriptor).
                return self._instances
            if isinstance(value, (classmethod, staticmethod)):
                value = value.__func__
            value = inspect.unwrap(value, stop=lambda v: self._marker(v) is not None)
            return self._marker(value) is not None
        except Exception:
            return True


# Attributes by which a class makes dir() or look-ups differ from its namespaces.
_ATTRIBUTE_HOOKS = frozenset(("__getattr__", "__getattribute__", "__dir__"))


class _Digest:
    """A holder's namespaces as last seen, and `module`: what of them may matter to pytest's
    fixture scan, as a module to walk (None: nothing)."""

    __slots__ = ("holder", "names", "values", "module")

    def __init__(self, holder, namespaces, may_matter):
        self.holder = holder
        self.names, self.values = _snapshot(namespaces)
        kept = {}
        for name, value in zip(self.names, self.values):
            if name not in kept and may_matter(value):
                kept[name] = value
        self.module = None
        if kept:
            self.module = types.ModuleType(getattr(holder, "__name__", "digest"))
            self.module.__dict__.update(kept)

    def holds(self, namespaces, may_matter):
        """Whether `module` is still what may matter of `namespaces` (pytest's legacypath
        plugin, for one, puts new properties on classes in every session)."""
        names, values = _snapshot(namespaces)
        if names != self.names:
            return False
        if all(map(operator.is_, values, self.values)):
            return True
        kept = self.module.__dict__ if self.module is not None else {}
        for name, old, new in zip(names, self.values, values):
            if old is not new and (name in kept or may_matter(new)):
                return False
        self.values = values
        return True


def _snapshot(namespaces):
    names = []
    values = []
    for namespace in namespaces:
        names.extend(namespace)
        values.extend(namespace.values())
    return tuple(names), tuple(values)


def _installed_roots():
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    roots = {paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    try:
        roots.update(site.getsitepackages())
    except AttributeError:  # an old virtualenv's site.py
        pass
    user = getattr(site, "getusersitepackages", None)
    if user is not None:
        roots.add(user())
    return tuple(os.path.join(os.path.realpath(root), "") for root in roots if root)
