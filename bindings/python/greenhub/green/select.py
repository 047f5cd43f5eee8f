"""The standard ``select`` module with green ``select()`` and ``poll()`` (Eventlet's
``eventlet.green.select``, plus a green poll): they wait only the calling green thread, on
any file descriptor, through ``gh_poll``. ``epoll`` (and the BSD/Solaris pollers) are
removed by monkey_patch(), as Eventlet does: they would block the hub."""

import errno as _errno
import math as _math
import os as _os
import select as _std

from .._fdwait import fileno_of as _fileno_of, poll_fds as _poll_fds
from .._lib import GhPollFd as _GhPollFd
from ..patcher import copy_names as _copy_names

__patched__ = ["select", "poll"]
__deleted__ = ["epoll", "devpoll", "kqueue", "kevent"]

_copy_names(_std, globals(), skip=__patched__ + __deleted__)

_READ = _std.POLLIN | _std.POLLHUP | _std.POLLERR
_WRITE = _std.POLLOUT | _std.POLLERR


def select(rlist, wlist, xlist, timeout=None):
    """select.select on green waits: the lists may hold ints or objects with fileno()."""
    if timeout is not None:
        if not isinstance(timeout, (int, float)):
            raise TypeError("timeout must be a float or None")
        if timeout < 0:
            raise ValueError("timeout must be non-negative")
    wanted = {}
    for objs, bit in ((rlist, _std.POLLIN), (wlist, _std.POLLOUT), (xlist, _std.POLLPRI)):
        for obj in objs:
            fd = _fileno_of(obj)
            wanted[fd] = wanted.get(fd, 0) | bit
    entries = (_GhPollFd * len(wanted))()
    for entry, (fd, events) in zip(entries, wanted.items()):
        entry.fd = fd
        entry.events = events
    if not _poll_fds(entries, timeout):
        return [], [], []
    ready = {}
    for entry in entries:
        if entry.revents & _std.POLLNVAL:
            raise OSError(_errno.EBADF, _os.strerror(_errno.EBADF))
        ready[entry.fd] = entry.revents
    return ([o for o in rlist if ready.get(_fileno_of(o), 0) & _READ],
            [o for o in wlist if ready.get(_fileno_of(o), 0) & _WRITE],
            [o for o in xlist if ready.get(_fileno_of(o), 0) & _std.POLLPRI])


class poll:
    """select.poll on green waits."""

    def __init__(self):
        self._fds = {}

    def register(self, fd, eventmask=_std.POLLIN | _std.POLLPRI | _std.POLLOUT):
        self._fds[_fileno_of(fd)] = eventmask

    def modify(self, fd, eventmask):
        fd = _fileno_of(fd)
        if fd not in self._fds:
            raise FileNotFoundError(_errno.ENOENT, _os.strerror(_errno.ENOENT))
        self._fds[fd] = eventmask

    def unregister(self, fd):
        del self._fds[_fileno_of(fd)]

    def poll(self, timeout=None):
        """Waits *timeout* milliseconds (None or negative: no limit); returns [(fd, events)]."""
        if timeout is not None:
            timeout = _math.ceil(timeout) / 1000.0 if timeout >= 0 else None
        entries = (_GhPollFd * len(self._fds))()
        for entry, (fd, events) in zip(entries, self._fds.items()):
            entry.fd = fd
            entry.events = events
        if not _poll_fds(entries, timeout):
            return []
        return [(e.fd, e.revents) for e in entries if e.revents]
