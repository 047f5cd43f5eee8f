"""greenhub.wsgi against PEP 3333 and Eventlet's wsgi.server, with real clients (requests,
http.client, raw sockets) and wsgiref.validate around the applications.

Each server is a process of its own (wsgi_support.served) running an application of
wsgi_apps.py; the server's log is its stderr.
"""

import http.client
import json
import os
import re
import socket

import pytest
import requests

from wsgi_support import exchange, read_response, served

pytestmark = pytest.mark.greenhub_only("greenhub.wsgi runs the server process")


@pytest.fixture(scope="module")
def valid():
    """The applications under wsgiref.validate."""
    with served("valid-stream") as s:
        yield s


@pytest.fixture(scope="module")
def env_server():
    with served("valid-environ") as s:
        yield s


def environ_of(server, path="/", **kw):
    r = requests.request(kw.pop("method", "GET"), server.url + path, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def test_environ_is_pep_3333(env_server):
    env = environ_of(env_server, "/a%20b/%C3%A9?x=1&y=%20", headers={"X-Custom": "v"})
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == ""
    # PATH_INFO is decoded, as latin-1 (PEP 3333: "bytes in a str"); the query is left as sent
    assert env["PATH_INFO"] == "/a b/\u00c3\u00a9"
    assert env["RAW_PATH_INFO"] == "/a%20b/%C3%A9"
    assert env["QUERY_STRING"] == "x=1&y=%20"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(env_server.port)
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert int(env["REMOTE_PORT"]) > 0
    assert env["HTTP_HOST"] == "127.0.0.1:%d" % env_server.port
    assert env["HTTP_X_CUSTOM"] == "v"
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.version"] == [1, 0]
    assert env["wsgi.multithread"] is True and env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    assert "CONTENT_LENGTH" not in env
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert "Traceback" not in env_server.log(0)


def test_environ_content_fields_and_repeated_headers(env_server):
    with socket.create_connection(("127.0.0.1", env_server.port), timeout=5) as s:
        s.sendall(b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Type: text/x-test\r\n"
                  b"Content-Length: 3\r\nX-Twice: a\r\nX-Twice: b\r\nX_Under: no\r\n"
                  b"\r\nabc")
        head, body = read_response(s)
    env = json.loads(body)
    assert env["CONTENT_TYPE"] == "text/x-test"
    assert env["CONTENT_LENGTH"] == "3"
    assert env["body"] == "abc"
    assert env["HTTP_X_TWICE"] == "a,b"
    # a name with "_" is dropped: it would pass for X-Under (as Eventlet, nginx, Django)
    assert not any(k.startswith("HTTP_X_UNDER") for k in env)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_http_1_0_request(env_server):
    out = exchange(env_server.port, b"GET /old HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 ")
    env = json.loads(out.partition(b"\r\n\r\n")[2])
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert env["PATH_INFO"] == "/old"


@pytest.mark.parametrize("how", ["read", "read1k", "readline", "readlines", "iter"])
def test_input_content_length(how):
    data = b"".join(b"line %d of the body\n" % i for i in range(400))
    with served("valid-input") as s:
        r = requests.post(s.url + "/" + how, data=data)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["data"].encode("latin-1") == data
        if how in ("readline", "readlines", "iter"):
            assert got["lengths"] == [len(b"line %d of the body\n" % i) for i in range(400)]
        if how == "read1k":
            assert max(got["lengths"]) <= 1024
        assert "Traceback" not in s.log(0)


@pytest.mark.parametrize("how", ["read", "readline", "iter"])
def test_input_chunked(how):
    pieces = [b"first line\nsecond ", b"line\n", b"x" * 70000, b"\nlast"]
    with served("input") as s:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        c.request("POST", "/" + how, body=iter(pieces), encode_chunked=True,
                  headers={"Transfer-Encoding": "chunked"})
        r = c.getresponse()
        got = json.loads(r.read())
        c.close()
    assert got["data"].encode("latin-1") == b"".join(pieces)
    if how != "read":
        assert got["lengths"] == [11, 12, 70001, 4]


def test_expect_100_continue_on_first_read():
    with served("input") as s, s.connect() as c:
        c.sendall(b"POST /read HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert c.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        c.sendall(b"hello")
        head, body = read_response(c)
        assert head.startswith("HTTP/1.1 200")
        assert json.loads(body)["data"] == "hello"


def test_generator_is_chunked_on_1_1_and_until_close_on_1_0(valid):
    r = requests.get(valid.url + "/gen")
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert r.content == b"piece0;piece1;piece2;"
    out = exchange(valid.port, b"GET /gen HTTP/1.0\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"chunked" not in head.lower() and b"Connection: close" in head
    assert body == b"piece0;piece1;piece2;"


def test_write_callable_then_iterable(valid):
    r = requests.get(valid.url + "/write")
    assert r.content == b"written;returned"


def test_sized_body_has_content_length_and_head_has_no_body(valid):
    r = requests.get(valid.url + "/")
    assert r.headers["Content-Length"] == "5" and r.content == b"hello"
    with valid.connect() as c:
        c.sendall(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        data = b""
        while data.count(b"hello") < 1:
            chunk = c.recv(4096)
            assert chunk
            data += chunk
    first, _, rest = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 5" in first
    assert rest.startswith(b"HTTP/1.1 200")  # the HEAD response carried no body


def test_close_is_called_on_the_result(valid):
    before = int(requests.get(valid.url + "/closes").content)
    for _ in range(3):
        assert requests.get(valid.url + "/closing").content == b"ab"
    # validator's iterator wrapper counts too: only results with close() of our own here
    assert int(requests.get(valid.url + "/closes").content) == before + 3


def test_file_wrapper(valid, tmp_path):
    path = tmp_path / "data.bin"
    data = os.urandom(300000)
    path.write_bytes(data)
    r = requests.get("%s/file?%s" % (valid.url, path))
    assert r.status_code == 200
    assert r.content == data


def test_app_raising_gives_500_with_traceback_and_server_goes_on():
    with served("stream") as s:
        r = requests.get(s.url + "/raise")
        assert r.status_code == 500
        assert "RuntimeError: the application failed on purpose" in r.text
        assert r.headers["Connection"] == "close"
        assert requests.get(s.url + "/").content == b"hello"
        assert "Traceback" in s.log()
    with served("stream", debug=False) as s:
        r = requests.get(s.url + "/raise")
        assert r.status_code == 500 and r.content == b""


def test_exc_info_replaces_the_status_before_the_body(valid):
    r = requests.get(valid.url + "/exc-info")
    assert r.status_code == 503
    assert r.content == b"replaced by exc_info"


def test_exc_info_after_the_body_began_reraises_and_ends_the_connection():
    with served("stream") as s:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        c.request("GET", "/exc-late")
        r = c.getresponse()
        assert r.status == 200
        with pytest.raises(http.client.IncompleteRead) as e:
            r.read()
        assert e.value.partial == b"begun;"
        assert "ValueError: too late" in s.log()
        assert requests.get(s.url + "/").content == b"hello"


def test_keep_alive_serves_many_requests_on_one_connection(valid):
    c = http.client.HTTPConnection("127.0.0.1", valid.port, timeout=5)
    ports = set()
    for _ in range(5):
        c.request("GET", "/")
        r = c.getresponse()
        assert r.read() == b"hello"
        ports.add(c.sock.getsockname()[1])
    assert len(ports) == 1
    c.close()


def test_keepalive_false_closes_after_each_response():
    with served("hello", keepalive=False) as s:
        out = exchange(s.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert out.count(b"HTTP/1.1 200") == 1
        assert b"Connection: close" in out


def test_access_log_format():
    with served("stream") as s:
        requests.get(s.url + "/x?y=1", headers={"X-Forwarded-For": "10.1.2.3"})
        log = s.log()
    assert "wsgi starting up on http://127.0.0.1:%d" % s.port in log
    line = re.search(
        r'^10\.1\.2\.3,127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4} \d\d:\d\d:\d\d\] '
        r'"GET /x\?y=1 HTTP/1\.1" 200 5 \d+\.\d{6}$', log, re.M)
    assert line, log


def test_log_output_false_logs_nothing():
    with served("stream", log_output=False) as s:
        requests.get(s.url + "/")
        assert s.log() == ""


def test_validator_finds_nothing(valid, env_server):
    for path in ("/", "/gen", "/write", "/closing", "/exc-info"):
        assert requests.get(valid.url + path).status_code in (200, 503)
    requests.post(env_server.url + "/", data=b"x" * 10)
    log = valid.log() + env_server.log()
    assert "Traceback" not in log and "Warning" not in log, log


def test_each_request_of_a_connection_has_its_own_fields(env_server):
    """The environ entries of a connection's fields are reused only while they are the same."""
    heads = [b"X-A: 1\r\nX-First: yes\r\n", b"X-A: 2\r\n", b"X-A: 1\r\nX-First: yes\r\n"]
    envs = []
    with env_server.connect() as c:
        for fields in heads:
            c.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n" + fields + b"\r\n")
            envs.append(json.loads(read_response(c)[1]))
    assert [e["HTTP_X_A"] for e in envs] == ["1", "2", "1"]
    assert [("HTTP_X_FIRST" in e) for e in envs] == [True, False, True]
