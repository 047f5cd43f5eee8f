"""The standard ``queue`` module on green waits (Eventlet's ``eventlet.green.Queue``):
``Queue``, ``LifoQueue``, ``PriorityQueue`` and ``SimpleQueue`` with the standard library's
signatures (``maxsize`` 0 or less: unbounded, as there), ``Empty`` and ``Full`` the standard
ones. A ``get`` or ``put`` that must wait suspends only the calling green thread."""

import queue as _real

from .. import queue as _green

__all__ = ["Empty", "Full", "Queue", "PriorityQueue", "LifoQueue", "SimpleQueue"]
__patched__ = ["Queue", "PriorityQueue", "LifoQueue", "SimpleQueue"]

Empty = _real.Empty
Full = _real.Full
if hasattr(_real, "ShutDown"):
    ShutDown = _real.ShutDown


def _bounded(maxsize):
    # The standard library's 0 (and anything below 1) is unbounded; greenhub's is a channel.
    return maxsize if maxsize and maxsize > 0 else None


class Queue(_green.Queue):
    def __init__(self, maxsize=0):
        _green.Queue.__init__(self, _bounded(maxsize))


class PriorityQueue(_green.PriorityQueue):
    def __init__(self, maxsize=0):
        _green.PriorityQueue.__init__(self, _bounded(maxsize))


class LifoQueue(_green.LifoQueue):
    def __init__(self, maxsize=0):
        _green.LifoQueue.__init__(self, _bounded(maxsize))


class SimpleQueue(_green.LightQueue):
    """An unbounded FIFO queue, the standard ``SimpleQueue``'s API: ``put`` never waits."""

    def __init__(self):
        _green.LightQueue.__init__(self, None)

    def put(self, item, block=True, timeout=None):
        _green.LightQueue.put(self, item)

    def put_nowait(self, item):
        _green.LightQueue.put(self, item)
