"""Green sockets: timeouts and blocking modes (settimeout, setblocking).

Everything runs over 127.0.0.1 with bounded waits: an autouse fixture (socket_support) arms an
``eventlet.Timeout`` around each test, on top of the conftest watchdog.
"""

import errno
import socket
import time

import pytest

from socket_support import _deadline, pair, recv_exact  # noqa: F401 (fixtures)


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
