"""Green sockets: listen/connect/accept and the standard library's socket interface.

Basics, close and shutdown, descriptors and options, errors, and green threads that die
holding sockets; makefile, timeouts and serve have files of their own (test_socket_*.py).

Everything runs over 127.0.0.1 with bounded waits: an autouse fixture (socket_support) arms an
``eventlet.Timeout`` around each test, on top of the conftest watchdog.
"""

import errno
import gc
import os
import socket
import stat
import time

import pytest

from socket_support import _deadline, pair, recv_all, recv_exact  # noqa: F401 (fixtures)


# --------------------------------------------------------------------------- basics


def test_listen_connect_accept_round_trip(eventlet):
    server = eventlet.listen(("127.0.0.1", 0))
    port = server.getsockname()[1]
    assert isinstance(port, int) and port > 0
    assert server.getsockname()[0] == "127.0.0.1"
    client = eventlet.connect(("127.0.0.1", port))
    result = server.accept()
    assert isinstance(result, tuple) and len(result) == 2
    conn, addr = result
    assert addr == client.getsockname()
    assert conn.getpeername() == client.getsockname()
    assert client.getpeername() == ("127.0.0.1", port)
    assert conn.getsockname() == ("127.0.0.1", port)
    client.sendall(b"hello")
    assert recv_exact(conn, 5) == b"hello"
    conn.sendall(b"world!")
    assert recv_exact(client, 6) == b"world!"
    for s in (client, conn, server):
        s.close()


def test_accept_in_green_thread_while_root_connects(eventlet):
    server = eventlet.listen(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def echo_once():
        conn, _ = server.accept()
        with conn:
            data = conn.recv(100)
            conn.sendall(data.upper())
        return data

    gt = eventlet.spawn(echo_once)
    c = eventlet.connect(("127.0.0.1", port))
    c.sendall(b"abc")
    assert recv_all(c) == b"ABC"
    assert gt.wait() == b"abc"
    c.close()
    server.close()


def test_many_concurrent_clients(eventlet):
    server = eventlet.listen(("127.0.0.1", 0))
    port = server.getsockname()[1]
    n = 40

    def handler(conn):
        with conn:
            while True:
                data = conn.recv(1024)
                if not data:
                    return
                conn.sendall(data)

    def acceptor():
        for _ in range(n):
            conn, _ = server.accept()
            eventlet.spawn_n(handler, conn)

    def client(i):
        c = eventlet.connect(("127.0.0.1", port))
        with c:
            out = []
            for j in range(5):
                msg = f"{i}:{j};".encode()
                c.sendall(msg)
                out.append(recv_exact(c, len(msg)))
                eventlet.sleep(0)
            return b"".join(out)

    a = eventlet.spawn(acceptor)
    clients = [eventlet.spawn(client, i) for i in range(n)]
    for i, gt in enumerate(clients):
        assert gt.wait() == b"".join(f"{i}:{j};".encode() for j in range(5))
    a.wait()
    server.close()


def test_recv_into(pair):
    pair.client.sendall(b"0123456789")
    buf = bytearray(4)
    n = pair.conn.recv_into(buf)
    assert 1 <= n <= 4 and bytes(buf[:n]) == b"0123"[:n]
    rest = bytearray(32)
    got = bytes(buf[:n])
    while len(got) < 10:
        m = pair.conn.recv_into(memoryview(rest)[: 10 - len(got)])
        got += bytes(rest[:m])
    assert got == b"0123456789"
    pair.client.sendall(b"abcdef")
    buf2 = bytearray(10)
    m = pair.conn.recv_into(buf2, 2)
    assert m <= 2 and bytes(buf2[:m]) == b"ab"[:m] and buf2[2:] == bytearray(8)


def test_recv_into_memoryview_too_small_loses_nothing(pair):
    pair.client.sendall(b"0123456789")
    small = memoryview(bytearray(4))
    with pytest.raises(ValueError):
        pair.conn.recv_into(small, 8)  # nbytes beyond the buffer: refused before any read
    assert recv_exact(pair.conn, 10) == b"0123456789"


def test_send_returns_count(pair):
    n = pair.client.send(b"partial ok")
    assert 1 <= n <= 10
    assert recv_exact(pair.conn, n) == b"partial ok"[:n]


def test_sendall_large_payload(eventlet, pair):
    payload = os.urandom(1 << 20) * 4  # 4 MiB: far beyond the socket buffers
    reader = eventlet.spawn(recv_exact, pair.conn, len(payload))
    assert pair.client.sendall(payload) is None
    assert reader.wait() == payload


def test_recv_returns_empty_at_eof(pair):
    pair.client.sendall(b"last")
    pair.client.close()
    assert recv_all(pair.conn) == b"last"
    assert pair.conn.recv(10) == b""


# --------------------------------------------------------------------------- close, shutdown


def test_close(pair):
    pair.conn.close()
    assert pair.conn.fileno() == -1
    with pytest.raises(OSError):
        pair.conn.send(b"x")
    with pytest.raises(OSError):
        pair.conn.recv(1)
    assert recv_all(pair.client) == b"", "the peer sees EOF"
    pair.conn.close()  # closing twice is harmless


def test_shutdown_wr_gives_peer_eof_and_keeps_reading(pair):
    pair.client.sendall(b"request")
    pair.client.shutdown(socket.SHUT_WR)
    assert recv_all(pair.conn) == b"request"
    pair.conn.sendall(b"response")
    pair.conn.close()
    assert recv_all(pair.client) == b"response", "a half-closed socket still receives"


def test_context_manager(eventlet):
    server = eventlet.listen(("127.0.0.1", 0))
    with server:
        port = server.getsockname()[1]
        with eventlet.connect(("127.0.0.1", port)) as c:
            conn, _ = server.accept()
            with conn as same:
                assert same is conn
                c.sendall(b"x")
                assert conn.recv(1) == b"x"
            assert conn.fileno() == -1
            assert c.recv(1) == b""
        assert c.fileno() == -1
    assert server.fileno() == -1


# --------------------------------------------------------------------------- descriptors, options


def test_fileno(pair):
    fd = pair.conn.fileno()
    assert isinstance(fd, int) and fd >= 0
    assert stat.S_ISSOCK(os.fstat(fd).st_mode)
    assert pair.client.fileno() != fd


def test_setsockopt_getsockopt(eventlet, pair):
    pair.client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert pair.client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    pair.client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    assert pair.client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
    assert pair.server.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0, "listen() sets SO_REUSEADDR by default"
    rcvbuf = pair.conn.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    assert isinstance(rcvbuf, int) and rcvbuf > 0
    raw = pair.conn.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4)
    assert isinstance(raw, bytes) and len(raw) == 4
    pair.conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    assert pair.conn.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1


def test_listen_reuse_addr_false(eventlet):
    server = eventlet.listen(("127.0.0.1", 0), reuse_addr=False)
    assert server.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0
    server.close()


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT on this platform")
def test_listen_reuse_port(eventlet):
    import ghsupport as support

    port = support.free_port()
    a = eventlet.listen(("127.0.0.1", port), reuse_port=True)
    assert a.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
    b = eventlet.listen(("127.0.0.1", port), reuse_port=True)  # a second listener on the same port
    assert b.getsockname()[1] == port
    c = eventlet.connect(("127.0.0.1", port))
    c.close()
    a.close()
    b.close()


def test_listen_backlog_argument(eventlet):
    server = eventlet.listen(("127.0.0.1", 0), backlog=5)
    c = eventlet.connect(("127.0.0.1", server.getsockname()[1]))
    conn, _ = server.accept()
    for s in (c, conn, server):
        s.close()


def test_listen_address_in_use(eventlet):
    a = eventlet.listen(("127.0.0.1", 0))
    with pytest.raises(OSError) as info:
        eventlet.listen(("127.0.0.1", a.getsockname()[1]))
    assert info.value.errno == errno.EADDRINUSE
    a.close()


def test_connect_with_bind(eventlet):
    server = eventlet.listen(("127.0.0.1", 0))
    import ghsupport as support

    local = support.free_port()
    c = eventlet.connect(("127.0.0.1", server.getsockname()[1]), bind=("127.0.0.1", local))
    assert c.getsockname() == ("127.0.0.1", local)
    conn, addr = server.accept()
    assert addr == ("127.0.0.1", local)
    for s in (c, conn, server):
        s.close()


def test_connect_refused(eventlet):
    import ghsupport as support

    port = support.closed_port()
    t0 = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        eventlet.connect(("127.0.0.1", port))
    assert time.monotonic() - t0 < 2


# --------------------------------------------------------------------------- errors


def test_reset_by_peer_reads_as_end_of_file(eventlet, pair):
    # Eventlet's recv() turns ECONNRESET into b'' (more in test_socket_errors.py).
    pair.client.sendall(b"unread data")
    eventlet.sleep(0.01)
    pair.conn.close()  # closing with unread data sends RST
    eventlet.sleep(0.01)
    assert pair.client.recv(10) == b""


def test_send_to_vanished_peer(eventlet, pair):
    pair.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    pair.conn.close()  # linger 0: RST
    eventlet.sleep(0.01)
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        for _ in range(100):
            pair.client.send(b"x" * 65536)
            eventlet.sleep(0.001)


# --------------------------------------------------------------------------- green threads and sockets


def test_killed_mid_recv_leaves_others_healthy(eventlet, GreenletExit):
    server = eventlet.listen(("127.0.0.1", 0))
    port = server.getsockname()[1]
    log = []

    def blocked_reader(sock):
        try:
            sock.recv(10)
            log.append("recv returned")
        except GreenletExit:
            log.append("killed")
            raise
        finally:
            log.append("finally")

    def echo(sock):
        while True:
            data = sock.recv(100)
            if not data:
                return
            sock.sendall(data)

    c1 = eventlet.connect(("127.0.0.1", port))
    s1, _ = server.accept()
    c2 = eventlet.connect(("127.0.0.1", port))
    s2, _ = server.accept()
    victim = eventlet.spawn(blocked_reader, s1)
    healthy = eventlet.spawn(echo, s2)
    eventlet.sleep(0.01)
    victim.kill()
    assert log == ["killed", "finally"]
    c2.sendall(b"after kill")
    assert recv_exact(c2, 10) == b"after kill"
    # the victim's socket is still usable by someone else
    c1.sendall(b"abc")
    assert recv_exact(s1, 3) == b"abc"
    c2.close()
    healthy.wait()
    for s in (c1, s1, s2, server):
        s.close()


def test_socket_left_by_dead_green_thread_is_closed(eventlet):
    server = eventlet.listen(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def leaves_socket_open():
        c = eventlet.connect(("127.0.0.1", port))
        c.sendall(b"bye")
        # returns without closing c

    eventlet.spawn_n(leaves_socket_open)
    conn, _ = server.accept()
    eventlet.sleep(0.01)
    gc.collect()
    conn.settimeout(2)
    assert recv_all(conn) == b"bye", "the peer must see EOF once the socket is dropped"
    conn.close()
    server.close()


def test_socket_garbage_collected_is_closed(eventlet):
    server = eventlet.listen(("127.0.0.1", 0))
    port = server.getsockname()[1]
    c = eventlet.connect(("127.0.0.1", port))
    conn, _ = server.accept()
    del c
    gc.collect()
    conn.settimeout(2)
    assert recv_all(conn) == b""
    conn.close()
    server.close()
