"""Queues for green threads (Eventlet's ``eventlet.queue``).

``Queue(maxsize=None)`` is unbounded; ``Queue(0)`` is a channel: put() waits until a getter
takes the item, and returns only after that getter has run (Eventlet's order). ``Empty`` and
``Full`` are the standard library's. Waiting is done with Waiters (park/unpark); items are
handed straight to the first waiting getter (FIFO).
"""

import collections
import heapq
import queue as _stdlib_queue
import types

from ._hub import sleep
from ._waiter import Waiter
from .event import Event
from . import timeout as _timeout

__all__ = ["Queue", "PriorityQueue", "LifoQueue", "LightQueue", "Full", "Empty"]

Timeout = _timeout.Timeout  # eventlet.queue exposes it too
Full = _stdlib_queue.Full
Empty = _stdlib_queue.Empty


class _Putter:
    __slots__ = ("item", "waiter", "block")

    def __init__(self, item, block):
        self.item = item
        self.block = block
        self.waiter = Waiter()


class LightQueue:
    """A queue of items between green threads, without task_done()/join() (cheaper).

    *maxsize* None (or negative): unbounded. 0: a channel, put() waits for a getter.
    """

    def __init__(self, maxsize=None):
        if maxsize is None or maxsize < 0:
            self.maxsize = None
        else:
            self.maxsize = maxsize
        self._getters = {}  # Waiter -> None, FIFO
        self._putters = {}  # _Putter -> None, FIFO
        self._init(maxsize)

    # Storage, overridden by PriorityQueue and LifoQueue (same hooks as Eventlet's).
    def _init(self, maxsize):
        self.queue = collections.deque()

    def _get(self):
        return self.queue.popleft()

    def _put(self, item):
        self.queue.append(item)

    def __repr__(self):
        return "<%s at %s %s>" % (type(self).__name__, hex(id(self)), self._format())

    def __str__(self):
        return "<%s %s>" % (type(self).__name__, self._format())

    def _format(self):
        result = "maxsize=%r" % (self.maxsize,)
        if getattr(self, "queue", None):
            result += " queue=%r" % (self.queue,)
        if self._getters:
            result += " getters[%s]" % len(self._getters)
        if self._putters:
            result += " putters[%s]" % len(self._putters)
        return result

    if hasattr(types, "GenericAlias"):
        __class_getitem__ = classmethod(types.GenericAlias)

    def qsize(self):
        """Number of items in the queue."""
        return len(self.queue)

    def resize(self, size):
        """Changes the maximum size (None: unbounded); growing lets waiting putters in."""
        self.maxsize = None if size is None or size < 0 else size
        self._admit_putters()

    def putting(self):
        """Number of green threads waiting in put()."""
        return len(self._putters)

    def getting(self):
        """Number of green threads waiting in get()."""
        return len(self._getters)

    def empty(self):
        return not self.qsize()

    def full(self):
        """True if put() would wait (always true for a channel, ``Queue(0)``)."""
        return self.maxsize is not None and self.qsize() >= self.maxsize

    def _has_room(self):
        return self.maxsize is None or self.qsize() < self.maxsize

    def _pop_getter(self):
        while self._getters:
            waiter = next(iter(self._getters))
            del self._getters[waiter]
            if not waiter.done:
                return waiter
        return None

    def _pop_putter(self):
        while self._putters:
            putter = next(iter(self._putters))
            del self._putters[putter]
            if not putter.waiter.done:
                return putter
        return None

    def _feed_getters(self):
        """Hands queued items to waiting getters."""
        while self._getters and self.qsize():
            waiter = self._pop_getter()
            if waiter is None:
                break
            waiter.deliver(self._get())

    def _admit_putters(self):
        """Moves waiting putters' items into the queue while there is room, and straight to
        waiting getters (a channel)."""
        while self._putters:
            if self._has_room():
                putter = self._pop_putter()
                if putter is None:
                    break
                self._put(putter.item)
                putter.waiter.deliver(True)
                self._feed_getters()
            elif self._getters and not self.qsize():
                # a channel (or a queue resized to 0): hand over directly
                getter = self._pop_getter()
                if getter is None:
                    break
                putter = self._pop_putter()
                if putter is None:
                    self._getters[getter] = None
                    break
                self._put(putter.item)
                getter.deliver(self._get())
                putter.waiter.deliver(True)
            else:
                break

    def put(self, item, block=True, timeout=None):
        """Puts *item* into the queue. If it is full, waits for room (for a getter, with a
        channel); with *block* false or after *timeout* seconds, raises Full instead."""
        if self._has_room():
            self._put(item)
            self._feed_getters()
            return
        if self._getters and not self.qsize():
            # A channel with a waiting getter: deliver at once, even without blocking, and let
            # the getter run before put() returns, as Eventlet's put() waits for the hand-off.
            getter = self._pop_getter()
            if getter is not None:
                self._put(item)
                getter.deliver(self._get())
                sleep(0)
                return
        if not block:
            raise Full
        putter = _Putter(item, block)
        self._putters[putter] = None
        try:
            if not putter.waiter.wait(timeout):
                raise Full
        finally:
            self._putters.pop(putter, None)

    def put_nowait(self, item):
        """put(item, block=False)."""
        self.put(item, False)

    def get(self, block=True, timeout=None):
        """Removes and returns an item. If the queue is empty, waits for one; with *block*
        false or after *timeout* seconds, raises Empty instead."""
        if self.qsize():
            item = self._get()
            if self._putters:
                self._admit_putters()
            return item
        if block and self._putters:
            # a channel: take a waiting putter's item
            putter = self._pop_putter()
            if putter is not None:
                putter.waiter.deliver(True)
                return putter.item
        if not block:
            raise Empty
        waiter = Waiter()
        self._getters[waiter] = None
        try:
            ok = waiter.wait(timeout)
        finally:
            self._getters.pop(waiter, None)
        if not ok:
            raise Empty
        return waiter.value

    def get_nowait(self):
        """get(block=False)."""
        return self.get(False)


class Queue(LightQueue):
    """A queue of items between green threads, with task_done() and join() like the standard
    library's. *maxsize* None or negative: unbounded. ``Queue(0)`` is a channel: put() waits
    until the item is delivered (unlike the standard library, where 0 means unbounded)."""

    def __init__(self, maxsize=None):
        LightQueue.__init__(self, maxsize)
        self.unfinished_tasks = 0
        self._cond = Event()

    def _format(self):
        result = LightQueue._format(self)
        if self.unfinished_tasks:
            result += " tasks=%s _cond=%s" % (self.unfinished_tasks, self._cond)
        return result

    def _put(self, item):
        LightQueue._put(self, item)
        self._put_bookkeeping()

    def _put_bookkeeping(self):
        self.unfinished_tasks += 1
        if self._cond.ready():
            self._cond.reset()

    def task_done(self):
        """Marks one item taken by get() as processed; join() returns once every item put
        has been. ValueError if called more times than there were items."""
        if self.unfinished_tasks <= 0:
            raise ValueError("task_done() called too many times")
        self.unfinished_tasks -= 1
        if self.unfinished_tasks == 0:
            self._cond.send(None)

    def join(self):
        """Waits until every item put has been taken and marked done with task_done()."""
        if self.unfinished_tasks > 0:
            self._cond.wait()


class PriorityQueue(Queue):
    """A Queue that returns the lowest item first (entries like ``(priority, data)``)."""

    def _init(self, maxsize):
        self.queue = []

    def _put(self, item, heappush=heapq.heappush):
        heappush(self.queue, item)
        self._put_bookkeeping()

    def _get(self, heappop=heapq.heappop):
        return heappop(self.queue)


class LifoQueue(Queue):
    """A Queue that returns the most recently added item first."""

    def _init(self, maxsize):
        self.queue = []

    def _put(self, item):
        self.queue.append(item)
        self._put_bookkeeping()

    def _get(self):
        return self.queue.pop()
