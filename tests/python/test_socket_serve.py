"""Green sockets: eventlet.serve and StopServe.

Everything runs over 127.0.0.1 with bounded waits: an autouse fixture (socket_support) arms an
``eventlet.Timeout`` around each test, on top of the conftest watchdog.
"""

import pytest

from socket_support import _deadline, recv_all  # noqa: F401 (fixtures)


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
