"""After ``eventlet.monkey_patch()``: ``select.select``, ``select.poll`` and ``selectors`` as
documented, waiting only the calling green thread, on sockets and on pipes (any fd). 20 green
threads each waiting T finish in about T; timeouts; two threads on one fd (one reading, one
writing); a closed fd; and what Eventlet's ``trampoline`` and ``GreenPipe`` do."""

import pytest

from patched_support import run_patched

pytestmark = pytest.mark.budget(40)

N = 20
T = 0.3
CONCURRENT = 5 * T


def test_select_on_pipes_and_sockets(tmp_path):
    r = run_patched(
        f"""
        import os, select, socket
        pipes = [os.pipe() for _ in range({N})]
        woke = []
        def waiter(i):
            r, w = pipes[i]
            readable, _, _ = select.select([r], [], [], 10)
            woke.append((i, readable == [r], os.read(r, 10).decode()))

        t0 = clock()
        pool = eventlet.GreenPool()
        for i in range({N}):
            pool.spawn(waiter, i)
        eventlet.sleep({T})
        for i, (r, w) in enumerate(pipes):
            os.write(w, b"p%d" % i)
        pool.waitall()
        elapsed = clock() - t0

        a, b = socket.socketpair()
        t1 = clock(); timeout_result = select.select([a], [], [], 0.05); waited = clock() - t1
        now = select.select([a], [b], [], 0)                  # 0: no wait at all
        b.sendall(b"x")
        objects = select.select([a, b], [b], [], 1)          # objects come back as given
        r0, w0 = os.pipe(); os.close(r0)
        try:
            select.select([r0], [], [], 1); closed = None
        except OSError as e:
            closed = e.errno
        report(woke=sorted(woke), elapsed=elapsed, timeout_result=timeout_result,
               waited=waited, now=[len(x) for x in now],
               objects=[[x is a for x in objects[0]], [x is b for x in objects[1]]],
               closed=closed)
        """,
        tmp_path,
    )
    assert r["woke"] == [[i, True, "p%d" % i] for i in range(N)]
    assert T * 0.8 <= r["elapsed"] < CONCURRENT, r
    assert r["timeout_result"] == [[], [], []] and 0.04 <= r["waited"] < 2
    assert r["now"] == [0, 1, 0]
    assert r["objects"] == [[True], [True]]
    assert r["closed"] == 9  # EBADF, as the standard library says of a closed fd


def test_poll_and_a_reader_and_writer_on_one_socket(tmp_path):
    r = run_patched(
        f"""
        import select, socket
        pairs = [socket.socketpair() for _ in range({N})]
        events = []
        def waiter(i):
            p = select.poll()
            p.register(pairs[i][0], select.POLLIN)
            events.append(p.poll(10000))

        pool = eventlet.GreenPool()
        t0 = clock()
        for i in range({N}):
            pool.spawn(waiter, i)
        eventlet.sleep({T})
        for a, b in pairs:
            b.send(b"!")
        pool.waitall()
        elapsed = clock() - t0
        ok = all(len(e) == 1 and e[0][1] & select.POLLIN for e in events)

        # One socket, two green threads: one waits to read it, the other to write it.
        a, b = socket.socketpair()
        a.setblocking(False)
        try:
            while True:
                a.send(b"f" * 65536)
        except BlockingIOError:
            pass                                          # a: not writable now
        seen = []
        def wait_for(mask, name):
            p = select.poll(); p.register(a, mask)
            p.poll(10000); seen.append(name)
        eventlet.spawn_n(wait_for, select.POLLIN, "reader")
        eventlet.spawn_n(wait_for, select.POLLOUT, "writer")
        eventlet.sleep(0.05)
        before = list(seen)
        b.send(b"r")                                      # a is readable: the reader wakes
        eventlet.sleep(0.05)
        middle = list(seen)
        b.setblocking(False)
        try:
            while b.recv(1 << 20):                        # drained: a is writable again
                pass
        except BlockingIOError:
            pass
        for _ in range(100):
            if len(seen) == 2:
                break
            eventlet.sleep(0.01)
        timed = select.poll(); timed.register(b, select.POLLIN)
        t1 = clock(); nothing = timed.poll(50); waited = clock() - t1
        report(ok=ok, elapsed=elapsed, before=before, middle=middle, seen=seen,
               nothing=nothing, waited=waited)
        """,
        tmp_path,
    )
    assert r["ok"] and T * 0.8 <= r["elapsed"] < CONCURRENT, r
    assert r["before"] == [] and r["middle"] == ["reader"] and r["seen"] == ["reader", "writer"]
    assert r["nothing"] == [] and 0.04 <= r["waited"] < 2


def test_selectors_default_selector(tmp_path):
    r = run_patched(
        f"""
        import selectors, socket
        pairs = [socket.socketpair() for _ in range({N})]
        got = []
        def waiter(i):
            sel = selectors.DefaultSelector()
            a, b = pairs[i]
            sel.register(a, selectors.EVENT_READ, data=i)
            for key, mask in sel.select(10):
                got.append((key.data, key.fileobj is a, mask == selectors.EVENT_READ,
                            a.recv(10).decode()))
            sel.close()

        pool = eventlet.GreenPool()
        t0 = clock()
        for i in range({N}):
            pool.spawn(waiter, i)
        eventlet.sleep({T})
        for i, (a, b) in enumerate(pairs):
            b.send(b"s%d" % i)
        pool.waitall()
        elapsed = clock() - t0

        sel = selectors.DefaultSelector()
        a, b = socket.socketpair()
        sel.register(a, selectors.EVENT_READ | selectors.EVENT_WRITE)
        both = [m for _, m in sel.select(0)]               # writable at once
        sel.modify(a, selectors.EVENT_READ)
        t1 = clock(); none = sel.select(0.05); waited = clock() - t1
        report(got=sorted(got), elapsed=elapsed, both=both, none=none, waited=waited,
               cls=type(sel).__module__, has_epoll=hasattr(selectors, "EpollSelector"))
        """,
        tmp_path,
    )
    assert r["got"] == [[i, True, True, "s%d" % i] for i in range(N)]
    assert T * 0.8 <= r["elapsed"] < CONCURRENT, r
    assert r["both"] == [2] and r["none"] == [] and 0.04 <= r["waited"] < 2
    assert r["cls"] != "selectors" and not r["has_epoll"]


def test_trampoline_and_green_pipe(tmp_path):
    r = run_patched(
        f"""
        import os, greenhub
        from greenhub import greenio, hubs
        pipes = [os.pipe() for _ in range({N})]
        done = []
        def waiter(i):
            hubs.trampoline(pipes[i][0], read=True, timeout=10)
            done.append(os.read(pipes[i][0], 5).decode())

        pool = eventlet.GreenPool()
        t0 = clock()
        for i in range({N}):
            pool.spawn(waiter, i)
        eventlet.sleep({T})
        for r, w in pipes:
            os.write(w, b"t")
        pool.waitall()
        elapsed = clock() - t0

        r, w = os.pipe()
        try:
            eventlet.trampoline(r, read=True, timeout=0.05); timed_out = False
        except eventlet.Timeout:
            timed_out = True
        class Mine(Exception):
            pass
        try:
            eventlet.trampoline(r, read=True, timeout=0.05, timeout_exc=Mine("x")); mine = False
        except Mine:
            mine = True

        # An fd closed (and announced) while a green thread waits on it: EBADF at once.
        err = []
        def stuck():
            try:
                eventlet.trampoline(r, read=True, timeout=10)
            except OSError as e:
                err.append(e.errno)
        eventlet.spawn_n(stuck)
        eventlet.sleep(0.02)
        t1 = clock(); hubs.notify_close(r); os.close(r)
        while not err and clock() - t1 < 5:
            eventlet.sleep(0.01)
        woke_in = clock() - t1

        # GreenPipe: a reader waits green for a line the writer sends later.
        pr, pw = os.pipe()
        reader = greenio.GreenPipe(pr, "r")
        writer = greenio.GreenPipe(pw, "w")
        def write_later():
            eventlet.sleep({T}); writer.write("a line\\n"); writer.flush()
        eventlet.spawn_n(write_later)
        ticks = []
        def ticker():
            for _ in range(5):
                ticks.append(1); eventlet.sleep(0.01)
        eventlet.spawn_n(ticker)
        line = reader.readline()
        writer.close(); rest = reader.read(); reader.close()
        report(done=done, elapsed=elapsed, timed_out=timed_out, mine=mine, err=err,
               woke_in=woke_in, line=line, rest=rest, ticks=len(ticks))
        """,
        tmp_path,
    )
    assert r["done"] == ["t"] * N
    assert T * 0.8 <= r["elapsed"] < CONCURRENT, r
    assert r["timed_out"] and r["mine"]
    assert r["err"] == [9] and r["woke_in"] < 1, r
    assert r["line"] == "a line\n" and r["rest"] == "" and r["ticks"] == 5
