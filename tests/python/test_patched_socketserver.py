"""After ``eventlet.monkey_patch()``: ``socketserver`` as documented. A TCPServer whose
requests each run in a green thread of their own (its ``process_request`` spawns, as
ThreadingMixIn does with threads) serves 20 clients whose answers each take T in about T;
``serve_forever`` waits green (selectors). ``socketserver.ThreadingTCPServer`` itself, whose
threads are green threads once ``threading`` is patched, does the same, and ``shutdown()``
(a ``threading.Event`` wait) stops ``serve_forever`` from another green thread."""

import pytest

from patched_support import run_patched

pytestmark = pytest.mark.budget(40)

N = 20
T = 0.3
CONCURRENT = 5 * T


def test_tcp_server_with_green_requests(tmp_path):
    r = run_patched(
        f"""
        import socket, socketserver

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline()
                eventlet.sleep({T})
                self.wfile.write(line.upper())

        class GreenTCPServer(socketserver.TCPServer):
            allow_reuse_address = True
            request_queue_size = 50

            def process_request(self, request, client_address):
                eventlet.spawn_n(self._serve_one, request, client_address)

            def _serve_one(self, request, client_address):
                try:
                    self.finish_request(request, client_address)
                finally:
                    self.shutdown_request(request)

        server = GreenTCPServer(("127.0.0.1", 0), Handler)
        port = server.server_address[1]
        runner = eventlet.spawn(server.serve_forever, 0.05)

        def client(i):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                c.sendall(b"request %d\\n" % i)
                return c.makefile("rb").readline().decode()

        pool = eventlet.GreenPool()
        t0 = clock()
        got = list(pool.imap(client, range({N})))
        elapsed = clock() - t0
        # shutdown() waits on a threading.Event: green only with the thread key patched, so
        # the serving green thread is killed instead.
        eventlet.kill(runner)
        server.server_close()
        report(got=got, elapsed=elapsed, sock=type(server.socket).__name__)
        """,
        tmp_path,
    )
    assert r["got"] == ["REQUEST %d\n" % i for i in range(N)]
    assert T * 0.8 <= r["elapsed"] < CONCURRENT, r
    assert r["sock"] == "GreenSocket"


def test_threading_tcp_server_and_shutdown(tmp_path):
    r = run_patched(
        f"""
        import socket, socketserver, threading

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline()
                eventlet.sleep({T})
                self.wfile.write(line.upper())

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            request_queue_size = 50
            daemon_threads = True

        server = Server(("127.0.0.1", 0), Handler)
        port = server.server_address[1]
        runner = threading.Thread(target=server.serve_forever, args=(0.05,))
        runner.start()

        def client(i):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                c.sendall(b"request %d\\n" % i)
                return c.makefile("rb").readline().decode()

        pool = eventlet.GreenPool()
        t0 = clock()
        got = list(pool.imap(client, range({N})))
        elapsed = clock() - t0
        t1 = clock()
        server.shutdown()  # waits until serve_forever has returned
        runner.join(5)
        stopped = clock() - t1
        server.server_close()
        report(got=got, elapsed=elapsed, stopped=stopped, alive=runner.is_alive())
        """,
        tmp_path,
    )
    assert r["got"] == ["REQUEST %d\n" % i for i in range(N)]
    assert T * 0.8 <= r["elapsed"] < CONCURRENT, r
    assert not r["alive"] and r["stopped"] < 2, r
