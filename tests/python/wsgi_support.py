"""Helpers of the greenhub.wsgi tests: a server process running an application of
wsgi_apps.py, and raw HTTP over a plain socket.

``served(app, **server_kwargs)`` starts ``wsgi_apps.py APP`` under this interpreter (so each
CPython of `make test` runs its own server) and yields a Served (port, log). The server is a
process of its own because the clients (requests, http.client, websockets) block the thread
they run in.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import ghsupport

HERE = Path(__file__).resolve().parent


class Served:
    def __init__(self, proc, port):
        self.proc = proc
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self._log = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self._log.append(line.decode("utf-8", "replace"))

    def log(self, settle=0.2):
        """What the server wrote to its log (stderr) so far."""
        time.sleep(settle)
        return "".join(self._log)

    def connect(self, timeout=5.0):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


@contextlib.contextmanager
def served(app, **server_kwargs):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ghsupport.BINDINGS_DIR), str(HERE), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "wsgi_apps.py"), app, json.dumps(server_kwargs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        line = proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            proc.kill()
            raise AssertionError("the server did not start: %r %s" % (
                line, proc.stderr.read().decode(errors="replace")))
        s = Served(proc, int(line.split()[1]))
        yield s
    finally:
        proc.kill()
        proc.wait(timeout=10)


def exchange(port, data, timeout=5.0):
    """Sends raw bytes and reads until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return read_all(s)


def read_all(s):
    chunks = []
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def read_response(s):
    """Reads one response with a Content-Length body from a keep-alive connection: (head,
    body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("connection closed in a response head: %r" % data)
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("connection closed in a body")
        body += chunk
    return head.decode("latin-1"), body
