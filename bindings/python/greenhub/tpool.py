"""Running blocking functions on native worker threads (Eventlet's ``eventlet.tpool``).

``execute(meth, *args, **kwargs)`` runs the call on greenhub's thread pool (gh_tpool_execute):
only the calling green thread waits, the hub keeps serving the others. The function runs on
another OS thread and takes the GIL like any Python thread; it must not use green sockets or
other greenhub objects (they belong to the hub's thread).
"""

import itertools
import threading

from ._hub import ONCE, block, hub, os_thread_ident
from ._lib import GH_TPOOL_FN, lib
from ._waiter import Waiter

__all__ = ["execute", "set_num_threads", "get_num_threads", "killall", "setup"]

_jobs = {}  # token -> _Job, while its caller waits for it
_tokens = itertools.count(1)
_worker = threading.local()


class _Job:
    __slots__ = ("func", "args", "kwargs", "result", "exc", "waiter")

    def __init__(self, func, args, kwargs):
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.result = None
        self.exc = None
        self.waiter = Waiter()


def _entry(token):
    """Runs on a worker OS thread (a ctypes callback: it takes the GIL)."""
    job = _jobs.get(token)
    if job is None:
        return None  # the caller gave up (killed, timed out) before the call started
    _worker.active = True
    try:
        job.result = job.func(*job.args, **job.kwargs)
    except BaseException as e:
        job.exc = e
    finally:
        _worker.active = False
    return None


_entry_c = GH_TPOOL_FN(_entry)  # kept alive for the life of the module


def _submit(token, job):
    """A helper green thread waits for the worker, so the caller's own wait (a Waiter) can be
    interrupted and retried freely: the job is submitted exactly once."""
    try:
        block(lib.gh_tpool_execute, (_entry_c, token, None), ONCE)
    except BaseException as e:
        if job.exc is None:
            job.exc = e
    finally:
        job.waiter.deliver()


def execute(meth, *args, **kwargs):
    """Runs ``meth(*args, **kwargs)`` on a worker thread and returns its result (or raises
    its exception) in the calling green thread, which alone waits. Called from a worker
    thread itself (or any thread but the hub's), it just runs the function."""
    if getattr(_worker, "active", False):
        return meth(*args, **kwargs)
    hub.use()
    if os_thread_ident() != hub.thread:
        return meth(*args, **kwargs)
    token = next(_tokens)
    job = _Job(meth, args, kwargs)
    _jobs[token] = job
    try:
        hub.spawn_helper(_submit, (token, job))
        job.waiter.wait()
    finally:
        _jobs.pop(token, None)
    exc = job.exc
    if exc is not None:
        job.exc = None
        raise exc
    return job.result


def set_num_threads(nthreads):
    """Sets the number of worker threads (default 20, or GREENHUB_TPOOL_SIZE)."""
    if lib.gh_tpool_set_size(int(nthreads)) == -1:
        raise ValueError("the thread pool needs at least one thread")


def get_num_threads():
    return lib.gh_tpool_get_size()


def setup():
    """Nothing to do: workers start on demand (Eventlet compatibility)."""


def killall():
    """Nothing to do: idle workers cost nothing (Eventlet compatibility)."""
