"""Green threads (Eventlet's ``eventlet.greenthread``): spawn, spawn_n, spawn_after, sleep,
kill, getcurrent and the GreenThread class.

A spawned function first runs when its spawner blocks or yields (``sleep(0)``), as in
Eventlet. Each green thread runs on its own interpreter thread state and C stack (1 MiB or
more) under greenhub's native hub.
"""

import collections

from ._errors import GreenletExit
from ._hub import Greenlet, getcurrent, hub, kill, report_exception, root, sleep
from .event import Event

__all__ = [
    "getcurrent",
    "sleep",
    "spawn",
    "spawn_n",
    "kill",
    "cancel",
    "spawn_after",
    "spawn_after_local",
    "GreenThread",
    "GreenletExit",
]


class GreenThread(Greenlet):
    """A green thread whose function's result can be waited for. Do not construct it
    directly: ``spawn()`` returns one.

    ``bool(gt)`` is true while it runs (started and not finished); ``gt.dead`` once it has
    finished (or was killed before starting).
    """

    def __init__(self, parent=None):
        Greenlet.__init__(self)
        self._exit_event = Event()
        self._resolving_links = False
        self._exit_funcs = None

    def wait(self):
        """Returns the function's result, or raises the exception it ended with (GreenletExit
        if it was killed), waiting for it to finish if needed."""
        try:
            return self._exit_event.wait()
        except (SystemExit, KeyboardInterrupt) as e:
            hub.discard_pending(e)  # forwarded to the main program too: raise it once
            raise

    def link(self, func, *curried_args, **curried_kwargs):
        """Calls ``func(gt, *curried_args, **curried_kwargs)`` when the function finishes
        (at once if it already has). It runs in the finishing green thread; call
        ``gt.wait()`` in it to get the result."""
        if self._exit_funcs is None:
            self._exit_funcs = collections.deque()
        self._exit_funcs.append((func, curried_args, curried_kwargs))
        if self._exit_event.ready():
            self._resolve_links()

    def unlink(self, func, *curried_args, **curried_kwargs):
        """Removes a function set with link(); True if it was there."""
        if not self._exit_funcs:
            return False
        try:
            self._exit_funcs.remove((func, curried_args, curried_kwargs))
            return True
        except ValueError:
            return False

    def main(self, function, args, kwargs):
        """Runs *function* in the calling green thread as this GreenThread's function."""
        self._started = True
        try:
            result = function(*args, **kwargs)
        except BaseException as e:
            self._dead = True
            self._finish(None, e, report=False)
            raise
        else:
            self._dead = True
            self._finish(result, None)

    def _finish(self, result, exc, report=True):
        if exc is not None:
            self._exit_event.send_exception(exc)
        else:
            self._exit_event.send(result)
        self._resolve_links()
        if exc is not None and report:
            report_exception(exc)

    def _resolve_links(self):
        if self._resolving_links or not self._exit_funcs:
            return
        self._resolving_links = True
        try:
            while self._exit_funcs:
                f, ca, ckw = self._exit_funcs.popleft()
                try:
                    f(self, *ca, **ckw)
                except BaseException as e:
                    report_exception(e, skip_frames=1)
        finally:
            self._resolving_links = False

    def kill(self, *throw_args):
        """Kills the green thread (see ``kill()``); wait() then raises *throw_args*
        (GreenletExit by default) unless the thread catches it."""
        return kill(self, *throw_args)

    def cancel(self, *throw_args):
        """Kills the green thread only if it has not started running yet."""
        return cancel(self, *throw_args)


def spawn(func, *args, **kwargs):
    """Starts a green thread running ``func(*args, **kwargs)`` and returns its GreenThread.
    It first runs when the caller blocks or yields."""
    return hub.spawn(GreenThread(), func, args, kwargs)


def spawn_n(func, *args, **kwargs):
    """Like spawn(), returning a greenlet-like object from which the result cannot be had.
    An exception ending *func* is printed with its traceback."""
    return hub.spawn(Greenlet(), func, args, kwargs)


def spawn_after(seconds, func, *args, **kwargs):
    """Starts ``func(*args, **kwargs)`` in a green thread after *seconds*; returns its
    GreenThread. ``gt.cancel()`` (or ``kill``) before then prevents it from running."""
    return hub.spawn(GreenThread(), func, args, kwargs, delay=max(0.0, seconds))


def spawn_after_local(seconds, func, *args, **kwargs):
    """Like spawn_after(), except that *func* is not run if the spawning green thread has
    ended by then."""
    spawner = getcurrent()

    def run_if_alive(*a, **kw):
        if spawner is not root and spawner.dead:
            return None
        return func(*a, **kw)

    return hub.spawn(GreenThread(), run_if_alive, args, kwargs, delay=max(0.0, seconds))


def cancel(g, *throw_args):
    """Kills *g* only if it has not started running yet."""
    if not g:
        kill(g, *throw_args)
