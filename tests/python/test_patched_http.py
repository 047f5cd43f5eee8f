"""After ``eventlet.monkey_patch()``: ``urllib.request``, ``http.client`` and ``requests``
as their documentation says, against a real ``http.server`` (in a subprocess): 20 green
threads each waiting T for an answer finish in about T, with the right answers. And the green
modules without patching (``greenhub.green.urllib.request``, ``...http.client``)."""

import pytest

from net_support import SLOW, HttpServer
from patched_support import run_patched

pytestmark = pytest.mark.budget(60)

N = 20
CONCURRENT = 5 * SLOW


def test_urllib_request(tmp_path):
    with HttpServer() as port:
        r = run_patched(
            f"""
            import urllib.request
            base = "http://127.0.0.1:{port}"
            def fetch(i):
                with urllib.request.urlopen(base + "/slow/%d" % i, timeout=10) as f:
                    return f.status, f.read().decode()
            pool = eventlet.GreenPool()
            t0 = clock()
            got = list(pool.imap(fetch, range({N})))
            elapsed = clock() - t0
            req = urllib.request.Request(base + "/echo", data=b"posted", method="POST")
            posted = urllib.request.urlopen(req, timeout=10).read().decode()
            report(got=got, elapsed=elapsed, posted=posted)
            """,
            tmp_path,
        )
    assert r["got"] == [[200, "slow %d" % i] for i in range(N)]
    assert SLOW * 0.8 <= r["elapsed"] < CONCURRENT, r
    assert r["posted"] == "posted"


def test_http_client(tmp_path):
    with HttpServer() as port:
        r = run_patched(
            f"""
            import http.client
            def fetch(i):
                conn = http.client.HTTPConnection("localhost", {port}, timeout=10)
                conn.request("GET", "/slow/%d" % i)
                resp = conn.getresponse()
                body = resp.read().decode()
                conn.request("GET", "/")                   # the same connection, kept alive
                again = conn.getresponse().read().decode()
                conn.close()
                return resp.status, body, again
            pool = eventlet.GreenPool()
            t0 = clock()
            got = list(pool.imap(fetch, range({N})))
            elapsed = clock() - t0
            report(got=got, elapsed=elapsed)
            """,
            tmp_path,
        )
    assert r["got"] == [[200, "slow %d" % i, "hello"] for i in range(N)]
    assert SLOW * 0.8 <= r["elapsed"] < CONCURRENT, r


def test_requests(tmp_path):
    with HttpServer() as port:
        r = run_patched(
            f"""
            import requests
            base = "http://127.0.0.1:{port}"
            def fetch(i):
                resp = requests.get(base + "/slow/%d" % i, timeout=10)
                return resp.status_code, resp.text
            pool = eventlet.GreenPool()
            t0 = clock()
            got = list(pool.imap(fetch, range({N})))
            elapsed = clock() - t0
            with requests.Session() as s:
                posted = s.post(base + "/echo", data=b"via requests", timeout=10).text
                again = s.get(base + "/", timeout=10).text
            report(got=got, elapsed=elapsed, posted=posted, again=again)
            """,
            tmp_path,
        )
    assert r["got"] == [[200, "slow %d" % i] for i in range(N)]
    assert SLOW * 0.8 <= r["elapsed"] < CONCURRENT, r
    assert r["posted"] == "via requests" and r["again"] == "hello"


def test_green_modules_without_patching(tmp_path):
    with HttpServer() as port:
        r = run_patched(
            f"""
            import socket, http.client, urllib.request
            from greenhub.green.urllib import request as green_request
            from greenhub.green.http import client as green_client
            def fetch(i):
                return green_request.urlopen("http://127.0.0.1:{port}/slow/%d" % i,
                                             timeout=10).read().decode()
            pool = eventlet.GreenPool()
            t0 = clock()
            got = list(pool.imap(fetch, range({N})))
            elapsed = clock() - t0
            c = green_client.HTTPConnection("127.0.0.1", {port}, timeout=10)
            c.request("GET", "/")
            body = c.getresponse().read().decode()
            report(got=got, elapsed=elapsed, body=body,
                   std_untouched=socket.socket.__module__ == "socket"
                   and http.client.socket is socket and urllib.request.http.client is http.client)
            """,
            tmp_path,
            patch="socket=False, select=False, thread=False, time=False, os=False, "
                  "subprocess=False, psycopg=False",
        )
    assert r["got"] == ["slow %d" % i for i in range(N)]
    assert SLOW * 0.8 <= r["elapsed"] < CONCURRENT, r
    assert r["body"] == "hello" and r["std_untouched"]
