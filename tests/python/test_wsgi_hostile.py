"""greenhub.wsgi against hostile clients: limits answered with the right status, request
smuggling refused, a slow client stalls nobody, a failing application only fails its request,
and 1,000 keep-alive connections served at once."""

import resource
import socket
import time

import pytest
import requests

from wsgi_support import exchange, read_response, served

pytestmark = pytest.mark.greenhub_only("greenhub.wsgi runs the server process")


@pytest.fixture(scope="module")
def hello():
    with served("stream") as s:
        yield s


def status_of(response):
    return int(response.split(b" ", 2)[1])


def test_request_line_too_long_is_414(hello):
    out = exchange(hello.port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status_of(out) == 414
    assert requests.get(hello.url + "/").content == b"hello"


def test_url_length_limit_is_the_servers():
    with served("stream", url_length_limit=100) as s:
        assert status_of(exchange(s.port, b"GET /" + b"a" * 200 + b" HTTP/1.1\r\nHost: h\r\n\r\n")) == 414
        assert status_of(exchange(s.port, b"GET /" + b"a" * 50 + b" HTTP/1.0\r\n\r\n")) == 200


def test_header_block_too_large_is_431(hello):
    fields = b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 1000) for i in range(70))
    out = exchange(hello.port, b"GET / HTTP/1.1\r\nHost: h\r\n" + fields + b"\r\n")
    assert status_of(out) == 431


def test_too_many_header_fields_is_431(hello):
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(150))
    assert status_of(exchange(hello.port, b"GET / HTTP/1.1\r\nHost: h\r\n" + fields + b"\r\n")) == 431


def test_content_length_with_transfer_encoding_is_400_and_nothing_is_smuggled(hello):
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
    out = exchange(hello.port, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled)
    assert status_of(out) == 400
    assert out.count(b"HTTP/1.1") == 1
    assert "/smuggled" not in hello.log()


def test_differing_content_lengths_are_400(hello):
    out = exchange(hello.port, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                               b"Content-Length: 4\r\n\r\nabcd")
    assert status_of(out) == 400


def test_malformed_request_is_400(hello):
    assert status_of(exchange(hello.port, b"GET / HTTP/1.1\r\nno colon here\r\n\r\n")) == 400


def test_malformed_chunk_fails_the_reading_application_only():
    with served("input") as s:
        out = exchange(s.port, b"POST /read HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
                               b"\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
        assert status_of(out) == 500
        assert "ChunkReadError" in s.log()
        r = requests.post(s.url + "/read", data=b"fine")
        assert r.json()["data"] == "fine"


@pytest.mark.budget(30)
def test_slowloris_client_stalls_nobody(hello):
    slow = hello.connect()
    slow.sendall(b"GET / HTTP/1.1\r\n")
    try:
        t0 = time.monotonic()
        session = requests.Session()
        for i in range(20):
            slow.sendall(b"X")  # a byte of a field name now and then, never the end
            assert session.get(hello.url + "/").content == b"hello"
        took = time.monotonic() - t0
        assert took < 2.0, "20 requests took %.1f s beside a slow client" % took
    finally:
        slow.close()


def test_failing_application_fails_only_its_request(hello):
    for _ in range(20):
        assert requests.get(hello.url + "/raise").status_code == 500
        assert requests.get(hello.url + "/").content == b"hello"


@pytest.mark.budget(90)
def test_1000_concurrent_keep_alive_connections():
    n = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 200
    if soft < want:
        # the server process inherits the raised limit
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(want, soft)), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= want, "ulimit -n too low"
    with served("hello", log_output=False, backlog=n) as s:
        conns = []
        try:
            t0 = time.monotonic()
            for _ in range(n):
                conns.append(socket.create_connection(("127.0.0.1", s.port), timeout=30))
            for round_ in range(2):
                for c in conns:
                    c.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
                for c in conns:
                    head, body = read_response(c)
                    assert head.startswith("HTTP/1.1 200") and body == b"Hello, world!\n"
            took = time.monotonic() - t0
            assert took < 60, "1,000 connections x 2 requests took %.1f s" % took
        finally:
            for c in conns:
                c.close()
