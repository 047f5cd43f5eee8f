"""The hub as Eventlet's user code sees it (``eventlet.hubs``): ``get_hub()`` with timers
(``schedule_call_global``, ``schedule_call_local``) and fd listeners (``add``/``remove`` with
``READ``/``WRITE``), ``use_hub``, ``trampoline``, ``notify_close``/``notify_opened``.

greenhub has one kind of hub, its native epoll loop (one per OS thread). ``use_hub`` accepts
the names of Eventlet's hubs that exist on Linux, ``"epolls"``, ``"poll"``, ``"selects"`` and
``"asyncio"`` (and ``None``, ``EVENTLET_HUB``, a module or a class) and keeps that one hub;
``"kqueue"`` and ``"pyevent"`` raise as Eventlet does where they are not available.

What differs from Eventlet's hub: a timer's or a listener's callback runs in a green thread
of its own (so it may block; its exception is printed, as Eventlet's hub does), not in the
hub's loop; there is no hub greenlet to ``switch()`` to and no ``run()``/``abort()`` loop for
user code to drive: the loop runs whenever the main program or a green thread waits.
"""

import os
import time

import select as _select

from . import _hub
from ._errors import GreenletExit
from ._fdwait import notify_close, trampoline, wait_fd
from ._hub import Greenlet, current, hub as _the_hub
from ._waiter import Waiter

__all__ = ["use_hub", "get_hub", "get_default_hub", "trampoline", "notify_close",
           "notify_opened", "IOClosed", "READ", "WRITE", "Hub"]

READ = "read"
WRITE = "write"
_EVENTS = {READ: _select.POLLIN, WRITE: _select.POLLOUT}
_LINUX_HUBS = ("epolls", "poll", "selects", "asyncio")
_OTHER_HUBS = ("kqueue", "pyevent")


class IOClosed(IOError):
    """The fd a listener or trampoline waited on was closed (``notify_close``)."""


class HubError(Exception):
    pass


class Timer:
    """A call scheduled by ``schedule_call_global``: ``cancel()`` before it fires stops it;
    ``called`` once it fired or was cancelled; ``pending`` before."""

    def __init__(self, seconds, cb, *args, **kw):
        self.seconds = seconds
        self.tpl = cb, args, kw
        self.called = False
        self._waiter = None

    @property
    def pending(self):
        return not self.called

    def _schedule(self):
        _the_hub.spawn(Greenlet(), self._run)
        return self

    def _run(self):
        if self.called:
            return  # cancelled before it started
        self._waiter = Waiter()
        self._waiter.wait(self.seconds)  # delivered by cancel()
        if self.called:
            return
        self.called = True
        cb, args, kw = self.tpl
        self.tpl = None
        if self._should_run():
            cb(*args, **kw)

    def _should_run(self):
        return True

    def cancel(self):
        """Stops the call if it has not been made (never waits)."""
        if not self.called:
            self.called = True
            self.tpl = None
            if self._waiter is not None:
                self._waiter.deliver()

    def __repr__(self):
        return "<%s at %s seconds=%s pending=%s>" % (
            type(self).__name__, hex(id(self)), self.seconds, self.pending)


class LocalTimer(Timer):
    """A Timer that is not called if the green thread that scheduled it has ended."""

    def __init__(self, seconds, cb, *args, **kw):
        Timer.__init__(self, seconds, cb, *args, **kw)
        self.greenlet = current.thread

    def _should_run(self):
        return self.greenlet is _hub.root or not self.greenlet.dead


class FdListener:
    """A listener of ``Hub.add``: ``cb(fileno)`` is called each time the fd is ready for
    ``evtype`` until ``Hub.remove``; ``tb(IOClosed)`` if the fd is closed meanwhile."""

    def __init__(self, evtype, fileno, cb, tb, mark_as_closed):
        assert evtype is READ or evtype is WRITE
        self.evtype = evtype
        self.fileno = fileno
        self.cb = cb
        self.tb = tb
        self.mark_as_closed = mark_as_closed
        self.spent = False
        self.greenlet = current.thread
        self._glet = None

    def __repr__(self):
        return "%s(%r, %r, %r, %r)" % (type(self).__name__, self.evtype, self.fileno, self.cb,
                                       self.tb)

    def _run(self):
        events = _EVENTS[self.evtype]
        try:
            while not self.spent:
                wait_fd(self.fileno, events)
                if not self.spent:
                    self.cb(self.fileno)
                    _hub.sleep(0)  # a callback that reads nothing must not starve the rest
        except GreenletExit:
            pass
        except OSError as e:  # EBADF: closed (notify_close, or never open)
            if not self.spent:
                self.spent = True
                if self.mark_as_closed is not None:
                    self.mark_as_closed()
                if self.tb is not None:
                    self.tb(IOClosed(e.errno, "fd %d closed" % self.fileno))
        finally:
            get_hub()._forget(self)


class Hub:
    """The calls Eventlet's user code makes on its hub, on greenhub's (see the module's
    documentation for what differs)."""

    READ = READ
    WRITE = WRITE

    def __init__(self, clock=None):
        self.clock = clock or time.monotonic
        self.listeners = {READ: {}, WRITE: {}}  # evtype -> fileno -> [FdListener]
        self.greenlet = None  # no hub greenlet: blocking calls work everywhere
        self.running = True
        self.debug_exceptions = True

    # -- timers ---------------------------------------------------------------------------

    def schedule_call_global(self, seconds, cb, *args, **kw):
        """Calls ``cb(*args, **kw)`` in ``seconds`` (in a green thread of its own); returns
        the Timer."""
        return Timer(seconds, cb, *args, **kw)._schedule()

    def schedule_call_local(self, seconds, cb, *args, **kw):
        """As schedule_call_global, unless the calling green thread has ended by then."""
        return LocalTimer(seconds, cb, *args, **kw)._schedule()

    # -- listeners ------------------------------------------------------------------------

    def add(self, evtype, fileno, cb, tb, mark_as_closed=None):
        """Calls ``cb(fileno)`` each time ``fileno`` is ready for ``evtype`` (READ, WRITE)
        until ``remove(listener)``; returns the listener."""
        listener = FdListener(evtype, fileno, cb, tb, mark_as_closed)
        self.listeners[evtype].setdefault(fileno, []).append(listener)
        listener._glet = _the_hub.spawn(Greenlet(), listener._run)
        return listener

    def remove(self, listener):
        """Stops a listener (never waits)."""
        if listener.spent:
            return
        listener.spent = True
        self._forget(listener)
        g = listener._glet
        if g is not None and g is not current.thread and not g.dead:
            _the_hub.raise_into(g, GreenletExit())

    def _forget(self, listener):
        bucket = self.listeners[listener.evtype]
        found = bucket.get(listener.fileno)
        if found and listener in found:
            found.remove(listener)
            if not found:
                del bucket[listener.fileno]

    def remove_descriptor(self, fileno):
        """Stops every listener of ``fileno``."""
        for evtype in (READ, WRITE):
            for listener in list(self.listeners[evtype].get(fileno, ())):
                self.remove(listener)

    def notify_close(self, fileno):
        notify_close(fileno)

    def mark_as_reopened(self, fileno):
        pass  # waits hold duplicates of their fds: a reused number confuses nothing

    def get_readers(self):
        return [l for ls in self.listeners[READ].values() for l in ls]

    def get_writers(self):
        return [l for ls in self.listeners[WRITE].values() for l in ls]

    def get_timers_count(self):
        return 0  # the native hub keeps them; not counted here

    # -- the loop (driven by greenhub itself) ---------------------------------------------

    def switch(self):
        raise NotImplementedError(
            "greenhub has no hub greenlet to switch to: wait with trampoline(), sleep(), or "
            "any blocking call (the hub runs while they wait)"
        )

    def run(self, *args, **kwargs):
        raise NotImplementedError("greenhub's hub runs whenever something waits")

    def abort(self, wait=False):
        raise NotImplementedError("greenhub's hub runs whenever something waits")

    def set_debug_listeners(self, value):
        pass

    def set_timer_exceptions(self, value):
        self.debug_exceptions = value


_hubs = {}  # OS thread -> its Hub


def get_hub():
    """The calling OS thread's hub."""
    ident = _hub.os_thread_ident()
    h = _hubs.get(ident)
    if h is None:
        h = _hubs[ident] = Hub()
    return h


def get_default_hub():
    """The module of the one hub kind greenhub has (this one)."""
    import sys

    return sys.modules[__name__]


def use_hub(mod=None):
    """Accepted for Eventlet's programs; greenhub keeps its one hub (see the module's docs).
    Raises for a hub that does not exist on Linux, as Eventlet does."""
    if mod is None:
        mod = os.environ.get("EVENTLET_HUB") or None
    if isinstance(mod, str):
        name = mod.strip()
        if not name:
            raise RuntimeError("Need to specify a hub")
        if name in _OTHER_HUBS:
            raise Exception("selected hub is not available on this system mod=%s" % name)
        if name not in _LINUX_HUBS and "." not in name and ":" not in name:
            raise ModuleNotFoundError("No module named 'eventlet.hubs.%s'" % name)


def notify_opened(fd):
    """Nothing to do on greenhub (waits hold duplicates of their fds)."""

