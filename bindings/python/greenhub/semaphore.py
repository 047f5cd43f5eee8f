"""Semaphores for green threads (Eventlet's ``eventlet.semaphore``), on greenhub's native
semaphore (``gh_sem_*``): waiters are served in FIFO order."""

import time
from ctypes import byref, c_int64

from ._errors import error_from_errno
from ._hub import SYNC, block, sleep
from ._lib import lib, get_errno

__all__ = ["Semaphore", "BoundedSemaphore", "CappedSemaphore"]


class Semaphore:
    """A counter of resources: acquire() takes one, waiting while there is none; release()
    gives one back. API-compatible with threading.Semaphore; a context manager.

    ``counter`` may be set (GreenPool.resize does): lowering it below the resources in use
    makes it negative, and releases pay that back before anyone can acquire again.
    """

    def __init__(self, value=1):
        try:
            value = int(value)
        except ValueError as e:
            raise TypeError(
                "Semaphore() expect value :: int, actual: {} {}".format(type(value), str(e))
            )
        if value < 0:
            raise ValueError("Semaphore() expect value >= 0, actual: {}".format(repr(value)))
        h = lib.gh_sem_new(value)
        if h == -1:
            raise error_from_errno(get_errno())
        self._h = h
        self._debt = 0  # how far below zero the counter is (the native count is then 0)

    def __del__(self):
        try:
            h = self.__dict__.get("_h")
            if h:
                lib.gh_sem_free(h)
        except Exception:
            pass

    def _stat(self):
        value = c_int64()
        waiting = c_int64()
        if lib.gh_sem_stat(self._h, byref(value), byref(waiting)) == -1:
            raise error_from_errno(get_errno())
        return value.value, waiting.value

    @property
    def counter(self):
        """Resources available now (negative: owed after a resize)."""
        return self._stat()[0] - self._debt

    @counter.setter
    def counter(self, new):
        delta = int(new) - self.counter
        while delta > 0:  # pay the debt, then add resources (waking waiters)
            if self._debt > 0:
                self._debt -= 1
            else:
                lib.gh_sem_release(self._h)
            delta -= 1
        while delta < 0:  # take free resources, then owe
            if lib.gh_sem_try_acquire(self._h) == -1:
                self._debt += -delta
                break
            delta += 1

    def __repr__(self):
        value, waiting = self._stat()
        return "<%s at %s c=%s _w[%s]>" % (
            type(self).__name__,
            hex(id(self)),
            value - self._debt,
            waiting,
        )

    def __str__(self):
        value, waiting = self._stat()
        return "<%s c=%s _w[%s]>" % (type(self).__name__, value - self._debt, waiting)

    def locked(self):
        """True if acquire() would wait."""
        return self.counter <= 0

    def bounded(self):
        """False: only CappedSemaphore blocks in release()."""
        return False

    def acquire(self, blocking=True, timeout=None):
        """Takes a resource. Waits while there is none (unless *blocking* is false: then
        returns False at once); with *timeout* (seconds), returns False if it passes first.
        Returns True once acquired."""
        if timeout == -1:
            timeout = None
        if timeout is not None and timeout < 0:
            raise ValueError("timeout value must be strictly positive")
        if not blocking:
            if timeout is not None:
                raise ValueError("can't specify timeout for non-blocking acquire")
            if self._debt > 0:
                return False
            return lib.gh_sem_try_acquire(self._h) == 0
        if self._debt == 0 and lib.gh_sem_try_acquire(self._h) == 0:
            return True
        if timeout is None:
            block(lib.gh_sem_acquire, (self._h, -1), SYNC)
            return True
        if timeout == 0:
            sleep(0)  # as Eventlet: others run once before giving up
            return self._debt == 0 and lib.gh_sem_try_acquire(self._h) == 0
        deadline = time.monotonic() + timeout
        return block(lib.gh_sem_acquire, (self._h, -1), SYNC, deadline) is not None

    def __enter__(self):
        self.acquire()

    def release(self, blocking=True):
        """Gives a resource back, waking the first waiter. *blocking* is ignored (it is for
        CappedSemaphore's sake). Returns True."""
        if self._debt > 0:
            self._debt -= 1
        elif lib.gh_sem_release(self._h) == -1:
            raise error_from_errno(get_errno())
        return True

    def __exit__(self, typ, val, tb):
        self.release()

    @property
    def balance(self):
        """The counter minus the number of green threads waiting in acquire(): positive, the
        acquires that would not wait; negative, the releases needed to bring it to 0."""
        value, waiting = self._stat()
        return value - self._debt - waiting


class BoundedSemaphore(Semaphore):
    """A Semaphore that raises ValueError when released past its initial value."""

    def __init__(self, value=1):
        super().__init__(value)
        self.original_counter = value

    def release(self, blocking=True):
        if self.counter >= self.original_counter:
            raise ValueError("Semaphore released too many times")
        return super().release(blocking)


class CappedSemaphore:
    """A semaphore with an upper limit: acquire() waits while the count is 0, release() waits
    while the count is at *limit* (it does not raise like BoundedSemaphore)."""

    def __init__(self, count, limit):
        if count < 0:
            raise ValueError(
                "CappedSemaphore must be initialized with a positive number, got %s" % count
            )
        if count > limit:
            raise ValueError("'count' cannot be more than 'limit'")
        self.lower_bound = Semaphore(count)
        self.upper_bound = Semaphore(limit - count)

    def __repr__(self):
        return "<%s at %s b=%s l=%s u=%s>" % (
            type(self).__name__,
            hex(id(self)),
            self.balance,
            self.lower_bound,
            self.upper_bound,
        )

    def __str__(self):
        return "<%s b=%s l=%s u=%s>" % (
            type(self).__name__,
            self.balance,
            self.lower_bound,
            self.upper_bound,
        )

    def locked(self):
        return self.lower_bound.locked()

    def bounded(self):
        return self.upper_bound.locked()

    def acquire(self, blocking=True):
        """Takes one (waits while the count is 0; returns False at once if not *blocking*)."""
        if not blocking and self.locked():
            return False
        self.upper_bound.release()
        try:
            return self.lower_bound.acquire()
        except BaseException:
            self.upper_bound.counter -= 1
            raise

    def __enter__(self):
        self.acquire()

    def release(self, blocking=True):
        """Gives one back (waits while the count is at the limit; returns False at once if
        not *blocking*)."""
        if not blocking and self.bounded():
            return False
        self.lower_bound.release()
        try:
            return self.upper_bound.acquire()
        except BaseException:
            self.lower_bound.counter -= 1
            raise

    def __exit__(self, typ, val, tb):
        self.release()

    @property
    def balance(self):
        return self.lower_bound.balance - self.upper_bound.balance
