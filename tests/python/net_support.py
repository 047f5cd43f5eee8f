"""Real parts for the tests of green networking after monkey_patch(): a standard-library HTTP
server in a subprocess of its own (threads, unpatched), and a self-signed certificate made
with the ``openssl`` command line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

#: The HTTP server: GET /slow/<n> answers "slow <n>" after SLOW seconds (each request in a
#: thread of its own), POST /echo answers the body; it prints its port, then serves.
SLOW = 0.3
_SERVER = textwrap.dedent(
    f"""
    import sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, body):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path.startswith("/slow/"):
                time.sleep({SLOW})
                self._answer(("slow " + self.path[6:]).encode())
            else:
                self._answer(b"hello")

        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            self._answer(self.rfile.read(n))

        def log_message(self, *args):
            pass

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """
)


class HttpServer:
    """``with HttpServer() as port:`` runs the server for the block."""

    def __enter__(self) -> int:
        self.proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.proc.kill()
            raise AssertionError(f"the HTTP server did not start: {line!r}")
        return int(line)

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()


def make_certificate(directory) -> tuple[str, str]:
    """A self-signed certificate for localhost and 127.0.0.1: (certfile, keyfile)."""
    cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return str(cert), str(key)
