"""Semaphores for green threads (Eventlet's ``eventlet.semaphore``). Waiters are served in
FIFO order and a release hands the resource straight to the first of them (it cannot be taken
by a third thread meanwhile). Built on Waiter: an acquire that need not wait, and a release,
are plain Python."""

import collections

from ._hub import sleep
from ._waiter import Waiter

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
        self._value = value  # resources available (negative: owed); > 0 only with no waiter
        self._waiters = collections.deque()  # Waiters of blocked acquires, FIFO

    @property
    def counter(self):
        """Resources available now (negative: owed after a resize)."""
        return self._value

    @counter.setter
    def counter(self, new):
        delta = int(new) - self._value
        if delta < 0:
            self._value += delta  # take free resources, then owe
        for _ in range(delta):  # pay the debt, then add resources (waking waiters)
            self._give()

    def __repr__(self):
        return "<%s at %s c=%s _w[%s]>" % (
            type(self).__name__,
            hex(id(self)),
            self._value,
            len(self._waiters),
        )

    def __str__(self):
        return "<%s c=%s _w[%s]>" % (type(self).__name__, self._value, len(self._waiters))

    def locked(self):
        """True if acquire() would wait."""
        return self._value <= 0

    def bounded(self):
        """False: only CappedSemaphore blocks in release()."""
        return False

    def acquire(self, blocking=True, timeout=None):
        """Takes a resource. Waits while there is none (unless *blocking* is false: then
        returns False at once); with *timeout* (seconds), returns False if it passes first.
        Returns True once acquired."""
        if timeout is not None:
            if timeout == -1:
                timeout = None
            elif timeout < 0:
                raise ValueError("timeout value must be strictly positive")
            elif not blocking:
                raise ValueError("can't specify timeout for non-blocking acquire")
        if self._value > 0:
            self._value -= 1
            return True
        if not blocking:
            return False
        if timeout == 0:
            sleep(0)  # as Eventlet: others run once before giving up
            if self._value > 0:
                self._value -= 1
                return True
            return False
        waiter = Waiter()
        self._waiters.append(waiter)
        try:
            return waiter.wait(timeout)
        finally:
            if not waiter.done:
                self._waiters.remove(waiter)

    def __enter__(self):
        self.acquire()

    def release(self, blocking=True):
        """Gives a resource back, waking the first waiter. *blocking* is ignored (it is for
        CappedSemaphore's sake). Returns True."""
        self._give()
        return True

    def _give(self):
        """One resource back: pays a debt, else goes to the first waiter, else to the
        counter."""
        if self._value < 0 or not self._waiters:
            self._value += 1
        else:
            self._waiters.popleft().deliver(True)

    def __exit__(self, typ, val, tb):
        self.release()

    @property
    def balance(self):
        """The counter minus the number of green threads waiting in acquire(): positive, the
        acquires that would not wait; negative, the releases needed to bring it to 0."""
        return self._value - len(self._waiters)


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
