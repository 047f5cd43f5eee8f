"""psycopg2 on green waits (Eventlet's ``eventlet.support.psycopg2_patcher``):
``monkey_patch(psycopg=True)`` (or ``make_psycopg_green()``) sets psycopg2's wait callback to
``wait_callback``, so a query waits for the server's answer in the calling green thread only.
Nothing happens where psycopg2 is not installed."""

import select as _select

from .._fdwait import wait_fd

__patched__ = []

_POLLIN, _POLLOUT = _select.POLLIN, _select.POLLOUT


def wait_callback(conn, timeout=-1):
    """psycopg2's wait callback: polls ``conn`` and waits (green) for its socket as it asks."""
    from psycopg2 import OperationalError, extensions

    while True:
        state = conn.poll()
        if state == extensions.POLL_OK:
            return
        if state == extensions.POLL_READ:
            wait_fd(conn.fileno(), _POLLIN)
        elif state == extensions.POLL_WRITE:
            wait_fd(conn.fileno(), _POLLOUT)
        else:
            raise OperationalError("Bad result from poll: %r" % (state,))


def make_psycopg_green():
    """Sets psycopg2's wait callback to ``wait_callback``. ImportError without psycopg2, or
    with one too old to have wait callbacks."""
    import psycopg2
    from psycopg2 import extensions

    if not hasattr(extensions, "set_wait_callback"):
        raise ImportError("support for coroutines not available in this Psycopg version (%s)"
                          % psycopg2.__version__)
    extensions.set_wait_callback(wait_callback)


def after_monkey_patch(module):
    make_psycopg_green()
