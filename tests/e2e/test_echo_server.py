"""End-to-end tests of examples-c echo_server (`echo_server -p PORT`)."""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time

from e2e_support import SOCKET_TIMEOUT, connect, listen_addresses, recv_exact, wait_until

def start_echo(start_server):
    return start_server("echo_server")


def roundtrip(port: int, line: bytes) -> None:
    with connect(port) as sock:
        sock.sendall(line)
        assert recv_exact(sock, len(line)) == line


def find_in_order(lines, expected):
    """Each expected line (exact match) occurs in `lines`, in this order; else AssertionError."""
    pos = 0
    for want in expected:
        for i in range(pos, len(lines)):
            if lines[i] == want:
                pos = i + 1
                break
        else:
            raise AssertionError(
                f"log line {want!r} missing (in this order: {expected!r}); log:\n"
                + "\n".join(lines[-50:])
            )


def reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_banner_and_listens_on_all_ipv4(start_server):
    srv = start_echo(start_server)
    banner = f"server socket listening on port {srv.port}"
    assert wait_until(lambda: banner in srv.stdout_lines(), 5), (
        f"stdout lacks {banner!r}: {srv.stdout_lines()[:5]!r}"
    )
    assert srv.stdout_lines()[0] == banner
    assert "00000000" in listen_addresses(srv.port), (
        "expected a socket listening on 0.0.0.0 (all IPv4 addresses), "
        f"found {listen_addresses(srv.port)!r} in /proc/net/tcp"
    )
    srv.assert_alive()


def test_nc_dialogue_and_log(start_server):
    srv = start_echo(start_server)
    with connect(srv.port) as sock:
        client_port = sock.getsockname()[1]
        for word in (b"foo", b"bar", b"qux"):
            sock.sendall(word + b"\n")
            assert recv_exact(sock, len(word) + 1) == word + b"\n"
    expected = [
        f"server socket listening on port {srv.port}",
        f"accepted ('127.0.0.1', {client_port})",
        "client connected",
        "echoed foo",
        "echoed bar",
        "echoed qux",
        "client disconnected",
    ]
    wait_until(lambda: "client disconnected" in srv.stdout_lines(), 5)
    find_in_order(srv.stdout_lines(), expected)
    srv.assert_alive()


def test_200_concurrent_clients(start_server):
    srv = start_echo(start_server)
    clients, lines_each = 200, 20
    barrier = threading.Barrier(clients)
    errors = []
    done = []

    def client(cid: int) -> None:
        try:
            with connect(srv.port) as sock:
                # Every connection is open before anyone talks: they really overlap.
                barrier.wait(timeout=30)
                for i in range(lines_each):
                    line = f"client {cid:03d} line {i:02d} {'#' * ((cid * 7 + i) % 97)}\n".encode()
                    sock.sendall(line)
                    got = recv_exact(sock, len(line))
                    if got != line:
                        errors.append(f"client {cid} line {i}: sent {line!r}, got {got!r}")
                        return
            done.append(cid)
        except threading.BrokenBarrierError:
            errors.append(f"client {cid}: barrier broken (another client failed)")
        except (OSError, AssertionError) as e:
            barrier.abort()
            errors.append(f"client {cid}: {e!r}")

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 45
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "clients still running after 45 s"
    real = [e for e in errors if "barrier broken" not in e]
    assert not errors, f"{len(errors)} client errors, first: {(real or errors)[:5]}"
    assert len(done) == clients
    srv.assert_alive()


def test_binary_bytes_echo_exactly(start_server):
    srv = start_echo(start_server)
    every_byte = bytes(b for b in range(256) if b != 0x0A)
    lines = [
        every_byte + b"\n",
        every_byte[::-1] + b"\n",
        b"\x00\n",
        b"\x00\x00\x00 NULs first\n",
        b"\r\n",
        b"\xff\xfe\xfd\n",
        b"\n",  # an empty line is a line too
    ]
    with connect(srv.port) as sock:
        for line in lines:
            sock.sendall(line)
            assert recv_exact(sock, len(line)) == line
    srv.assert_alive()


def test_client_reset_mid_line(start_server):
    srv = start_echo(start_server)
    for i in range(10):
        sock = connect(srv.port)
        sock.sendall(b"half a line, never finished %d" % i)
        time.sleep(0.02)
        reset(sock)
    time.sleep(0.2)
    srv.assert_alive()
    roundtrip(srv.port, b"still echoing after resets\n")
    srv.assert_alive()


def test_client_gone_while_server_writes(start_server):
    """The server must survive writing to a peer that is gone (ECONNRESET, EPIPE, SIGPIPE)."""
    srv = start_echo(start_server)
    lines = b"".join(b"line %04d, the peer is gone before its echo\n" % i for i in range(200))
    for i in range(20):
        # FIN then close: the server, in CLOSE_WAIT, writes echoes to a closed
        # socket; the peer answers RST, and its next write fails with EPIPE.
        srv.assert_alive()
        sock = connect(srv.port)
        sock.sendall(lines)
        sock.shutdown(socket.SHUT_WR)
        sock.close()
        time.sleep(0.01)
    burst = b"".join(b"line %06d that nobody will read back\n" % i for i in range(50_000))
    for _ in range(3):
        # ~2 MiB never read back, then RST while the server is blocked writing.
        srv.assert_alive()
        sock = connect(srv.port, timeout=2)
        try:
            sock.sendall(burst)  # may stall once every buffer is full: fine
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        reset(sock)
        time.sleep(0.05)
    time.sleep(0.3)
    srv.assert_alive()
    roundtrip(srv.port, b"alive after EPIPE\n")
    srv.assert_alive()


def test_half_close_still_gets_all_echoes(start_server):
    srv = start_echo(start_server)
    lines = b"".join(b"half-close line %d\n" % i for i in range(50))
    with connect(srv.port) as sock:
        sock.sendall(lines)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        deadline = time.monotonic() + SOCKET_TIMEOUT
        while True:
            assert time.monotonic() < deadline, f"no EOF within {SOCKET_TIMEOUT}s"
            chunk = sock.recv(65536)  # a reset raises: it is a failure here
            if not chunk:
                break
            received += chunk
    assert received == lines
    srv.assert_alive()


def test_pipelined_1000_lines(start_server):
    srv = start_echo(start_server)
    lines = b"".join(b"pipelined %04d %s\n" % (i, b"x" * (i % 53)) for i in range(1000))
    with connect(srv.port) as sock:
        sock.sendall(lines)
        assert recv_exact(sock, len(lines)) == lines
        # Nothing extra was queued behind them.
        sock.sendall(b"after\n")
        assert recv_exact(sock, 6) == b"after\n"
    srv.assert_alive()


# A line with no newline, 64 MiB long. The pattern has a prime length (251), so
# pieces echoed out of order, duplicated or skipped cannot line up by accident.
HUGE_TOTAL = 64 << 20
HUGE_CHUNK = 64 << 10
PATTERN = bytes(b for b in range(256) if b != 0x0A)[:251]
REFERENCE = PATTERN * (2 * HUGE_CHUNK // len(PATTERN) + 2)
RSS_LIMIT_KIB = 64 * 1024


def expected_slice(offset: int, n: int) -> bytes:
    start = offset % len(PATTERN)
    return REFERENCE[start : start + n]


def probe_other_client(port: int) -> str:
    try:
        roundtrip(port, b"meanwhile\n")
        return "ok"
    except (OSError, AssertionError) as e:
        return repr(e)


def test_huge_line_bounded_memory(start_server):
    """64 MiB without a newline: echoed in pieces or dropped, never buffered whole."""
    srv = start_echo(start_server)
    rss_before = srv.rss_kib()
    sock = connect(srv.port)
    st = {"sent": 0, "sent_all": False, "send_closed": None, "send_error": None,
          "received": 0, "eof": None, "recv_error": None, "mismatch": None}
    stop = threading.Event()

    def sender():
        try:
            while st["sent"] < HUGE_TOTAL and not stop.is_set():
                n = min(HUGE_CHUNK, HUGE_TOTAL - st["sent"])
                sock.sendall(expected_slice(st["sent"], n))
                st["sent"] += n
            st["sent_all"] = st["sent"] == HUGE_TOTAL
        except (BrokenPipeError, ConnectionResetError) as e:
            st["send_closed"] = repr(e)
        except socket.timeout:
            st["send_error"] = "send blocked 10 s: server stopped reading without closing"
        except OSError as e:
            if not stop.is_set():
                st["send_error"] = repr(e)

    def receiver():
        try:
            while st["received"] < HUGE_TOTAL and not stop.is_set():
                chunk = sock.recv(1 << 16)
                if not chunk:
                    st["eof"] = "EOF"
                    return
                want = expected_slice(st["received"], len(chunk))
                if chunk != want:
                    at = next(i for i, (a, b) in enumerate(zip(chunk, want)) if a != b)
                    st["mismatch"] = (
                        f"echoed bytes differ at offset {st['received'] + at}: "
                        f"got {chunk[at:at + 8]!r}, expected {want[at:at + 8]!r}"
                    )
                    return
                st["received"] += len(chunk)
        except ConnectionResetError as e:
            st["eof"] = repr(e)
        except socket.timeout:
            st["recv_error"] = "nothing received for 10 s (neither echoed nor closed)"
        except OSError as e:
            if not stop.is_set():
                st["recv_error"] = repr(e)

    threads = [threading.Thread(target=f, daemon=True) for f in (sender, receiver)]
    for t in threads:
        t.start()

    peak = rss_before
    probe = None
    deadline = time.monotonic() + 30
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        if srv.alive():
            peak = max(peak, srv.rss_kib())
        if probe is None and (st["sent"] >= 8 << 20 or not threads[0].is_alive()):
            # Another client is served while the huge line is in flight (or just dropped).
            probe = probe_other_client(srv.port)
        if st["mismatch"]:
            break
        time.sleep(0.05)
    timed_out = any(t.is_alive() for t in threads) and not st["mismatch"]
    stop.set()
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    for t in threads:
        t.join(5)
    sock.close()

    srv.assert_alive()
    peak = max(peak, srv.rss_kib(), srv.peak_rss_kib())  # VmHWM catches a short spike
    assert peak < RSS_LIMIT_KIB, (
        f"server RSS reached {peak} KiB (before: {rss_before} KiB) for one 64 MiB line"
    )
    assert st["mismatch"] is None, st["mismatch"]
    assert not timed_out, f"huge-line exchange still running after 30 s: {st}"
    assert st["send_error"] is None and st["recv_error"] is None, st
    echoed_all = st["sent_all"] and st["received"] == HUGE_TOTAL
    dropped = st["eof"] is not None or st["send_closed"] is not None
    assert echoed_all or dropped, f"neither echoed back in full nor dropped: {st}"
    if probe is None:  # the exchange ended before the probe had a chance
        probe = probe_other_client(srv.port)
    assert probe == "ok", f"another client was not served meanwhile: {probe}"
    roundtrip(srv.port, b"after the huge line\n")
    srv.assert_alive()


def test_burst_of_200_connects_all_accepted(start_server):
    """200 connects at once (non-blocking, before any is served) all get their echo promptly.
    With a backlog of 50 the accept queue overflowed: the kernel dropped the handshakes it had
    no room for, and those clients waited for TCP's retransmission (1 s, then 3 s, ...) or
    were never accepted at all."""
    srv = start_echo(start_server)
    socks = []
    try:
        start = time.monotonic()
        for _ in range(200):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            socks.append(s)
            try:
                s.connect(("127.0.0.1", srv.port))
            except BlockingIOError:
                pass
        sel = selectors.DefaultSelector()
        for i, s in enumerate(socks):
            sel.register(s, selectors.EVENT_WRITE, i)
        echoed = {}
        errors = []
        deadline = start + 10
        while len(echoed) + len(errors) < len(socks) and time.monotonic() < deadline:
            for key, events in sel.select(0.05):
                i, s = key.data, key.fileobj
                try:
                    if events & selectors.EVENT_WRITE:
                        s.send(b"hello %d\n" % i)
                        sel.modify(s, selectors.EVENT_READ, i)
                    elif s.recv(64) == b"hello %d\n" % i:
                        echoed[i] = time.monotonic() - start
                        sel.unregister(s)
                except OSError as e:
                    errors.append(f"client {i}: {e!r}")
                    sel.unregister(s)
        assert not errors, f"{len(errors)} of 200 failed: {errors[:3]}"
        assert len(echoed) == 200, f"only {len(echoed)} of 200 connections served within 10 s"
        slowest = max(echoed.values())
        # An overflowed handshake is retried after TCP's initial timeout of 1 s.
        assert slowest < 0.9, (
            f"the slowest of 200 connections was served after {slowest:.2f} s: its handshake "
            f"was dropped (accept queue full) and retransmitted"
        )
    finally:
        for s in socks:
            s.close()
    srv.assert_alive()
