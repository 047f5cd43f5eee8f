"""Eventlet's ``eventlet.hubs`` calls that user code makes: ``trampoline`` (wait until an fd
is readable or writable) and ``notify_close`` (the fd is being closed: wake its waiters)."""

from ._fdwait import notify_close, trampoline

__all__ = ["trampoline", "notify_close"]
