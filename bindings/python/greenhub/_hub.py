"""The hub as the shim sees it: one object, ``hub``, holding all of its state; the record of
each green thread (``Greenlet``); spawning and killing; and ``block()``, the one helper every
wait of the shim goes through.

First use. Importing greenhub only checks that this interpreter can run Python green threads
(``gh_py_init``, below). The first spawn, blocking call or socket starts the hub
(:meth:`Hub.start`): the OS thread making it becomes the hub's thread (its thread state the
root's), the library's reports come to the shim (``gh_set_log``: it must see stack
overflows), and the Ctrl-C watcher starts (``_signals``).

How a wait works. Every gh_* call is made through ``ctypes.CDLL``, which releases the GIL
around it. In a green thread the call suspends the thread's C stack (and with it the thread's
own interpreter thread state) and the hub runs others; in the main program (the *root*) the
call runs the hub until it can complete. ``block()`` wraps every such call: it raises what is
pending for the thread, counts the waits a timer or I/O may end (the watcher's cue), gives the
wait its own timeout as a native deadline scope, retries after EINTR, and maps the errno.

Raising into a green thread (``kill``, SystemExit forwarded to the root): the exception is
recorded in ``hub.pending`` for the thread, ``hub.attention`` is set, and the thread's pending
blocking call is made to fail with EINTR (``gh_interrupt``); ``block()`` raises it there, or
at the thread's next wait or yield.
"""

import errno
import os
import sys
import threading
import time
import traceback
from _thread import get_ident as os_thread_ident  # the OS thread's, whatever monkey_patch does
from ctypes import byref

from . import _lib
from ._deadlines import Deadlines, ms_until
from ._errors import (
    GreenletExit,
    SocketTimeout,
    error_from_errno,
    interpreter_refusal,
    make_exception,
)
from ._lib import lib, pylib, get_errno
from ._reports import ReportSink
from ._signals import SIGNALS_IN_ROOT_ONLY, Watcher

__all__ = [
    "hub",
    "Greenlet",
    "root",
    "getcurrent",
    "current",
    "block",
    "NO_VALUE",
    "sleep",
    "kill",
    "report_exception",
    "SYNC",
    "IO",
    "ONCE",
    "os_thread_ident",
]

monotonic = time.monotonic
EINTR = errno.EINTR
ETIMEDOUT = errno.ETIMEDOUT

# ---------------------------------------------------------------------------------------------
# The interpreter check, at import
#
# gh_py_init refuses an interpreter Python green threads cannot run on (ImportError here), and
# installs the library's switch hooks (each green thread's thread state made current as it
# runs; a GIL held through a call that switches released for the switch, or it would freeze
# every thread): both must hold before any gh_* call is made, by the shim or by a program
# calling the library itself. It is called again on the hub's first use, in the thread that
# becomes the hub's, whose thread state it makes the root's.

if pylib.gh_py_init() != 0:
    raise ImportError(interpreter_refusal(get_errno()))


# ---------------------------------------------------------------------------------------------
# Green threads: the record of each, and which one runs


class Greenlet:
    """What ``getcurrent()`` returns and ``spawn_n()`` gives back: a handle on one green thread
    (the main program's is the root), and the hub's record of it: its pending exception is in
    ``hub.pending``, its started Timeouts here (see ``_deadlines``). ``bool(g)`` is true while
    it runs (started, not dead), as for a greenlet."""

    __slots__ = (
        "_gid",
        "_started",
        "_dead",
        "_pre_exc",
        "_timeouts",
        "_scoped",
        "_stale",
        "__weakref__",
        "__dict__",
    )

    parent = None

    def __init__(self):
        self._gid = None
        self._started = False
        self._dead = False
        self._pre_exc = None  # killed before it started: what it was killed with
        self._timeouts = None
        self._scoped = False
        self._stale = False

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


class _Current(threading.local):
    """Each green thread has its own interpreter thread state, hence its own ``thread`` here;
    where none was set (the root, other OS threads) it is the root."""

    thread = root


#: ``current.thread``: the calling green thread's Greenlet.
current = _Current()


def getcurrent():
    """The running green thread: the GreenThread (or greenlet-like object) that spawn() or
    spawn_n() returned for it, or the root object in the main program."""
    return current.thread


# ---------------------------------------------------------------------------------------------
# The hub


class Hub:
    """All the state the shim keeps about the hub (one per process: the shim runs on one OS
    thread's hub)."""

    __slots__ = (
        "thread",  # the hub's OS thread (os_thread_ident()); None until first use
        "attention",  # block() must settle() first: first use, a pending exception, closes
        "pending",  # Greenlet -> the exception to raise in it at its next wait
        "live",  # gid -> Greenlet of every green thread the shim started that has not ended
        "closes",  # handles of sockets collected on another OS thread, for the hub's to close
        "busy",  # waits in progress that I/O or a timer may end
        "deadlines",  # every thread's started Timeouts (_deadlines.Deadlines)
        "reports",  # what receives the library's reports (_reports.ReportSink), or None
        "watcher",  # the Ctrl-C watcher (_signals.Watcher), or None
        "aside",  # the watcher is asked to park: the root waits on another green thread only
    )

    def __init__(self):
        self.thread = None
        self.attention = True
        self.pending = {}
        self.live = {}
        self.closes = []
        self.busy = 0
        self.deadlines = Deadlines()
        self.reports = None
        self.watcher = None
        self.aside = False

    # -- first use ----------------------------------------------------------------------------

    def start(self):
        """First use: the calling OS thread becomes the hub's (its thread state the root's);
        reports come to the shim; the Ctrl-C watcher starts."""
        if pylib.gh_py_init() != 0:
            raise error_from_errno(get_errno())
        self.thread = os_thread_ident()
        self.reports = ReportSink(self)
        lib.gh_set_log(self.reports.c_function, None)
        self.watcher = Watcher.start(self, self.spawn_helper)

    def use(self):
        """The caller is about to use the hub (make a socket, hand it work): starts it on first
        use, and closes the sockets collected on other OS threads."""
        if self.thread is None:
            self.start()
        if self.closes:
            self._close_collected()

    def settle(self):
        """What block() does first when ``attention`` is set: :meth:`use`, then raises the
        exception pending for the calling thread, if any."""
        if self.thread is None:
            self.start()  # first, so that attention stays set if it fails
        self.attention = False
        if self.closes:
            self._close_collected()
        pending = self.pending
        if pending:
            exc = pending.pop(current.thread, None)
            if pending:
                self.attention = True
            if exc is not None:
                raise exc

    def after_yield(self):
        """After a yield: a kill that came while the thread was runnable (it could not make a
        yield fail) and an expired Timeout raise here."""
        if self.attention:
            self.settle()
        me = current.thread
        if me._timeouts is not None:
            self.deadlines.expire(me, slack=0.0)

    # -- sockets collected elsewhere ------------------------------------------------------------

    def defer_close(self, h):
        """Closes socket handle ``h`` later, on the hub's thread (handles belong to their hub;
        this one was collected on another OS thread, e.g. by a thread-pool worker)."""
        self.closes.append(h)
        self.attention = True

    def _close_collected(self):
        if os_thread_ident() != self.thread:
            self.attention = True  # left for the hub's thread
            return
        closes = self.closes
        while closes:
            lib.gh_close(closes.pop())

    # -- raising into a thread ------------------------------------------------------------------

    def raise_into(self, glet, exc):
        """Makes green thread ``glet`` raise ``exc`` at its pending or next wait."""
        self.pending[glet] = exc
        self.attention = True
        lib.gh_interrupt(glet._gid)

    def forward_to_root(self, exc):
        """SystemExit / KeyboardInterrupt escaping a green thread go to the main program."""
        self.raise_into(root, exc)

    def discard_pending(self, exc):
        """``exc`` reached the calling thread another way: do not raise it a second time."""
        me = current.thread
        if self.pending.get(me) is exc:
            del self.pending[me]

    # -- the watcher's dance (see _signals) -----------------------------------------------------

    def watcher_aside(self):
        """The root begins an untimed wait only another green thread can end, while nothing
        waits for I/O or a timer: the watcher parks, so that the hub can tell if nothing can
        ever end the wait (EDEADLK, DeadlockError)."""
        if not self.aside:
            self.aside = True
            lib.gh_interrupt(self.watcher.gid)

    def watcher_back(self):
        """The watcher watches again (the root's wait ended, or I/O or a timer may end one)."""
        if self.aside:
            self.aside = False
            lib.gh_unpark(self.watcher.gid, None)

    # -- threads --------------------------------------------------------------------------------

    def spawn(self, glet, func, args=(), kwargs=None, delay=None):
        """Starts a Python green thread running ``func(*args, **kwargs)`` (after ``delay``
        seconds) as ``glet``; returns ``glet``."""
        if self.thread is None:
            self.start()
        gid = _py_spawn(_run, (glet, func, args, kwargs or _NO_KWARGS, delay), _NO_KWARGS,
                        _SPAWN_OPTS)
        if gid == -1:
            err = get_errno()
            if err in (errno.ENOMEM, errno.EAGAIN):
                raise MemoryError("greenhub: cannot spawn a green thread: no stack could be mapped")
            raise OSError(err, os.strerror(err))
        glet._gid = gid
        self.live[gid] = glet
        return glet

    def spawn_helper(self, func, args=()):
        """A green thread of the shim's own (the watcher, ...); returns its id."""
        return self.spawn(Greenlet(), func, args)._gid

    def thread_ended(self, glet):
        self.pending.pop(glet, None)
        self.deadlines.forget(glet)
        self.live.pop(glet._gid, None)


hub = Hub()

_py_spawn = pylib.gh_py_spawn
_NO_KWARGS = {}  # never modified: _run takes no keyword arguments
_spawn_opts = _lib.GhSpawnOpts()
_spawn_opts.detached = True
_SPAWN_OPTS = byref(_spawn_opts)


def _run(glet, func, args, kwargs, delay):
    """The body of every Python green thread the shim starts."""
    current.thread = glet
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
        hub.thread_ended(glet)


def kill(g, *throw_args):
    """Raises an exception in green thread *g* wherever it waits (GreenletExit by default;
    *throw_args* are the arguments of ``raise`` or an exc_info tuple). A green thread not
    started yet never runs. The caller then yields, so *g* runs its cleanup."""
    if g._dead:
        return
    exc = make_exception(throw_args)
    me = current.thread
    if not g._started:
        g._pre_exc = exc
        g._dead = True
        g._finish(None, exc)
        if g._gid:
            hub.raise_into(g, exc)  # a spawn_after thread waiting for its start time
    elif g is me:
        raise exc
    else:
        hub.raise_into(g, exc)
    if me is not g:
        sleep(0)


#: Whether report_exception prints (``debug.hub_exceptions``).
exceptions_printed = True


def report_exception(exc, skip_frames=1):
    """Prints an exception that ended a green thread, as Eventlet's hub does; GreenletExit is
    silent; SystemExit and KeyboardInterrupt go to the main program instead."""
    if isinstance(exc, GreenletExit):
        return
    if isinstance(exc, (SystemExit, KeyboardInterrupt)):
        hub.forward_to_root(exc)
        return
    if not exceptions_printed:
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


# ---------------------------------------------------------------------------------------------
# The one blocking helper

#: How a wait may end, for block()'s ``how``:
#: only another green thread ends it (gh_park): the root's, if nothing at all can, is found
#: deadlocked (DeadlockError);
SYNC = 0
#: I/O or the call's own timer may end it (a socket call): an ETIMEDOUT that is no Timeout's
#: is the call's own timeout (socket.timeout);
IO = 1
#: as IO, for a call never to be repeated (a thread-pool job): EINTR with nothing pending
#: raises InterruptedError.
ONCE = 3

_push = lib.gh_deadline_push
_pop = lib.gh_deadline_pop
_gh_yield = lib.gh_yield
_gh_park = lib.gh_park
NO_VALUE = (None,)  # gh_park's argument: no value wanted


def block(fn, args=(), how=SYNC, deadline=None, waiter=None):
    """Makes the blocking gh_* call ``fn(*args)`` (-1 and errno on failure) as every wait of
    the shim is made; returns its result, or None once ``deadline`` (a ``time.monotonic()``
    value: the wait's own timeout, a native deadline scope around the call) has passed.

    ``waiter`` (a park: ``fn`` is gh_park) is what the wait is for: an object whose ``done``
    turns true when another green thread hands it something. Until then a wake-up is spurious
    (an unpark kept from an earlier wait) and the wait goes on; once it is done, nothing is
    raised: what failed the call meanwhile (a kill, a Timeout) raises at the next wait.

    Raises the exception pending for the calling thread (kill; SystemExit or Ctrl-C for the
    root), its expired Timeout, socket.timeout (an IO call's own timeout), DeadlockError
    (EDEADLK: the root would wait forever) or the OSError. EINTR with nothing pending is
    retried (ONCE: InterruptedError)."""
    h = hub
    while True:
        if h.attention:
            h.settle()
        if how and deadline is None:
            # I/O (the hot path: recv, send): I/O or the call's own timer ends it, so it counts
            # as busy and brings the watcher back; no scope of its own.
            h.busy += 1
            if h.aside:
                h.watcher_back()
            try:
                r = fn(*args)
            finally:
                h.busy -= 1
            if r != -1:
                return r
            err = get_errno()
        else:
            ms = 0
            if deadline is not None:
                ms = ms_until(deadline)
                if not ms:
                    return None
            # Whether a timer or I/O may end the wait decides the watcher's part (_signals).
            counted = how or ms
            aside = False
            if not counted:
                me = current.thread
                if me._timeouts:
                    counted = True  # one of its Timeouts may end it
                elif h.watcher is not None:
                    if me is root:
                        if not h.busy:
                            aside = True
                            h.watcher_aside()
                    elif h.aside and SIGNALS_IN_ROOT_ONLY:
                        h.watcher.poll()
            if counted:
                h.busy += 1
                if h.aside:
                    h.watcher_back()
            pushed = False
            try:
                if ms:
                    pushed = _push(ms) == 0
                r = fn(*args)
                err = get_errno() if r == -1 else 0  # before the pop, which sets ctypes' errno
            finally:
                if pushed:
                    _pop()
                if counted:
                    h.busy -= 1
                if aside:
                    h.watcher_back()
            if r != -1:
                if waiter is None or waiter.done:
                    return r
                continue  # woken for an earlier wait of this thread: wait on
            if waiter is not None and waiter.done:
                return 0
        _after_failure(h, err, how, deadline)  # raises, or returns: the loop goes on


def _after_failure(h, err, how, deadline):
    """What block() makes of a call that failed with ``err``: raises, or returns when the
    call is to be made again (the loop's top raises what is pending, if anything, and returns
    None once the wait's own ``deadline`` has passed)."""
    if err == EINTR:
        if how != ONCE:
            return
        h.settle()  # raises what is pending, else InterruptedError below
    elif err == ETIMEDOUT:
        if h.deadlines.active and h.deadlines.expire(current.thread) and how != ONCE:
            return  # the thread's native deadline was stale
        if how & IO:
            raise SocketTimeout("timed out")
        if deadline is not None:
            return
    raise error_from_errno(err)


def io_failed(fn, args):
    """The rest of block(fn, args, IO) for an I/O call its caller made itself, as block()'s
    hot path does (the hottest callers write that path out: a Python call costs as much as
    the native one), and that returned -1: raises as block() would, or makes the call again
    through block() and returns its result."""
    _after_failure(hub, get_errno(), IO, None)
    return block(fn, args, IO)


class _Never:
    """The waiter of a sleep: nothing ends it but its deadline."""

    __slots__ = ()
    done = False


_NEVER = _Never()


def sleep(seconds=0):
    """Yields to other green threads until at least ``seconds`` have passed; 0 (the default)
    is a cooperative yield: every other runnable green thread runs once."""
    if seconds and seconds > 0:
        block(_gh_park, NO_VALUE, SYNC, monotonic() + seconds, _NEVER)
        return
    # A yield is no wait (nothing to retry, no timeout of its own), and sleep(0) is the Python
    # switch, where one more call would cost as much as everything here: so it is written
    # out here rather than being block()'s, with block()'s own checks (settle, after_yield).
    h = hub
    if h.attention:
        h.settle()
    if h.aside and SIGNALS_IN_ROOT_ONLY:
        h.watcher.poll()
    if _gh_yield() == -1:
        raise error_from_errno(get_errno())
    if h.attention or h.deadlines.active:
        h.after_yield()
