"""`--reload deep`: after a module is reloaded, bring its previous objects up to date in place,
so that references held elsewhere (a callback in a dict, a thread's loop, an instance created
before the edit, a server's route table, a closure a factory made) run the new code.

Two passes, both right after the module's new body ran:

1. The namespace. For every name the module defines both before and after the reload:
   - functions: the old function object gets the new code, defaults, kwdefaults, doc,
     annotations and attributes, and stays the module's attribute (identity is kept), when it
     is the same function (same code name) and its free variables match and hold the same
     values. Decorated functions are followed through their closure cells and `__wrapped__`
     (functools.wraps, lru_cache — whose cache is cleared); singledispatch registries are
     patched entry by entry. Otherwise (a decorator added or removed, changed closure
     variables, the name now bound to another callable) the old function is made to *forward*:
     its code becomes a call of the new object with the same arguments, so old references
     (a bound method, a registry entry) run the new code; the module holds the new object.
   - classes: the old class gets the new methods (patched or forwarded the same way,
     classmethod/staticmethod unwrapped), properties, class attributes and nested classes;
     attributes that disappeared are removed. Old instances keep their `__dict__` and see the
     new methods; `isinstance(old, Module.Class)` holds and pickling works because the module
     keeps the old class object. Enum classes whose members (names and values) are unchanged
     are patched the same way: old members see the new methods and properties, and stay
     `Module.Color.RED`; added members are added to the old class. Refused, with a one-line
     reason, keeping the new class: an Enum whose members were removed or changed value, a
     changed metaclass, changed bases, changed `__slots__`.

2. Code identity. Every live function whose code came from the old version of the module (its
   code object is one of the old module code's nested code objects) gets the new version's code
   object of the same qualified name: closures a factory made before the edit, functions held
   by decorator registries or other objects, bound methods and partials (through their
   function), the function a thread calls in a loop. Live functions are the functions whose
   globals are the module's namespace (one `gc.get_referrers` pass, or `gc.get_objects` for
   many modules at once). Qualified names are `co_qualname` on 3.11+ and computed from the
   nesting of code objects on 3.9/3.10; several definitions with one qualified name are paired
   in order when their number is unchanged. The free variables must match (a closure keeps its
   cells); otherwise one line says how many live copies keep the old code. The heap is only
   searched when a changed function may have copies the first pass did not reach (a nested
   function's code, or a module-level function held only elsewhere); an edit of module-level
   functions and methods costs no search.

What cannot change without writing into object memory: a frame that is running (a thread
inside the loop function's body, a suspended generator or coroutine) keeps the code it
started with until it returns; a C-implemented wrapper (lru_cache, partial) taken before its
decorator was removed keeps wrapping (it calls the new body; its cache is cleared once).

Interface:

    before = snapshot(module)                          # before the reload
    live = live_functions([module, ...])               # optional, before or after: one pass
    ... reload ...
    patch_module(module, before, note, old_code=..., new_code=..., live=live.get(name))

`old_code`/`new_code` are the module code objects of the two versions (pass 2 needs the new
one; the old one gives qualified names on 3.9/3.10 and pairs repeated ones).
"""

import functools
import sys
import types

_FUNC_ATTRS = ("__code__", "__defaults__", "__kwdefaults__", "__doc__", "__annotations__")
# Class attributes that belong to the class object itself and are never copied.
_CLASS_SKIP = {"__dict__", "__weakref__", "__module__", "__qualname__"}
# Attributes the enum machinery computes from the members (the old class keeps or rebuilds its
# own, pointing at its own members).
_ENUM_INTERNAL = {
    "_member_names_", "_member_map_", "_value2member_map_", "_unhashable_values_",
    "_unhashable_values_map_", "_member_type_", "_value_repr_", "_new_member_", "_use_args_",
    "_boundary_", "_flag_mask_", "_singles_mask_", "_all_bits_", "_inverted_", "__new__",
    "_sort_order_", "__new_member__",
}
_CO_NEWLOCALS = 0x2
_CO_GENERATOR = 0x20
_CO_COROUTINE = 0x80
_FORWARD_FILE = "<hotload-host forward>"
_PLACEHOLDER = "__hotload_forward_target__"


def snapshot(module):
    return dict(module.__dict__)


# During one patch pass: id(new object) -> the old object that now stands for it. A closure
# cell or metaclass that refers to the new class is equivalent to one referring to the old.
_standing_for = {}
# During one patch pass: ids of old functions that were patched or forwarded (pass 2 leaves
# them alone), and ids of objects of the old namespace (never forwarded to: no loops).
_handled = set()
_old_ids = set()
# During one patch pass: ids of the code objects the patched or forwarded functions had.
_handled_codes = set()


def patch_module(module, old_namespace, note, old_code=None, new_code=None, live=None):
    """Patches the objects `module` defined before its reload; `note(text)` reports fallbacks.

    `old_code`, `new_code`: module code objects of the previous and the new version (without
    `new_code` only the namespace pass runs). `live`: the module's live functions from
    `live_functions` (found now if not given).
    """
    _standing_for.clear()
    _handled.clear()
    _handled_codes.clear()
    _old_ids.clear()
    _old_ids.update(id(v) for v in old_namespace.values())
    try:
        _patch_namespace(module, old_namespace, note)
        if new_code is not None and (old_code is None or _search_needed(old_code, new_code)):
            if live is None:
                live = live_functions([module]).get(module.__name__, [])
            patch_live(module.__name__, live, old_code, new_code, note)
    finally:
        _standing_for.clear()
        _handled.clear()
        _handled_codes.clear()
        _old_ids.clear()


def _patch_namespace(module, old_namespace, note):
    name = module.__name__
    namespace = module.__dict__
    for attr, new in list(namespace.items()):
        old = old_namespace.get(attr)
        if old is None or old is new or not _defined_in(old, name):
            continue
        kept = _patch(old, new, "%s.%s" % (name, attr), note, _defined_in(new, name))
        if kept is not None:
            namespace[attr] = kept


def _defined_in(obj, module_name):
    return getattr(obj, "__module__", None) == module_name and isinstance(
        obj, (types.FunctionType, type, functools._lru_cache_wrapper)
    )


def _patch(old, new, where, note, same_module=True):
    """Returns the object the module should keep (the patched old one), or None to keep new."""
    if isinstance(old, type):
        if isinstance(new, type) and same_module:
            return old if _patch_class(old, new, where, note) else None
        return None
    if _is_lru(old):
        old.cache_clear()
        if _is_lru(new) and same_module and _patch_function(old.__wrapped__, new.__wrapped__, where, note):
            return old
        inner = getattr(new, "__wrapped__", new)
        if isinstance(old.__wrapped__, types.FunctionType) and isinstance(inner, types.FunctionType):
            # The decorator went away (or changed): old references still go through the old
            # wrapper, which now calls the new body.
            if not _patch_function(old.__wrapped__, inner, where, note):
                _forward(old.__wrapped__, inner)
        return None
    if isinstance(old, types.FunctionType):
        if isinstance(new, types.FunctionType) and same_module and _patch_function(old, new, where, note):
            return old
        if not _forward(old, new) and callable(new):
            note("%s: the old function cannot call the new one; old references keep the old code" % where)
    return None


def _is_lru(obj):
    return isinstance(obj, functools._lru_cache_wrapper)


def _patch_function(old, new, where, note):
    """Gives `old` the code and attributes of `new` if it is the same function with the same
    closure; True if it did. Does nothing and returns False otherwise."""
    if old is new or _standing_for.get(id(new)) is old:
        return True
    if hasattr(old, "registry") and hasattr(new, "registry") and hasattr(old, "dispatch"):
        return _patch_singledispatch(old, new, where, note)
    if old.__code__.co_name != new.__code__.co_name:
        return False  # another function (a decorator's wrapper came or went)
    if old.__code__.co_freevars != new.__code__.co_freevars:
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
            return False
    wrapped = old.__dict__.get("__wrapped__")
    _handled_codes.add(id(old.__code__))
    for attr in _FUNC_ATTRS:
        setattr(old, attr, getattr(new, attr))
    old.__dict__.update(new.__dict__)
    if wrapped is not None and isinstance(new.__dict__.get("__wrapped__"), types.FunctionType):
        old.__wrapped__ = wrapped  # patched above through the closure, or stands as it was
    _standing_for[id(new)] = old
    _handled.add(id(old))
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


# ---- Forwarding: an old function whose code calls the new object ----

_forward_templates = {}  # (kind, number of free variables) -> template code object
# Every function made to forward (weakly): when a target is itself forwarded later, the
# functions calling it are pointed at the new target (no chains of forwarders).
_forwarding = None


def _forward(old, new):
    """Turns the old function into a call of `new` with the same arguments (its code only: its
    identity, closure and attributes stay). False if `new` cannot be the target."""
    global _forwarding
    if not isinstance(old, types.FunctionType) or old is new or not callable(new) or isinstance(new, type):
        return False
    if id(new) in _old_ids:
        return False  # an object of the old version: forwarding to it could loop
    if id(old) in _handled:
        return False  # already patched for another name (`b = a`): it stays what `a` is
    if _forwarding is None:
        import weakref

        _forwarding = weakref.WeakSet()
    _handled_codes.add(id(old.__code__))
    old.__code__ = _forwarder(old.__code__, new)
    for func in list(_forwarding):
        if forward_target(func) is old:
            func.__code__ = _forwarder(func.__code__, new)
    _forwarding.add(old)
    _handled.add(id(old))
    return True


def forward_target(func):
    """The object a forwarding function calls, or None if `func` does not forward."""
    code = getattr(func, "__code__", None)
    if code is None or code.co_filename != _FORWARD_FILE:
        return None
    for c in code.co_consts:
        if callable(c):  # the template's other constants are None, strings and numbers
            return c
    return None


def _forwarder(old_code, target):
    code = getattr(target, "__code__", None) if isinstance(target, types.FunctionType) else None
    flags = code.co_flags if code is not None else 0
    kind = "coroutine" if flags & _CO_COROUTINE else "generator" if flags & _CO_GENERATOR else "plain"
    nfree = len(old_code.co_freevars)
    template = _forward_templates.get((kind, nfree))
    if template is None:
        template = _forward_templates[(kind, nfree)] = _compile_forwarder(kind, nfree)
    consts = tuple(target if type(c) is str and c == _PLACEHOLDER else c for c in template.co_consts)
    changes = {"co_consts": consts, "co_name": old_code.co_name}
    if hasattr(old_code, "co_qualname"):
        changes["co_qualname"] = old_code.co_qualname
    return template.replace(**changes)


def _compile_forwarder(kind, nfree):
    """def forward(*args, **kwargs): return TARGET(*args, **kwargs), with `nfree` free variables
    (a function's code must have as many as its closure has cells) and TARGET a constant."""
    import warnings

    free = ["_f%d" % i for i in range(nfree)]
    call = "%r(*args, **kwargs)" % _PLACEHOLDER
    body = {"plain": "return " + call, "coroutine": "return await " + call,
            "generator": "return (yield from %s)" % call}[kind]
    lines = ["def outer():"] + ["    %s = None" % f for f in free]
    lines.append("    %sdef forward(*args, **kwargs):" % ("async " if kind == "coroutine" else ""))
    if free:
        lines.append("        if 0:\n            (%s,)" % ", ".join(free))
    lines += ["        " + body, "    return forward"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "'str' object is not callable": it is replaced
        module = compile("\n".join(lines) + "\n", _FORWARD_FILE, "exec", dont_inherit=True)
    outer = [c for c in module.co_consts if isinstance(c, types.CodeType)][0]
    return [c for c in outer.co_consts if isinstance(c, types.CodeType)][0]


# ---- Classes ----


def _patch_class(old, new, where, note):
    import enum

    if type(old) is not type(new) and _standing_for.get(id(type(new))) is not type(old):
        note("%s: metaclass changed; using the new class" % where)
        return False
    if [b.__qualname__ for b in old.__bases__] != [b.__qualname__ for b in new.__bases__]:
        note("%s: base classes changed; using the new class" % where)
        return False
    if old.__dict__.get("__slots__") != new.__dict__.get("__slots__"):
        note("%s: __slots__ changed; using the new class" % where)
        return False
    members = None
    if isinstance(old, enum.EnumMeta):
        members = _enum_members(old, new, where, note)
        if members is None:
            return False
    _standing_for[id(new)] = old
    # EnumMeta refuses to reassign or delete members (they are handled below): go around it.
    setter, deleter = (type.__setattr__, type.__delattr__) if members is not None else (setattr, delattr)
    old_values = {id(v) for v in old.__dict__.values()}
    for attr, value in list(new.__dict__.items()):
        if attr in _CLASS_SKIP or isinstance(value, (types.MemberDescriptorType, types.GetSetDescriptorType)):
            continue  # slot descriptors belong to the class layout they were made for
        if members is not None and (attr in _ENUM_INTERNAL or attr in new._member_map_):
            continue
        current = old.__dict__.get(attr)
        if current is value:
            continue
        replacement = _patched_member(current, value, "%s.%s" % (where, attr), note, old_values)
        try:
            setter(old, attr, replacement)
        except (AttributeError, TypeError):
            pass  # read-only slot of the type itself (e.g. __doc__ of some builtins)
    for attr in list(old.__dict__):
        if attr not in new.__dict__ and attr not in _CLASS_SKIP:
            if members is not None and (attr in _ENUM_INTERNAL or attr in old._member_map_):
                continue
            try:
                deleter(old, attr)
            except (AttributeError, TypeError):
                pass
    if members is not None:
        _install_enum_members(old, new, members)
    return True


def _enum_members(old, new, where, note):
    """{id(new member): the member the patched class keeps} when every old member is still
    there with the same value (added members are kept as they are, to be moved over); None,
    after a note saying what changed, otherwise."""
    old_map, new_map = old._member_map_, new._member_map_
    removed = [n for n in old_map if n not in new_map]
    changed = []
    members = {}
    for n, member in new_map.items():
        before = old_map.get(n)
        if before is None:
            members.setdefault(id(member), member)
            continue
        if not _equal(before._value_, member._value_):
            changed.append("%s: %r -> %r" % (n, before._value_, member._value_))
            continue
        if members.get(id(member), before) is not before:
            changed.append("%s: now an alias" % n)
            continue
        members[id(member)] = before
    if removed or changed:
        why = []
        if removed:
            why.append("removed " + ", ".join(removed))
        why.extend(changed)
        note("%s: Enum members changed (%s); using the new class, old members stay old" % (where, "; ".join(why)))
        return None
    return members


def _install_enum_members(old, new, members):
    """Puts the members into the patched enum class: old members stay, added ones move from the
    new class (their class becomes the old one), and the enum's own tables are rebuilt."""
    for n in new._member_names_:
        fresh = new._member_map_[n]
        kept = members[id(fresh)]
        if kept is fresh:  # added: it moves over to the old class
            fresh.__class__ = old
            fresh.__dict__["__objclass__"] = old
        else:
            # Per-member attributes the new version's __init__ set (not the enum's own).
            for k, v in fresh.__dict__.items():
                if k not in ("__objclass__", "_value_", "_name_"):
                    kept.__dict__[k] = v

    def remap(obj):
        return members.get(id(obj), obj)

    type.__setattr__(old, "_member_names_", list(new._member_names_))
    type.__setattr__(old, "_member_map_", {n: remap(m) for n, m in new._member_map_.items()})
    value_map = {k: v for k, v in old._value2member_map_.items() if type(v) is old}
    value_map.update({k: remap(v) for k, v in new._value2member_map_.items() if id(v) in members})
    type.__setattr__(old, "_value2member_map_", value_map)
    for attr in ("_unhashable_values_", "_flag_mask_", "_singles_mask_", "_all_bits_"):
        if attr in new.__dict__:
            type.__setattr__(old, attr, new.__dict__[attr])
    if "_unhashable_values_map_" in new.__dict__:
        type.__setattr__(old, "_unhashable_values_map_", {
            k: remap(v) if not isinstance(v, list) else [remap(x) for x in v]
            for k, v in new._unhashable_values_map_.items()
        })
    if "_inverted_" in old.__dict__:
        type.__setattr__(old, "_inverted_", None)
    for n, m in new._member_map_.items():
        type.__setattr__(old, n, remap(m))


def _unwrap(member):
    for kind in (classmethod, staticmethod):
        if isinstance(member, kind):
            return kind, member.__func__
    return None, member


def _patched_member(current, value, where, note, old_values):
    """What the old class should hold for one attribute of the new class."""
    current_kind, current_func = _unwrap(current)
    value_kind, value_func = _unwrap(value)
    if isinstance(current_func, types.FunctionType):
        if (
            isinstance(value_func, types.FunctionType)
            and current_kind is value_kind
            and _patch_function(current_func, value_func, where, note)
        ):
            return current
        # A decorator came or went, or the closure changed: bound methods and other references
        # taken before the edit hold the old function; it calls the new one from now on.
        if id(value) not in old_values and id(value_func) not in old_values:
            _forward(current_func, value_func)
        return value
    if isinstance(current, type) and isinstance(value, type) and current.__qualname__ == value.__qualname__:
        return current if _patch_class(current, value, where, note) else value
    return value


# ---- Pass 2: live functions by code identity ----


def live_functions(modules):
    """{module name: [function objects whose globals are that module's namespace]}, found in
    one pass over the garbage collector's objects (call it before or after the reloads)."""
    import gc

    by_dict = {id(m.__dict__): m.__name__ for m in modules}
    found = {}
    if len(by_dict) <= 4:
        candidates = gc.get_referrers(*[m.__dict__ for m in modules])
    else:
        candidates = gc.get_objects()
    function = types.FunctionType
    for obj in candidates:
        if type(obj) is function:
            name = by_dict.get(id(obj.__globals__))
            if name is not None:
                found.setdefault(name, []).append(obj)
    return found


def code_tree(code, computed=False):
    """[(qualified name, code object)] of every function code object (functions, lambdas,
    comprehensions; not class bodies) nested in the module code object `code`, in a fixed order
    (each code object's children in the order of its constants, i.e. of definition). Qualified names are
    co_qualname where CPython has it (3.11+); on 3.9/3.10 they are computed the way the
    compiler does: `outer.<locals>.inner` inside a function, `Class.method` inside a class
    body. `computed=True` computes them on every version (to check the computation)."""
    out = []
    code_type = type(code)
    stack = [(code, None)]
    while stack:
        parent, prefix = stack.pop()
        children = []
        for c in parent.co_consts:
            if type(c) is not code_type:
                continue
            qualname = None if computed else getattr(c, "co_qualname", None)
            if qualname is None:
                if prefix is None:
                    qualname = c.co_name
                elif parent.co_flags & _CO_NEWLOCALS:
                    qualname = prefix + ".<locals>." + c.co_name
                else:
                    qualname = prefix + "." + c.co_name
            if c.co_flags & _CO_NEWLOCALS:  # a function's code (class bodies only nest)
                out.append((qualname, c))
            children.append((c, qualname))
        stack.extend(reversed(children))
    return out


def _search_needed(old_code, new_code):
    """Whether some live function the namespace pass did not reach may hold changed code: the
    code of a nested function (a closure, a lambda, a method of a class made in a function:
    their `def` runs again on each call) or of a module-level function whose one function
    object the namespace pass did not patch (it is held elsewhere only: a registry, after
    `del`). A module-level `def` runs once per version, so its code has one function, and once
    that is patched no search of the heap is needed (functions copied from it with
    types.FunctionType are then not looked for)."""
    old_keyed, old_counts = _keyed(code_tree(old_code))
    new_keyed, new_counts = _keyed(code_tree(new_code))
    for key, code in old_keyed.items():
        target = new_keyed.get(key)
        if target is None:
            continue  # gone from the new version: nothing to give live copies
        if old_counts[key[0]] != new_counts[key[0]]:
            return True  # live copies may need a note
        if code == target:
            continue
        if "<locals>" in key[0] or id(code) not in _handled_codes:
            return True
    return False


def _keyed(tree):
    """{(qualname, n): code}: the n-th code object with that qualified name."""
    counts = {}
    keyed = {}
    for qualname, c in tree:
        n = counts.get(qualname, 0)
        counts[qualname] = n + 1
        keyed[(qualname, n)] = c
    return keyed, counts


def patch_live(module_name, functions, old_code, new_code, note):
    """Gives every function of `functions` whose code belongs to the old version the new
    version's code of the same qualified name (see the module docstring). Returns the number
    of functions patched."""
    new_tree = code_tree(new_code)
    new_ids = {id(c) for _, c in new_tree}
    new_keyed, new_counts = _keyed(new_tree)
    old_keys = {}
    old_counts = {}
    if old_code is not None:
        old_keyed, old_counts = _keyed(code_tree(old_code))
        old_keys = {id(c): key for key, c in old_keyed.items()}
    filename = new_code.co_filename
    patched = 0
    kept = {}
    for func in functions:
        code = func.__code__
        if id(code) in new_ids or id(func) in _handled:
            continue
        key = old_keys.get(id(code))
        if key is None:
            # Not from the previous version's tree: an older version's code (3.11+ knows its
            # qualified name), or code that never came from this file (left alone).
            qualname = getattr(code, "co_qualname", None)
            if qualname is None or code.co_filename != filename or new_counts.get(qualname) != 1:
                continue
            key = (qualname, 0)
        elif old_counts.get(key[0]) != new_counts.get(key[0]):
            if key[0] in new_counts:
                kept.setdefault(key[0], ["%d definitions before, %d after" % (old_counts[key[0]], new_counts[key[0]]), 0])[1] += 1
            continue
        target = new_keyed.get(key)
        if target is None:
            continue  # the function is gone from the new version
        if code.co_freevars != target.co_freevars:
            why = "closure variables changed (%s -> %s)" % (
                ", ".join(code.co_freevars) or "none", ", ".join(target.co_freevars) or "none")
            kept.setdefault(key[0], [why, 0])[1] += 1
            continue
        func.__code__ = target
        patched += 1
    for qualname, (why, n) in sorted(kept.items()):
        note("%s.%s: %s; %d live cop%s keep%s the old code" % (
            module_name, qualname, why, n, "y" if n == 1 else "ies", "s" if n == 1 else ""))
    return patched
