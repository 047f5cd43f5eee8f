"""Pools of database connections (Eventlet's ``eventlet.db_pool``) for any DB-API 2 module.

``ConnectionPool`` (= ``TpooledConnectionPool``) connects on the thread pool and hands out
connections wrapped in ``tpool.Proxy``: every call on them (and on their cursors) runs on a
worker thread, so a blocking driver waits only the calling green thread.
``RawConnectionPool`` hands out the module's own connections (for a driver that is green
already, e.g. PyMySQL after ``monkey_patch()``). A connection idle for ``max_idle`` seconds or
older than ``max_age`` is closed; one put back is cleaned up (rolled back) first.
"""

import collections
import contextlib
import sys
import time

from . import greenthread, tpool
from .pools import Pool
from .timeout import Timeout

__all__ = [
    "ConnectTimeout",
    "BaseConnectionPool",
    "TpooledConnectionPool",
    "RawConnectionPool",
    "ConnectionPool",
    "GenericConnectionWrapper",
    "PooledConnectionWrapper",
    "DatabaseConnector",
]

_MISSING = object()


class ConnectTimeout(Exception):
    """Connecting took longer than the pool's ``connect_timeout``."""


def cleanup_rollback(conn):
    conn.rollback()


class BaseConnectionPool(Pool):
    """At least ``min_size``, at most ``max_size`` connections made with
    ``db_module.connect(*args, **kwargs)``. ``max_idle``: seconds a free connection may stay
    unused; ``max_age``: seconds any connection may live (0: closed when put back, the pool
    is then only a concurrency limit); ``connect_timeout``: seconds before get() raises
    ConnectTimeout; ``cleanup(conn)`` runs when a connection is put back."""

    def __init__(self, db_module, min_size=0, max_size=4, max_idle=10, max_age=30,
                 connect_timeout=5, cleanup=cleanup_rollback, *args, **kwargs):
        assert db_module
        self._db_module = db_module
        self._args = args
        self._kwargs = kwargs
        self.max_idle = max_idle
        self.max_age = max_age
        self.connect_timeout = connect_timeout
        self._expiration_timer = None  # the green thread that expires connections later
        self.cleanup = cleanup
        super().__init__(min_size=min_size, max_size=max_size, order_as_stack=True)

    # Free items are (last_used, created_at, connection), most recently used first.

    def _schedule_expiration(self):
        """Expires what is due now, and arranges to run again when the next free connection
        is due (one timer at most)."""
        if self.max_age == 0 or self.max_idle == 0:
            return
        timer = self._expiration_timer
        if timer is not None and not timer.dead and timer is not greenthread.getcurrent():
            return
        self._expiration_timer = None
        now = time.time()
        self._expire_old_connections(now)
        if not self.free_items:
            return
        idle_delay = self.free_items[-1][0] - now + self.max_idle
        age_delay = min(item[1] for item in self.free_items) - now + self.max_age
        delay = min(idle_delay, age_delay)
        if delay > 0:
            self._expiration_timer = greenthread.spawn_after(delay, self._schedule_expiration)

    def _expire_old_connections(self, now):
        """Closes the free connections idle longer than max_idle or older than max_age."""
        keep, expired = [], []
        for item in self.free_items:
            (expired if self._is_expired(now, item[0], item[1]) else keep).append(item)
        self.free_items.clear()
        self.free_items.extend(keep)
        self.current_size -= len(expired)
        for _, _, conn in expired:
            self._safe_close(conn, quiet=True)

    def _is_expired(self, now, last_used, created_at):
        return (
            self.max_idle <= 0
            or self.max_age <= 0
            or now - last_used > self.max_idle
            or now - created_at > self.max_age
        )

    def _unwrap_connection(self, conn):
        """The connection inside a working wrapper (the wrapper is spent), else None."""
        try:
            if not conn:
                return None
            base = conn._base
            conn._destroy()
            return base
        except AttributeError:
            return None

    def _safe_close(self, conn, quiet=False):
        try:
            conn.close()
        except AttributeError:
            pass  # None, or not a connection
        except Exception:
            if not quiet:
                print("Connection.close raised: %s" % (sys.exc_info()[1],))

    def get(self):
        """A connection (a PooledConnectionWrapper): a free one, a new one, or the next put
        back. Raises ConnectTimeout, or the module's error, if connecting fails."""
        conn = super().get()
        if conn is None:  # a place freed by a connection that was dropped
            try:
                conn = self.create()
            except Exception:
                self.current_size -= 1
                raise
        if isinstance(conn, tuple):
            _, created_at, conn = conn
        else:
            created_at = time.time()
        wrapped = PooledConnectionWrapper(conn, self)
        wrapped._db_pool_created_at = created_at
        return wrapped

    def put(self, conn, cleanup=_MISSING):
        """Gives a connection back (``conn.close()`` does it too): cleaned up first (the
        pool's ``cleanup`` unless given; None: none), closed instead if it is too old."""
        created_at = getattr(conn, "_db_pool_created_at", 0)
        now = time.time()
        conn = self._unwrap_connection(conn)
        if self._is_expired(now, now, created_at):
            self._safe_close(conn)
            conn = None
        elif cleanup is not None:
            if cleanup is _MISSING:
                cleanup = self.cleanup
            try:
                if conn:
                    cleanup(conn)
            except Exception as e:
                print("WARNING: cleanup %s raised: %s" % (cleanup, e))
                conn = None
            except BaseException:
                conn = None
                raise
        if conn is not None:
            super().put((now, created_at, conn))
        elif self.waiting() > 0:
            super().put(None)  # a waiter makes a new connection in its place
        else:
            self.current_size -= 1
        self._schedule_expiration()

    @contextlib.contextmanager
    def item(self, cleanup=_MISSING):
        conn = self.get()
        try:
            yield conn
        finally:
            self.put(conn, cleanup=cleanup)

    def clear(self):
        """Closes every free connection and forgets them."""
        if self._expiration_timer is not None:
            self._expiration_timer.kill()
            self._expiration_timer = None
        free, self.free_items = self.free_items, collections.deque()
        for item in free:
            self._safe_close(item[2] if isinstance(item, tuple) else item, quiet=True)
            self.current_size -= 1

    def __del__(self):
        try:
            self.clear()
        except Exception:
            pass

    def create(self):
        now = time.time()
        return now, now, self.connect(self._db_module, self.connect_timeout, *self._args,
                                      **self._kwargs)


class TpooledConnectionPool(BaseConnectionPool):
    """Connections made on the thread pool and used through ``tpool.Proxy`` (their cursors
    too): for drivers that block."""

    @classmethod
    def connect(cls, db_module, connect_timeout, *args, **kw):
        with Timeout(connect_timeout, ConnectTimeout()):
            conn = tpool.execute(db_module.connect, *args, **kw)
            return tpool.Proxy(conn, autowrap_names=("cursor",))


class RawConnectionPool(BaseConnectionPool):
    """The driver's own connections, made and used in the calling green thread."""

    @classmethod
    def connect(cls, db_module, connect_timeout, *args, **kw):
        with Timeout(connect_timeout, ConnectTimeout()):
            return db_module.connect(*args, **kw)


ConnectionPool = TpooledConnectionPool


class GenericConnectionWrapper:
    """Forwards the DB-API (and MySQLdb) connection methods to the wrapped connection."""

    def __init__(self, baseconn):
        self._base = baseconn

    def __enter__(self):
        return self._base.__enter__()

    def __exit__(self, exc, value, tb):
        return self._base.__exit__(exc, value, tb)

    def __repr__(self):
        return self._base.__repr__()


def _forward(name):
    def method(self, *args, **kwargs):
        return getattr(self._base, name)(*args, **kwargs)

    method.__name__ = name
    method.__qualname__ = "GenericConnectionWrapper." + name
    return method


for _name in (
    "affected_rows autocommit begin change_user character_set_name close commit cursor "
    "dump_debug_info errno error errorhandler get_server_info insert_id literal ping query "
    "rollback select_db server_capabilities set_character_set set_isolation_level "
    "set_server_option set_sql_mode show_warnings shutdown sqlstate stat store_result "
    "string_literal thread_id use_result warning_count"
).split():
    setattr(GenericConnectionWrapper, _name, _forward(_name))
del _name


class PooledConnectionWrapper(GenericConnectionWrapper):
    """A pooled connection: ``close()`` puts it back in the pool (and this wrapper can no
    longer be used); ``bool(conn)`` is false once it has been."""

    def __init__(self, baseconn, pool):
        super().__init__(baseconn)
        self._pool = pool

    def __bool__(self):
        return hasattr(self, "_base") and bool(self._base)

    def _destroy(self):
        self._pool = None
        try:
            del self._base
        except AttributeError:
            pass

    def close(self):
        if self and self._pool:
            self._pool.put(self)
        self._destroy()


class DatabaseConnector:
    """A connection pool per (host, database): ``get(host, dbname)``. ``credentials`` maps a
    host (or ``"default"``) to the connect arguments."""

    def __init__(self, module, credentials, conn_pool=None, *args, **kwargs):
        assert module
        self._conn_pool_class = conn_pool or ConnectionPool
        self._module = module
        self._args = args
        self._kwargs = kwargs
        self._credentials = credentials
        self._databases = {}

    def credentials_for(self, host):
        if host in self._credentials:
            return self._credentials[host]
        return self._credentials.get("default", None)

    def get(self, host, dbname):
        key = (host, dbname)
        if key not in self._databases:
            kwargs = dict(self._kwargs, db=dbname, host=host)
            kwargs.update(self.credentials_for(host))
            self._databases[key] = self._conn_pool_class(self._module, *self._args, **kwargs)
        return self._databases[key]
