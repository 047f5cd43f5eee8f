"""greenhub.wsgi.server's own arguments, in-process: the server in a green thread, green
sockets as clients (server_event, custom_pool, max_size, stopping by kill, header names,
a numeric keepalive)."""

import io
import time

import pytest

pytestmark = pytest.mark.greenhub_only("greenhub.wsgi")


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hi"]


def get(eventlet, port, path="/"):
    c = eventlet.connect(("127.0.0.1", port))
    try:
        c.sendall(b"GET %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" % path.encode())
        out = b""
        while True:
            chunk = c.recv(4096)
            if not chunk:
                return out
            out += chunk
    finally:
        c.close()


@pytest.fixture
def wsgi():
    from greenhub import wsgi
    return wsgi


def start(eventlet, wsgi, app=hello, **kw):
    sock = eventlet.listen(("127.0.0.1", 0))
    log = io.StringIO()
    gt = eventlet.spawn(wsgi.server, sock, app, log=log, **kw)
    return gt, sock.getsockname()[1], log, sock


def test_server_event_gets_the_server_and_kill_stops_it(eventlet, wsgi):
    ev = eventlet.Event()
    gt, port, log, sock = start(eventlet, wsgi, server_event=ev)
    serv = ev.wait()
    assert isinstance(serv, wsgi.Server) and serv.app is hello
    assert get(eventlet, port).endswith(b"\r\n\r\nhi")
    gt.kill()
    assert sock.fileno() == -1  # server() closed its socket on the way out
    assert "wsgi starting up" in log.getvalue() and "wsgi exited" in log.getvalue()
    assert '"GET / HTTP/1.1" 200 2 ' in log.getvalue()


def test_custom_pool_runs_the_connections(eventlet, wsgi):
    pool = eventlet.GreenPool(10)
    seen = []

    def app(environ, start_response):
        seen.append(pool.running())
        return hello(environ, start_response)

    gt, port, _log, _sock = start(eventlet, wsgi, app, custom_pool=pool)
    assert get(eventlet, port).endswith(b"hi")
    assert seen == [1]
    gt.kill()


def test_max_size_bounds_the_connections_served_at_once(eventlet, wsgi):
    gate = eventlet.Event()
    running = []

    def app(environ, start_response):
        running.append(1)
        gate.wait()
        return hello(environ, start_response)

    gt, port, _log, _sock = start(eventlet, wsgi, app, max_size=2)
    clients = [eventlet.spawn(get, eventlet, port) for _ in range(3)]
    eventlet.sleep(0.2)
    assert len(running) == 2  # the third connection waits for a free place
    gate.send()
    assert all(c.wait().endswith(b"hi") for c in clients)
    assert len(running) == 3
    gt.kill()


def test_kill_ends_idle_keep_alive_connections(eventlet, wsgi):
    gt, port, _log, _sock = start(eventlet, wsgi)
    c = eventlet.connect(("127.0.0.1", port))
    c.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert c.recv(4096).endswith(b"hi")
    gt.kill()  # returns once the idle connection has ended
    assert c.recv(4096) == b""
    c.close()


def test_response_header_names_are_capitalized(eventlet, wsgi):
    def app(environ, start_response):
        start_response("200 OK", [("content-TYPE", "text/plain"), ("x-my-field", "v")])
        return [b"ok"]

    gt, port, _log, _sock = start(eventlet, wsgi, app)
    out = get(eventlet, port)
    assert b"\r\nContent-Type: text/plain\r\n" in out and b"\r\nX-My-Field: v\r\n" in out
    gt.kill()


def test_numeric_keepalive_bounds_the_wait_for_the_next_request(eventlet, wsgi):
    gt, port, _log, _sock = start(eventlet, wsgi, keepalive=0.3)
    c = eventlet.connect(("127.0.0.1", port))
    c.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert c.recv(4096).endswith(b"hi")
    t0 = time.monotonic()
    with eventlet.Timeout(5):
        assert c.recv(4096) == b""  # the server closed the idle connection
    waited = time.monotonic() - t0
    assert 0.2 < waited < 3, waited
    c.close()
    gt.kill()
