"""eventlet.tpool.Proxy, EVENTLET_THREADPOOL_SIZE and eventlet.db_pool (with sqlite3, a real
database) as Eventlet documents them: calls through a Proxy run on the thread pool, so 20
green threads each making a call that blocks its OS thread for T finish in about T."""

import sqlite3
import threading
import time

import pytest

import ghsupport as support

N = 20
T = 0.2


class Blocking:
    """Blocks its OS thread (time.sleep, unpatched): only the thread pool keeps others going."""

    label = "plain attribute"

    def __init__(self):
        self.items = {"k": "v"}

    def slow(self, x):
        time.sleep(T)
        return x * 2, threading.get_ident()

    def child(self):
        return Blocking()

    def __getitem__(self, key):
        return self.items[key]

    def __setitem__(self, key, value):
        self.items[key] = value

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(sorted(self.items))

    def __str__(self):
        return "Blocking!"


def test_proxy_runs_methods_on_the_thread_pool(eventlet):
    tpool = eventlet.tpool
    proxy = tpool.Proxy(Blocking())
    here = threading.get_ident()
    t0 = time.monotonic()
    results = [gt.wait() for gt in [eventlet.spawn(proxy.slow, i) for i in range(N)]]
    took = time.monotonic() - t0
    assert [r[0] for r in results] == [2 * i for i in range(N)]
    assert here not in {r[1] for r in results}
    assert took < 10 * T, f"{N} proxied calls of {T}s took {took:.2f}s: they ran one by one"
    assert proxy.label == "plain attribute"  # plain attributes are read directly
    proxy["new"] = "value"
    assert proxy["new"] == "value" and len(proxy) == 2 and list(proxy) == ["k", "new"]
    assert str(proxy) == "Blocking!" and bool(proxy)
    assert not isinstance(proxy.child(), tpool.Proxy)


def test_proxy_autowrap(eventlet):
    tpool = eventlet.tpool
    by_type = tpool.Proxy(Blocking(), autowrap=(Blocking,))
    assert isinstance(by_type.child(), tpool.Proxy)
    assert by_type.child().slow(4)[0] == 8
    by_name = tpool.Proxy(Blocking(), autowrap_names=("child", "items"))
    assert isinstance(by_name.child(), tpool.Proxy)
    assert isinstance(by_name.items, tpool.Proxy) and by_name.items["k"] == "v"
    with pytest.raises(KeyError):
        by_name["missing"]


def test_threadpool_size_from_the_environment(tmp_path):
    proc = support.run_script(
        """
        import time
        t0 = time.monotonic()
        gts = [eventlet.spawn(eventlet.tpool.execute, time.sleep, 0.2) for _ in range(4)]
        for gt in gts:
            gt.wait()
        print("took", time.monotonic() - t0)
        """,
        tmp_path=tmp_path,
        env=support.subprocess_env(EVENTLET_THREADPOOL_SIZE="2"),
    )
    assert proc.returncode == 0, support.describe(proc)
    took = float(proc.stdout.split("took")[1])
    # Four calls of 0.2 s on two threads: two rounds.
    assert 0.38 <= took < 0.9, took


class BlockingConnection(sqlite3.Connection):
    """A connection with an SQL function that blocks its OS thread: ``block(seconds, value)``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.create_function("block", 2, lambda s, v: time.sleep(s) or v)


def _make_db(path):
    conn = sqlite3.connect(path)
    conn.execute("create table t (n integer)")
    conn.commit()
    conn.close()


def test_tpooled_connection_pool(eventlet, tmp_path):
    db_pool = support.submodule("db_pool")
    path = str(tmp_path / "db.sqlite")
    _make_db(path)
    pool = db_pool.ConnectionPool(sqlite3, max_size=N, database=path, check_same_thread=False,
                                  timeout=10, factory=BlockingConnection)

    def query(i):
        conn = pool.get()
        try:
            cur = conn.cursor()
            cur.execute("select block(?, ?)", (T, i))  # blocks the worker thread for T
            (value,) = cur.fetchone()
            return value
        finally:
            pool.put(conn)

    t0 = time.monotonic()
    values = [gt.wait() for gt in [eventlet.spawn(query, i) for i in range(N)]]
    took = time.monotonic() - t0
    assert values == list(range(N))
    assert took < 10 * T, f"{N} queries of {T}s through the pool took {took:.2f}s"
    assert pool.free() == N

    conn = pool.get()
    cur = conn.cursor()
    assert isinstance(cur, eventlet.tpool.Proxy)
    cur.execute("insert into t values (1)")
    conn.commit()
    cur.execute("insert into t values (2)")  # not committed: rolled back when put back
    pool.put(conn)
    with pool.item() as conn:
        cur = conn.cursor()
        cur.execute("select n from t")
        assert cur.fetchall() == [(1,)]
    pool.clear()


def test_raw_connection_pool_limits_and_expiry(eventlet, tmp_path):
    db_pool = support.submodule("db_pool")
    path = str(tmp_path / "db.sqlite")
    _make_db(path)
    pool = db_pool.RawConnectionPool(sqlite3, max_size=2, database=path)
    a, b = pool.get(), pool.get()
    assert bool(a) and a.cursor().execute("select 1").fetchone() == (1,)
    waiter = eventlet.spawn(pool.get)
    eventlet.sleep(0.05)
    assert pool.waiting() == 1 and not waiter.dead
    a.close()  # put back: the waiter gets it
    c = waiter.wait()
    assert not a and c.cursor().execute("select 2").fetchone() == (2,)
    pool.put(b)
    pool.put(c)
    assert pool.free() == 2

    no_reuse = db_pool.RawConnectionPool(sqlite3, max_size=1, max_age=0, database=path)
    conn = no_reuse.get()
    base = conn._base
    no_reuse.put(conn)  # max_age 0: closed when put back
    with pytest.raises(sqlite3.ProgrammingError):
        base.execute("select 1")
    assert no_reuse.free() == 1 and no_reuse.current_size == 0

    idle = db_pool.RawConnectionPool(sqlite3, max_size=1, max_idle=0.1, database=path)
    conn = idle.get()
    base = conn._base
    idle.put(conn)
    eventlet.sleep(0.4)  # the pool's timer closes it once idle for 0.1 s
    assert idle.current_size == 0
    with pytest.raises(sqlite3.ProgrammingError):
        base.execute("select 1")
