"""Waiter: one green thread waiting to be handed something by another. Every synchronisation
primitive of the shim (Event, and through it GreenThread.wait and GreenPool.waitall; the
semaphores; the queues; tpool.execute's wait) is built on it, and it waits with the hub's
park/unpark through ``block()``: the primitives keep their state and their FIFO of Waiters
in Python, and only a wait that must suspend costs a call into the library."""

import time

from ._hub import NO_VALUE, SYNC, block, current
from ._lib import lib

__all__ = ["Waiter"]

monotonic = time.monotonic
_gh_park = lib.gh_park
_gh_unpark = lib.gh_unpark


class Waiter:
    """Made by the thread that will wait (``thread``); ``deliver()``, from any green thread,
    ends the wait with a value."""

    __slots__ = ("thread", "done", "value")

    def __init__(self):
        self.thread = current.thread
        self.done = False
        self.value = None

    def deliver(self, value=None):
        """Hands ``value`` over and wakes the waiter (never blocks). False if already done."""
        if self.done:
            return False
        self.done = True
        self.value = value
        _gh_unpark(self.thread._gid, None)
        return True

    def wait(self, timeout=None):
        """Waits until delivered: True; False if ``timeout`` (seconds) passed first. Raises a
        pending exception or an expired Timeout, never once delivered (see ``block()``)."""
        if self.done:
            return True
        deadline = None if timeout is None else monotonic() + max(0.0, timeout)
        if block(_gh_park, NO_VALUE, SYNC, deadline, self) is None:
            return self.done
        return True
