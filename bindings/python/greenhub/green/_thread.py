"""The standard ``_thread`` module on green threads (Eventlet's ``eventlet.green.thread``):
``start_new_thread`` starts a green thread, locks are green locks, ``get_ident`` tells green
threads apart. The green ``threading`` module is the standard one built on this.

Thread-local data needs nothing here: every greenhub green thread has its own interpreter
thread state, so the standard ``_thread._local`` (``threading.local``) is already per green
thread.
"""

import _thread as _real
import sys
import types

from .. import greenthread
from .._hub import current, report_exception
from ..event import Event
from ..lock import Lock, RLock, get_ident

# What monkey_patch() sets on the standard _thread module (Eventlet's list, less _local: the
# standard one is per green thread already).
__patched__ = [
    "LockType",
    "_ThreadHandle",
    "_count",
    "_get_main_thread_ident",
    "_make_thread_handle",
    "_shutdown",
    "_set_sentinel",
    "allocate",
    "allocate_lock",
    "get_ident",
    "start_joinable_thread",
    "start_new",
    "start_new_thread",
    "RLock",
]
if sys.version_info >= (3, 14):
    __patched__.append("set_name")

#: The standard module as it was (a copy: monkey_patch changes the standard one in place).
original = types.ModuleType("_thread", _real.__doc__)
original.__dict__.update(vars(_real))

error = _real.error
TIMEOUT_MAX = _real.TIMEOUT_MAX
LockType = Lock
_local = _real._local
exit = _real.exit  # SystemExit ends the green thread alone (see _body)
exit_thread = getattr(_real, "exit_thread", _real.exit)
interrupt_main = _real.interrupt_main
stack_size = _real.stack_size
get_native_id = _real.get_native_id
for _name in ("daemon_threads_allowed", "_is_main_interpreter", "_excepthook", "_ExceptHookArgs"):
    if hasattr(_real, _name):
        globals()[_name] = getattr(_real, _name)
del _name

_live = 0  # green threads started here that have not ended
_sentinels = {}  # Greenlet -> the locks _set_sentinel() gave it, released when it ends
_non_daemon = set()  # handles of the non-daemon joinable threads, for _shutdown()


def allocate_lock(*_unused):
    """A new green Lock (unlocked)."""
    return Lock()


allocate = allocate_lock


def _count():
    """The number of green threads started with this module that are still alive."""
    return _live


class _ThreadHandle:
    """What ``start_joinable_thread`` returns (CPython 3.13+'s handle on a thread): its
    ``ident``, ``join(timeout)``, ``is_done()``; ``_set_done()`` marks it finished."""

    __slots__ = ("ident", "_done", "__weakref__")

    def __init__(self, ident=None):
        self.ident = ident
        self._done = Event()

    def is_done(self):
        return self._done.ready()

    def _set_done(self):
        if not self._done.ready():
            self._done.send(None)
        _non_daemon.discard(self)

    def join(self, timeout=None):
        if self.ident == get_ident() and not self.is_done():
            raise RuntimeError("Cannot join current thread")
        if timeout is not None and timeout < 0:
            timeout = 0
        self._done.wait(timeout)

    def __repr__(self):
        return "<%s ident=%r done=%s>" % (type(self).__name__, self.ident, self.is_done())


def _make_thread_handle(ident):
    """A handle on a thread that already runs (the main thread, a dummy thread)."""
    return _ThreadHandle(ident)


def _get_main_thread_ident():
    # The main program's get_ident() is its OS thread's, which the standard module reports.
    if hasattr(_real, "_get_main_thread_ident"):
        return _real._get_main_thread_ident()
    return get_ident()


def _set_sentinel():
    """A lock the calling green thread holds until it ends (Python <= 3.12's ``Thread.join``
    and interpreter shutdown wait on it): released when the thread's function returns."""
    lock = Lock()
    _sentinels.setdefault(current.thread, []).append(lock)
    return lock


def _body(function, args, kwargs, handle):
    global _live
    _live += 1
    try:
        function(*args, **kwargs)
    except SystemExit:
        pass  # _thread.exit(): the thread ends, silently
    except BaseException as e:
        report_exception(e, skip_frames=1)
    finally:
        _live -= 1
        for lock in _sentinels.pop(current.thread, ()):
            if lock.locked():
                lock.release()
        if handle is not None:
            handle._set_done()


def start_new_thread(function, args=(), kwargs=None):
    """Starts ``function(*args, **kwargs)`` in a new green thread; returns its identity."""
    if not isinstance(args, tuple):
        raise TypeError("2nd arg must be a tuple")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError("optional 3rd arg must be a dictionary")
    g = greenthread.spawn_n(_body, function, args, kwargs or {}, None)
    return id(g)


start_new = start_new_thread


def start_joinable_thread(function, handle=None, daemon=True):
    """CPython 3.13+: starts ``function()`` in a new green thread and returns its handle
    (``handle`` if given); interpreter shutdown waits for it unless ``daemon``."""
    if handle is None:
        handle = _ThreadHandle()
    g = greenthread.spawn_n(_body, function, (), {}, handle)
    handle.ident = id(g)
    if not daemon:
        _non_daemon.add(handle)
    return handle


def _shutdown():
    """CPython 3.13+'s interpreter shutdown: waits for every non-daemon green thread."""
    me = get_ident()
    while True:
        waiting = [h for h in _non_daemon if h.ident != me and not h.is_done()]
        if not waiting:
            return
        for handle in waiting:
            handle.join()


if sys.version_info >= (3, 14):

    def set_name(name):
        """Names the OS thread in the standard module; green threads share their OS thread,
        so this does nothing (threading keeps the name in the Thread object)."""
