"""WSGI applications the wsgi tests serve, and the server process that runs them.

    python wsgi_apps.py APP [JSON]      serves APP (a name below) with greenhub.wsgi.server,
                                        JSON: server() keyword arguments; prints "PORT n"

The access log goes to stderr (the tests read it); wsgiref.validate's warnings too (they are
made errors here: a WSGI violation fails the request and shows in the log).
"""

import json
import os
import sys
import warnings
from wsgiref.validate import validator

CLOSES = [0]  # how many times a result's close() was called


class Closing:
    """An iterable result that counts its close() calls."""

    def __init__(self, parts):
        self.parts = parts

    def __iter__(self):
        return iter(self.parts)

    def close(self):
        CLOSES[0] += 1


def environ_app(environ, start_response):
    """The environ's str values (and the wsgi.* ones that JSON can carry) as JSON."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    out = {k: v for k, v in environ.items() if isinstance(v, str)}
    for k in ("wsgi.version", "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"):
        out[k] = environ[k]
    out["body"] = body.decode("latin-1")
    data = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]


def input_app(environ, start_response):
    """Reads the body as the path says (read, read1k, readline, readlines, iter) and describes
    it: the pieces' lengths and the whole."""
    inp = environ["wsgi.input"]
    how = environ["PATH_INFO"].strip("/")
    if how == "read":  # all of it: the length, or (chunked) -1
        pieces = [inp.read(int(environ.get("CONTENT_LENGTH") or -1))]
    elif how == "read1k":
        pieces = []
        while True:
            p = inp.read(1024)
            if not p:
                break
            pieces.append(p)
    elif how == "readline":
        pieces = []
        while True:
            p = inp.readline()
            if not p:
                break
            pieces.append(p)
    elif how == "readlines":
        pieces = inp.readlines()
    else:
        pieces = list(inp)
    body = json.dumps({"lengths": [len(p) for p in pieces],
                       "data": b"".join(pieces).decode("latin-1")}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def stream_app(environ, start_response):
    """/gen: a generator of 3 pieces (no length); /write: the write() callable, then a list;
    /closes: how many close() calls were seen; /closing: a result with close(); /head-len: a
    sized body; /file: a file through wsgi.file_wrapper; /raise: an exception; /raise-late:
    one after the first piece; /exc-info: start_response replaced with exc_info; /exc-late:
    exc_info after the body began (re-raised)."""
    path = environ["PATH_INFO"]
    if path == "/gen":
        def gen():
            for i in range(3):
                yield b"piece%d;" % i
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written;")
        return [b"returned"]
    if path == "/closes":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(CLOSES[0]).encode()]
    if path == "/closing":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing([b"a", b"b"])
    if path == "/file":
        f = open(environ["QUERY_STRING"], "rb")
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 4096)
    if path == "/raise":
        raise RuntimeError("the application failed on purpose")
    if path == "/raise-late":
        def late():
            yield b"begun;"
            raise RuntimeError("failed after the body began")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return late()
    if path == "/exc-info":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("replaced")
        except ValueError:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")],
                           sys.exc_info())
        return [b"replaced by exc_info"]
    if path == "/exc-late":
        def late():
            yield b"begun;"
            try:
                raise ValueError("too late")
            except ValueError:
                start_response("500 Internal Server Error", [], sys.exc_info())
            yield b"never"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return late()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, world!\n"]


def slow(environ, start_response):
    """Sleeps (green) for the seconds the query says, then answers."""
    import greenhub
    greenhub.sleep(float(environ["QUERY_STRING"] or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"slept"]


def _validated(app):
    return validator(app)


APPS = {
    "environ": environ_app,
    "input": input_app,
    "stream": stream_app,
    "hello": hello,
    "slow": slow,
    # wsgiref.validate around each: it raises AssertionError (500 and a traceback in the log)
    # or warns (an error here) at the first violation of PEP 3333 by either side.
    "valid-environ": _validated(environ_app),
    "valid-input": _validated(input_app),
    "valid-stream": _validated(stream_app),
}


def load(name):
    if name in APPS:
        return APPS[name]
    import wsgi_framework_apps  # Flask, Django, WebSocket handlers: imported only if asked
    return wsgi_framework_apps.load(name)


def main():
    warnings.simplefilter("error")  # wsgiref.validate's WSGIWarning is a failure
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import greenhub
    from greenhub import wsgi
    name = sys.argv[1]
    kwargs = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    app = load(name)
    sock = greenhub.listen(("127.0.0.1", 0), backlog=kwargs.pop("backlog", 1024))
    print("PORT %d" % sock.getsockname()[1], flush=True)
    wsgi.server(sock, app, **kwargs)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
