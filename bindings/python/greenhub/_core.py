"""The machinery under the public modules: green-thread identity, raising into a green thread,
Timeout bookkeeping, the blocking-call wrappers, the Ctrl-C watcher and spawning.

How a blocking call works. Every gh_* call is made through ``ctypes.CDLL``, which releases
the GIL around it. In a green thread the call suspends the thread's C stack (and with it the
thread's own interpreter thread state) and the hub runs others; in the main program (the
*root*) the call runs the hub until it can complete.

Raising into a green thread (``kill``, SystemExit forwarding): the exception is stored in
``_pending`` under the thread's id and the thread's pending blocking call is made to fail with
EINTR (``gh_interrupt``). Every wrapper here checks ``_pending`` before blocking and after an
EINTR, and raises what it finds; an EINTR with nothing pending just retries.

Timeouts: each green thread keeps a list of its started ``Timeout`` objects and at most one
native deadline scope (``gh_deadline_push``) set to the earliest of them. A blocking call
failing with ETIMEDOUT raises the expired ``Timeout`` (or its exception); otherwise ETIMEDOUT
is the call's own timeout (a socket timeout, ``acquire(timeout=...)``).
"""

import ctypes
import errno
import math
import os
import signal
import socket
import sys
import threading
import time
import traceback
from ctypes import byref

from . import _lib
from ._lib import lib, pylib, get_errno

monotonic = time.monotonic

_STACK_BOUNDS_CALL = "PyUnstable_ThreadState_SetStackProtection"


def _refusal(err):
    """Why gh_py_init refused this interpreter (the ImportError's message)."""
    version = "%d.%d.%d" % sys.version_info[:3]
    if err == errno.ENOTSUP and sys.version_info >= (3, 14):
        if hasattr(ctypes.pythonapi, _STACK_BOUNDS_CALL):
            return (
                "greenhub: CPython %s refuses the 1 MiB stacks of Python green threads (%s)"
                % (version, _STACK_BOUNDS_CALL)
            )
        return (
            "greenhub: CPython %s lacks %s, which Python green threads need from CPython 3.14 "
            "on (it tells CPython where each green thread's stack is; without it every object a "
            "green thread frees is leaked): use CPython 3.14.1 or later"
            % (version, _STACK_BOUNDS_CALL)
        )
    if err == errno.ENOTSUP:
        return "greenhub: the Python shim needs CPython 3.9 or later, not %s" % version
    return "greenhub: gh_py_init failed on CPython %s (%s)" % (
        version,
        os.strerror(err) if err else "unknown error",
    )


if pylib.gh_py_init() != 0:
    raise ImportError(_refusal(get_errno()))

#: The OS thread whose hub the Python green threads live on (the importing thread).
HUB_THREAD = threading.get_ident()

EINTR = errno.EINTR
ETIMEDOUT = errno.ETIMEDOUT
EAGAIN = errno.EAGAIN
ECANCELED = errno.ECANCELED
EDEADLK = errno.EDEADLK


class GreenletExit(BaseException):
    """Raised into a green thread by ``kill()`` (the default). Like greenlet's GreenletExit it
    is a BaseException; a green thread ending with it is not reported."""


class DeadlockError(RuntimeError):
    """The main program would wait forever: nothing (no green thread, timer or I/O) can ever
    complete what it waits for. Eventlet hangs in that situation; greenhub detects it."""


_DEADLOCK_TEXT = (
    "This operation would block forever: the main program is waiting for something no green "
    "thread, timer or I/O can ever provide (greenhub detected a deadlock)"
)


if issubclass(socket.timeout, TimeoutError):
    SocketTimeout = socket.timeout
else:  # Python 3.9: socket.timeout is not yet TimeoutError; raise something that is both

    class SocketTimeout(socket.timeout, TimeoutError):
        pass

    SocketTimeout.__module__ = "socket"
    SocketTimeout.__name__ = SocketTimeout.__qualname__ = "timeout"


def error_from_errno(err, what=None):
    """The Python exception for a greenhub errno."""
    if err == ECANCELED:
        return GreenletExit()
    if err == EDEADLK:
        return DeadlockError(_DEADLOCK_TEXT)
    if err == ETIMEDOUT:
        return SocketTimeout("timed out")
    if err in (errno.ENOMEM,):
        return MemoryError(what or os.strerror(err))
    return OSError(err, os.strerror(err))


def make_exception(throw_args):
    """An exception instance from ``raise``-like arguments: (), (class), (instance),
    (class, value), (class, value, traceback)."""
    if not throw_args:
        return GreenletExit()
    typ = throw_args[0]
    val = throw_args[1] if len(throw_args) > 1 else None
    tb = throw_args[2] if len(throw_args) > 2 else None
    if isinstance(typ, BaseException):
        exc = typ
    elif isinstance(val, BaseException):
        exc = val
    elif val is None:
        exc = typ()
    elif isinstance(val, tuple):
        exc = typ(*val)
    else:
        exc = typ(val)
    if tb is not None:
        exc = exc.with_traceback(tb)
    return exc


# ---------------------------------------------------------------------------------------------
# Identity: which green thread runs

_tls = threading.local()  # each green thread has its own interpreter thread state


class Greenlet:
    """What ``getcurrent()`` returns and ``spawn_n()`` gives back: a handle on one green thread
    (the main program's is the root). ``bool(g)`` is true while it runs (started, not dead),
    as for a greenlet."""

    __slots__ = ("_gid", "_started", "_dead", "_pre_exc", "__weakref__", "__dict__")

    parent = None

    def __init__(self):
        self._gid = None
        self._started = False
        self._dead = False
        self._pre_exc = None

    @property
    def dead(self):
        return self._dead

    def __bool__(self):
        return self._started and not self._dead

    def throw(self, *throw_args):
        """Raises the exception in this green thread (as ``kill``)."""
        kill(self, *throw_args)

    def _finish(self, result, exc):
        """Called in the thread when its function ended (spawn_n flavour: nothing stored)."""
        if exc is not None:
            report_exception(exc)

    def __repr__(self):
        state = "dead" if self._dead else ("running" if self._started else "not started")
        return "<%s %s at %s>" % (type(self).__name__, state, hex(id(self)))


class _Root(Greenlet):
    __slots__ = ()

    def __init__(self):
        Greenlet.__init__(self)
        self._gid = 0
        self._started = True

    def __repr__(self):
        return "<greenhub root (main program)>"


root = _Root()


def getcurrent():
    """The running green thread: the GreenThread (or greenlet-like object) that spawn() or
    spawn_n() returned for it, or the root object in the main program."""
    return getattr(_tls, "current", root)


def current_id():
    return lib.gh_self()


# ---------------------------------------------------------------------------------------------
# Raising into a thread

_pending = {}  # gid -> exception to raise at its next blocking point
_live = {}  # gid -> Greenlet, for every Python green thread not yet ended


def check_pending():
    """Raises the exception pending for the calling thread, if any."""
    if _pending:
        exc = _pending.pop(lib.gh_self(), None)
        if exc is not None:
            raise exc
    if _deferred_closes:
        run_deferred_closes()


def discard_pending(exc):
    """``exc`` reached the calling thread another way: do not raise it a second time."""
    if _pending:
        gid = lib.gh_self()
        if _pending.get(gid) is exc:
            del _pending[gid]


def raise_into(gid, exc):
    """Makes green thread ``gid`` (0: the root) raise ``exc`` at its pending or next blocking
    call."""
    _pending[gid] = exc
    lib.gh_interrupt(gid)


def forward_to_root(exc):
    """SystemExit / KeyboardInterrupt escaping a green thread go to the main program."""
    raise_into(0, exc)


def report_exception(exc, skip_frames=1):
    """Prints an exception that ended a green thread, as Eventlet's hub does; GreenletExit is
    silent; SystemExit and KeyboardInterrupt go to the main program instead."""
    if isinstance(exc, GreenletExit):
        return
    if isinstance(exc, (SystemExit, KeyboardInterrupt)):
        forward_to_root(exc)
        return
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    try:
        traceback.print_exception(type(exc), exc, tb)
        sys.stderr.flush()
    except Exception:
        pass


# Sockets collected on another OS thread (a tpool worker's garbage collection) are closed by
# the hub's thread later: handles belong to their hub.
_deferred_closes = []


def run_deferred_closes():
    while _deferred_closes:
        h = _deferred_closes.pop()
        lib.gh_close(h)


# ---------------------------------------------------------------------------------------------
# Timeouts (the Timeout class is in greenhub.timeout; this is its per-thread bookkeeping)

_timeouts = {}  # gid -> list of started Timeout objects (each has _deadline, _owner)
_scoped = set()  # gids with a native deadline scope pushed by us
_dirty = set()  # gids whose native scope is stale (a Timeout cancelled from another thread)


def _resync(gid):
    """Sets the calling thread's (== gid) native deadline to its earliest Timeout."""
    if gid in _scoped:
        lib.gh_deadline_pop()
        _scoped.discard(gid)
    _dirty.discard(gid)
    started = _timeouts.get(gid)
    if not started:
        _timeouts.pop(gid, None)
        return
    earliest = min(t._deadline for t in started)
    ms = max(0, math.ceil((earliest - monotonic()) * 1000.0))
    if lib.gh_deadline_push(min(ms, 2**62)) == 0:
        _scoped.add(gid)


def timeout_start(t, seconds):
    gid = lib.gh_self()
    t._owner = gid
    t._deadline = monotonic() + max(0.0, float(seconds))
    _timeouts.setdefault(gid, []).append(t)
    _resync(gid)


def timeout_cancel(t):
    """Returns True if ``t`` was started and not fired yet."""
    gid = t._owner
    started = _timeouts.get(gid)
    if not started or t not in started:
        return False
    started.remove(t)
    if lib.gh_self() == gid:
        _resync(gid)
    else:
        _dirty.add(gid)
    return True


def timeouts_active(gid):
    return bool(_timeouts.get(gid))


def check_timeouts(gid=None, slack=0.001):
    """After ETIMEDOUT (or a yield): raises the calling thread's expired Timeout, if any.
    Returns True if the native deadline was stale (the caller should retry), else False."""
    if gid is None:
        gid = lib.gh_self()
    started = _timeouts.get(gid)
    if started:
        now = monotonic() + slack
        expired = [t for t in started if t._deadline <= now]
        if expired:
            t = min(expired, key=lambda x: x._deadline)
            started.remove(t)
            _resync(gid)
            raise t._exception_to_raise()
    if gid in _dirty:
        _resync(gid)
        return True
    return False


def _thread_ended(gid):
    _pending.pop(gid, None)
    _timeouts.pop(gid, None)
    _scoped.discard(gid)
    _dirty.discard(gid)
    _live.pop(gid, None)


# ---------------------------------------------------------------------------------------------
# The Ctrl-C watcher and deadlock detection
#
# CPython runs signal handlers only when Python code runs. While every green thread waits and
# the root waits in the hub, nothing runs: Ctrl-C would go unnoticed. The watcher is a green
# thread waiting for the bytes CPython's signal handler writes to the wakeup fd
# (signal.set_wakeup_fd); when it wakes, the Python-level handler runs in it (raising
# KeyboardInterrupt there), and the watcher forwards the exception to the root.
#
# A thread waiting for I/O means the hub can never find the root deadlocked (EDEADLK), so the
# watcher steps aside (parks) while the root waits in an untimed synchronisation wait (an
# Event, a Queue, a semaphore, a join) and no green thread waits for I/O or a timer; as soon
# as one does, the watcher comes back.

_busy = 0  # blocking calls in progress that I/O or a timer may end
_root_sync = False  # the root waits in an untimed sync wait with the watcher asked to park
_watch_park = False  # the watcher should park
_watcher_gid = 0
_watcher_parked = False
_wake_w = None  # the write end's fd given to signal.set_wakeup_fd
_watch_h = 0


def _watcher_wake():
    """Brings the watcher back to watching (a green thread started an I/O or timed wait)."""
    global _root_sync, _watch_park
    _root_sync = False
    if _watch_park:
        _watch_park = False
        lib.gh_unpark(_watcher_gid, None)


def root_sync_begin():
    """The root is about to wait for another green thread only: let the watcher park so the
    hub can detect a deadlock. Returns True if it was asked to."""
    global _root_sync, _watch_park
    if not _watcher_gid or _busy > 0 or _timeouts.get(0):
        return False
    _root_sync = True
    if not _watch_park:
        _watch_park = True
        lib.gh_interrupt(_watcher_gid)
    return True


def root_sync_end():
    global _root_sync, _watch_park
    _root_sync = False
    if _watch_park:
        _watch_park = False
        lib.gh_unpark(_watcher_gid, None)


def _watch():
    while True:
        try:
            _watch_loop()
            return
        except BaseException as e:  # KeyboardInterrupt or SystemExit from a signal handler
            try:
                forward_to_root(e)
            except BaseException:
                pass


def _watch_loop():
    global _watcher_parked
    fd = lib.gh_fileno(_watch_h)
    while True:
        if _watch_park:
            _watcher_parked = True
            try:
                lib.gh_park(None)
            finally:
                _watcher_parked = False
            continue
        # Edge-triggered readiness: drain until EAGAIN first, then wait.
        got = False
        try:
            while os.read(fd, 512):
                got = True
        except BlockingIOError:
            pass
        except OSError:
            return  # the socket is gone
        if got:
            _signal_checkpoint()
            # Python 3.13+ runs signal handlers only in the main thread state (the root's):
            # wake the root so its pending call returns (EINTR) and Python runs the handler.
            # Before 3.13 the handler has usually run here already (KeyboardInterrupt above).
            lib.gh_interrupt(0)
        if lib.gh_wait_readable(_watch_h) == -1:
            if get_errno() not in (EINTR, ETIMEDOUT, EAGAIN):
                return


# Python 3.13+ runs signal handlers only in the main thread state (the root's).
_SIGNALS_IN_ROOT_ONLY = sys.version_info >= (3, 13)
_watch_fd = -1


def _poll_wakeup():
    """While the watcher is parked, a green thread about to switch checks the wakeup fd
    itself (3.13+: only the root can run the handler, so it is woken)."""
    got = False
    try:
        while os.read(_watch_fd, 512):
            got = True
    except OSError:
        pass
    if got:
        lib.gh_interrupt(0)


def _signal_checkpoint():
    """A Python call: CPython runs pending signal handlers at call boundaries."""
    return None


def _start_watcher():
    global _wake_w, _watch_h, _watcher_gid
    if threading.get_ident() != threading.main_thread().ident:
        return
    if os.environ.get("GREENHUB_NO_SIGNAL_WATCH"):
        return
    r, w = socket.socketpair()
    try:
        w.setblocking(False)
        r.setblocking(False)
        old = signal.set_wakeup_fd(w.fileno(), warn_on_full_buffer=False)
        if old != -1:  # somebody else (asyncio?) uses it: leave theirs in place
            signal.set_wakeup_fd(old)
            r.close()
            w.close()
            return
    except (ValueError, OSError):
        r.close()
        w.close()
        return
    fd = r.detach()
    h = lib.gh_adopt(fd)
    if h == -1:
        os.close(fd)
        signal.set_wakeup_fd(-1)
        w.close()
        return
    _wake_w = w.detach()  # a bare fd: never closed, never collected
    _watch_h = h
    global _watch_fd
    _watch_fd = lib.gh_fileno(h)
    _watcher_gid = spawn_raw(_watch, ())


# ---------------------------------------------------------------------------------------------
# Blocking calls


def io_call(fn, *args):
    """Runs a blocking gh_* call that returns -1 and sets errno on failure (a socket or thread
    pool operation). Returns its result; raises the pending exception, the expired Timeout,
    ``socket.timeout`` for the socket's own timeout, or the OSError."""
    global _busy
    while True:
        if _pending or _deferred_closes:
            check_pending()
        _busy += 1
        try:
            if _root_sync:
                _watcher_wake()
            r = fn(*args)
        finally:
            _busy -= 1
        if r != -1:
            return r
        err = get_errno()
        if err == EINTR:
            continue
        if err == ETIMEDOUT:
            if (_timeouts or _dirty) and check_timeouts():
                continue
            raise SocketTimeout("timed out")
        raise error_from_errno(err)


def io_call_once(fn, *args):
    """Like io_call, for a call that must not be repeated (a thread-pool job): an EINTR with
    nothing pending raises InterruptedError instead of retrying."""
    global _busy
    if _pending or _deferred_closes:
        check_pending()
    _busy += 1
    try:
        if _root_sync:
            _watcher_wake()
        r = fn(*args)
    finally:
        _busy -= 1
    if r != -1:
        return r
    err = get_errno()
    if err == EINTR:
        check_pending()
    elif err == ETIMEDOUT and (_timeouts or _dirty):
        check_timeouts()
    raise error_from_errno(err)


def sync_call(fn, *args, timed=False):
    """Runs a blocking gh_* synchronisation call (a semaphore acquire). Returns its result, or
    None if it timed out on its own timeout (``timed``: it has one); raises as io_call does."""
    global _busy
    gid = lib.gh_self()
    while True:
        if _pending or _deferred_closes:
            check_pending()
        counted = timed or (gid in _timeouts)
        parked_watcher = False
        if counted:
            _busy += 1
        elif gid == 0:
            parked_watcher = root_sync_begin()
        elif _watch_park and _SIGNALS_IN_ROOT_ONLY:
            _poll_wakeup()
        try:
            if counted and _root_sync:
                _watcher_wake()
            r = fn(*args)
        finally:
            if counted:
                _busy -= 1
            if parked_watcher:
                root_sync_end()
        if r != -1:
            return r
        err = get_errno()
        if err == EINTR:
            continue
        if err == ETIMEDOUT:
            if (_timeouts or _dirty) and check_timeouts(gid):
                continue
            if timed:
                return None
        raise error_from_errno(err)


_gh_yield = lib.gh_yield


def _yield():
    if _pending or _deferred_closes:
        check_pending()
    if _watch_park and _SIGNALS_IN_ROOT_ONLY:
        _poll_wakeup()
    if _gh_yield() == -1:
        raise error_from_errno(get_errno())
    if _pending:
        check_pending()
    if _timeouts:
        _after_yield_timeouts()


def _after_yield_timeouts():
    gid = lib.gh_self()
    if gid in _timeouts:
        check_timeouts(gid, slack=0.0)


def sleep(seconds=0):
    """Yields to other green threads until at least ``seconds`` have passed; 0 (the default)
    is a cooperative yield: every other runnable green thread runs once."""
    global _busy
    if seconds is None or seconds <= 0:
        # _yield() written out: sleep(0) is the Python switch, and a call costs as much as
        # the checks around it.
        if _pending or _deferred_closes:
            check_pending()
        if _watch_park and _SIGNALS_IN_ROOT_ONLY:
            _poll_wakeup()
        if _gh_yield() == -1:
            raise error_from_errno(get_errno())
        if _pending:
            check_pending()
        if _timeouts:
            _after_yield_timeouts()
        return
    end = monotonic() + seconds
    while True:
        if _pending or _deferred_closes:
            check_pending()
        left = end - monotonic()
        if left <= 0:
            _yield()
            return
        ms = min(max(1, math.ceil(left * 1000.0)), 2**62)
        _busy += 1
        try:
            if _root_sync:
                _watcher_wake()
            r = lib.gh_sleep(ms)
        finally:
            _busy -= 1
        if r == 0:
            if _pending:
                check_pending()
            if monotonic() >= end - 0.0005:
                return
            continue
        err = get_errno()
        if err == EINTR:
            continue
        if err == ETIMEDOUT:
            if (_timeouts or _dirty) and check_timeouts():
                continue
            return  # not one of ours: nothing to raise
        raise error_from_errno(err)


class Waiter:
    """One green thread waiting to be handed something by another: the base of Event and
    the queues. Built on gh_park / gh_unpark; spurious wake-ups are ignored."""

    __slots__ = ("gid", "done", "value")

    def __init__(self):
        self.gid = lib.gh_self()
        self.done = False
        self.value = None

    def deliver(self, value=None):
        """Hands ``value`` over and wakes the waiter (never blocks). False if already done."""
        if self.done:
            return False
        self.done = True
        self.value = value
        lib.gh_unpark(self.gid, None)
        return True

    def wait(self, timeout=None):
        """Waits until delivered: True; False if ``timeout`` (seconds) passed first. Raises a
        pending exception or an expired Timeout."""
        global _busy
        end = None if timeout is None else monotonic() + max(0.0, timeout)
        gid = self.gid
        while not self.done:
            if _pending or _deferred_closes:
                check_pending()
            parked_watcher = False
            pushed = False
            counted = end is not None or gid in _timeouts
            ms = -1
            if end is not None:
                left = end - monotonic()
                if left <= 0:
                    return False
                ms = min(max(1, math.ceil(left * 1000.0)), 2**62)
            if counted:
                _busy += 1
            elif gid == 0:
                parked_watcher = root_sync_begin()
            elif _watch_park and _SIGNALS_IN_ROOT_ONLY:
                _poll_wakeup()
            try:
                if ms >= 0:
                    pushed = lib.gh_deadline_push(ms) == 0
                if counted and _root_sync:
                    _watcher_wake()
                r = lib.gh_park(None)
                err = get_errno() if r == -1 else 0
            finally:
                if pushed:
                    lib.gh_deadline_pop()
                if counted:
                    _busy -= 1
                if parked_watcher:
                    root_sync_end()
            if r == 0 or self.done:
                continue
            if err == EINTR:
                continue
            if err == ETIMEDOUT:
                if (_timeouts or _dirty) and check_timeouts(gid):
                    continue
                if end is not None:
                    return False  # its own timeout
            raise error_from_errno(err)
        return True


# ---------------------------------------------------------------------------------------------
# Spawning

_spawn_opts = _lib.GhSpawnOpts()
_spawn_opts.detached = True
_spawn_opts_ref = byref(_spawn_opts)


def spawn_raw(func, args):
    """Starts a native Python green thread running func(*args); returns its id."""
    gid = pylib.gh_py_spawn(func, args, {}, _spawn_opts_ref)
    if gid == -1:
        err = get_errno()
        if err in (errno.ENOMEM, errno.EAGAIN):
            raise MemoryError("greenhub: cannot spawn a green thread: no stack could be mapped")
        raise OSError(err, os.strerror(err))
    return gid


def bootstrap(glet, func, args, kwargs, delay):
    """The body of every Python green thread the shim starts."""
    _tls.current = glet
    gid = glet._gid
    if gid is None:
        gid = glet._gid = lib.gh_self()
    try:
        try:
            # A zero delay is no wait at all: Eventlet's spawn_after(0, f) is spawn(f), whose
            # f has started after its spawner's next sleep(0).
            if delay and glet._pre_exc is None:
                try:
                    sleep(delay)
                except BaseException:
                    if glet._pre_exc is None:
                        raise
            if glet._pre_exc is not None:
                return  # killed before it started: kill() already finished it
            glet._started = True
            try:
                result = func(*args, **kwargs)
            except BaseException as e:
                glet._finish(None, e)
            else:
                glet._finish(result, None)
        except BaseException as e:  # raised outside the function (a signal, a link)
            report_exception(e, skip_frames=0)
    finally:
        glet._dead = True
        _thread_ended(gid)


def start(glet, func, args, kwargs, delay=None):
    gid = spawn_raw(bootstrap, (glet, func, args, kwargs, delay))
    glet._gid = gid
    _live[gid] = glet
    return glet


def kill(g, *throw_args):
    """Raises an exception (GreenletExit by default) in green thread ``g`` at the point where
    it waits; a thread that has not started yet never runs. The caller then yields."""
    if g._dead:
        return
    exc = make_exception(throw_args)
    current = getcurrent()
    if not g._started:
        g._pre_exc = exc
        g._dead = True
        g._finish(None, exc)
        if g._gid:
            raise_into(g._gid, exc)  # a spawn_after thread waiting for its start time
    elif g is current:
        raise exc
    else:
        raise_into(g._gid, exc)
    if current is not g:
        sleep(0)


# ---------------------------------------------------------------------------------------------
# Stack overflow: the hub stops the thread (its frames are leaked, never unwound); the report
# names it. Finish its GreenThread from a fresh green thread so waiters get an exception.

class StackOverflowError(RecursionError):
    """A green thread ran out of C stack; it was stopped (its frames are abandoned)."""


def _on_report(ctx, report):
    try:
        r = report.contents
        sys.stderr.write(r.text.decode("utf-8", "replace") + "\n")
        sys.stderr.flush()
        if r.kind == _lib.GH_REPORT_STACK_OVERFLOW:
            gid = r.thread
            glet = _live.pop(gid, None)
            if glet is not None and not glet._dead:
                spawn_raw(_finish_overflowed, (glet, gid))
    except BaseException:
        pass


def _finish_overflowed(glet, gid):
    glet._dead = True
    _thread_ended(gid)
    try:
        glet._finish(
            None, StackOverflowError("green thread %d overflowed its C stack and was stopped" % gid)
        )
    except BaseException as e:
        report_exception(e, skip_frames=0)


_report_cb = _lib.GH_LOG_FN(_on_report)
lib.gh_set_log(_report_cb, None)

_start_watcher()


__all__ = [
    "GreenletExit",
    "DeadlockError",
    "StackOverflowError",
    "getcurrent",
    "sleep",
    "kill",
    "Greenlet",
    "Waiter",
]
