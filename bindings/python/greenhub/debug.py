"""Eventlet's ``eventlet.debug`` over greenhub's native view of the hub, plus the thread dump.

``format_threads()`` is greenhub's own: the dump ``gh_dump`` writes (and the
``GREENHUB_DUMP_SIGNAL`` signal writes to stderr): one entry per green thread and the root, its
short id, name, state and what it waits on, then its Python stack, read by the library from the
thread's own interpreter thread state; then the hub's counters. The listeners and timers of
``format_hub_listeners()`` / ``format_hub_timers()`` are the entries of that dump waiting on a
socket / with a deadline: greenhub keeps no listener or timer objects of Eventlet's kind.

``hub_blocking_detection()``: the library's monitor thread notices a thread holding the hub
longer than *resolution* (``gh_set_block_warn``) and reports it through the log sink, from the
monitor thread; the shim's sink then sends SIGALRM to the hub's thread, whose handler raises
RuntimeError in the code holding the hub, as Eventlet's SIGALRM does. The alarm is sent by the
monitor, not armed by the hub at every switch (Eventlet's ``setitimer`` per loop turn): the
switch path stays free of system calls. CPython runs the handler when the hog checks for
signals: a blocking C call (``time.sleep``, a blocking socket) interrupted by the signal does
at once on every version; a pure-Python loop does on 3.9-3.12, while from 3.13 CPython checks
signals in the main thread state (the root's) only, so a green thread's busy loop is reported
on stderr but not interrupted. The handler raises only in the thread the report named.
"""

import ctypes
import inspect
import linecache
import os
import re
import signal
import sys
import tempfile
import threading

from . import _hub, greenpool, tpool
from ._hub import current, hub
from ._lib import GhHubStats, lib, get_errno
from ._errors import error_from_errno

__all__ = [
    "spew",
    "unspew",
    "format_hub_listeners",
    "format_hub_timers",
    "hub_listener_stacks",
    "hub_exceptions",
    "tpool_exceptions",
    "hub_prevent_multiple_readers",
    "hub_timer_stacks",
    "hub_blocking_detection",
    "format_threads",
    "stats",
    "thread_id",
]


# ---------------------------------------------------------------------------------------------
# The dump


def format_threads():
    """The thread dump of the hub (as ``gh_dump`` writes it): each entry starts a line (id,
    name, state, what it waits on, for how long, its deadline) and goes on with the thread's
    Python stack on indented lines; the last line has the hub's counters."""
    hub.use()
    with tempfile.TemporaryFile() as f:
        if lib.gh_dump(f.fileno()) != 0:
            raise error_from_errno(get_errno())
        f.seek(0)
        return f.read().decode("utf-8", "replace")


def _entries():
    """The dump's entries: (first line, the whole entry with its stack)."""
    lines = format_threads().splitlines()[1:-1]  # the header and the counters left out
    entries = []
    for line in lines:
        if line.startswith(" ") and entries:
            entries[-1][1].append(line)
        else:
            entries.append((line, [line]))
    return entries


def stats():
    """The hub's counters (``gh_stats``) as a dict: threads, objects, sockets, switches, polls,
    stacks_pooled."""
    hub.use()
    s = GhHubStats()
    s.size = ctypes.sizeof(s)
    if lib.gh_stats(ctypes.byref(s)) != 0:
        raise error_from_errno(get_errno())
    return {name: getattr(s, name) for name, _ in GhHubStats._fields_ if name != "size"}


def thread_id(gt=None):
    """The short id reports and dumps name green thread *gt* by (the calling one by default;
    0 for the root)."""
    glet = current.thread if gt is None else gt
    gid = getattr(glet, "_gid", None)
    if not gid:
        return 0
    n = lib.gh_thread_id(gid)
    if n == -1:
        raise error_from_errno(get_errno())
    return n


# ---------------------------------------------------------------------------------------------
# Eventlet's listeners and timers


_listener_stacks = [False]
_timer_stacks = [False]
_READS = re.compile(r": waiting: (read|accept) on socket")
_WRITES = re.compile(r": waiting: (write|connect) on socket")


def _pick(pattern, with_stacks):
    out = []
    for first, whole in _entries():
        if pattern.search(first):
            out.extend(whole if with_stacks else [first])
    return out


def format_hub_listeners():
    """The green threads waiting on a socket, as Eventlet's ``READERS:`` / ``WRITERS:`` lists
    (with their stacks after ``hub_listener_stacks(True)``)."""
    stacks = _listener_stacks[0]
    result = ["READERS:"] + _pick(_READS, stacks) + ["WRITERS:"] + _pick(_WRITES, stacks)
    return os.linesep.join(result)


def format_hub_timers():
    """The green threads whose wait has a deadline (a sleep, a timeout), as Eventlet's
    ``TIMERS:`` list (with their stacks after ``hub_timer_stacks(True)``)."""
    result = ["TIMERS:"] + _pick(re.compile(r", deadline in "), _timer_stacks[0])
    return os.linesep.join(result)


def hub_listener_stacks(state=False):
    """Whether ``format_hub_listeners()`` shows each listener's stack (Eventlet records it when
    the listener is added; greenhub reads the live stack of the waiting thread)."""
    _listener_stacks[0] = bool(state)


def hub_timer_stacks(state=False):
    """Whether ``format_hub_timers()`` shows each waiting thread's stack."""
    _timer_stacks[0] = bool(state)


# ---------------------------------------------------------------------------------------------
# Exceptions


def hub_exceptions(state=True):
    """Whether the tracebacks of exceptions that end green threads are printed (on by
    default), in the hub and in GreenPool's spawn_n, as Eventlet's toggle does."""
    _hub.exceptions_printed = bool(state)
    greenpool.DEBUG = bool(state)


def tpool_exceptions(state=False):
    """Whether tpool also prints the traceback of an exception raised by a function it runs
    (it raises it in the caller either way)."""
    tpool.QUIET = not state


def hub_prevent_multiple_readers(state=True):
    """Eventlet lets a program turn off its refusal of a second green thread reading the same
    socket. greenhub always refuses it (the second waiter gets EBUSY): one reader and one
    writer per socket is how its hub works, so ``state=False`` raises RuntimeError, as
    Eventlet's asyncio hub does."""
    if not state:
        raise RuntimeError("greenhub's hub allows one reader and one writer per socket at a time")


# ---------------------------------------------------------------------------------------------
# Hub-blocking detection


class _Detector:
    """The state of ``hub_blocking_detection``: the handler it installed and the one before."""

    on = False
    old_handler = None
    blocked = None  # the handle of the thread the last report named (0: the root)


def _on_blocked(report):
    """The report sink's hook for GH_REPORT_BLOCKED (on the monitor thread)."""
    if _Detector.on and hub.thread is not None:
        _Detector.blocked = report.thread
        try:
            signal.pthread_kill(hub.thread, signal.SIGALRM)
        except (OSError, ValueError):
            pass


def _alarm_handler(signum, frame):
    glet = current.thread
    if _Detector.blocked is None or (glet._gid or 0) != _Detector.blocked:
        return  # the thread that held the hub has moved on: nothing to interrupt
    _Detector.blocked = None
    raise RuntimeError("Blocking detector ALARMED at" + str(inspect.getframeinfo(frame)))


def hub_blocking_detection(state=False, resolution=1):
    """Makes code that holds the hub longer than *resolution* seconds (a float) without
    switching get a RuntimeError raised in it, as Eventlet's does (see the module's docs for
    how and where); ``state=False`` turns it off. The library's report of it goes to stderr
    either way. Only from the main thread (a signal handler is installed)."""
    assert resolution > 0
    hub.use()
    if state:
        if threading.get_ident() != threading.main_thread().ident:
            raise ValueError("hub_blocking_detection works in the main thread only")
        old = signal.signal(signal.SIGALRM, _alarm_handler)
        if not _Detector.on:
            _Detector.old_handler = old
        _Detector.on = True
        hub.reports.on_blocked = _on_blocked
        lib.gh_set_block_warn(max(1, int(resolution * 1000)))
    else:
        lib.gh_set_block_warn(0)
        if _Detector.on:
            _Detector.on = False
            _Detector.blocked = None
            hub.reports.on_blocked = None
            signal.signal(signal.SIGALRM, _Detector.old_handler or signal.SIG_DFL)


# ---------------------------------------------------------------------------------------------
# spew


_TOKENS = re.compile(r"\W+")


class Spew:
    """A trace function printing each line executed (``module:line: source``) and, with
    *show_values*, the values of the names on it found in the frame."""

    def __init__(self, trace_names=None, show_values=True):
        self.trace_names = trace_names
        self.show_values = show_values

    def __call__(self, frame, event, arg):
        if event != "line":
            return self
        lineno = frame.f_lineno
        g = frame.f_globals
        if "__file__" in g:
            name = g.get("__name__", "[unknown]")
            filename = g["__file__"]
            if filename.endswith((".pyc", ".pyo")):
                filename = filename[:-1]
            source = linecache.getline(filename, lineno)
        else:
            name = "[unknown]"
            try:
                lines, first = inspect.getsourcelines(frame)
                source = lines[lineno - max(first, 1)]
            except (OSError, IndexError):
                source = "Unknown code named [%s].  VM instruction #%d" % (
                    frame.f_code.co_name, frame.f_lasti)
        if self.trace_names is not None and name not in self.trace_names:
            return self
        print("%s:%s: %s" % (name, lineno, source.rstrip()))
        if self.show_values:
            found = []
            for token in _TOKENS.split(source):
                if token in g:
                    found.append("%s=%r" % (token, g[token]))
                if token in frame.f_locals:
                    found.append("%s=%r" % (token, frame.f_locals[token]))
            if found:
                print("\t%s" % " ".join(found))
        return self


def spew(trace_names=None, show_values=False):
    """Traces every line the calling green thread executes to stdout (``sys.settrace``; each
    green thread has its own interpreter thread state, hence its own trace function)."""
    sys.settrace(Spew(trace_names, show_values))


def unspew():
    """Removes the trace function ``spew()`` installed."""
    sys.settrace(None)
