"""MySQLdb with its connections on the thread pool (Eventlet's ``eventlet.green.MySQLdb``):
``monkey_patch(MySQLdb=True)`` makes ``MySQLdb.connect`` (``Connect``, ``Connection``)
connect on a worker thread and return the connection in a ``tpool.Proxy`` (its cursors too),
so a query blocks only the calling green thread. Importing this module needs MySQLdb."""

import MySQLdb as _real

from .. import tpool
from ..patcher import copy_names as _copy_names

__patched__ = ["connect", "Connect", "Connection", "connections"]

_copy_names(_real, globals(), skip=__patched__)

_connections = getattr(_real, "connections", None)
_connect = getattr(_connections, "Connection", None) or _real.connect


def Connection(*args, **kwargs):
    """Connects on the thread pool; the connection and its cursors are tpool Proxies."""
    conn = tpool.execute(_connect, *args, **kwargs)
    return tpool.Proxy(conn, autowrap_names=("cursor",))


connect = Connect = Connection


class _Connections:
    """MySQLdb.connections with the green Connection."""


connections = _Connections()
if _connections is not None:
    for _name in dir(_connections):
        if not _name.startswith("__"):
            setattr(connections, _name, getattr(_connections, _name))
    del _name
connections.Connection = Connection
