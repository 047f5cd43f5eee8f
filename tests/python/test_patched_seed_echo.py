"""The seed's echo server written with the plain ``socket`` module after
``eventlet.monkey_patch()`` (bindings/python/examples/echo_server_patched.py), driven by real
clients over 127.0.0.1: 20 clients connected at once are all served (a server that served one
connection at a time would never answer the second), each line echoed back whole."""

import re
import signal
import socket
import subprocess
import sys
import time

import pytest

import ghsupport as support

pytestmark = pytest.mark.budget(40)

EXAMPLE = support.EXAMPLES_DIR / "echo_server_patched.py"
N = 20


def start_example(tmp_path):
    text = EXAMPLE.read_text()
    assert re.search(r"^import greenhub as eventlet$", text, re.M)
    assert re.search(r"^eventlet\.monkey_patch\(\)$", text, re.M)
    if support.IMPL != "greenhub":
        text = text.replace("import greenhub as eventlet", "import eventlet")
    script = tmp_path / EXAMPLE.name
    script.write_text(text)
    env = support.subprocess_env(PYTHONPATH=str(support.BINDINGS_DIR))
    for _attempt in range(3):
        port = support.free_port()
        with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
            proc = subprocess.Popen([sys.executable, str(script), str(port), "127.0.0.1"],
                                    stdout=out, stderr=err, env=env, cwd=str(tmp_path))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc, port
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait(10)
    pytest.fail("echo_server_patched.py did not start listening")


def test_seed_echo_on_the_patched_socket_module(tmp_path):
    proc, port = start_example(tmp_path)
    try:
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(N)]
        for c in clients:
            c.settimeout(5)
        # Every client holds its connection; they are served in the reverse order of
        # connecting, so each answer needs every earlier connection to be handled meanwhile.
        for i, c in reversed(list(enumerate(clients))):
            line = b"line %d from client %d\n" % (i, i)
            c.sendall(line[:5])
            time.sleep(0.005)  # a line in two pieces: readline waits green for the rest
            c.sendall(line[5:])
            got = b""
            while not got.endswith(b"\n"):
                chunk = c.recv(100)
                assert chunk, "the server closed connection %d" % i
                got += chunk
            assert got == line
        for c in clients:
            c.close()
        support.wait_until(
            lambda: (tmp_path / "out").read_text().count("client disconnected") >= N, 5)
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C ends it through its except clause
        try:
            proc.wait(5)
            stopped = True
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            stopped = False
    out, err = (tmp_path / "out").read_text(), (tmp_path / "err").read_text()
    assert stopped, "Ctrl-C did not stop the patched server:\n" + err[-2000:]
    assert proc.returncode == 0
    assert out.count("client connected") >= N, out[-2000:] + err[-2000:]
    assert out.count("echoed") == N
    assert "Traceback" not in err.replace("KeyboardInterrupt", ""), err[-3000:]
