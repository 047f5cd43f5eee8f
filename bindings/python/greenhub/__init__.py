"""greenhub: Eventlet's core API on greenhub's native hub, pure Python over ctypes.

``import greenhub as eventlet`` runs programs written against Eventlet's core API: green
threads (spawn, spawn_n, spawn_after, sleep, kill, GreenPool, GreenPile), synchronisation
(Event, Semaphore, BoundedSemaphore, CappedSemaphore, Queue, LightQueue, PriorityQueue,
LifoQueue, Timeout) and green sockets (listen, connect, serve). See bindings/python/README.md
for the differences from Eventlet.
"""

from . import _lib
from . import _errors
from . import timeout
from . import event
from . import semaphore
from . import queue
from . import greenthread
from . import greenpool
from . import greenio
from . import tpool
from . import convenience
from . import hubs
from . import patcher

__version__ = _lib.lib.gh_version().decode("ascii")

connect = convenience.connect
listen = convenience.listen
serve = convenience.serve
StopServe = convenience.StopServe

GreenSocket = greenio.GreenSocket

monkey_patch = patcher.monkey_patch
import_patched = patcher.import_patched
trampoline = hubs.trampoline

Event = event.Event

GreenPool = greenpool.GreenPool
GreenPile = greenpool.GreenPile

GreenThread = greenthread.GreenThread
sleep = greenthread.sleep
spawn = greenthread.spawn
spawn_n = greenthread.spawn_n
spawn_after = greenthread.spawn_after
spawn_after_local = greenthread.spawn_after_local
kill = greenthread.kill
getcurrent = greenthread.getcurrent
GreenletExit = _errors.GreenletExit
DeadlockError = _errors.DeadlockError
StackOverflowError = _errors.StackOverflowError

Queue = queue.Queue
LightQueue = queue.LightQueue
PriorityQueue = queue.PriorityQueue
LifoQueue = queue.LifoQueue

Semaphore = semaphore.Semaphore
CappedSemaphore = semaphore.CappedSemaphore
BoundedSemaphore = semaphore.BoundedSemaphore

Timeout = timeout.Timeout
with_timeout = timeout.with_timeout
wrap_is_timeout = timeout.wrap_is_timeout
is_timeout = timeout.is_timeout

__all__ = [
    "connect",
    "listen",
    "serve",
    "StopServe",
    "GreenSocket",
    "monkey_patch",
    "import_patched",
    "trampoline",
    "patcher",
    "hubs",
    "Event",
    "GreenPool",
    "GreenPile",
    "GreenThread",
    "sleep",
    "spawn",
    "spawn_n",
    "spawn_after",
    "spawn_after_local",
    "kill",
    "getcurrent",
    "GreenletExit",
    "DeadlockError",
    "StackOverflowError",
    "Queue",
    "LightQueue",
    "PriorityQueue",
    "LifoQueue",
    "Semaphore",
    "CappedSemaphore",
    "BoundedSemaphore",
    "Timeout",
    "with_timeout",
    "wrap_is_timeout",
    "is_timeout",
    "tpool",
]
