"""The standard ``os`` module with green ``read``, ``write``, ``wait``, ``waitpid`` and
``fdopen`` (Eventlet's ``eventlet.green.os``).

``read``/``write`` on a pipe, a socket, a tty or any fd that is not a regular file wait until
it is ready, waiting only the calling green thread, then make the one system call (a blocking
fd's write is cut to what the pipe takes at once, as a non-blocking one's is by the kernel).
Regular files are read and written at once, as poll(2) says they always can be.
``waitpid`` waits for a child's exit on a pidfd (Linux 5.3+), else by polling with
``WNOHANG`` and green sleeps growing from 1 ms to 50 ms.
"""

import os as _real

from ..patcher import copy_names as _copy_names

__patched__ = ["fdopen", "read", "write", "wait", "waitpid"]

# The standard module's names first: this module's own (below) must not be shadowed by them.
_copy_names(_real, globals(), skip=__patched__)
__all__ = list(_real.__all__)

import select as _select  # noqa: E402
import stat as _stat  # noqa: E402
import time as _time  # noqa: E402

from .._fdwait import GreenPipe, wait_fd  # noqa: E402
from .._hub import sleep  # noqa: E402

_read, _write, _waitpid, _fstat = _real.read, _real.write, _real.waitpid, _real.fstat
_POLLIN, _POLLOUT = _select.POLLIN, _select.POLLOUT
_PIPE_BUF = getattr(_select, "PIPE_BUF", 4096)
_pidfd_open = getattr(_real, "pidfd_open", None)


def _is_regular(fd):
    return _stat.S_ISREG(_fstat(fd).st_mode)


def read(fd, n):
    """read(fd, n) -> bytes: as os.read, waiting (green) until ``fd`` has data."""
    if _is_regular(fd):
        return _read(fd, n)
    while True:
        wait_fd(fd, _POLLIN)
        try:
            return _read(fd, n)
        except BlockingIOError:
            pass  # another reader took it


def write(fd, data):
    """write(fd, data) -> count: as os.write, waiting (green) until ``fd`` takes data."""
    if _is_regular(fd):
        return _write(fd, data)
    blocking = _real.get_blocking(fd)
    while True:
        wait_fd(fd, _POLLOUT)
        try:
            # Writable means room for PIPE_BUF bytes at least: a blocking fd must not be
            # given more, or the write would block the OS thread until a reader drains it.
            return _write(fd, memoryview(data)[:_PIPE_BUF] if blocking else data)
        except BlockingIOError:
            pass


def fdopen(fd, *args, **kwargs):
    """A file object on ``fd`` whose reads and writes are green (a GreenPipe)."""
    if not isinstance(fd, int):
        raise TypeError("fd should be int, not %r" % (fd,))
    return GreenPipe(fd, *args, **kwargs)


def wait_for_exit(pid, timeout=None):
    """Waits (green) until child ``pid`` (> 0) has exited or ``timeout`` seconds have
    passed, without reaping it; True if it has exited (or cannot be watched: the caller's
    waitpid then says why)."""
    deadline = None if timeout is None else _time.monotonic() + timeout
    pidfd = None
    if _pidfd_open is not None:
        try:
            pidfd = _pidfd_open(pid)
        except OSError:
            pass  # no such process (reaped already), or a kernel without pidfds
    if pidfd is not None:
        try:
            return bool(wait_fd(pidfd, _POLLIN, timeout))
        finally:
            _real.close(pidfd)
    delay = 0.001
    while True:
        try:
            if _real.waitid(_real.P_PID, pid, _real.WEXITED | _real.WNOHANG | _real.WNOWAIT):
                return True
        except ChildProcessError:
            return True
        left = None if deadline is None else deadline - _time.monotonic()
        if left is not None and left <= 0:
            return False
        sleep(delay if left is None else min(delay, left))
        delay = min(delay * 2, 0.05)


def waitpid(pid, options):
    """waitpid(pid, options) -> (pid, status): as os.waitpid; without WNOHANG it waits only
    the calling green thread."""
    if options & _real.WNOHANG:
        return _waitpid(pid, options)
    watch = pid > 0 and not options & (_real.WUNTRACED | _real.WCONTINUED)
    delay = 0.001
    while True:
        rpid, status = _waitpid(pid, options | _real.WNOHANG)
        if rpid:
            return rpid, status
        if watch:
            wait_for_exit(pid)
        else:
            sleep(delay)  # any child, a group, or stops: no one fd to wait on
            delay = min(delay * 2, 0.05)


def wait():
    """wait() -> (pid, status): waits (green) for any child."""
    return waitpid(-1, 0)

