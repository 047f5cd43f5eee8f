"""Database drivers used as documented after ``eventlet.monkey_patch()``, against real servers
the tests start (servers_support): redis-py with redis-server, PyMySQL with MariaDB, and
``monkey_patch(MySQLdb=True)`` (PyMySQL installed as MySQLdb) with ``db_pool``. 20 green
threads each waiting T on the server finish in about T, not 20 T; the data is checked.
PyMySQL connects with ``ssl_disabled=True``: otherwise each connection loads the system's CA
certificates (some 0.1 s), which is not what these tests are about."""

import pytest

from patched_support import run_patched
from servers_support import mariadb_server, redis_server

pytestmark = pytest.mark.budget(60)

N = 20
T = 0.3
CONCURRENT = 8 * T  # loose: a loaded machine, 3.14t; one after another is 20 T


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as port:
        yield port


@pytest.fixture(scope="module")
def mariadb_port(tmp_path_factory):
    with mariadb_server(tmp_path_factory.mktemp("mariadb")) as port:
        yield port


def test_redis_py(tmp_path, redis_port):
    r = run_patched(
        f"""
        import threading, redis
        client = redis.Redis(host="127.0.0.1", port={redis_port}, socket_timeout=10)
        client.delete("counter", "inbox")
        popped = {{}}
        def wait_for_nothing(i):
            popped[i] = client.blpop("empty:%d" % i, timeout={T})  # the server waits T
            client.incr("counter")
        t0 = clock()
        threads = [threading.Thread(target=wait_for_nothing, args=(i,)) for i in range({N})]
        for t in threads: t.start()
        for t in threads: t.join()
        elapsed = clock() - t0
        got = []
        def consumer():
            got.append(client.blpop("inbox", timeout=5)[1].decode())
        threads = [eventlet.spawn(consumer) for _ in range(5)]
        eventlet.sleep(0.1)
        with client.pipeline() as pipe:
            for i in range(5):
                pipe.rpush("inbox", "m%d" % i)
            pipe.execute()
        for gt in threads: gt.wait()
        client.set("key", "value")
        report(elapsed=elapsed, popped=sorted(set(map(repr, popped.values()))),
               counter=int(client.get("counter")), got=sorted(got),
               value=client.get("key").decode(),
               connections=len(client.connection_pool._available_connections))
        """,
        tmp_path,
        before="import socket, threading",
    )
    assert r["elapsed"] < CONCURRENT, r
    assert r["popped"] == ["None"] and r["counter"] == N
    assert r["got"] == ["m%d" % i for i in range(5)] and r["value"] == "value"
    assert r["connections"] >= N, "the green threads did not each get a connection"


def test_pymysql(tmp_path, mariadb_port):
    r = run_patched(
        f"""
        import threading, pymysql
        def connect():
            return pymysql.connect(host="127.0.0.1", port={mariadb_port}, user="root",
                                   autocommit=False, ssl_disabled=True)
        setup = connect()
        with setup.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS t1")
            cur.execute("DROP TABLE IF EXISTS t1.rows")
            cur.execute("CREATE TABLE t1.rows (n INT) ENGINE=InnoDB")
        setup.commit()
        conns = [connect() for _ in range({N})]  # connecting is not what is timed
        slept = {{}}
        def work(i):
            conn = conns[i]
            with conn.cursor() as cur:
                cur.execute("SELECT SLEEP(%s), %s", ({T}, i))  # the server waits T
                slept[i] = cur.fetchone()[1]
                cur.execute("INSERT INTO t1.rows VALUES (%s)", (i,))
            conn.commit()
            conn.close()
        t0 = clock()
        threads = [threading.Thread(target=work, args=(i,)) for i in range({N})]
        for t in threads: t.start()
        for t in threads: t.join()
        elapsed = clock() - t0
        with setup.cursor() as cur:
            cur.execute("INSERT INTO t1.rows VALUES (999)")
            setup.rollback()
            cur.execute("SELECT n FROM t1.rows ORDER BY n")
            rows = [n for (n,) in cur.fetchall()]
        report(elapsed=elapsed, slept=sorted(slept.values()), rows=rows)
        """,
        tmp_path,
    )
    assert r["elapsed"] < CONCURRENT, r
    assert r["slept"] == list(range(N)) and r["rows"] == list(range(N))


def test_mysqldb_patch_and_db_pool(tmp_path, mariadb_port):
    # PyMySQL standing in for MySQLdb (its documented install_as_MySQLdb): monkey_patch
    # (MySQLdb=True) puts its connections on the thread pool; db_pool pools them.
    r = run_patched(
        f"""
        import MySQLdb, importlib
        db_pool = importlib.import_module(eventlet.__name__ + ".db_pool")
        tpool = eventlet.tpool
        conn = MySQLdb.connect(host="127.0.0.1", port={mariadb_port}, user="root",
                               ssl_disabled=True)
        proxied = isinstance(conn, tpool.Proxy)
        conn.close()
        pool = db_pool.RawConnectionPool(MySQLdb, min_size={N}, max_size={N}, host="127.0.0.1",
                                         port={mariadb_port}, user="root",
                                         ssl_disabled=True)  # connects now
        def work(i):
            with pool.item() as c:
                cur = c.cursor()
                cur.execute("SELECT SLEEP(%s), %s", ({T}, i))
                return cur.fetchone()[1]
        t0 = clock()
        results = [gt.wait() for gt in [eventlet.spawn(work, i) for i in range({N})]]
        report(elapsed=clock() - t0, results=results, proxied=proxied, free=pool.free())
        """,
        tmp_path,
        before="""
        import pymysql
        pymysql.install_as_MySQLdb()
        """,
        patch="MySQLdb=True",
    )
    assert r["proxied"] is True
    assert r["results"] == list(range(N)) and r["free"] == N
    assert r["elapsed"] < CONCURRENT, r
