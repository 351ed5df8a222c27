"""`--reload deep`: after a module is reloaded, bring its previous objects up to date in place,
so that references held elsewhere (a callback in a dict, a thread's loop, an instance created
before the edit, a server's route table) run the new code.

For every name the module defines both before and after the reload:
- functions: the old function object gets the new code, defaults, kwdefaults, doc, annotations
  and attributes, and stays the module's attribute (identity is kept). A closure whose free
  variables changed cannot take the new code: the new function is used and one line says why.
  Decorated functions are followed through `__wrapped__` (functools.wraps, lru_cache — whose
  cache is cleared); singledispatch registries are patched entry by entry.
- classes: the old class gets the new methods (patched the same way), properties,
  class/static methods, class attributes and nested classes; attributes that disappeared are
  removed. Old instances keep their `__dict__` and see the new methods; `isinstance(old,
  Module.Class)` holds and pickling works because the module keeps the old class object.
  Refused, with a one-line reason, keeping the new class: Enum classes (members are singletons),
  a changed metaclass, changed bases, changed `__slots__`.
"""

import functools
import types

_FUNC_ATTRS = ("__code__", "__defaults__", "__kwdefaults__", "__doc__", "__annotations__")
# Class attributes that belong to the class object itself and are never copied.
_CLASS_SKIP = {"__dict__", "__weakref__", "__module__", "__qualname__"}


def snapshot(module):
    return dict(module.__dict__)


# During one patch pass: id(new object) -> the old object that now stands for it. A closure
# cell or metaclass that refers to the new class is equivalent to one referring to the old.
_standing_for = {}


def patch_module(module, old_namespace, note):
    """Patches the objects `module` defined before its reload; `note(text)` reports fallbacks."""
    _standing_for.clear()
    try:
        _patch_namespace(module, old_namespace, note)
    finally:
        _standing_for.clear()


def _patch_namespace(module, old_namespace, note):
    name = module.__name__
    namespace = module.__dict__
    for attr, new in list(namespace.items()):
        old = old_namespace.get(attr)
        if old is None or old is new or not _defined_in(old, name) or not _defined_in(new, name):
            continue
        kept = _patch(old, new, "%s.%s" % (name, attr), note)
        if kept is not None:
            namespace[attr] = kept


def _defined_in(obj, module_name):
    return getattr(obj, "__module__", None) == module_name and isinstance(
        obj, (types.FunctionType, type, functools._lru_cache_wrapper)
    )


def _patch(old, new, where, note):
    """Returns the object the module should keep (the patched old one), or None to keep new."""
    if isinstance(old, type) and isinstance(new, type):
        return old if _patch_class(old, new, where, note) else None
    if _is_lru(old) and _is_lru(new):
        if _patch_function(old.__wrapped__, new.__wrapped__, where, note):
            old.cache_clear()
            return old
        return None
    if isinstance(old, types.FunctionType) and isinstance(new, types.FunctionType):
        return old if _patch_function(old, new, where, note) else None
    return None


def _is_lru(obj):
    return isinstance(obj, functools._lru_cache_wrapper)


def _patch_function(old, new, where, note):
    if old is new or _standing_for.get(id(new)) is old:
        return True
    if hasattr(old, "registry") and hasattr(new, "registry") and hasattr(old, "dispatch"):
        return _patch_singledispatch(old, new, where, note)
    if old.__code__.co_freevars != new.__code__.co_freevars:
        note(
            "%s: closure variables changed (%s -> %s); using the new function, old references keep the old code"
            % (where, ", ".join(old.__code__.co_freevars) or "none", ", ".join(new.__code__.co_freevars) or "none")
        )
        return False
    # The old code keeps its closure cells: they must hold what the new ones hold. A function in
    # a cell (a decorator's wrapped function) is patched in turn.
    for var, old_cell, new_cell in zip(old.__code__.co_freevars, old.__closure__ or (), new.__closure__ or ()):
        try:
            before, after = old_cell.cell_contents, new_cell.cell_contents
        except ValueError:
            continue  # an empty cell
        if before is after or _standing_for.get(id(after)) is before:
            continue
        if isinstance(before, types.FunctionType) and isinstance(after, types.FunctionType):
            if _patch_function(before, after, "%s (%s)" % (where, var), note):
                continue
            return False
        if not _equal(before, after):
            note("%s: the value of closure variable %s changed; using the new function, old references keep the old code" % (where, var))
            return False
    wrapped = old.__dict__.get("__wrapped__")
    for attr in _FUNC_ATTRS:
        setattr(old, attr, getattr(new, attr))
    old.__dict__.update(new.__dict__)
    if wrapped is not None and isinstance(new.__dict__.get("__wrapped__"), types.FunctionType):
        old.__wrapped__ = wrapped  # patched above through the closure, or stands as it was
    _standing_for[id(new)] = old
    return True


def _equal(a, b):
    try:
        return bool(a == b)
    except Exception:
        return False


def _patch_singledispatch(old, new, where, note):
    for cls, impl in new.registry.items():
        current = old.registry.get(cls)
        if isinstance(current, types.FunctionType) and isinstance(impl, types.FunctionType):
            if _patch_function(current, impl, where, note):
                continue
        old.register(cls, impl)
    old._clear_cache()
    return True


def _patch_class(old, new, where, note):
    import enum

    if isinstance(old, enum.EnumMeta) or isinstance(new, enum.EnumMeta):
        note("%s: Enum classes are replaced, not patched (members are singletons); old members stay old" % where)
        return False
    if type(old) is not type(new) and _standing_for.get(id(type(new))) is not type(old):
        note("%s: metaclass changed; using the new class" % where)
        return False
    if [b.__qualname__ for b in old.__bases__] != [b.__qualname__ for b in new.__bases__]:
        note("%s: base classes changed; using the new class" % where)
        return False
    if old.__dict__.get("__slots__") != new.__dict__.get("__slots__"):
        note("%s: __slots__ changed; using the new class" % where)
        return False
    _standing_for[id(new)] = old
    for attr, value in list(new.__dict__.items()):
        if attr in _CLASS_SKIP or isinstance(value, (types.MemberDescriptorType, types.GetSetDescriptorType)):
            continue  # slot descriptors belong to the class layout they were made for
        current = old.__dict__.get(attr)
        replacement = _patched_member(current, value, "%s.%s" % (where, attr), note)
        try:
            setattr(old, attr, replacement)
        except (AttributeError, TypeError):
            pass  # read-only slot of the type itself (e.g. __doc__ of some builtins)
    for attr in list(old.__dict__):
        if attr not in new.__dict__ and attr not in _CLASS_SKIP:
            try:
                delattr(old, attr)
            except (AttributeError, TypeError):
                pass
    return True


def _patched_member(current, value, where, note):
    """What the old class should hold for one attribute of the new class."""
    if isinstance(current, types.FunctionType) and isinstance(value, types.FunctionType):
        return current if _patch_function(current, value, where, note) else value
    for kind in (classmethod, staticmethod):
        if isinstance(current, kind) and isinstance(value, kind):
            if isinstance(current.__func__, types.FunctionType) and isinstance(value.__func__, types.FunctionType):
                if _patch_function(current.__func__, value.__func__, where, note):
                    return current
            return value
    if isinstance(current, type) and isinstance(value, type) and current.__qualname__ == value.__qualname__:
        return current if _patch_class(current, value, where, note) else value
    return value
