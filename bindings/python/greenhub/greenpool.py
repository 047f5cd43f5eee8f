"""Pools of green threads (Eventlet's ``eventlet.greenpool``): GreenPool limits how many run
at once; GreenPile collects results in order."""

import traceback

from ._errors import GreenletExit
from ._hub import getcurrent
from . import greenthread
from . import queue
from .event import Event
from .semaphore import Semaphore

__all__ = ["GreenPool", "GreenPile"]

DEBUG = True


class GreenPool:
    """At most *size* green threads of the pool run at once; spawn() waits for a free slot."""

    def __init__(self, size=1000):
        try:
            size = int(size)
        except ValueError as e:
            raise TypeError(
                "GreenPool() expect size :: int, actual: {} {}".format(type(size), str(e))
            )
        if size < 0:
            raise ValueError("GreenPool() expect size >= 0, actual: {}".format(repr(size)))
        self.size = size
        self.coroutines_running = set()
        self.sem = Semaphore(size)
        self.no_coros_running = Event()

    def resize(self, new_size):
        """Changes the limit. Threads running beyond a smaller limit finish; no new one starts
        until the count drops below it (free() is negative meanwhile)."""
        self.sem.counter += new_size - self.size
        self.size = new_size

    def running(self):
        """Number of the pool's green threads running now."""
        return len(self.coroutines_running)

    def free(self):
        """Number of threads that could be spawned without waiting (<= 0: spawn waits)."""
        return self.sem.counter

    def spawn(self, function, *args, **kwargs):
        """Runs ``function(*args, **kwargs)`` in a green thread of the pool, waiting for a free
        slot if the pool is full; returns its GreenThread. A thread of this pool spawning into
        it while it is full runs the function itself instead (no deadlock)."""
        current = getcurrent()
        if self.sem.locked() and current in self.coroutines_running:
            gt = greenthread.GreenThread()
            gt.main(function, args, kwargs)
            return gt
        self.sem.acquire()
        try:
            gt = greenthread.spawn(function, *args, **kwargs)
        except BaseException:
            self.sem.release()
            raise
        if not self.coroutines_running:
            self.no_coros_running = Event()
        self.coroutines_running.add(gt)
        gt.link(self._spawn_done)
        return gt

    def _spawn_n_impl(self, func, args, kwargs, coro):
        try:
            try:
                func(*args, **kwargs)
            except (KeyboardInterrupt, SystemExit, GreenletExit):
                raise
            except BaseException:
                if DEBUG:
                    traceback.print_exc()
        finally:
            if coro is not None:
                self._spawn_done(getcurrent())

    def spawn_n(self, function, *args, **kwargs):
        """Like spawn(), returning None (the result cannot be had)."""
        current = getcurrent()
        if self.sem.locked() and current in self.coroutines_running:
            self._spawn_n_impl(function, args, kwargs, None)
            return
        self.sem.acquire()
        try:
            g = greenthread.spawn_n(self._spawn_n_impl, function, args, kwargs, True)
        except BaseException:
            self.sem.release()
            raise
        if not self.coroutines_running:
            self.no_coros_running = Event()
        self.coroutines_running.add(g)

    def waitall(self):
        """Waits until every green thread of the pool has finished."""
        assert getcurrent() not in self.coroutines_running, (
            "Calling waitall() from within one of the "
            "GreenPool's greenthreads will never terminate."
        )
        if self.running():
            self.no_coros_running.wait()

    def _spawn_done(self, coro):
        self.sem.release()
        if coro is not None:
            self.coroutines_running.discard(coro)
        if not self.coroutines_running and not self.no_coros_running.ready():
            self.no_coros_running.send(None)

    def waiting(self):
        """Number of green threads waiting in spawn() for a free slot."""
        balance = self.sem.balance
        return -balance if balance < 0 else 0

    def _do_map(self, func, it, gi):
        for args in it:
            gi.spawn(func, *args)
        gi.done_spawning()

    def starmap(self, function, iterable):
        """Like itertools.starmap, each call in its own green thread of the pool; results come
        in order. Memory stays proportional to the pool size."""
        if function is None:
            function = lambda *a: a  # noqa: E731
        gi = GreenMap(self.size)
        greenthread.spawn_n(self._do_map, function, iterable, gi)
        return gi

    def imap(self, function, *iterables):
        """Like the built-in map, each call in its own green thread of the pool; results come
        in order."""
        return self.starmap(function, zip(*iterables))


class GreenPile:
    """A set of calls run in green threads (of a GreenPool, or of its own pool of *size*),
    whose results are read in spawning order by iterating over it."""

    def __init__(self, size_or_pool=1000):
        if isinstance(size_or_pool, GreenPool):
            self.pool = size_or_pool
        else:
            self.pool = GreenPool(size_or_pool)
        self.waiters = queue.LightQueue()
        self.counter = 0

    def spawn(self, func, *args, **kw):
        """Runs ``func(*args, **kw)`` in a green thread; its result comes out of the
        iteration in order."""
        self.counter += 1
        try:
            gt = self.pool.spawn(func, *args, **kw)
            self.waiters.put(gt)
        except BaseException:
            self.counter -= 1
            raise

    def __iter__(self):
        return self

    def next(self):
        """The next result in spawning order (waiting for it); StopIteration when done."""
        if self.counter == 0:
            raise StopIteration()
        return self._next()

    __next__ = next

    def _next(self):
        try:
            return self.waiters.get().wait()
        finally:
            self.counter -= 1


class GreenMap(GreenPile):
    def __init__(self, size_or_pool):
        super().__init__(size_or_pool)
        self.waiters = queue.LightQueue(maxsize=self.pool.size)

    def done_spawning(self):
        self.spawn(lambda: StopIteration())

    def next(self):
        val = self._next()
        if isinstance(val, StopIteration):
            raise val
        return val

    __next__ = next
