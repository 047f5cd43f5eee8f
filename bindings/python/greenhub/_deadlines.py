"""The bookkeeping under ``Timeout`` (the class is in greenhub.timeout): each green thread's
started Timeouts, kept as at most one native deadline scope per thread.

A thread's record (its Greenlet) holds its started Timeouts (``_timeouts``, None when it has
none) and whether a native scope (``gh_deadline_push``) is pushed for them (``_scoped``), set
to the earliest of them: any blocking call the thread makes after it fails with ETIMEDOUT.
``block()`` then asks :meth:`Deadlines.expire` which Timeout that was and raises it; a
Timeout cancelled from another green thread cannot pop the owner's scope, so it marks it
stale (``_stale``), and the owner's next ETIMEDOUT or wait resynchronises it.
"""

import math
import time

from ._lib import lib

__all__ = ["Deadlines", "MAX_MS", "ms_until"]

monotonic = time.monotonic

#: The longest wait a call is given, in milliseconds (greenhub's timeouts are int64 ms).
MAX_MS = 2**62


def ms_until(deadline, now=None):
    """Milliseconds (at least 1, rounded up: never early) from now until ``deadline``, a
    ``time.monotonic()`` value; 0 if it has passed."""
    left = deadline - (monotonic() if now is None else now)
    if left <= 0:
        return 0
    return min(max(1, math.ceil(left * 1000.0)), MAX_MS)


class Deadlines:
    """Every green thread's started Timeouts. ``active`` counts the threads that have any (or a
    stale scope): while it is 0, nothing here needs to be looked at."""

    __slots__ = ("active",)

    def __init__(self):
        self.active = 0

    def start(self, t, seconds, thread):
        """Starts Timeout ``t`` for ``seconds`` in ``thread``, the calling thread."""
        t._owner = thread
        t._deadline = monotonic() + max(0.0, float(seconds))
        if thread._timeouts is None:
            thread._timeouts = []
            self.active += 1
        thread._timeouts.append(t)
        self._resync(thread)

    def cancel(self, t, current):
        """Stops Timeout ``t`` (``current`` is the calling thread); True if it was started and
        had not fired yet."""
        owner = t._owner
        started = owner._timeouts if owner is not None else None
        if not started or t not in started:
            return False
        started.remove(t)
        if owner is current:
            self._resync(owner)
        else:
            owner._stale = True
        return True

    def pending(self, t):
        """True while ``t`` is started and has neither fired nor been cancelled."""
        owner = t._owner
        started = owner._timeouts if owner is not None else None
        return bool(started) and t in started

    def expire(self, thread, slack=0.001):
        """After ETIMEDOUT (or a yield) in ``thread``, the calling thread: raises its expired
        Timeout (or that Timeout's exception), if any. Returns True if its native scope was
        stale (the call should be retried), else False."""
        started = thread._timeouts
        if started:
            now = monotonic() + slack
            expired = [t for t in started if t._deadline <= now]
            if expired:
                t = min(expired, key=lambda x: x._deadline)
                started.remove(t)
                self._resync(thread)
                raise t._exception_to_raise()
        if thread._stale:
            self._resync(thread)
            return True
        return False

    def forget(self, thread):
        """``thread`` ended: its Timeouts and native scope went with it."""
        if thread._timeouts is not None:
            thread._timeouts = None
            self.active -= 1
        thread._scoped = thread._stale = False

    def _resync(self, thread):
        """Sets the native deadline of ``thread`` (the calling thread) to its earliest
        Timeout, or removes it if it has none left."""
        if thread._scoped:
            lib.gh_deadline_pop()
            thread._scoped = False
        thread._stale = False
        started = thread._timeouts
        if not started:
            if started is not None:
                thread._timeouts = None
                self.active -= 1
            return
        ms = ms_until(min(t._deadline for t in started))
        if lib.gh_deadline_push(ms) == 0:
            thread._scoped = True
