"""Helpers of the green socket tests (test_socket*.py): byte-exact reads, and a connected pair.

The fixtures here reach a test module by being imported into it: ``_deadline`` (autouse) arms an
``eventlet.Timeout`` around each of its tests, ``pair`` gives a connected ``Pair``.
"""

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
