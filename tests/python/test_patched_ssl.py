"""After ``eventlet.monkey_patch()``: ``ssl`` as documented on green sockets. An SSL server
and 20 SSL clients (a self-signed certificate made by the test with openssl) in green threads:
handshakes, reads and writes wait only their own thread (20 clients whose answers come T late
finish in about T); unwrap back to plain TCP; sendfile; timeouts and non-blocking mode."""

import pytest

from net_support import make_certificate
from patched_support import run_patched

pytestmark = pytest.mark.budget(60)

N = 20
T = 0.3
CONCURRENT = 5 * T

SERVER = """
import socket, ssl
cert, key = {cert!r}, {key!r}
server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_ctx.load_cert_chain(cert, key)
client_ctx = ssl.create_default_context(cafile=cert)
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(100)
port = listener.getsockname()[1]
tls_listener = server_ctx.wrap_socket(listener, server_side=True)
"""


def test_ssl_server_and_20_clients(tmp_path):
    cert, key = make_certificate(tmp_path)
    r = run_patched(
        SERVER.format(cert=cert, key=key)
        + f"""
def handle(conn):
    data = conn.recv(100)
    eventlet.sleep({T})                      # every client waits T in its read meanwhile
    conn.sendall(data.upper() + b" " + conn.version().encode())
    plain = conn.unwrap()                    # back to TCP: the client unwraps too
    plain.sendall(plain.recv(100) + b" in clear")
    plain.close()

def serve():
    while True:
        conn, addr = tls_listener.accept()   # the handshake is made here, green
        eventlet.spawn_n(handle, conn)

eventlet.spawn_n(serve)
got = []
def client(i):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    tls = client_ctx.wrap_socket(raw, server_hostname="localhost")
    tls.sendall(b"hello %d" % i)
    answer = tls.recv(100).decode()
    subject = tls.getpeercert()["subject"][0][0][1]
    plain = tls.unwrap()
    plain.sendall(b"bye %d" % i)
    clear = plain.recv(100).decode()
    plain.close()
    got.append((answer.split(" ")[:2], clear, subject))

t0 = clock()
pool = eventlet.GreenPool()
for i in range({N}):
    pool.spawn(client, i)
pool.waitall()
elapsed = clock() - t0
report(got=sorted(got), elapsed=elapsed, green=type(tls_listener).__module__)
""",
        tmp_path,
    )
    assert r["got"] == sorted([[["HELLO", str(i)], "bye %d in clear" % i, "localhost"]
                               for i in range(N)]), r["_stderr"][-3000:]
    assert r["elapsed"] < CONCURRENT, r
    assert r["green"] != "ssl"


def test_ssl_sendfile_timeouts_and_refusals(tmp_path):
    cert, key = make_certificate(tmp_path)
    r = run_patched(
        SERVER.format(cert=cert, key=key)
        + """
import os
payload = os.urandom(300000)
with open("payload.bin", "wb") as f:
    f.write(payload)

def serve_file():
    conn, _ = tls_listener.accept()
    with open("payload.bin", "rb") as f:
        sent = conn.sendfile(f)
    conn.close()
    return sent

server = eventlet.spawn(serve_file)
tls = client_ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                             server_hostname="localhost")
received = bytearray()
while True:
    chunk = tls.recv(65536)
    if not chunk:
        break
    received += chunk
tls.close()
sent = server.wait()

# A read timeout: the server accepts and handshakes, then says nothing.
silent = []
def silent_server():
    conn, _ = tls_listener.accept()
    silent.append(conn)
eventlet.spawn_n(silent_server)
tls = client_ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                             server_hostname="localhost")
tls.settimeout(0.1)
t1 = clock()
try:
    tls.recv(10); timed_out = False
except socket.timeout:
    timed_out = True
waited = clock() - t1
tls.setblocking(False)
try:
    tls.recv(10); want = None
except ssl.SSLWantReadError:
    want = "read"
tls.close()

# A client that does not trust the certificate fails its handshake; the server goes on.
def refusing_server():
    try:
        tls_listener.accept()
    except (ssl.SSLError, OSError):
        pass
eventlet.spawn_n(refusing_server)
try:
    ssl.create_default_context().wrap_socket(
        socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    refused = False
except ssl.SSLCertVerificationError:
    refused = True
report(same=bytes(received) == payload, sent=sent, timed_out=timed_out, waited=waited,
       want=want, refused=refused)
""",
        tmp_path,
    )
    assert r["same"] and r["sent"] == 300000
    assert r["timed_out"] and 0.08 <= r["waited"] < 2, r
    assert r["want"] == "read" and r["refused"]
