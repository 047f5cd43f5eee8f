"""Green waits on any file descriptor (``gh_wait_fd``, ``gh_poll`` through ``block()``), and
what Eventlet builds on them: ``trampoline``, ``GreenPipe``, ``shutdown_safe``,
``notify_close``. The fd stays the caller's: greenhub waits on a duplicate of it."""

import errno
import io
import os
import select as _select
import socket
from time import monotonic

from ._hub import IO, SYNC, block
from ._lib import GhPollFd, lib

__all__ = ["wait_fd", "poll_fds", "trampoline", "notify_close", "GreenPipe", "shutdown_safe",
           "fileno_of"]

#: os.write as it is before monkey_patch(os=True) (whose green one would wait before each
#: write of this non-blocking fd).
_os_write = os.write

POLLIN = _select.POLLIN
POLLOUT = _select.POLLOUT


def fileno_of(obj):
    """The fd of an int or of an object with fileno(), checked as the select module does."""
    if isinstance(obj, int):
        fd = obj
    else:
        try:
            getter = obj.fileno
        except AttributeError:
            raise TypeError("argument must be an int, or have a fileno() method.") from None
        fd = getter()
        if not isinstance(fd, int):
            raise TypeError("fileno() returned a non-integer")
    if fd < 0:
        raise ValueError("file descriptor cannot be a negative integer (%i)" % fd)
    return fd


def poll_fds(entries, timeout=None):
    """Waits (green) until one of *entries*, a ctypes array of GhPollFd, is ready, or
    *timeout* seconds (None: no limit; 0: no wait) have passed; returns the ready count (0 on
    timeout). Their revents are filled in."""
    n = len(entries)
    if timeout is None:
        return block(lib.gh_poll, (entries, n, -1), IO)
    if timeout <= 0:
        try:
            return block(lib.gh_poll, (entries, n, 0), IO)
        except BlockingIOError:
            return 0
    # A wait with a timeout of its own: SYNC, so that block() returns None when it passes
    # (with IO it would raise socket.timeout); being timed, it counts as a wait I/O may end.
    r = block(lib.gh_poll, (entries, n, -1), SYNC, monotonic() + timeout)
    return 0 if r is None else r


def wait_fd(fd, events, timeout=None):
    """Waits (green) until *fd* is ready for *events* (POLLIN, POLLOUT); returns its revents,
    or 0 once *timeout* seconds have passed."""
    entry = (GhPollFd * 1)()
    entry[0].fd = fd
    entry[0].events = events
    if not poll_fds(entry, timeout):
        return 0
    if entry[0].revents & _select.POLLNVAL:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    return entry[0].revents


def trampoline(fd, read=None, write=None, timeout=None, timeout_exc=None, mark_as_closed=None):
    """Suspends the calling green thread until *fd* (an int or an object with fileno()) is
    readable (``read=True``) or writable (``write=True``), as Eventlet's ``trampoline``. After
    *timeout* seconds it raises *timeout_exc* (a class or an instance; Eventlet's default,
    ``greenhub.Timeout``). An fd closed meanwhile with ``notify_close`` raises OSError
    (EBADF). *mark_as_closed* is accepted for Eventlet's signature and not used."""
    if bool(read) == bool(write):
        raise ValueError("trampoline: exactly one of read= and write= must be true")
    events = POLLIN if read else POLLOUT
    if wait_fd(fileno_of(fd), events, timeout):
        return None
    if timeout_exc is None:
        from .timeout import Timeout

        timeout_exc = Timeout
    raise timeout_exc


def notify_close(fd):
    """Says that *fd* is being closed: green threads waiting on it (trampoline, select, poll,
    selectors, GreenPipe) wake with OSError(EBADF) at once. Eventlet's
    ``hubs.notify_close``."""
    lib.gh_notify_close(fd)


class _GreenPipeIO(io.RawIOBase):
    """Raw I/O on a pipe (or any fd) made non-blocking, waiting green on EAGAIN."""

    def __init__(self, fd, mode, closefd=True):
        super().__init__()
        self._fd = fd
        self._mode = mode
        self._closefd = closefd
        os.set_blocking(fd, False)

    def fileno(self):
        return self._fd

    def readable(self):
        return "r" in self._mode or "+" in self._mode

    def writable(self):
        return "w" in self._mode or "a" in self._mode or "+" in self._mode

    def readinto(self, b):
        while True:
            try:
                return os.readv(self._fd, [b])
            except BlockingIOError:
                wait_fd(self._fd, POLLIN)

    def write(self, b):
        while True:
            try:
                return _os_write(self._fd, b)
            except BlockingIOError:
                wait_fd(self._fd, POLLOUT)

    def close(self):
        if not self.closed and self._closefd:
            notify_close(self._fd)
            os.close(self._fd)
        super().close()


def GreenPipe(f, mode="r", buffering=-1, encoding=None, errors=None, newline=None):
    """A file object on pipe *f* (an fd, a file object with fileno(), or a path) whose reads
    and writes wait only the calling green thread. Binary with "b" in *mode*, text otherwise;
    buffered unless *buffering* is 0 (binary only). Eventlet's ``greenio.GreenPipe``."""
    if isinstance(f, (str, bytes, os.PathLike)):
        flags = os.O_RDWR if "+" in mode else (os.O_WRONLY if "w" in mode or "a" in mode
                                                else os.O_RDONLY)
        fd, closefd = os.open(f, flags | os.O_CLOEXEC), True
    elif isinstance(f, int):
        fd, closefd = f, True
    else:
        fd, closefd = os.dup(f.fileno()), True
    raw = _GreenPipeIO(fd, mode.replace("b", "").replace("t", ""), closefd)
    if buffering == 0:
        if "b" not in mode:
            raise ValueError("can't have unbuffered text I/O")
        return raw
    size = io.DEFAULT_BUFFER_SIZE if buffering in (-1, 1) else buffering
    if raw.readable() and raw.writable():
        buf = io.BufferedRWPair(raw, raw, size)
    elif raw.writable():
        buf = io.BufferedWriter(raw, size)
    else:
        buf = io.BufferedReader(raw, size)
    if "b" in mode:
        return buf
    return io.TextIOWrapper(buf, encoding, errors, newline, line_buffering=buffering == 1)


def shutdown_safe(sock):
    """Shuts *sock* down both ways; a socket that is not connected (ENOTCONN) is fine.
    Eventlet's ``greenio.shutdown_safe``."""
    try:
        return sock.shutdown(socket.SHUT_RDWR)
    except OSError as e:
        if e.errno != errno.ENOTCONN:
            raise
    return None
