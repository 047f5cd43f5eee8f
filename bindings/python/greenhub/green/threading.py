"""The standard ``threading`` module on green threads (Eventlet's
``eventlet.green.threading``): ``Thread`` runs a green thread; ``Lock``, ``RLock``,
``Condition``, ``Semaphore``, ``BoundedSemaphore``, ``Event``, ``Barrier`` and ``Timer`` wait
only the calling green thread; ``current_thread``, ``get_ident``, ``enumerate`` and
``active_count`` count green threads; ``local`` is per green thread.

This module is the standard library's own ``threading`` code run over the green ``_thread``
and ``time`` (``patcher.inject``). It shares its registry of threads with the standard module
(``_active``, ``_limbo``, the main thread, what shutdown waits for), so the two agree on which
threads exist and which is the main one, whichever started them.

``monkey_patch(thread=True)`` does not replace the standard module, which programs imported
long before (greenhub itself does): it sets the names in ``__patched__`` on it, the
primitives its classes are built on, so its own ``Thread``, ``Condition``, ``Timer``... turn
green, threads created before keep working, and ``main_thread()`` stays the object the
interpreter made. The main program's ``get_ident()`` is its OS thread's, before and after.
"""

import sys
import threading as _std
import types as _types
from types import ModuleType as _ModuleType

from .. import patcher
from .._hub import current, root
from ..timeout import Timeout
from . import _thread, time

_own = {k: v for k, v in globals().items() if k.startswith("__")}
_copy = patcher.inject("threading", globals(), ("_thread", _thread), ("time", time))
globals().update(_own)  # inject brought the copy's __doc__, __spec__...: this module's are its own
del _own

# One registry of threads for both modules: the copy made its own at import; it takes the
# standard module's instead (its own main thread object is dropped).
for _name in (
    "_active",
    "_limbo",
    "_active_limbo_lock",
    "_main_thread",
    "_dangling",
    "_shutdown_locks",
    "_shutdown_locks_lock",
    "_threading_atexits",
):
    if hasattr(_std, _name):
        setattr(_copy, _name, getattr(_std, _name))
        globals()[_name] = getattr(_std, _name)


def _noop():
    pass


# Green threads survive a fork (they are the process's own memory); there is nothing for the
# copy's after-fork cleanup to do, and what it would do is wrong (Eventlet does the same).
_copy._after_fork.__code__ = _noop.__code__

get_ident = _thread.get_ident
Lock = _thread.LockType  # a class, as threading.Lock is from 3.13 on
_allocate_lock = _thread.allocate_lock
RLock = _thread.RLock
_set_sentinel = _thread._set_sentinel
_start_new_thread = _thread.start_new_thread
_start_joinable_thread = _thread.start_joinable_thread
_ThreadHandle = _thread._ThreadHandle
_make_thread_handle = _thread._make_thread_handle
_get_main_thread_ident = _thread._get_main_thread_ident
_thread_shutdown = _thread._shutdown
if hasattr(_thread, "set_name"):
    _set_name = _thread.set_name


class _GreenThread:
    """What ``current_thread()`` returns in a green thread that ``threading`` did not start
    (``greenhub.spawn``): Thread's read-only face (name, ident, daemon, is_alive, join)."""

    _counter = 0

    def __init__(self, g):
        _GreenThread._counter += 1
        self._g = g
        self._name = "GreenThread-%d" % _GreenThread._counter

    def __repr__(self):
        return "<_GreenThread(%s, %r)>" % (self._name, self._g)

    def join(self, timeout=None):
        """Waits (at most ``timeout`` seconds) for the green thread to end, as Thread.join."""
        if self._g is current.thread:
            raise RuntimeError("cannot join current thread")
        wait = getattr(self._g, "wait", None)  # a spawn_n thread cannot be waited for
        if wait is not None:
            with Timeout(timeout, False):
                try:
                    wait()
                except Exception:
                    pass  # its exception was reported where it ended, as a Thread's is

    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, name):
        self._name = str(name)

    def getName(self):
        return self._name

    def setName(self, name):
        self._name = str(name)

    @property
    def ident(self):
        return id(self._g)

    native_id = property(lambda self: _thread.get_native_id())
    daemon = property(lambda self: True)

    def is_alive(self):
        return not self._g.dead

    def isDaemon(self):
        return True


class _PerThread(_thread._local):
    dummy = None  # this green thread's _GreenThread, made on first use; ends with it


_per_thread = _PerThread()


def current_thread():
    """The Thread object of the calling green thread (or OS thread)."""
    try:
        return _active[get_ident()]
    except KeyError:
        pass
    if current.thread is root:
        return _std._DummyThread()  # an OS thread threading did not start: as the standard one
    t = _per_thread.dummy
    if t is None:
        t = _per_thread.dummy = _GreenThread(current.thread)
    return t


currentThread = current_thread

# What monkey_patch() sets on the standard module: the primitives, where it has them.
__patched__ = [
    name
    for name in (
        "get_ident",
        "Lock",
        "_allocate_lock",
        "RLock",
        "_set_sentinel",
        "_start_new_thread",
        "_start_joinable_thread",
        "_ThreadHandle",
        "_make_thread_handle",
        "_get_main_thread_ident",
        "_thread_shutdown",
        "_set_name",
        "current_thread",
        "currentThread",
    )
    if hasattr(_std, name)
]
_copy.current_thread = current_thread
_copy.currentThread = current_thread
del _name


def after_monkey_patch(std):
    """What monkey_patch() does once it has set ``__patched__`` on the standard module
    ``std`` (Eventlet's late patch of threading):

    * the standard module's after-fork cleanup does nothing (as the copy's, above);
    * the import system keeps the real ``_thread`` (its module locks are taken on any OS
      thread, the thread pool's too: green locks would be wrong there);
    * the RLocks made before the patch that modules hold (``logging``'s and its handlers')
      become green ones: a green thread holding a real RLock while it waits would let every
      other green thread in too (they share its OS thread, hence its owner).
    """
    std._after_fork.__code__ = _noop.__code__
    import importlib._bootstrap

    importlib._bootstrap._thread = _thread.original
    _green_existing_rlocks(type(_thread.original.RLock()))


#: What the walk below does not enter: modules, and code (classes, functions, methods), where
#: the locks of logging and the like are not kept, and which are most of what modules hold.
_NOT_WALKED = (_ModuleType, type, _types.FunctionType, _types.BuiltinFunctionType,
               _types.MethodType, property, staticmethod, classmethod)


def _green_existing_rlocks(rlock_type):
    """Replaces each ``rlock_type`` instance reachable from a module's globals (through dicts,
    lists and object attributes) by a green RLock held the same way."""
    seen = set()
    done = {}

    def upgrade(old):
        pair = done.get(id(old))  # (old, new): old kept alive, so that its id stays its own
        if pair is None:
            pair = done[id(old)] = (old, RLock())
            while old._is_owned():  # held by the main program: hold the new one as often
                old.release()
                pair[1].acquire()
        return pair[1]

    def walk(obj, depth):
        if depth > 8 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, (dict, list)):
            if isinstance(obj, dict):
                items = list(obj.items())
            else:  # (enumerate is threading's here)
                items = list(zip(range(len(obj)), obj))
            setter = obj.__setitem__
        else:
            try:
                items = list(vars(obj).items())
            except TypeError:
                return

            def setter(key, value):
                setattr(obj, key, value)

        for key, value in items:
            if type(value) is rlock_type:
                setter(key, upgrade(value))
            elif isinstance(value, _NOT_WALKED):
                continue  # modules are walked from sys.modules (greenhub's are left alone)
            elif isinstance(value, (dict, list)) or hasattr(value, "__dict__"):
                walk(value, depth + 1)

    for module in list(sys.modules.values()):
        if module is not None and not getattr(module, "__name__", "").startswith("greenhub"):
            walk(module, 0)
