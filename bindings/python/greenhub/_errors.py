"""The shim's own exceptions; the Python exception each errno of a greenhub call stands for
(the one place an errno becomes an exception); why an interpreter is refused."""

import ctypes
import errno
import os
import socket
import sys

__all__ = [
    "GreenletExit",
    "DeadlockError",
    "StackOverflowError",
    "SocketTimeout",
    "error_from_errno",
    "make_exception",
    "interpreter_refusal",
]


class GreenletExit(BaseException):
    """Raised into a green thread by ``kill()`` (the default). Like greenlet's GreenletExit it
    is a BaseException; a green thread ending with it is not reported."""


class DeadlockError(RuntimeError):
    """The main program would wait forever: nothing (no green thread, timer or I/O) can ever
    complete what it waits for. Eventlet hangs in that situation; greenhub detects it."""


class StackOverflowError(RecursionError):
    """A green thread ran out of C stack; it was stopped (its frames are abandoned)."""


DEADLOCK_TEXT = (
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


def error_from_errno(err):
    """The Python exception for errno ``err`` of a greenhub call: EDEADLK (the root would wait
    forever) is DeadlockError, ETIMEDOUT socket.timeout, ECANCELED GreenletExit, ENOMEM
    MemoryError, anything else the OSError subclass Python picks for it."""
    if err == errno.EDEADLK:
        return DeadlockError(DEADLOCK_TEXT)
    if err == errno.ETIMEDOUT:
        return SocketTimeout("timed out")
    if err == errno.ECANCELED:
        return GreenletExit()
    if err == errno.ENOMEM:
        return MemoryError(os.strerror(err))
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


_STACK_BOUNDS_CALL = "PyUnstable_ThreadState_SetStackProtection"


def interpreter_refusal(err):
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
