"""End-to-end tests of examples-c chat_server (`chat_server -p PORT`).

Protocol: every line a client sends is delivered to every *other* connected client, in one
global order; a line longer than 4096 bytes is cut into lines of at most 4096 bytes. A client
whose queue (256 messages) fills up is disconnected ("dropped slow client").

Every message the tests send is one line `TAG PADDING`: TAG names the sender and the message
(`c07m12`), PADDING is dots. The test clients keep only the tags they receive (and report any
line whose padding is damaged), so large volumes cost little memory here.
"""

from __future__ import annotations

import itertools
import select
import socket
import struct
import threading
import time
from collections import Counter
from typing import Dict, List, Optional

from e2e_support import connect, recv_until_eof, socket_inodes, wait_until

QUEUE_CAP = 256  # the server's per-client queue, in messages
MAX_LINE = 4096  # the server's line buffer


def make_line(tag: str, size: int = 0) -> bytes:
    """`tag`, a space, dots up to `size` bytes in all (at least one dot), and '\\n'."""
    body = tag.encode() + b" "
    return body + b"." * max(1, size - len(body) - 1) + b"\n"


class ChatClient:
    """A connected client whose background thread (if `read`) collects the tags of the lines
    it receives, until EOF, an error, or close()."""

    def __init__(self, port: int, read: bool = True, rcvbuf: Optional[int] = None):
        if rcvbuf is None:
            self.sock = connect(port)
        else:  # a small receive buffer must be set before connecting to shrink the window
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(10)
            self.sock.connect(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.tags: List[str] = []
        self.bad: List[bytes] = []      # lines that are not `TAG ....`
        self.ended: Optional[str] = None  # why the reader stopped: "EOF", an error
        self.done_at: Optional[float] = None  # when wait_tags() saw enough
        self._stop = threading.Event()
        self._thread = None
        if read:
            self._thread = threading.Thread(target=self._reader, daemon=True)
            self._thread.start()

    def _reader(self) -> None:
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        partial = b""
        while not self._stop.is_set():
            if not poller.poll(100):  # the socket's timeout stays for sendall in other threads
                continue
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError as e:
                self.ended = repr(e)
                return
            if not chunk:
                self.ended = "EOF"
                return
            pieces = (partial + chunk).split(b"\n")
            partial = pieces.pop()
            for line in pieces:
                tag, sep, pad = line.partition(b" ")
                if not sep or not pad or pad.strip(b".") or not tag:
                    self.bad.append(line[:80])
                else:
                    self.tags.append(tag.decode())

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def wait_tags(self, n: int, timeout: float) -> bool:
        ok = wait_until(lambda: len(self.tags) >= n or self.ended is not None, timeout)
        ok = ok and len(self.tags) >= n
        if ok and self.done_at is None:
            self.done_at = time.monotonic()
        return ok

    def stop_reading(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def close(self) -> None:
        self.stop_reading()
        self.sock.close()


def close_all(clients) -> None:
    for c in clients:
        c._stop.set()
    for c in clients:
        c.close()


def count_log(srv, line: str) -> int:
    return srv.stdout_lines().count(line)


def wait_connected(srv, total: int, timeout: float = 5) -> None:
    """Until `total` clients in all have joined the chat (only then do they get messages)."""
    assert wait_until(lambda: count_log(srv, "client connected") >= total, timeout), (
        f"expected {total} 'client connected' lines, log:\n" + "\n".join(srv.stdout_lines()[-20:])
    )


def socket_count(srv) -> int:
    inodes = socket_inodes(srv.pid)
    assert inodes is not None, "cannot read /proc/PID/fd"
    return len(inodes)


def wait_all_left(srv, baseline_sockets: int, timeout: float = 5) -> None:
    """Every client's threads ended: as many left as joined, and only the listener is open."""

    def settled():
        lines = srv.stdout_lines()
        return (
            lines.count("client connected") == lines.count("client disconnected")
            and socket_count(srv) == baseline_sockets
        )

    assert wait_until(settled, timeout), (
        f"clients not cleaned up within {timeout}s: {count_log(srv, 'client connected')} "
        f"connected, {count_log(srv, 'client disconnected')} disconnected, "
        f"{socket_count(srv)} sockets open (baseline {baseline_sockets})"
    )


def check_one_global_order(received: Dict[str, List[str]]) -> None:
    """Any two messages come in the same relative order at every client that got both."""
    sets = {name: set(tags) for name, tags in received.items()}
    for a, b in itertools.combinations(received, 2):
        common = sets[a] & sets[b]
        seq_a = [t for t in received[a] if t in common]
        seq_b = [t for t in received[b] if t in common]
        if seq_a != seq_b:
            i = next(i for i, (x, y) in enumerate(zip(seq_a, seq_b)) if x != y)
            raise AssertionError(
                f"clients {a} and {b} disagree on the order at common message {i}: "
                f"{seq_a[max(0, i - 2):i + 3]} vs {seq_b[max(0, i - 2):i + 3]}"
            )


def check_sender_order(name: str, tags: List[str], sender_of) -> None:
    """Each sender's messages arrive in the order it sent them (tags sort in sending order)."""
    last: Dict[str, str] = {}
    for t in tags:
        s = sender_of(t)
        assert s not in last or last[s] < t, f"client {name}: {t} arrived after {last[s]}"
        last[s] = t


def reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# --------------------------------------------------------------------------- tests


def test_three_clients_each_line_to_every_other(start_server):
    srv = start_server("chat_server")
    clients = [ChatClient(srv.port) for _ in range(3)]
    try:
        wait_connected(srv, 3)
        for i, c in enumerate(clients):
            c.send(make_line(f"hello{i}"))
        for i, c in enumerate(clients):
            assert c.wait_tags(2, 5), f"client {i} got {c.tags} ({c.ended})"
        time.sleep(0.3)  # nothing more comes: in particular, not the client's own line
        for i, c in enumerate(clients):
            others = sorted(f"hello{j}" for j in range(3) if j != i)
            assert sorted(c.tags) == others, f"client {i} got {c.tags}, expected {others}"
            assert not c.bad, c.bad
    finally:
        close_all(clients)
    assert wait_until(lambda: count_log(srv, "client disconnected") == 3, 5), srv.stdout_lines()
    lines = srv.stdout_lines()
    assert lines[0] == f"server socket listening on port {srv.port}", lines[:3]
    for c in clients:
        assert f"accepted ('127.0.0.1', {c.port})" in lines, (c.port, lines)
    assert count_log(srv, "client connected") == 3
    srv.assert_alive()


def test_many_clients_exactly_once_one_global_order(start_server):
    srv = start_server("chat_server")
    n_clients, n_lines = 40, 20
    clients = [ChatClient(srv.port) for _ in range(n_clients)]
    try:
        wait_connected(srv, n_clients)
        barrier = threading.Barrier(n_clients)
        errors: List[str] = []

        def talk(cid: int) -> None:
            try:
                barrier.wait(timeout=10)  # every client talks at the same time
                for i in range(n_lines):
                    clients[cid].send(make_line(f"c{cid:02d}m{i:02d}", 8 + (cid * 7 + i) % 60))
            except (OSError, threading.BrokenBarrierError) as e:
                errors.append(f"client {cid}: {e!r}")

        threads = [threading.Thread(target=talk, args=(c,), daemon=True) for c in range(n_clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        assert not errors, errors[:5]
        expected_each = (n_clients - 1) * n_lines
        for cid, c in enumerate(clients):
            assert c.wait_tags(expected_each, 15), (
                f"client {cid} got {len(c.tags)} of {expected_each} messages ({c.ended})"
            )
        time.sleep(0.3)  # no duplicates or own messages trailing behind

        everything = {f"c{s:02d}m{i:02d}" for s in range(n_clients) for i in range(n_lines)}
        for cid, c in enumerate(clients):
            assert not c.bad, f"client {cid}: damaged lines {c.bad[:3]}"
            counts = Counter(c.tags)
            dup = [t for t, k in counts.items() if k > 1]
            assert not dup, f"client {cid} got duplicates: {dup[:5]}"
            own = [t for t in counts if t.startswith(f"c{cid:02d}m")]
            assert not own, f"client {cid} got its own messages: {own[:5]}"
            missing = everything - set(counts) - {f"c{cid:02d}m{i:02d}" for i in range(n_lines)}
            assert not missing, f"client {cid} missed {sorted(missing)[:5]}"
            check_sender_order(str(cid), c.tags, lambda t: t[:3])
        check_one_global_order({str(cid): c.tags for cid, c in enumerate(clients)})
    finally:
        close_all(clients)
    srv.assert_alive()


def test_stalled_client_is_dropped_others_unaffected_memory_bounded(start_server):
    srv = start_server("chat_server")
    baseline_sockets = socket_count(srv)
    rss_before = srv.rss_kib()
    # A client that never reads, with a tiny receive window: its socket buffers fill (a few
    # MB: the server's send buffer grows to 4 MB), then its queue (256 x 4 KB). 4 chatty
    # clients x 1500 lines x 4000 bytes = 24 MB are headed for it: with an unbounded queue the
    # server would hold most of them. The talkers send at about 2 MB/s each, so that the
    # test's own Python readers keep up (a reader that falls behind is dropped too, rightly).
    stalled = ChatClient(srv.port, read=False, rcvbuf=4096)
    talkers = [ChatClient(srv.port) for _ in range(4)]
    n_lines, size, burst = 1500, 4000, 16
    scripts = [
        [
            b"".join(make_line(f"t{cid}m{i:04d}", size) for i in range(j, min(j + burst, n_lines)))
            for j in range(0, n_lines, burst)
        ]
        for cid in range(len(talkers))
    ]
    try:
        wait_connected(srv, 1 + len(talkers))
        errors: List[str] = []

        def talk(cid: int) -> None:
            try:
                for chunk in scripts[cid]:
                    talkers[cid].send(chunk)
                    time.sleep(0.03)
            except OSError as e:
                errors.append(f"talker {cid}: {e!r}")

        started = time.monotonic()
        threads = [threading.Thread(target=talk, args=(c,), daemon=True) for c in range(4)]
        for t in threads:
            t.start()

        # Everything reaches every reading client within a few seconds, while the memory of
        # the server stays bounded (sampled meanwhile; VmHWM below catches short peaks).
        expected_each = (len(talkers) - 1) * n_lines
        deadline = started + 10
        peak = rss_before
        while time.monotonic() < deadline:
            if srv.alive():
                peak = max(peak, srv.rss_kib())
            if all(len(c.tags) >= expected_each or c.ended for c in talkers):
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        for t in threads:
            t.join(5)
        assert not errors, f"talkers could not send (is the server stalled?): {errors}"
        for cid, c in enumerate(talkers):
            assert len(c.tags) >= expected_each, (
                f"talker {cid} got {len(c.tags)} of {expected_each} messages after "
                f"{elapsed:.1f}s ({c.ended}): the stalled client held up the others?"
            )
            assert not c.bad, c.bad[:3]
            assert len(c.tags) == expected_each and len(set(c.tags)) == expected_each
            check_sender_order(f"t{cid}", c.tags, lambda t: t[:2])
        check_one_global_order({str(cid): c.tags for cid, c in enumerate(talkers)})
        assert elapsed < 8, f"delivery took {elapsed:.1f}s"
        peak = max(peak, srv.rss_kib(), srv.peak_rss_kib())
        assert peak - rss_before < 8 * 1024, (
            f"server RSS grew by {peak - rss_before} KiB (from {rss_before} KiB) while a "
            f"client stalled: its queue should hold at most {QUEUE_CAP} messages"
        )

        # The stalled client was dropped: logged, and its connection closed by the server.
        assert wait_until(lambda: count_log(srv, "dropped slow client") >= 1, 5), (
            "no 'dropped slow client' in the log:\n" + "\n".join(srv.stdout_lines()[-10:])
        )
        assert count_log(srv, "dropped slow client") == 1, srv.stdout_lines()[-10:]
        got = recv_until_eof(stalled.sock, timeout=10)  # what its buffers held, then EOF
        assert len(got) < n_lines * len(talkers) * size, "the stalled client got everything?"
        srv.assert_alive()


        # Still chatting afterwards.
        talkers[0].send(make_line("after"))
        for c in talkers[1:]:
            assert c.wait_tags(expected_each + 1, 5) and c.tags[-1] == "after", c.tags[-3:]
    finally:
        close_all(talkers)
        stalled.close()
    wait_all_left(srv, baseline_sockets)
    srv.assert_alive()


def test_clients_joining_and_leaving_mid_stream(start_server):
    srv = start_server("chat_server")
    baseline_sockets = socket_count(srv)
    stable = [ChatClient(srv.port) for _ in range(5)]
    n_lines = 150
    graceful: List[str] = []  # tags of transients that sent a whole line, then a FIN
    churn_errors: List[str] = []
    try:
        wait_connected(srv, len(stable))

        def talk(cid: int) -> None:
            for i in range(n_lines):
                stable[cid].send(make_line(f"s{cid}m{i:03d}", 40))
                time.sleep(0.004)

        def churn() -> None:
            for k in range(30):
                try:
                    sock = connect(srv.port, timeout=5)
                    mode = k % 3
                    if mode == 0:  # says something, leaves politely, reads to the end
                        time.sleep(0.02)
                        tag = f"x{k:02d}"
                        sock.sendall(make_line(tag, 30))
                        sock.shutdown(socket.SHUT_WR)
                        recv_until_eof(sock, timeout=5)  # the server closes after our FIN
                        graceful.append(tag)
                        sock.close()
                    elif mode == 1:  # listens a while, never reads, closes (an RST)
                        time.sleep(0.03)
                        sock.close()
                    else:  # half a line, then a reset
                        sock.sendall(f"y{k:02d} half a line".encode())
                        time.sleep(0.01)
                        reset(sock)
                except (OSError, AssertionError) as e:
                    churn_errors.append(f"transient {k}: {e!r}")

        threads = [threading.Thread(target=talk, args=(c,), daemon=True) for c in range(5)]
        threads.append(threading.Thread(target=churn, daemon=True))
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert not any(t.is_alive() for t in threads), "talkers or churn still running"
        assert not churn_errors, churn_errors[:5]
        assert len(graceful) == 10

        expected_each = (len(stable) - 1) * n_lines + len(graceful)
        for cid, c in enumerate(stable):
            assert c.wait_tags(expected_each, 10), (
                f"stable client {cid} got {len(c.tags)} of {expected_each} ({c.ended})"
            )
        time.sleep(0.3)
        for cid, c in enumerate(stable):
            assert not c.bad, c.bad[:3]
            counts = Counter(c.tags)
            assert all(k == 1 for k in counts.values()), "duplicates"
            want = {f"s{s}m{i:03d}" for s in range(5) if s != cid for i in range(n_lines)}
            want |= set(graceful)
            extra = set(counts) - want
            # A reset half line may or may not have been read before the reset; nothing else.
            assert all(t.startswith("y") for t in extra), sorted(extra)[:5]
            assert not want - set(counts), sorted(want - set(counts))[:5]
            check_sender_order(str(cid), [t for t in c.tags if t[0] == "s"], lambda t: t[:2])
        check_one_global_order({str(cid): c.tags for cid, c in enumerate(stable)})
        srv.assert_alive()
    finally:
        close_all(stable)
    wait_all_left(srv, baseline_sockets)
    assert count_log(srv, "client connected") == len(stable) + 30
    srv.assert_alive()


def test_long_line_is_cut_into_lines(start_server):
    srv = start_server("chat_server")
    a, b = ChatClient(srv.port, read=False), ChatClient(srv.port, read=False)
    try:
        wait_connected(srv, 2)
        a.send(b"L" * (MAX_LINE + 100) + b"\n" + b"short\n")
        got = b""
        deadline = time.monotonic() + 5
        while got.count(b"\n") < 3 and time.monotonic() < deadline:
            b.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = b.sock.recv(1 << 16)
            if not chunk:
                break
            got += chunk
        assert got == b"L" * MAX_LINE + b"\n" + b"L" * 100 + b"\n" + b"short\n", got[-200:]
    finally:
        a.close()
        b.close()
    srv.assert_alive()
