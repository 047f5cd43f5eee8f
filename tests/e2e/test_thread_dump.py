"""The thread dump of a running C server: `GREENHUB_DUMP_SIGNAL=USR2` makes echo_server write a
dump of its green threads to stderr at the hub's next loop turn, however often it is asked, and
its clients never notice."""

from __future__ import annotations

import re
import signal
import time

from e2e_support import connect, recv_exact, wait_until

HEADER = "greenhub: thread dump"
SIGNALS = 50


def dumps(server):
    """The dumps written so far, each a list of lines (the last may be incomplete)."""
    text = server.stderr_text()
    return [part.splitlines() for part in text.split(HEADER)[1:]]


def written(server, n):
    """True once `n` dumps are complete (each ends with its counters line)."""
    all_dumps = dumps(server)
    return len(all_dumps) >= n and bool(all_dumps[-1]) and all_dumps[-1][-1].startswith("counters:")


def test_signal_dump_lists_each_thread_and_disturbs_no_client(start_server, monkeypatch):
    monkeypatch.setenv("GREENHUB_DUMP_SIGNAL", "USR2")
    server = start_server("echo_server")
    whole, mid_line, idle = (connect(server.port) for _ in range(3))
    with whole, mid_line, idle:
        whole.sendall(b"hello\n")
        assert recv_exact(whole, 6) == b"hello\n"
        mid_line.sendall(b"half a li")  # its handler waits for the rest of the line
        time.sleep(0.2)  # every handler is back in its read before the first dump
        fds = {}
        for n in range(1, SIGNALS + 1):
            server.proc.send_signal(signal.SIGUSR2)
            # A signal sent while the last one is still pending merges with it: wait for each
            # dump before the next signal, so every one of the 50 is answered.
            assert wait_until(lambda: written(server, n), 10.0), (
                f"dump {n} not written; stderr:\n{server.stderr_text()[-3000:]}")
            if n % 10 == 0:  # the clients' echoes go on between dumps
                line = b"echo %d\n" % n
                whole.sendall(line)
                assert recv_exact(whole, len(line)) == line
                time.sleep(0.1)  # its handler is back in its read
        server.assert_alive()
        all_dumps = dumps(server)
        assert len(all_dumps) == SIGNALS, f"{len(all_dumps)} dumps for {SIGNALS} signals"
        for lines in all_dumps:
            entries = [l for l in lines if not l.startswith(" ")]
            root = [l for l in entries if l.startswith("the root (thread 0)")]
            assert len(root) == 1 and re.search(r"waiting: accept on socket fd \d+", root[0]), entries
            handlers = [l for l in entries if l.startswith("green thread")]
            assert len(handlers) == 3, entries
            for h in handlers:
                m = re.search(r"waiting: read on socket fd (\d+), for \d+\.\d{3} s", h)
                assert m, h
                fds[m.group(1)] = True
            assert re.search(r"counters: threads 3, objects 4 \(socket 4\), switches \d+, polls \d+, "
                             r"stacks pooled \d+", lines[-1]), lines[-1]
        assert len(fds) == 3, f"the handlers' fds: {sorted(fds)}"
        # The half line was kept across 50 dumps: finishing it echoes all of it.
        mid_line.sendall(b"ne\n")
        assert recv_exact(mid_line, 12) == b"half a line\n"
        idle.sendall(b"still here\n")
        assert recv_exact(idle, 11) == b"still here\n"
    server.assert_alive()


def test_dump_signal_with_a_bad_name_is_reported_and_harmless(start_server, monkeypatch):
    monkeypatch.setenv("GREENHUB_DUMP_SIGNAL", "NOSUCHSIG")
    server = start_server("echo_server")
    with connect(server.port) as c:
        c.sendall(b"x\n")
        assert recv_exact(c, 2) == b"x\n"
    assert "GREENHUB_DUMP_SIGNAL=NOSUCHSIG: no dump signal installed" in server.stderr_text()
    time.sleep(0.05)
    server.assert_alive()
