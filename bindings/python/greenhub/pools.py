"""Pools of reusable resources (Eventlet's ``eventlet.pools``): ``Pool`` makes items with
``create`` (an argument, or a subclass's method) up to ``max_size`` checked out at once; a
``get`` beyond that waits, in the calling green thread only, for a ``put``."""

import collections
import contextlib

from . import queue

__all__ = ["Pool", "TokenPool"]


class Pool:
    """A pool of at most ``max_size`` items, ``min_size`` of them made at once.

    ``get()`` returns a free item, or makes one (``create()``) while fewer than ``max_size``
    exist, or waits for a ``put()``. ``put(item)`` hands it to the first waiter, or keeps it
    free. Free items are reused round-robin, or most recently used first with
    ``order_as_stack=True``. ``with pool.item() as obj:`` gets and puts back.
    """

    def __init__(self, min_size=0, max_size=4, order_as_stack=False, create=None):
        self.min_size = min_size
        self.max_size = max_size
        self.order_as_stack = order_as_stack
        self.current_size = 0  # items made and not dropped (free or checked out)
        self.channel = queue.LightQueue(0)  # hands a put() item to a waiting get()
        self.free_items = collections.deque()
        if create is not None:
            self.create = create
        for _ in range(min_size):
            self.current_size += 1
            self.free_items.append(self.create())

    def get(self):
        """An item: a free one, a new one, or (all ``max_size`` out) the next one put back."""
        if self.free_items:
            return self.free_items.popleft()
        if self.current_size < self.max_size:
            self.current_size += 1
            try:
                return self.create()
            except BaseException:
                self.current_size -= 1
                raise
        return self.channel.get()

    @contextlib.contextmanager
    def item(self):
        """``with pool.item() as obj:`` gets an item and puts it back at the end."""
        obj = self.get()
        try:
            yield obj
        finally:
            self.put(obj)

    def put(self, item):
        """Gives an item back: to the first waiting get(), else to the free items. After a
        resize() below the items in use, the item is dropped instead."""
        if self.current_size > self.max_size:
            self.current_size -= 1
            return
        if self.waiting():
            try:
                self.channel.put(item, block=False)
                return
            except queue.Full:
                pass
        if self.order_as_stack:
            self.free_items.appendleft(item)
        else:
            self.free_items.append(item)

    def resize(self, new_size):
        """Sets ``max_size``; items out and green threads waiting are not affected, items put
        back beyond the new size are dropped."""
        self.max_size = new_size

    def free(self):
        """How many get() calls would not wait now."""
        return len(self.free_items) + self.max_size - self.current_size

    def waiting(self):
        """How many green threads wait in get()."""
        return max(0, self.channel.getting() - self.channel.putting())

    def create(self):
        """Makes a new item: pass ``create`` or override it."""
        raise NotImplementedError("Implement in subclass")


class Token:
    pass


class TokenPool(Pool):
    """A pool of tokens (opaque unique objects): holding one is the right to use some limited
    resource."""

    def create(self):
        return Token()
