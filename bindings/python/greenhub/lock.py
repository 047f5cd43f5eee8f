"""Lock and RLock for green threads (Eventlet's ``eventlet.lock``): what the green ``threading``
and ``_thread`` modules hand out for ``threading.Lock()`` and ``threading.RLock()``.

Both wait through the Semaphore's Waiters (FIFO, the resource handed straight to the first
waiter), so they suspend only the calling green thread.
"""

import _thread

from ._hub import current, root
from .semaphore import Semaphore

__all__ = ["Lock", "RLock", "get_ident"]

_real_get_ident = _thread.get_ident  # taken before any monkey patching can replace it


def get_ident():
    """The calling green thread's identity: ``id()`` of its record; the OS thread's own
    identity outside green threads (the main program, other OS threads), so that the main
    thread keeps the identity the standard library gave it before any patching."""
    g = current.thread
    if g is root:
        return _real_get_ident()
    return id(g)


class Lock(Semaphore):
    """A lock, API-compatible with ``threading.Lock``: ``acquire(blocking=True,
    timeout=-1)``, ``release()`` (RuntimeError if not locked), ``locked()``, a context
    manager."""

    def __init__(self):
        Semaphore.__init__(self, 1)

    def acquire(self, blocking=True, timeout=-1):
        return Semaphore.acquire(self, blocking, None if timeout == -1 else timeout)

    def __enter__(self):
        return self.acquire()

    def release(self, blocking=True):
        if self._value > 0:
            raise RuntimeError("release unlocked lock")
        return Semaphore.release(self)

    def _at_fork_reinit(self):
        self._value = 1
        self._waiters.clear()

    # threading.Lock's old names
    acquire_lock = acquire
    release_lock = release
    locked_lock = Semaphore.locked


class RLock:
    """A reentrant lock, API-compatible with ``threading.RLock``: the green thread holding it
    may acquire it again; it is free once released as many times. Has the methods
    ``threading.Condition`` uses on a lock (``_is_owned``, ``_release_save``,
    ``_acquire_restore``)."""

    __slots__ = ("_block", "_owner", "_count", "__weakref__")

    def __init__(self):
        self._block = Lock()
        self._owner = None
        self._count = 0

    def __repr__(self):
        return "<%s %s object owner=%r count=%d at %s>" % (
            "locked" if self._count else "unlocked",
            type(self).__name__,
            self._owner,
            self._count,
            hex(id(self)),
        )

    def acquire(self, blocking=True, timeout=-1):
        me = get_ident()
        if self._owner == me:
            self._count += 1
            return True
        if not self._block.acquire(blocking, timeout):
            return False
        self._owner = me
        self._count = 1
        return True

    __enter__ = acquire

    def release(self):
        if self._owner != get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        self._count -= 1
        if not self._count:
            self._owner = None
            self._block.release()

    def __exit__(self, typ, val, tb):
        self.release()

    def locked(self):
        return self._count > 0

    def _is_owned(self):
        return self._owner == get_ident()

    def _release_save(self):
        if not self._count:
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, self._owner)
        self._count = 0
        self._owner = None
        self._block.release()
        return state

    def _acquire_restore(self, state):
        self._block.acquire()
        self._count, self._owner = state

    def _recursion_count(self):
        return self._count if self._owner == get_ident() else 0

    def _at_fork_reinit(self):
        self._block._at_fork_reinit()
        self._owner = None
        self._count = 0
