"""DAGPool (Eventlet's ``eventlet.dagpool``): green threads ordered by data dependencies
rather than by a concurrency limit. Each green thread has a key and the keys it depends on;
it iterates over its ``results`` to get those values as they arrive, and what it returns
becomes the value of its own key."""

import collections

from . import greenthread
from .event import Event

__all__ = ["DAGPool", "Collision", "PropagateError"]

_MISSING = object()


class Collision(Exception):
    """Two green threads with one key, a post() for a running green thread's key, or a second
    post() for a key (without ``replace``). ``str()`` names the key."""


class PropagateError(Exception):
    """The value of a key whose green thread raised: retrieving it raises this, with ``key``
    and ``exc`` (the exception; another PropagateError when it came from a dependency)."""

    def __init__(self, key, exc):
        msg = "PropagateError({}): {}: {}".format(key, exc.__class__.__name__, exc)
        super().__init__(msg)
        self.msg = msg
        self.args = (key, exc)
        self.key = key
        self.exc = exc

    def __str__(self):
        return self.msg


class DAGPool:
    """A pool of green threads that wait for each other's values.

    ``spawn(key, depends, function, *args, **kw)`` runs ``function(key, results, *args,
    **kw)``, where iterating over ``results`` yields ``(key, value)`` for each key of
    ``depends`` as soon as it has a value (in the order they arrive). ``post(key, value)``
    gives a key a value from outside; ``preload`` (a dict or pairs) gives some at once.
    ``wait()``/``waitall()``, ``wait_each()``, ``[key]`` wait for values. A green thread that
    raises gives its key a PropagateError, raised to whoever retrieves that value.
    """

    _Coro = collections.namedtuple("_Coro", ("greenthread", "pending"))

    def __init__(self, preload={}):
        items = preload.items() if hasattr(preload, "items") else preload
        self.values = dict(items)
        self.coros = {}  # key -> _Coro of each running green thread
        self.event = Event()  # sent (and replaced) at each post(): waiters look again

    # -- waiting for values --------------------------------------------------------------

    def waitall(self):
        """Waits for a value for every key spawned; returns every value (a dict)."""
        return self.wait()

    def wait(self, keys=_MISSING):
        """Waits until each of ``keys`` (default: every key known) has a value; returns them as
        a dict. Raises a PropagateError among them."""
        return dict(self.wait_each(keys))

    def wait_each(self, keys=_MISSING):
        """Yields ``(key, value)`` for each of ``keys`` (default: every key known) as its value
        arrives; raises a PropagateError value instead of yielding it."""
        return self._wait_each(self._keyset(keys))

    def wait_each_success(self, keys=_MISSING):
        """As wait_each(), yielding only the values that are not PropagateErrors."""
        for key, value in self._wait_each_raw(self._keyset(keys)):
            if not isinstance(value, PropagateError):
                yield key, value

    def wait_each_exception(self, keys=_MISSING):
        """As wait_each(), yielding only the PropagateErrors (not raising them)."""
        for key, value in self._wait_each_raw(self._keyset(keys)):
            if isinstance(value, PropagateError):
                yield key, value

    def _keyset(self, keys):
        if keys is _MISSING:
            return set(self.coros) | set(self.values)
        return set(keys)

    def _wait_each(self, pending):
        for key, value in self._wait_each_raw(pending):
            yield key, self._value_or_raise(value)

    @staticmethod
    def _value_or_raise(value):
        if isinstance(value, PropagateError):
            raise value
        return value

    def _wait_each_raw(self, pending):
        """Yields (key, value) for the keys of ``pending`` (emptied meanwhile) as they arrive."""
        while True:
            for key in [k for k in pending if k in self.values]:
                pending.discard(key)
                yield key, self.values[key]
            if not pending:
                return
            self.event.wait()

    # -- green threads -------------------------------------------------------------------

    def spawn(self, key, depends, function, *args, **kwds):
        """Starts ``function(key, results, *args, **kwds)`` in a green thread for ``key``;
        ``results`` yields the values of ``depends``. Collision if the key is taken."""
        if key in self.coros or key in self.values:
            raise Collision(key)
        pending = set(depends)
        gt = greenthread.spawn(self._run, function, key, self._wait_each(pending), *args, **kwds)
        self.coros[key] = self._Coro(gt, pending)

    def _run(self, function, key, results, *args, **kwds):
        try:
            result = function(key, results, *args, **kwds)
        except Exception as err:
            result = PropagateError(key, err)
        finally:
            self.coros.pop(key, None)
        try:
            self.post(key, result)
        except Collision:
            pass  # the function posted its own value: that one stands
        return result

    def spawn_many(self, depends, function, *args, **kwds):
        """spawn() for each ``key: its dependencies`` of the dict ``depends``."""
        for key, deps in depends.items():
            self.spawn(key, deps, function, *args, **kwds)

    def kill(self, key):
        """Kills the green thread of ``key`` (KeyError if there is none)."""
        self.coros[key].greenthread.kill()
        self.coros.pop(key, None)

    def post(self, key, value, replace=False):
        """Gives ``key`` its value and wakes whoever waits for it. Collision if a green
        thread other than the caller runs for that key, or if it has a value already and
        ``replace`` is false."""
        coro = self.coros.get(key)
        if coro is not None and coro.greenthread is not greenthread.getcurrent():
            raise Collision(key)
        if key in self.values and not replace:
            raise Collision(key)
        self.values[key] = value
        event, self.event = self.event, Event()
        event.send()

    # -- looking -------------------------------------------------------------------------

    def __getitem__(self, key):
        """``pool[key]`` waits for the value of ``key`` and returns it."""
        for _, value in self.wait_each((key,)):
            return value

    def get(self, key, default=None):
        """The value of ``key`` now, or ``default``."""
        return self._value_or_raise(self.values.get(key, default))

    def keys(self):
        """The keys that have values now (a tuple)."""
        return tuple(self.values)

    def items(self):
        """The (key, value) pairs now (a tuple); raises a PropagateError among them."""
        return tuple((k, self._value_or_raise(v)) for k, v in self.values.items())

    def running(self):
        """How many of its green threads run (waiting for dependencies included)."""
        return len(self.coros)

    def running_keys(self):
        return tuple(self.coros)

    def waiting(self):
        """How many of its green threads still wait for values of other keys."""
        return len(self.waiting_for())

    def waiting_for(self, key=_MISSING):
        """For ``key``, the keys its green thread still waits for (KeyError if it has neither
        a green thread nor a value); without it, a dict of those sets for each that waits."""
        available = set(self.values)
        if key is not _MISSING:
            coro = self.coros.get(key)
            if coro is None:
                self.values[key]
                return set()
            return coro.pending - available
        return {
            k: c.pending - available for k, c in self.coros.items() if c.pending - available
        }
