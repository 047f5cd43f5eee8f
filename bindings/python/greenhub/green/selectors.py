"""The standard ``selectors`` module on green waits (Eventlet's ``eventlet.green.selectors``):
``DefaultSelector``, ``SelectSelector`` and ``PollSelector`` are one selector whose
``select()`` waits only the calling green thread (``gh_poll``); the epoll, devpoll and kqueue
selectors are removed by monkey_patch(), as Eventlet does."""

import math as _math
import select as _select
import selectors as _std

from .._fdwait import poll_fds as _poll_fds
from .._lib import GhPollFd as _GhPollFd
from ..patcher import copy_names as _copy_names

__patched__ = ["DefaultSelector", "SelectSelector", "PollSelector"]
__deleted__ = ["EpollSelector", "DevpollSelector", "KqueueSelector"]

_copy_names(_std, globals(), skip=__patched__ + __deleted__)

_IN, _OUT = _select.POLLIN, _select.POLLOUT


class GreenSelector(_std._BaseSelectorImpl):
    """A selector whose select() is a green poll of the registered file objects."""

    def select(self, timeout=None):
        if timeout is not None:
            timeout = 0 if timeout <= 0 else _math.ceil(timeout * 1e3) / 1e3
        keys = list(self._fd_to_key.values())
        entries = (_GhPollFd * len(keys))()
        for entry, key in zip(entries, keys):
            entry.fd = key.fd
            entry.events = (_IN if key.events & EVENT_READ else 0) | (
                _OUT if key.events & EVENT_WRITE else 0)
        ready = []
        if not _poll_fds(entries, timeout):
            return ready
        for entry, key in zip(entries, keys):
            revents = entry.revents
            if not revents:
                continue
            events = 0
            if revents & ~_IN:
                events |= EVENT_WRITE
            if revents & ~_OUT:
                events |= EVENT_READ
            events &= key.events
            if events and self._fd_to_key.get(key.fd) is key:
                ready.append((key, events))
        return ready


SelectSelector = PollSelector = DefaultSelector = GreenSelector
