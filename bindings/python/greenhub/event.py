"""Event: one green thread sends a value (or an exception) to any number of waiters
(Eventlet's ``eventlet.event``)."""

from ._errors import make_exception
from ._waiter import Waiter

__all__ = ["Event"]


class _NotUsed:
    def __repr__(self):
        return "NOT_USED"


NOT_USED = _NotUsed()


class Event:
    """Any number of green threads wait (``wait()``) for one ``send()`` from another.

    Unlike a Queue holding one item: ``send()`` never blocks nor switches, and it may be
    called only once; ``reset()`` makes the Event usable again.

    >>> evt = Event()
    >>> def baz(b):
    ...     evt.send(b + 1)
    >>> _ = spawn_n(baz, 3)
    >>> evt.wait()
    4
    """

    _result = None
    _exc = None

    def __init__(self):
        self._waiters = {}  # Waiter -> None, in arrival order
        self.reset()

    def __str__(self):
        return "<%s at %s result=%r _exc=%r _waiters[%d]>" % (
            type(self).__name__,
            hex(id(self)),
            self._result,
            self._exc,
            len(self._waiters),
        )

    __repr__ = __str__

    def reset(self):
        """Makes a sent Event unsent again (it can be sent once more)."""
        assert self._result is not NOT_USED, "Trying to re-reset() a fresh event."
        self._result = NOT_USED
        self._exc = None

    def ready(self):
        """True if wait() would return (or raise) at once."""
        return self._result is not NOT_USED

    def has_exception(self):
        return self._exc is not None

    def has_result(self):
        return self._result is not NOT_USED and self._exc is None

    def poll(self, notready=None):
        if self.ready():
            return self.wait()
        return notready

    def poll_exception(self, notready=None):
        if self.has_exception():
            return self.wait()
        return notready

    def poll_result(self, notready=None):
        if self.has_result():
            return self.wait()
        return notready

    def wait(self, timeout=None):
        """Waits until send() is called and returns the value sent, or raises the exception
        sent. Returns at once if the Event was already sent. With *timeout* (seconds), returns
        None if it passes first."""
        if self._result is NOT_USED:
            waiter = Waiter()
            self._waiters[waiter] = None
            try:
                if not waiter.wait(timeout):
                    return None
            finally:
                self._waiters.pop(waiter, None)
            result, exc = waiter.value
            if exc is not None:
                raise make_exception(exc)
            return result
        if self._exc is not None:
            raise make_exception(self._exc)
        return self._result

    def send(self, result=None, exc=None):
        """Wakes every waiter with *result* (or makes them raise *exc*: an exception class,
        instance or exc_info tuple). Returns at once. Sending twice without reset() raises
        AssertionError."""
        assert self._result is NOT_USED, "Trying to re-send() an already-triggered event."
        self._result = result
        if exc is not None and not isinstance(exc, tuple):
            exc = (exc,)
        self._exc = exc
        if self._waiters:
            waiters = list(self._waiters)
            self._waiters.clear()
            value = (result, exc)
            for waiter in waiters:
                waiter.deliver(value)

    def send_exception(self, *args):
        """Like send(), with an exception: the arguments are those of ``raise`` (a class, an
        instance, or the three values of sys.exc_info())."""
        return self.send(None, args)
