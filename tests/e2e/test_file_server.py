"""End-to-end tests of examples-c file_server (`file_server -p PORT -r ROOT`).

Protocol: the client sends a path and a NUL byte; the server sends the file's
bytes and closes. Anything it refuses or cannot open gives zero bytes.
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import time
from types import SimpleNamespace

import pytest

from e2e_support import SOCKET_TIMEOUT, connect, recv_until_eof, wait_until

Y_CONTENT = b"foo bar qux\n"
SUB_CONTENT = b"a file in a subdirectory\n"
BIG_SIZE = 1 << 20


@pytest.fixture
def tree(tmp_path):
    """tmp/root is ROOT; tmp/secret is outside it; symlinks in ROOT point out."""
    base = tmp_path
    root = base / "root"
    (root / "sub").mkdir(parents=True)
    secret_data = b"TOP-SECRET-" + os.urandom(16).hex().encode() + b"\n"
    secret = base / "secret"
    secret.write_bytes(secret_data)
    (root / "y").write_bytes(Y_CONTENT)
    big_data = os.urandom(BIG_SIZE)
    (root / "big.bin").write_bytes(big_data)
    (root / "sub" / "z.txt").write_bytes(SUB_CONTENT)
    os.symlink("../secret", root / "link_rel")  # relative, leads out of ROOT
    os.symlink(str(secret), root / "link_abs")  # absolute, outside ROOT
    os.symlink("../../secret", root / "sub" / "link_up")
    os.symlink("..", root / "dir_up")  # a directory symlink leading out
    os.symlink(str(base), root / "dir_abs")
    # No file named "secret" (or "etc/passwd") exists inside ROOT, so a server
    # that clamps ".." at ROOT and one that refuses such paths both give nothing.
    return SimpleNamespace(
        root=root, secret=secret, secret_data=secret_data, big_data=big_data
    )


def start_files(start_server, tree):
    return start_server("file_server", "-r", str(tree.root))


def request(port: int, path: bytes, timeout: float = SOCKET_TIMEOUT) -> bytes:
    with connect(port, timeout) as sock:
        sock.sendall(path + b"\0")
        return recv_until_eof(sock, timeout)


def assert_same_bytes(got: bytes, want: bytes, what: str) -> None:
    if got == want:
        return
    common = min(len(got), len(want))
    at = next((i for i in range(common) if got[i] != want[i]), common)
    raise AssertionError(
        f"{what}: got {len(got)} bytes, expected {len(want)}; first difference at offset {at}"
    )


def test_missing_then_existing_file(start_server, tree):
    """The seed scenario: /tmp/x (missing) then /tmp/y."""
    srv = start_files(start_server, tree)
    stderr_before = srv.stderr_text()
    assert request(srv.port, b"x") == b""

    def reported():
        new = srv.stderr_text()[len(stderr_before):]
        return any("fail" in line.lower() for line in new.splitlines() if line.strip())

    assert wait_until(reported, 5), (
        "stderr did not report the failed thread for a missing file; stderr:\n"
        + srv.stderr_text()[-2000:]
    )
    srv.assert_alive()
    assert request(srv.port, b"y") == Y_CONTENT
    srv.assert_alive()


def test_leading_slash_means_root(start_server, tree):
    srv = start_files(start_server, tree)
    assert request(srv.port, b"/y") == Y_CONTENT
    assert request(srv.port, b"y") == Y_CONTENT
    assert request(srv.port, b"/sub/z.txt") == SUB_CONTENT
    srv.assert_alive()


def test_file_in_subdirectory(start_server, tree):
    srv = start_files(start_server, tree)
    assert request(srv.port, b"sub/z.txt") == SUB_CONTENT
    srv.assert_alive()


def test_binary_file_byte_exact(start_server, tree):
    srv = start_files(start_server, tree)
    assert_same_bytes(request(srv.port, b"big.bin"), tree.big_data, "big.bin")
    srv.assert_alive()


ESCAPES = [
    b"../secret",
    b"/../secret",
    b"sub/../../secret",
    b"/sub/../../secret",
    b"../../../../../../../../etc/passwd",
    b"/../../etc/passwd",
    b"link_rel",
    b"/link_abs",
    b"link_abs",
    b"sub/link_up",
    b"dir_up/secret",
    b"dir_abs/secret",
]


@pytest.mark.parametrize("path", ESCAPES, ids=[p.decode() for p in ESCAPES])
def test_paths_escaping_root_give_nothing(start_server, tree, path):
    srv = start_files(start_server, tree)
    data = request(srv.port, path)
    assert b"TOP-SECRET" not in data, f"{path!r}: the server sent the secret file outside ROOT"
    assert data == b"", f"{path!r} escapes ROOT but the server sent {len(data)} bytes: {data[:60]!r}"
    srv.assert_alive()
    assert request(srv.port, b"y") == Y_CONTENT
    srv.assert_alive()


def test_endless_path_is_dropped(start_server, tree):
    """A path longer than the server's buffer (4096), with no NUL: the connection is dropped."""
    srv = start_files(start_server, tree)
    sock = connect(srv.port)
    outcome = {}

    def sender():
        try:
            for _ in range(16):
                sock.sendall(b"a" * (64 << 10))
            outcome["send"] = "all 1 MiB sent"
        except (BrokenPipeError, ConnectionResetError) as e:
            outcome["send"] = f"closed by server: {e!r}"
        except OSError as e:
            outcome["send"] = f"error: {e!r}"

    t = threading.Thread(target=sender, daemon=True)
    start = time.monotonic()
    t.start()
    received = b""
    closed = None
    try:
        while closed is None:
            assert time.monotonic() - start < 10, "server kept the connection open for 10 s"
            chunk = sock.recv(65536)
            if chunk:
                received += chunk
            else:
                closed = "EOF"
    except ConnectionResetError:
        closed = "reset"
    except socket.timeout:
        pytest.fail(f"server did not drop a >4096-byte path within 10 s ({outcome})")
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        t.join(5)
        sock.close()
    assert received == b"", f"server sent {len(received)} bytes for an overlong path"
    srv.assert_alive()
    assert request(srv.port, b"y") == Y_CONTENT
    srv.assert_alive()


def test_100_concurrent_big_downloads(start_server, tree):
    srv = start_files(start_server, tree)
    want = hashlib.sha256(tree.big_data).hexdigest()
    results = {}

    def client(i):
        try:
            with connect(srv.port) as sock:
                sock.sendall(b"big.bin\0")
                h = hashlib.sha256()
                n = 0
                deadline = time.monotonic() + 30
                while True:
                    assert time.monotonic() < deadline, f"no EOF after 30 s ({n} bytes)"
                    chunk = sock.recv(1 << 16)
                    if not chunk:
                        break
                    h.update(chunk)
                    n += len(chunk)
                results[i] = (n, h.hexdigest())
        except (OSError, AssertionError) as e:
            results[i] = repr(e)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(100)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 40
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "downloads still running after 40 s"
    bad = {i: r for i, r in results.items() if r != (BIG_SIZE, want)}
    assert len(results) == 100, f"only {len(results)} of 100 clients finished"
    assert not bad, (
        f"{len(bad)} of 100 downloads wrong (want {BIG_SIZE} bytes, sha256 {want[:16]}…), "
        f"e.g. {list(bad.items())[:3]}"
    )
    srv.assert_alive()


def test_clients_that_vanish(start_server, tree):
    """Connect-and-close, a path without NUL then EOF, peers gone mid-download: the server survives."""
    srv = start_files(start_server, tree)
    connect(srv.port).close()
    with connect(srv.port) as sock:
        sock.sendall(b"y")  # no NUL, then EOF
    for _ in range(10):
        # RST once the download has started.
        srv.assert_alive()
        sock = connect(srv.port)
        sock.sendall(b"big.bin\0")
        sock.recv(1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    for _ in range(10):
        # FIN and close before any byte arrives: the server writes to a closed
        # socket, gets RST, and its next write fails with EPIPE (no SIGPIPE death).
        srv.assert_alive()
        sock = connect(srv.port)
        sock.sendall(b"big.bin\0")
        sock.shutdown(socket.SHUT_WR)
        sock.close()
        time.sleep(0.01)
    time.sleep(0.3)
    srv.assert_alive()
    assert_same_bytes(request(srv.port, b"big.bin"), tree.big_data, "big.bin after the resets")
    srv.assert_alive()


@pytest.mark.parametrize("path", [b"", b"/", b"sub", b"/sub/"], ids=["empty", "slash", "sub", "sub-slash"])
def test_directories_do_not_crash(start_server, tree, path):
    """What a directory yields is unspecified; the server must keep serving."""
    srv = start_files(start_server, tree)
    request(srv.port, path)
    srv.assert_alive()
    assert request(srv.port, b"y") == Y_CONTENT
    srv.assert_alive()
