"""Green sockets: listen/connect/accept and the standard library's socket interface.

Everything runs over 127.0.0.1 with bounded waits: an autouse fixture arms an
``eventlet.Timeout`` around each test, on top of the conftest watchdog.
"""

import errno
import gc
import os
import socket
import stat
import tempfile
import time

import pytest


@pytest.fixture(autouse=True)
def _deadline(eventlet):
    t = eventlet.Timeout(8)
    try:
        yield
    finally:
        t.cancel()


def recv_exact(sock, n):
    chunks = []
    got = 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            raise AssertionError(f"EOF after {got} of {n} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_all(sock):
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


class Pair:
    def __init__(self, eventlet):
        self.server = eventlet.listen(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.client = eventlet.connect(("127.0.0.1", self.port))
        self.conn, self.addr = self.server.accept()

    def close(self):
        for s in (self.client, self.conn, self.server):
            try:
                s.close()
            except OSError:
                pass


@pytest.fixture
def pair(eventlet):
    p = Pair(eventlet)
    yield p
    p.close()


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


# --------------------------------------------------------------------------- makefile


def test_makefile_rb_readline_and_iteration(pair):
    f = pair.conn.makefile("rb")
    pair.client.sendall(b"line1\nline2\nline3\npartial")
    pair.client.shutdown(socket.SHUT_WR)
    assert f.readline() == b"line1\n"
    assert list(f) == [b"line2\n", b"line3\n", b"partial"]
    assert f.readline() == b""
    f.close()


def test_makefile_rb_read_n(pair):
    f = pair.conn.makefile("rb")
    pair.client.sendall(b"abcdefgh")
    assert f.read(3) == b"abc"
    pair.client.close()
    assert f.read() == b"defgh"
    f.close()


def test_makefile_r_text(pair):
    f = pair.conn.makefile("r", encoding="utf-8")
    pair.client.sendall("héllo wörld\nzwei\n".encode("utf-8"))
    pair.client.shutdown(socket.SHUT_WR)
    assert f.readline() == "héllo wörld\n"
    assert [line for line in f] == ["zwei\n"]
    assert f.readline() == ""
    f.close()


def test_makefile_readline_with_size(pair):
    f = pair.conn.makefile("rb")
    pair.client.sendall(b"abcdef\nxyz\n")
    assert f.readline(3) == b"abc"
    assert f.readline() == b"def\n"
    assert f.readline(100) == b"xyz\n"
    f.close()


def test_makefile_r_readline_waits_for_the_rest(eventlet, pair):
    f = pair.conn.makefile("r")
    reader = eventlet.spawn(f.readline)
    pair.client.sendall(b"hal")
    eventlet.sleep(0.02)
    assert not reader.dead, "readline returned before the newline arrived"
    pair.client.sendall(b"f line\nnext")
    assert reader.wait() == "half line\n"
    f.close()


def test_makefile_w_text_write_flush(pair):
    f = pair.conn.makefile("w", encoding="utf-8")
    f.write("grüße\n")
    f.write("two\n")
    f.flush()
    assert recv_exact(pair.client, len("grüße\ntwo\n".encode("utf-8"))) == "grüße\ntwo\n".encode("utf-8")
    f.close()


def test_makefile_wb(pair):
    f = pair.conn.makefile("wb")
    assert f.write(b"\x00\x01binary\xff") == 9
    f.flush()
    assert recv_exact(pair.client, 9) == b"\x00\x01binary\xff"
    f.close()


def test_makefile_rw_echo_like_the_seed(pair):
    # Lines are sent one at a time, as typed into nc: in the standard library a text
    # file's write() drops what its read side had buffered, so lines are echoed one by one.
    fd = pair.conn.makefile("rw")
    for line in (b"foo\n", b"bar\n", b"qux\n"):
        pair.client.sendall(line)
        x = fd.readline()
        assert x == line.decode()
        fd.write(x)
        fd.flush()
        assert recv_exact(pair.client, len(line)) == line
    pair.client.shutdown(socket.SHUT_WR)
    assert fd.readline() == ""
    fd.close()


def test_makefile_rwb(pair):
    f = pair.conn.makefile("rwb")
    pair.client.sendall(b"ping\n")
    assert f.readline() == b"ping\n"
    f.write(b"pong\n")
    f.flush()
    assert recv_exact(pair.client, 5) == b"pong\n"
    f.close()


def test_makefile_close_keeps_the_socket_open(pair):
    f = pair.conn.makefile("rb")
    f.close()
    pair.conn.sendall(b"still open")
    assert recv_exact(pair.client, 10) == b"still open"
    pair.conn.close()
    assert recv_all(pair.client) == b""


def test_socket_close_with_a_makefile_open_closes_when_file_closes(pair):
    f = pair.conn.makefile("wb")
    pair.conn.close()  # the file still references it
    f.write(b"via file")
    f.flush()
    assert recv_exact(pair.client, 8) == b"via file"
    f.close()
    assert recv_all(pair.client) == b"", "closing the last file closes the socket"


# --------------------------------------------------------------------------- sendfile


@pytest.mark.greenhub_only(reason="Eventlet's GreenSocket.sendfile raises ValueError on its non-blocking socket")
def test_sendfile(eventlet, pair):
    data = os.urandom(300_000)
    with tempfile.TemporaryFile() as tf:
        tf.write(data)
        tf.seek(0)
        reader = eventlet.spawn(recv_exact, pair.client, len(data))
        assert pair.conn.sendfile(tf) == len(data)
        assert reader.wait() == data
        assert tf.tell() == len(data), "sendfile leaves the file position after the data sent"
        reader = eventlet.spawn(recv_exact, pair.client, 1000)
        assert pair.conn.sendfile(tf, 5000, 1000) == 1000
        assert reader.wait() == data[5000:6000]


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


# --------------------------------------------------------------------------- timeouts, blocking


def test_settimeout_recv_raises_socket_timeout(pair):
    assert pair.conn.gettimeout() is None
    pair.conn.settimeout(0.05)
    assert pair.conn.gettimeout() == pytest.approx(0.05)
    t0 = time.monotonic()
    with pytest.raises(socket.timeout):
        pair.conn.recv(10)
    took = time.monotonic() - t0
    assert 0.04 <= took < 0.5, took
    with pytest.raises(TimeoutError):
        pair.conn.recv(10)
    # the socket still works afterwards
    pair.client.sendall(b"late")
    assert recv_exact(pair.conn, 4) == b"late"


def test_settimeout_accept(eventlet):
    server = eventlet.listen(("127.0.0.1", 0))
    server.settimeout(0.05)
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()


def test_settimeout_makefile_readline(pair):
    pair.conn.settimeout(0.05)
    f = pair.conn.makefile("rb")
    with pytest.raises(socket.timeout):
        f.readline()


def test_settimeout_zero_is_non_blocking(pair):
    pair.conn.settimeout(0)
    assert pair.conn.gettimeout() == 0.0
    with pytest.raises(BlockingIOError):
        pair.conn.recv(10)
    pair.conn.settimeout(None)
    assert pair.conn.gettimeout() is None


def test_setblocking(pair):
    pair.conn.setblocking(False)
    assert pair.conn.gettimeout() == 0.0
    with pytest.raises(BlockingIOError) as info:
        pair.conn.recv(10)
    assert info.value.errno in (errno.EAGAIN, errno.EWOULDBLOCK)
    pair.conn.setblocking(True)
    assert pair.conn.gettimeout() is None
    pair.client.sendall(b"ok")
    assert recv_exact(pair.conn, 2) == b"ok"


def test_non_blocking_accept(eventlet):
    server = eventlet.listen(("127.0.0.1", 0))
    server.setblocking(False)
    with pytest.raises(BlockingIOError):
        server.accept()
    server.close()


def test_timeout_does_not_block_other_threads(eventlet, pair):
    ticks = []

    def ticker():
        for _ in range(5):
            ticks.append(1)
            eventlet.sleep(0.01)

    gt = eventlet.spawn(ticker)
    pair.conn.settimeout(0.15)
    with pytest.raises(socket.timeout):
        pair.conn.recv(1)
    gt.wait()
    assert len(ticks) == 5, "a socket wait blocks only its own green thread"


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


# --------------------------------------------------------------------------- serve


def test_serve_and_stopserve(eventlet):
    server = eventlet.listen(("127.0.0.1", 0))
    port = server.getsockname()[1]
    handled = []

    def handle(sock, addr):
        assert isinstance(addr, tuple)
        data = sock.recv(100)
        handled.append(data)
        if data == b"stop":
            raise eventlet.StopServe()
        sock.sendall(b"echo:" + data)
        # returning closes the client socket

    srv = eventlet.spawn(eventlet.serve, server, handle)
    for word in (b"one", b"two"):
        c = eventlet.connect(("127.0.0.1", port))
        c.sendall(word)
        assert recv_all(c) == b"echo:" + word, "serve closes the client socket when handle returns"
        c.close()
    c = eventlet.connect(("127.0.0.1", port))
    c.sendall(b"stop")
    assert srv.wait() is None, "StopServe makes serve() return"
    assert handled == [b"one", b"two", b"stop"]
    c.close()
    server.close()


def test_serve_reraises_handler_exception(eventlet, capfd):
    server = eventlet.listen(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def handle(sock, addr):
        raise KeyError("handler failed")

    srv = eventlet.spawn(eventlet.serve, server, handle)
    c = eventlet.connect(("127.0.0.1", port))
    with pytest.raises(KeyError):
        srv.wait()
    c.close()
    server.close()


def test_serve_concurrency_limit(eventlet):
    server = eventlet.listen(("127.0.0.1", 0))
    port = server.getsockname()[1]
    active = []
    peak = []

    def handle(sock, addr):
        active.append(1)
        peak.append(len(active))
        eventlet.sleep(0.02)
        active.pop()
        sock.sendall(b"done")

    srv = eventlet.spawn(eventlet.serve, server, handle, concurrency=2)

    def client():
        c = eventlet.connect(("127.0.0.1", port))
        with c:
            return recv_all(c)

    clients = [eventlet.spawn(client) for _ in range(6)]
    assert [gt.wait() for gt in clients] == [b"done"] * 6
    assert max(peak) == 2
    srv.kill()
    server.close()


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
