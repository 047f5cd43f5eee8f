"""Running blocking functions on native worker threads (Eventlet's ``eventlet.tpool``).

``execute(meth, *args, **kwargs)`` runs the call on greenhub's thread pool (gh_tpool_execute):
only the calling green thread waits, the hub keeps serving the others. The function runs on
another OS thread and takes the GIL like any Python thread; it must not use green sockets or
other greenhub objects (they belong to the hub's thread). ``Proxy(obj)`` runs every method of
``obj`` that way.

The pool has 20 workers unless ``GREENHUB_TPOOL_SIZE`` or, as in Eventlet,
``EVENTLET_THREADPOOL_SIZE`` says otherwise (the first wins); 0 makes ``execute`` call the
function in the calling green thread, with a RuntimeWarning, as Eventlet does.
"""

import itertools
import os
import threading
import traceback
import warnings

from ._hub import ONCE, block, hub, os_thread_ident
from ._lib import GH_TPOOL_FN, lib
from ._waiter import Waiter

__all__ = ["execute", "Proxy", "proxy_call", "set_num_threads", "get_num_threads", "killall",
           "setup"]

_jobs = {}  # token -> _Job, while its caller waits for it
_tokens = itertools.count(1)
_worker = threading.local()

#: False: a function that raises on a worker has its traceback printed there too
#: (``debug.tpool_exceptions``), as Eventlet's ``tpool.QUIET``.
QUIET = True


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
        if not QUIET:
            traceback.print_exc()
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
    if _inline is not False:  # a pool of 0 threads
        setup()
        return meth(*args, **kwargs)
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
    """Sets the number of worker threads (default 20, or GREENHUB_TPOOL_SIZE, or
    EVENTLET_THREADPOOL_SIZE); 0 makes execute() call functions in the calling thread."""
    global _inline
    nthreads = int(nthreads)
    if nthreads < 0:
        raise ValueError("Can't specify negative number of threads")
    _inline = False if nthreads else None
    if nthreads and lib.gh_tpool_set_size(nthreads) == -1:
        raise ValueError("the thread pool needs at least one thread")


def get_num_threads():
    return 0 if _inline is not False else lib.gh_tpool_get_size()


def setup():
    """Workers start on demand; this only warns, once, if the pool has no threads (Eventlet
    does the same)."""
    global _inline
    if _inline is None:
        _inline = True
        warnings.warn(
            "Zero threads in tpool. All tpool.execute calls will execute in the calling "
            "thread. Check the value of the environment variable EVENTLET_THREADPOOL_SIZE.",
            RuntimeWarning,
            stacklevel=3,
        )


def killall():
    """Nothing to do: idle workers leave by themselves, and execute() works again after it
    (Eventlet's stops its threads, which its next execute() starts again)."""


# False: the pool runs the calls; None: 0 threads, nobody warned yet; True: 0 threads, warned.
_inline = False
_size = os.environ.get("GREENHUB_TPOOL_SIZE") or os.environ.get("EVENTLET_THREADPOOL_SIZE")
if _size:
    set_num_threads(_size)
del _size


def proxy_call(autowrap, f, *args, **kwargs):
    """Calls ``f(*args, **kwargs)`` on the thread pool (in the calling thread if the keyword
    ``nonblocking`` is true) and returns the result, wrapped in a Proxy if it is an instance
    of one of the types in ``autowrap``."""
    if kwargs.pop("nonblocking", False):
        result = f(*args, **kwargs)
    else:
        result = execute(f, *args, **kwargs)
    if autowrap and isinstance(result, autowrap):
        return Proxy(result, autowrap)
    return result


class Proxy:
    """Wraps ``obj`` so that every method call on it runs on the thread pool (``execute``):
    for objects with a methods-only interface that block (a database connection, a library
    without green I/O). The methods must not use greenhub's objects: they run on other OS
    threads.

    ``autowrap``: types; an attribute or a method's result that is an instance of one is
    wrapped in a Proxy too (e.g. the cursors of a connection). ``autowrap_names``: names of
    attributes wrapped that way (a method of that name has its result wrapped). Plain
    attribute reads, ``==``, ``hash``, ``repr``, ``str``, ``len`` and ``bool`` do not go
    through the pool; ``[]``, ``()``, ``with``, iteration and ``next`` do.
    """

    def __init__(self, obj, autowrap=(), autowrap_names=()):
        self._obj = obj
        self._autowrap = tuple(autowrap)
        self._autowrap_names = autowrap_names

    def __getattr__(self, name):
        value = getattr(self._obj, name)
        if not callable(value):
            wrapped_type = self._autowrap and isinstance(value, self._autowrap)
            if wrapped_type or name in self._autowrap_names:
                return Proxy(value, self._autowrap)
            return value
        wrap_result = name in self._autowrap_names
        autowrap = self._autowrap

        def call(*args, **kwargs):
            result = proxy_call(autowrap, value, *args, **kwargs)
            if wrap_result and not isinstance(result, Proxy):
                return Proxy(result)
            return result

        return call

    def __getitem__(self, key):
        return proxy_call(self._autowrap, self._obj.__getitem__, key)

    def __setitem__(self, key, value):
        return proxy_call(self._autowrap, self._obj.__setitem__, key, value)

    def __deepcopy__(self, memo=None):
        return proxy_call(self._autowrap, self._obj.__deepcopy__, memo)

    def __copy__(self, memo=None):
        return proxy_call(self._autowrap, self._obj.__copy__, memo)

    def __call__(self, *args, **kwargs):
        result = proxy_call(self._autowrap, self._obj, *args, **kwargs)
        if "__call__" in self._autowrap_names:
            return Proxy(result)
        return result

    def __enter__(self):
        return proxy_call(self._autowrap, self._obj.__enter__)

    def __exit__(self, *exc):
        return proxy_call(self._autowrap, self._obj.__exit__, *exc)

    def __eq__(self, other):
        return self._obj == other

    def __hash__(self):
        return hash(self._obj)

    def __repr__(self):
        return repr(self._obj)

    def __str__(self):
        return str(self._obj)

    def __len__(self):
        return len(self._obj)

    def __bool__(self):
        return bool(self._obj)

    def __iter__(self):
        it = iter(self._obj)
        return self if it is self._obj else Proxy(it)

    def __next__(self):
        return proxy_call(self._autowrap, next, self._obj)

    next = __next__
