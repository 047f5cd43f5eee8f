"""Timeout: raise an exception in the current green thread after some seconds (Eventlet's
``eventlet.timeout``)."""

import functools
import inspect
import socket

from ._hub import getcurrent, hub

__all__ = ["Timeout", "with_timeout", "wrap_is_timeout", "is_timeout"]

_MISSING = object()


class Timeout(BaseException):
    """Raises *exception* in the current green thread after *seconds*.

    When *exception* is omitted or None, the Timeout instance itself is raised; an exception
    class or instance is raised instead otherwise. If *seconds* is None the timer is not
    started (a Timeout only meant to be raised by hand). A Timeout starts on construction.

    It fires only at a blocking point (a socket call, ``sleep``, a wait on an Event, Queue,
    Semaphore, ...), as in Eventlet: code that never blocks is never interrupted.

    As a context manager it is cancelled on exit; with ``exception=False`` the ``with``
    statement swallows its own expiry silently.
    """

    def __init__(self, seconds=None, exception=None):
        BaseException.__init__(self)
        self.seconds = seconds
        self.exception = exception
        self._owner = None
        self._deadline = None
        self._started = False
        self.start()

    def start(self):
        """Starts the timer (done on construction); restart a Timeout only after cancel()."""
        assert not self.pending, "%r is already started; to restart it, cancel it first" % self
        if self.seconds is None:
            self._started = False
            return self
        hub.deadlines.start(self, self.seconds, getcurrent())
        self._started = True
        return self

    @property
    def pending(self):
        """True while the timeout is started and has not fired or been cancelled."""
        return self._started and hub.deadlines.pending(self)

    @property
    def timer(self):
        """Eventlet compatibility: something true while pending (None otherwise)."""
        return self if self.pending else None

    def cancel(self):
        """Stops the timer if it is pending. Without a ``with`` statement, always cancel a
        Timeout in a ``finally``, or it fires later in some unrelated blocking call."""
        if self._started:
            hub.deadlines.cancel(self, getcurrent())
            self._started = False

    def _exception_to_raise(self):
        self._started = False
        exc = self.exception
        if exc is None or isinstance(exc, bool):
            return self
        if isinstance(exc, BaseException):
            return exc
        return exc()

    def __repr__(self):
        pending = " pending" if self.pending else ""
        exception = "" if self.exception is None else " exception=%r" % (self.exception,)
        return "<%s at %s seconds=%s%s%s>" % (
            type(self).__name__,
            hex(id(self)),
            self.seconds,
            exception,
            pending,
        )

    def __str__(self):
        if self.seconds is None:
            return ""
        suffix = "" if self.seconds == 1 else "s"
        if self.exception is None or self.exception is True:
            return "%s second%s" % (self.seconds, suffix)
        if self.exception is False:
            return "%s second%s (silent)" % (self.seconds, suffix)
        return "%s second%s (%s)" % (self.seconds, suffix, self.exception)

    def __enter__(self):
        if not self.pending:
            self.start()
        return self

    def __exit__(self, typ, value, tb):
        self.cancel()
        if value is self and self.exception is False:
            return True
        return None

    @property
    def is_timeout(self):
        return True


def with_timeout(seconds, function, *args, **kwds):
    """Calls ``function(*args, **kwds)`` under a Timeout of *seconds*. If it expires, returns
    the ``timeout_value`` keyword argument if one was given, else raises the Timeout."""
    timeout_value = kwds.pop("timeout_value", _MISSING)
    timeout = Timeout(seconds)
    try:
        try:
            return function(*args, **kwds)
        except Timeout as ex:
            if ex is timeout and timeout_value is not _MISSING:
                return timeout_value
            raise
    finally:
        timeout.cancel()


def wrap_is_timeout(base):
    """Adds ``is_timeout = True`` to a class, or to the objects a factory function returns."""
    if inspect.isclass(base):
        base.is_timeout = property(lambda _: True)
        return base

    @functools.wraps(base)
    def fun(*args, **kwargs):
        ex = base(*args, **kwargs)
        ex.is_timeout = True
        return ex

    return fun


def is_timeout(obj):
    """True for a Timeout, a TimeoutError (socket.timeout included) or any object with a true
    ``is_timeout`` attribute."""
    return bool(getattr(obj, "is_timeout", False)) or isinstance(
        obj, (TimeoutError, socket.timeout)
    )
