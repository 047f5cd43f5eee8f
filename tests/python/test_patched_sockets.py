"""After ``eventlet.monkey_patch()``: the standard ``socket`` module as documented, on green
sockets. Each case proves concurrency (20 green threads each blocking T finish in about T, not
20 T; the bounds are loose) and correctness: TCP servers and clients, UDP between green
threads, Unix sockets, socketpair, fromfd, dup, create_server, timeouts and blocking modes,
and name lookups."""

import pytest

from patched_support import run_patched

pytestmark = pytest.mark.budget(40)

N = 20
T = 0.3
CONCURRENT = 5 * T  # 20 T would be 6 s


def test_tcp_server_and_clients(tmp_path):
    r = run_patched(
        f"""
        import socket
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def handle(conn):
            with conn:
                data = conn.recv(100)
                eventlet.sleep({T})          # every client waits T in recv meanwhile
                conn.sendall(data.upper())

        def serve():
            while True:
                conn, addr = server.accept()
                eventlet.spawn_n(handle, conn)

        eventlet.spawn_n(serve)
        answers = []
        def client(i):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                c.sendall(b"client %d" % i)
                answers.append(c.recv(100).decode())

        t0 = clock()
        pool = eventlet.GreenPool()
        for i in range({N}):
            pool.spawn(client, i)
        pool.waitall()
        elapsed = clock() - t0
        report(answers=sorted(answers), elapsed=elapsed,
               cls=type(server).__module__ + "." + type(server).__name__,
               family=server.family.name, type=server.type.name)
        """,
        tmp_path,
    )
    assert r["answers"] == sorted("CLIENT %d" % i for i in range(N))
    assert r["elapsed"] < CONCURRENT, r
    assert r["family"] == "AF_INET" and r["type"] == "SOCK_STREAM"


def test_udp_between_green_threads(tmp_path):
    r = run_patched(
        f"""
        import socket
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind(("127.0.0.1", 0))
        addr = server.getsockname()

        def reply_later(data, peer):
            eventlet.sleep({T})
            server.sendto(data.upper(), peer)

        def serve():
            while True:
                data, peer = server.recvfrom(2048)   # one datagram, its sender
                eventlet.spawn_n(reply_later, data, peer)

        eventlet.spawn_n(serve)
        got = []
        def client(i):
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            c.settimeout(10)
            c.sendto(b"dgram %d" % i, addr)
            buf = bytearray(64)
            n, peer = c.recvfrom_into(buf)
            got.append((bytes(buf[:n]).decode(), peer == addr))
            c.close()

        t0 = clock()
        pool = eventlet.GreenPool()
        for i in range({N}):
            pool.spawn(client, i)
        pool.waitall()
        elapsed = clock() - t0

        # Connected UDP: send/recv; messages keep their bounds; sendmsg/recvmsg.
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("127.0.0.1", 0))
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("127.0.0.1", 0))
        a.connect(b.getsockname()); b.connect(a.getsockname())
        a.send(b"one"); a.sendmsg([b"tw", b"o"])
        bounds = [b.recv(100).decode(), b.recvmsg(100)[0].decode()]

        # Timeouts and non-blocking mode, as the standard library's.
        b.settimeout(0.05)
        t1 = clock()
        try:
            b.recv(10); timed_out = False
        except socket.timeout:
            timed_out = True
        waited = clock() - t1
        b.setblocking(False)
        try:
            b.recvfrom(10); would_block = False
        except BlockingIOError:
            would_block = True
        report(got=sorted(got), elapsed=elapsed, bounds=bounds, timed_out=timed_out,
               waited=waited, would_block=would_block, timeout=b.gettimeout())
        """,
        tmp_path,
    )
    assert r["got"] == sorted([["DGRAM %d" % i, True] for i in range(N)])
    assert r["elapsed"] < CONCURRENT, r
    assert r["bounds"] == ["one", "two"]
    assert r["timed_out"] and 0.04 <= r["waited"] < 2, r
    assert r["would_block"] and r["timeout"] == 0.0


def test_unix_sockets_socketpair_fromfd_dup(tmp_path):
    r = run_patched(
        f"""
        import os, socket
        path = os.path.join(os.getcwd(), "s.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen()

        def serve():
            while True:
                conn, addr = server.accept()       # an AF_UNIX connection is accepted
                eventlet.spawn_n(lambda c: (eventlet.sleep({T}), c.sendall(c.recv(10)),
                                            c.close()), conn)

        eventlet.spawn_n(serve)
        got = []
        def client(i):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.connect(path)
                c.sendall(b"u%d" % i)
                got.append(c.recv(10).decode())

        t0 = clock()
        pool = eventlet.GreenPool()
        for i in range({N}):
            pool.spawn(client, i)
        pool.waitall()
        elapsed = clock() - t0

        # socketpair: a reader blocks until the other end writes.
        a, b = socket.socketpair()
        eventlet.spawn_after({T}, b.sendall, b"pair")
        t1 = clock(); pair = a.recv(10).decode(); pair_wait = clock() - t1

        # fromfd and dup: new green sockets on duplicates of the fd.
        c = socket.fromfd(a.fileno(), socket.AF_UNIX, socket.SOCK_STREAM)
        d = b.dup()
        d.sendall(b"dup")
        via = c.recv(10).decode()

        # Datagram Unix sockets.
        u1 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); u1.bind(path + "d")
        u2 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        u2.sendto(b"unix dgram", path + "d")
        dgram = u1.recvfrom(100)[0].decode()
        report(got=sorted(got), elapsed=elapsed, pair=pair, pair_wait=pair_wait, via=via,
               dgram=dgram, kinds=[type(x).__name__ for x in (a, c, d, u1)])
        """,
        tmp_path,
    )
    assert r["got"] == sorted("u%d" % i for i in range(N))
    assert r["elapsed"] < CONCURRENT, r
    assert r["pair"] == "pair" and r["pair_wait"] >= T * 0.8
    assert r["via"] == "dup" and r["dgram"] == "unix dgram"
    assert set(r["kinds"]) == {"GreenSocket"}


def test_create_server_connect_timeouts_and_errors(tmp_path):
    r = run_patched(
        """
        import errno, socket
        server = socket.create_server(("127.0.0.1", 0))
        port = server.getsockname()[1]
        conn = socket.create_connection(("localhost", port))   # a name: resolved green
        peer, _ = server.accept()
        peer.settimeout(0.05)
        try:
            peer.recv(1); recv_timeout = False
        except socket.timeout:
            recv_timeout = True
        conn.sendall(b"x" * 10)
        peer.settimeout(None)
        first = peer.recv(10, socket.MSG_PEEK)                 # flags go to the system call
        conn.close()
        rest = peer.recv(100)
        eof = peer.recv(100)
        closed_port = socket.socket(); closed_port.bind(("127.0.0.1", 0))
        refused_port = closed_port.getsockname()[1]; closed_port.close()
        refused = socket.socket().connect_ex(("127.0.0.1", refused_port))
        try:
            socket.create_connection(("no-such-host.invalid", 80), timeout=5)
            unresolved = None
        except socket.gaierror as e:
            unresolved = e.errno in (socket.EAI_NONAME, socket.EAI_AGAIN, -5)
        report(recv_timeout=recv_timeout, first=first.decode(), rest=rest.decode(),
               eof=eof.decode(), refused=refused == errno.ECONNREFUSED, unresolved=unresolved)
        """,
        tmp_path,
    )
    assert r["recv_timeout"]
    assert r["first"] == "x" * 10 and r["rest"] == "x" * 10 and r["eof"] == ""
    assert r["refused"] and r["unresolved"]


def test_name_lookups_answer_as_the_standard_library(tmp_path):
    r = run_patched(
        """
        import socket
        from greenhub import patcher
        std = patcher.original("socket")
        same = {
            "getaddrinfo": socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
                == std.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM),
            "numeric": socket.getaddrinfo("127.0.0.1", "80", socket.AF_INET)
                == std.getaddrinfo("127.0.0.1", "80", socket.AF_INET),
            "gethostbyname": socket.gethostbyname("localhost") == std.gethostbyname("localhost"),
            "gethostbyname_ex": socket.gethostbyname_ex("localhost")
                == std.gethostbyname_ex("localhost"),
            "gethostbyaddr": socket.gethostbyaddr("127.0.0.1") == std.gethostbyaddr("127.0.0.1"),
            "getnameinfo": socket.getnameinfo(("127.0.0.1", 80), 0)
                == std.getnameinfo(("127.0.0.1", 80), 0),
            "getfqdn": socket.getfqdn("localhost") == std.getfqdn("localhost"),
        }
        # While 20 green threads resolve names, a ticker green thread keeps running.
        ticks = []
        def ticker():
            while len(ticks) < 1000:
                ticks.append(clock()); eventlet.sleep(0.001)
        eventlet.spawn_n(ticker)
        pool = eventlet.GreenPool()
        results = list(pool.imap(lambda i: socket.gethostbyname("localhost"), range(20)))
        report(same=same, results=sorted(set(results)), ticked=len(ticks) > 0,
               green=socket.getaddrinfo.__module__)
        """,
        tmp_path,
    )
    assert all(r["same"].values()), r["same"]
    assert r["results"] == ["127.0.0.1"] and r["ticked"]
    assert r["green"] != "socket"


def test_patching_is_idempotent_and_reported(tmp_path):
    r = run_patched(
        """
        import select, selectors, socket, ssl
        from greenhub import patcher
        first = socket.socket
        eventlet.monkey_patch()
        eventlet.monkey_patch(socket=True)
        std = patcher.original("socket")
        report(same=socket.socket is first, patched=[patcher.is_monkey_patched(m) for m in
               ("socket", socket, "select", select, "selectors", "ssl")],
               original_is_std=std.socket.__module__ == "socket" and std is not socket,
               original_cached=patcher.original("socket") is std,
               epoll=hasattr(select, "epoll"), ctx=type(ssl.create_default_context().wrap_bio(
                   ssl.MemoryBIO(), ssl.MemoryBIO())).__name__)
        """,
        tmp_path,
        patch="socket=True, select=True",
    )
    assert r["same"] and all(r["patched"]) and r["original_is_std"] and r["original_cached"]
    assert not r["epoll"]


def test_only_what_is_asked_is_patched(tmp_path):
    r = run_patched(
        """
        import select, socket
        from greenhub import patcher
        report(socket=patcher.is_monkey_patched("socket"), select=patcher.is_monkey_patched(
            "select"), cls=socket.socket.__module__, sel=select.select.__module__)
        """,
        tmp_path,
        patch="select=False",
    )
    assert r["socket"] and not r["select"]
    assert r["cls"] != "socket" and r["sel"] == "select"
