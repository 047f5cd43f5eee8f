"""Monkey patching: Eventlet's ``monkey_patch``, ``is_monkey_patched``, ``original``,
``import_patched`` and ``inject``.

``PATCHES`` is the table: each key of ``monkey_patch`` names the standard-library modules it
patches, and the green module of ``socket`` is ``greenhub.green.socket`` (of any module ``M``,
``greenhub.green.M``). Adding an entry is one line. A green module declares what it patches:

- ``__patched__``: the names set on the standard-library module (``socket.socket``, ...);
- ``__deleted__`` (optional): names removed from it (``select.epoll``: no green version);
- ``after_monkey_patch(module)`` (optional): called with the standard-library module once
  patched (for what is not an attribute, e.g. a driver's wait callback).

Patching sets attributes on the standard-library module objects in place (as Eventlet does):
code that looks them up through the module (``socket.socket(...)``, ``import ssl`` then
``ssl.SSLContext``) gets the green ones; a name bound before the patch (``from socket import
socket`` run earlier) keeps the original. So patch first, before importing anything else.
"""

import importlib
import sys
import threading
import types

__all__ = ["monkey_patch", "is_monkey_patched", "original", "import_patched", "inject",
           "PATCHES", "copy_names", "rebind"]

#: monkey_patch's key -> the standard-library modules it patches (green: greenhub.green.<name>).
PATCHES = {
    "socket": ("socket", "ssl"),  # DNS (getaddrinfo, gethostbyname...) is part of socket
    "select": ("select", "selectors"),
    "thread": ("_thread", "threading", "queue"),  # threading's late patch: after_monkey_patch
    "time": ("time",),
    "os": ("os",),
    "subprocess": ("subprocess",),
    "psycopg": ("psycopg2",),  # psycopg2's wait callback, where it is installed
    "MySQLdb": ("MySQLdb",),  # its connections on the thread pool, where it is installed
    "builtins": ("builtins",),  # nothing to patch (see greenhub.green.builtins)
}

#: Keys monkey_patch() leaves alone unless asked for by name (as Eventlet does).
OFF_BY_DEFAULT = frozenset(("MySQLdb", "builtins"))

#: Every keyword monkey_patch() accepts (Eventlet's); a key with no PATCHES entry patches
#: nothing yet.
KEYS = ("os", "select", "socket", "thread", "time", "psycopg", "MySQLdb", "builtins",
        "subprocess")

#: The keys patched so far (is_monkey_patched reads it; monkey_patch skips them).
_patched = set()

#: Serialises patching: the import lock of Eventlet's patcher, in a lock of our own (an
#: import made while it is held must not be blocked by it).
_lock = threading.RLock()


def _green_name(modname):
    return "greenhub.green." + modname


def _green_modules(key):
    """(stdlib name, green module) of each module of ``key`` that can be imported here."""
    pairs = []
    for modname in PATCHES.get(key, ()):
        try:
            pairs.append((modname, importlib.import_module(_green_name(modname))))
        except ImportError:
            pass  # the library it greens is not installed (ssl without OpenSSL, a driver)
    return pairs


def monkey_patch(os=None, select=None, socket=None, thread=None, time=None, psycopg=None,
                 MySQLdb=None, builtins=None, subprocess=None):
    """Patches the standard library so that its blocking calls block only the calling green
    thread. With no argument, everything is patched (but ``MySQLdb`` and ``builtins``); with
    some set to True, only those; with some set to False and none True, all but those.
    Calling it again patches only what is not patched yet."""
    asked = {"os": os, "select": select, "socket": socket, "thread": thread, "time": time,
             "psycopg": psycopg, "MySQLdb": MySQLdb, "builtins": builtins,
             "subprocess": subprocess}
    default = True not in asked.values()
    wanted = []
    for key in KEYS:
        on = asked[key]
        if on is None:
            on = default and key not in OFF_BY_DEFAULT
        if on:
            wanted.append(key)
    with _lock:
        for key in wanted:
            if key in _patched:
                continue
            done = [_patch_module(modname, green) for modname, green in _green_modules(key)]
            if any(done):  # psycopg, MySQLdb: not where the driver is not installed
                _patched.add(key)


def _patch_module(modname, green):
    try:
        mod = importlib.import_module(modname)
    except ImportError:
        return False  # e.g. psycopg2 not installed: nothing to patch
    for name in getattr(green, "__patched__", ()):
        value = getattr(green, name, None)
        if value is not None:
            setattr(mod, name, value)
    for name in getattr(green, "__deleted__", ()):
        if hasattr(mod, name):
            delattr(mod, name)
    after = getattr(green, "after_monkey_patch", None)
    if after is not None:
        after(mod)
    return True


def is_monkey_patched(module):
    """True if ``monkey_patch`` patched ``module`` (a key such as "socket", a module name, or
    the module itself)."""
    name = getattr(module, "__name__", module)
    if name in _patched:
        return True
    return any(name in PATCHES[key] for key in _patched)


def original(modname):
    """An unpatched copy of standard-library module ``modname``: imported afresh, so that it
    has none of the green attributes (cached: every call returns the same module)."""
    cached = "__original_module_" + modname
    with _lock:
        if cached in sys.modules:
            return sys.modules[cached]
        keep = {modname: sys.modules.pop(modname, None)}
        # threading imports _thread, queue imports threading: theirs must be unpatched too.
        for dep in {"threading": ("_thread",), "queue": ("threading",)}.get(modname, ()):
            keep[dep] = sys.modules.get(dep)
            sys.modules[dep] = original(dep)
        try:
            mod = importlib.import_module(modname)
            sys.modules[cached] = mod
        finally:
            _restore(keep)
        return mod


_ABSENT = object()


def _restore(keep):
    """Puts back the sys.modules entries *keep* saved (None: there was none), and for a
    submodule (http.client) the attribute its package had."""
    for name, mod in keep.items():
        if mod is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = mod
        parent, _, child = name.rpartition(".")
        if parent and parent in sys.modules:
            if mod is not None:
                setattr(sys.modules[parent], child, mod)
            elif getattr(sys.modules[parent], child, _ABSENT) is not _ABSENT:
                delattr(sys.modules[parent], child)


def _install(name, mod):
    """Makes *mod* what ``import name`` gives: in sys.modules and, for a submodule, on its
    package (``import http.client`` then reads ``http.client`` from the package)."""
    sys.modules[name] = mod
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(importlib.import_module(parent), child, mod)


def _default_green_modules():
    pairs = []
    for key in PATCHES:
        if key not in OFF_BY_DEFAULT:
            pairs += _green_modules(key)
    return pairs


def inject(module_name, new_globals, *additional_modules):
    """Imports a fresh copy of ``module_name`` that sees the modules of
    ``additional_modules`` (pairs ``(name, module)``; by default every green module) under
    their standard-library names; copies its namespace into ``new_globals`` unless that is
    None; returns it. sys.modules is left as it was (the copy is kept as
    ``__patched_module_<name>``, and returned again by later calls)."""
    cached = "__patched_module_" + module_name
    with _lock:
        if cached in sys.modules:
            mod = sys.modules[cached]
        else:
            pairs = additional_modules or tuple(_default_green_modules())
            keep = {name: sys.modules.get(name) for name, _ in pairs}
            keep[module_name] = sys.modules.pop(module_name, None)
            for name in list(sys.modules):
                if name.startswith(module_name + "."):
                    keep[name] = sys.modules.pop(name)
            try:
                for name, green in pairs:
                    _install(name, green)
                mod = importlib.import_module(module_name)
                sys.modules[cached] = mod
            finally:
                _restore(keep)
    if new_globals is not None:
        for name, value in vars(mod).items():
            if name not in ("__builtins__", "__file__", "__name__", "__spec__", "__loader__"):
                new_globals[name] = value
    return mod


def import_patched(module_name, *additional_modules, **kw_additional_modules):
    """A copy of module ``module_name`` that uses green modules wherever it imports the
    standard library's (see :func:`inject`); ``name=module`` keywords add pairs."""
    return inject(module_name, None,
                  *(additional_modules + tuple(kw_additional_modules.items())))


# -- for the green modules ------------------------------------------------------------------


def copy_names(std, namespace, skip=()):
    """Puts every public and private name of module *std* into *namespace* (a green module's
    globals) but the dunders and those in *skip*: the green module starts as the standard
    one."""
    namespace.update({k: v for k, v in vars(std).items()
                      if k not in skip and not k.startswith("__")})


def rebind(func, namespace):
    """The standard library's function *func* running against *namespace* (a green module's
    globals): the names it looks up at run time (``socket``, ``getaddrinfo``, ``SSLContext``)
    are the green module's."""
    f = types.FunctionType(func.__code__, namespace, func.__name__, func.__defaults__,
                           func.__closure__)
    f.__kwdefaults__ = func.__kwdefaults__
    f.__doc__ = func.__doc__
    f.__qualname__ = func.__qualname__
    return f
