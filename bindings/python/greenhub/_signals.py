"""Ctrl-C while everything waits: the signal watcher.

CPython runs a Python-level signal handler only when Python code runs (from 3.13, only in the
main thread state: the root's). While every green thread waits and the root waits in the hub,
nothing runs, and Ctrl-C would go unnoticed. The watcher is a green thread waiting for the
bytes CPython's C-level handler writes to the wakeup fd (``signal.set_wakeup_fd``); when it
wakes, Python code runs in it, so the handler runs there (raising KeyboardInterrupt, which the
watcher forwards to the root), and it wakes the root, which from 3.13 is the one to run it.

A green thread waiting for I/O means the hub can never find the root deadlocked (EDEADLK), so
the watcher steps aside (parks) while the root waits on another green thread only and nothing
waits for I/O or a timer. That dance is run by ``block()`` (in ``_hub``), through
``Hub.watcher_aside`` and ``Hub.watcher_back``; the watcher only obeys ``hub.aside``. While it
is aside, green threads about to switch check the wakeup fd themselves (:meth:`Watcher.poll`)
on 3.13+, where only the root can run the handler.

The watcher is started on the hub's first use, in the main thread only, and not at all if the
wakeup fd is already in use (asyncio) or with ``GREENHUB_NO_SIGNAL_WATCH=1``. Its own waits
are the one place the shim calls the library's waits without ``block()``: they are what
``block()``'s dance moves, and must count neither as busy nor as the root's.
"""

import errno
import os
import _socket
import signal
import sys
import threading

from ._lib import lib, get_errno

__all__ = ["Watcher", "SIGNALS_IN_ROOT_ONLY"]

#: os.read as it is before monkey_patch(os=True): the drain below must get BlockingIOError on
#: an empty socket, not wait for data.
_read = os.read

#: From 3.13 CPython runs signal handlers only in the main thread state (the root's).
SIGNALS_IN_ROOT_ONLY = sys.version_info >= (3, 13)

_WAIT_ERRORS_TO_IGNORE = (errno.EINTR, errno.ETIMEDOUT, errno.EAGAIN)


class Watcher:
    """The watcher green thread: ``gid`` (its id), the greenhub socket ``handle`` on the read
    end of the wakeup socket pair and that end's ``fd``."""

    __slots__ = ("hub", "gid", "handle", "fd")

    @classmethod
    def start(cls, hub, spawn):
        """Claims the wakeup fd and starts the watcher with ``spawn(func) -> gid``; returns it,
        or None where there must be none (see the module's docs)."""
        if threading.get_ident() != threading.main_thread().ident:
            return None
        if os.environ.get("GREENHUB_NO_SIGNAL_WATCH"):
            return None
        # _socket's own pair: socket.socketpair() makes green sockets after monkey_patch().
        r, w = _socket.socketpair()
        try:
            w.setblocking(False)
            r.setblocking(False)
            old = signal.set_wakeup_fd(w.fileno(), warn_on_full_buffer=False)
            if old != -1:  # somebody else (asyncio?) uses it: leave theirs in place
                signal.set_wakeup_fd(old)
                r.close()
                w.close()
                return None
        except (ValueError, OSError):
            r.close()
            w.close()
            return None
        fd = r.detach()
        h = lib.gh_adopt(fd)
        if h == -1:
            os.close(fd)
            signal.set_wakeup_fd(-1)
            w.close()
            return None
        w.detach()  # the write end stays open (a bare fd) for the life of the process
        self = cls()
        self.hub = hub
        self.handle = h
        self.fd = lib.gh_fileno(h)
        self.gid = spawn(self._run)
        lib.gh_set_name(self.gid, b"signal watcher")  # how dumps and reports name it
        return self

    def poll(self):
        """While the watcher is aside: reads the wakeup fd, and wakes the root if a signal came
        (its pending call fails with EINTR and Python runs the handler there)."""
        try:
            got = self._drain()
        except OSError:
            return
        if got:
            lib.gh_interrupt(0)

    def _drain(self):
        """True if bytes were read; OSError if the socket is gone."""
        got = False
        try:
            while _read(self.fd, 512):
                got = True
        except BlockingIOError:
            pass
        return got

    def _run(self):
        while True:
            try:
                self._watch()
                return
            except BaseException as e:  # KeyboardInterrupt or SystemExit from a signal handler
                try:
                    self.hub.forward_to_root(e)
                except BaseException:
                    pass

    def _watch(self):
        hub = self.hub
        while True:
            if hub.aside:
                lib.gh_park(None)
                continue
            # Edge-triggered readiness: drain until EAGAIN first, then wait.
            try:
                got = self._drain()
            except OSError:
                return  # the socket is gone
            if got:
                _signal_checkpoint()
                # From 3.13 only the root's thread state runs signal handlers: wake the root so
                # its pending call returns (EINTR) and Python runs the handler there. Before
                # 3.13 the handler has usually run here already (KeyboardInterrupt above).
                lib.gh_interrupt(0)
            if lib.gh_wait_readable(self.handle) == -1:
                if get_errno() not in _WAIT_ERRORS_TO_IGNORE:
                    return


def _signal_checkpoint():
    """A Python call: CPython runs pending signal handlers at call boundaries."""
    return None
