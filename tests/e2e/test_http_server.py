"""End-to-end tests of examples-c http_server (`http_server -p PORT -r ROOT [-t TIMEOUT]`).

Real clients (`http.client`, `requests`) for what a browser or a script does; raw sockets for
what a hostile client does: pipelined, smuggling, oversized and slow requests, each sent as
exact bytes. ROOT holds files of several types; a secret lies beside it, and symlinks in ROOT
point at it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from e2e_support import SOCKET_TIMEOUT, connect, recv_until_eof

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuse"))
import slowfiles  # noqa: E402
import slowfs  # noqa: E402

INDEX = b"<html><body>hello</body></html>\n"


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    (root / "sub dir").mkdir(parents=True)
    secret = tmp_path / "secret"
    secret.write_bytes(b"TOP-SECRET-" + os.urandom(8).hex().encode())
    (root / "index.html").write_bytes(INDEX)
    (root / "style.css").write_bytes(b"body { color: red }\n")
    (root / "data.json").write_bytes(b'{"a": 1}\n')
    (root / "blob").write_bytes(b"\x00\x01\x02")
    big = os.urandom(3 << 20)
    (root / "big.bin").write_bytes(big)
    (root / "sub dir" / "f 1.txt").write_bytes(b"spaced name\n")
    os.symlink("../secret", root / "link_rel")
    os.symlink(str(secret), root / "link_abs")
    os.symlink("..", root / "dir_up")
    os.symlink("index.html", root / "link_in")
    return SimpleNamespace(root=root, secret=secret.read_bytes(), big=big)


def start_http(start_server, tree, *extra):
    return start_server("http_server", "-r", str(tree.root), *extra)


def raw_exchange(port: int, data: bytes, timeout: float = SOCKET_TIMEOUT) -> bytes:
    """Sends `data`, then everything the server sends until it closes."""
    with connect(port, timeout) as sock:
        sock.sendall(data)
        return recv_until_eof(sock, timeout)


def read_response(sock_file) -> tuple:
    """(status, headers dict with lower-case names, body) of one response from a file object."""
    status_line = sock_file.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = sock_file.readline()
        assert line.endswith(b"\r\n"), line
        if line == b"\r\n":
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = sock_file.read(int(headers.get("content-length", "0")))
    return status, headers, body


# --------------------------------------------------------------------------- real clients


def test_http_client_keep_alive_types_and_head(start_server, tree):
    srv = start_http(start_server, tree)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=SOCKET_TIMEOUT)
    want = {
        "/index.html": ("text/html; charset=utf-8", INDEX),
        "/style.css": ("text/css", b"body { color: red }\n"),
        "/data.json": ("application/json", b'{"a": 1}\n'),
        "/blob": ("application/octet-stream", b"\x00\x01\x02"),
        "/sub%20dir/f%201.txt": ("text/plain; charset=utf-8", b"spaced name\n"),
        "/link_in": ("application/octet-stream", INDEX),
    }
    sock = None
    for path, (ctype, body) in want.items():
        conn.request("GET", path)
        resp = conn.getresponse()
        assert resp.status == 200, path
        assert resp.getheader("Content-Type") == ctype, path
        assert resp.read() == body, path
        assert resp.getheader("Date"), "no Date field"
        sock = sock or conn.sock
        assert conn.sock is sock, "the connection was not kept alive"
    conn.request("HEAD", "/big.bin")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Length") == str(len(tree.big))
    assert resp.read() == b""
    conn.request("GET", "/index.html")  # the HEAD's body was not sent: framing still right
    assert conn.getresponse().read() == INDEX
    assert conn.sock is sock
    conn.close()


def test_requests_session_big_file_and_errors(start_server, tree):
    srv = start_http(start_server, tree)
    base = f"http://127.0.0.1:{srv.port}"
    with requests.Session() as s:
        r = s.get(base + "/big.bin", timeout=SOCKET_TIMEOUT)
        assert r.status_code == 200
        assert hashlib.sha256(r.content).digest() == hashlib.sha256(tree.big).digest()
        r = s.get(base + "/missing", timeout=SOCKET_TIMEOUT)
        assert r.status_code == 404
        r = s.get(base + "/sub%20dir", timeout=SOCKET_TIMEOUT)
        assert r.status_code == 404, "a directory is not served"
        r = s.post(base + "/index.html", data=b"x" * 10000, timeout=SOCKET_TIMEOUT)
        assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"
        # (requests would quote the bad escape: sent raw)
        out = raw_exchange(srv.port, b"GET /bad%zzescape HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 400 "), out[:80]
        r = s.get(base + "/index.html", timeout=SOCKET_TIMEOUT)  # still the same session
        assert r.status_code == 200 and r.content == INDEX
    srv.assert_alive()


def test_confined_to_root(start_server, tree):
    srv = start_http(start_server, tree)
    escapes = [
        b"/../secret", b"/%2e%2e/secret", b"/%2E%2E%2Fsecret", b"/sub%20dir/../../secret",
        b"/link_rel", b"/link_abs", b"/dir_up/secret", b"//etc/passwd", b"/%2Fetc%2Fpasswd",
        b"/..%2f..%2f..%2fetc%2fpasswd", b"/.%2e/secret", b"/index.html%00.txt",
        b"/proc/self/root/etc/passwd",
    ]
    for target in escapes:
        out = raw_exchange(srv.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert out.startswith((b"HTTP/1.1 404 ", b"HTTP/1.1 400 ")), (target, out[:80])
        assert tree.secret not in out and b"root:" not in out, target
    srv.assert_alive()


# --------------------------------------------------------------------------- hostile input


def test_pipelined_requests_answered_in_order(start_server, tree):
    srv = start_http(start_server, tree)
    paths = [b"/style.css", b"/missing", b"/index.html", b"/data.json"] * 5
    data = b"".join(b"GET " + p + b" HTTP/1.1\r\nHost: x\r\n\r\n" for p in paths)
    with connect(srv.port) as sock:
        sock.sendall(data)
        f = sock.makefile("rb")
        for p in paths:
            status, headers, body = read_response(f)
            if p == b"/missing":
                assert status == 404
            else:
                assert status == 200 and body == (tree.root / p[1:].decode()).read_bytes(), p


HOSTILE = [
    # (what, bytes, status)
    ("Content-Length with Transfer-Encoding",
     b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("two different Content-Lengths",
     b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 38\r\n\r\n"
     b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("obs-fold", b"GET /index.html HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n", 400),
    ("space before the colon",
     b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
    ("an unknown transfer coding", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
    ("no Host in HTTP/1.1", b"GET /index.html HTTP/1.1\r\n\r\n", 400),
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    ("request line over 8 KiB", b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("head over 64 KiB", b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"v" * 1000 + b"\r\n" * 1
     + (b"X-Big: " + b"v" * 1000 + b"\r\n") * 70 + b"\r\n", 431),
    ("too many fields", b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 120 + b"\r\n", 431),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
]


@pytest.mark.parametrize("what,data,status", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_requests_refused_and_never_read_as_two(start_server, tree, what, data, status):
    srv = start_http(start_server, tree)
    out = raw_exchange(srv.port, data)
    assert out.startswith(b"HTTP/1.1 %d " % status), (what, out[:100])
    assert out.count(b"HTTP/1.1 ") == 1, f"{what}: more than one response: {out!r}"
    assert b"Connection: close\r\n" in out
    # the server goes on serving others
    assert requests.get(f"http://127.0.0.1:{srv.port}/index.html", timeout=SOCKET_TIMEOUT).content == INDEX


def test_bad_chunked_body_ends_the_connection(start_server, tree):
    """The server ignores GET bodies, but skips them by their framing: a malformed chunk size
    ends the connection instead of the rest being read as a request."""
    srv = start_http(start_server, tree)
    data = (b"GET /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nGET /style.css HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /data.json HTTP/1.1\r\nHost: x\r\n\r\n")
    out = raw_exchange(srv.port, data)
    assert out.count(b"HTTP/1.1 ") == 1 and out.startswith(b"HTTP/1.1 200 "), out[:200]
    assert out.endswith(INDEX)


def test_slowloris_gets_cut_off_and_others_are_served(start_server, tree):
    srv = start_http(start_server, tree, "-t", "1")
    slow = [connect(srv.port) for _ in range(50)]
    head = b"GET /index.html HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    t0 = time.monotonic()
    closed_at = {}
    worst = 0.0
    session = requests.Session()
    i = 0
    while len(closed_at) < len(slow) and time.monotonic() - t0 < 6:
        for k, s in enumerate(slow):  # a byte each, every 100 ms
            if k in closed_at:
                continue
            try:
                s.sendall(head[i:i + 1] or b"b")
            except OSError:
                closed_at[k] = time.monotonic() - t0
        t1 = time.monotonic()
        assert session.get(f"http://127.0.0.1:{srv.port}/style.css", timeout=5).status_code == 200
        worst = max(worst, time.monotonic() - t1)
        i += 1
        time.sleep(0.1)
    for k, s in enumerate(slow):
        if k not in closed_at:
            s.settimeout(0.1)
            try:
                if s.recv(100) == b"":
                    closed_at[k] = time.monotonic() - t0
            except OSError:
                closed_at[k] = time.monotonic() - t0
        s.close()
    assert len(closed_at) == len(slow), f"{len(slow) - len(closed_at)} slow clients still connected after 6 s"
    assert max(closed_at.values()) < 4.0, f"slow heads were cut after {max(closed_at.values()):.1f} s (limit 1 s)"
    assert worst < 1.0, f"a normal client waited {worst:.2f} s while slow ones trickled"


def test_1000_concurrent_keep_alive_connections(start_server, tree):
    srv = start_http(start_server, tree)
    socks = []
    try:
        for _ in range(1000):
            socks.append(connect(srv.port))
        request = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
        for rnd in range(2):  # the second round proves every connection was kept alive
            for s in socks:
                s.sendall(request)
            for s in socks:
                f = s.makefile("rb")
                status, _, body = read_response(f)
                f.close()
                assert status == 200 and body == INDEX, f"round {rnd}"
        assert srv.rss_kib() < 200 * 1024, f"server RSS {srv.rss_kib()} KiB with 1000 connections"
    finally:
        for s in socks:
            s.close()
    srv.assert_alive()


def test_slow_filesystem_open_stalls_nobody(start_server, tree, tmp_path):
    try:
        mount = slowfiles.SlowFsMount(tree.root / "fuse", log_dir=tmp_path)
    except slowfiles.MountError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        srv = start_http(start_server, tree)
        result = {}

        def slow_fetch():
            t0 = time.monotonic()
            r = requests.get(f"http://127.0.0.1:{srv.port}/fuse/slow_open.bin", timeout=30)
            result.update(status=r.status_code, body=r.content, seconds=time.monotonic() - t0)

        fetcher = threading.Thread(target=slow_fetch)
        fetcher.start()
        worst, count = 0.0, 0
        with requests.Session() as s:
            while fetcher.is_alive():
                t1 = time.monotonic()
                assert s.get(f"http://127.0.0.1:{srv.port}/index.html", timeout=5).content == INDEX
                worst = max(worst, time.monotonic() - t1)
                count += 1
                time.sleep(0.01)
        fetcher.join()
        assert result["status"] == 200 and result["body"] == slowfs.content("slow_open.bin")
        assert result["seconds"] >= 2.5, "the open was not slow: the test proves nothing"
        assert count >= 20 and worst < 1.0, f"others waited up to {worst:.2f} s during a 3 s open"
    finally:
        mount.close()
