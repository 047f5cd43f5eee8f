"""eventlet.hubs (the calls user code makes on the hub: timers, fd listeners, use_hub) and
eventlet.backdoor (a console over a socket), as Eventlet documents them."""

import os
import time

import pytest

import ghsupport as support

N = 20
T = 0.2


def test_timers_fire_together_and_cancel(eventlet):
    hub = support.submodule("hubs").get_hub()
    assert support.submodule("hubs").get_hub() is hub
    fired = []
    t0 = time.monotonic()

    def fire(i, k=None):
        fired.append((i, k, time.monotonic() - t0))

    timers = [hub.schedule_call_global(T, fire, i, k=i) for i in range(N)]
    timers[5].cancel()
    eventlet.sleep(T + 0.3)
    assert sorted(f[0] for f in fired) == [i for i in range(N) if i != 5]
    assert all(i == k for i, k, _ in fired)
    assert min(f[2] for f in fired) >= T - 0.005 and max(f[2] for f in fired) < T + 0.3

    ran = []

    def schedule_then_die():
        hub.schedule_call_local(0.05, ran.append, "local")
        hub.schedule_call_global(0.05, ran.append, "global")

    eventlet.spawn(schedule_then_die).wait()
    eventlet.sleep(0.2)
    assert ran == ["global"], "a local timer fired after its green thread ended"


def test_listeners_call_back_until_removed(eventlet):
    hubs = support.submodule("hubs")
    hub = hubs.get_hub()
    assert hub.READ != hub.WRITE
    r, w = os.pipe()
    os.set_blocking(r, False)
    got = []

    def on_read(fileno):
        got.append(os.read(fileno, 100))

    listener = hub.add(hub.READ, r, on_read, lambda exc: got.append(exc), None)
    writable = []
    wl = hub.add(hub.WRITE, w, lambda fileno: (writable.append(fileno), hub.remove(wl)),
                 lambda exc: None, None)
    try:
        for chunk in (b"one", b"two"):
            eventlet.sleep(0.02)
            os.write(w, chunk)
            for _ in range(50):
                if chunk in got:
                    break
                eventlet.sleep(0.01)
        assert got == [b"one", b"two"]
        assert writable == [w]
        hub.remove(listener)
        os.write(w, b"three")
        eventlet.sleep(0.1)
        assert got == [b"one", b"two"], "a removed listener was called"
    finally:
        os.close(r)
        os.close(w)


def test_use_hub_names(eventlet):
    hubs = support.submodule("hubs")
    for name in ("epolls", "poll", "selects"):
        hubs.use_hub(name)
        assert hubs.get_hub() is not None
    hubs.use_hub()
    with pytest.raises(Exception):
        hubs.use_hub("kqueue")  # not on Linux
    with pytest.raises(ImportError):
        hubs.use_hub("no_such_hub")
    hubs.use_hub()
    done = []
    eventlet.spawn(lambda: done.append(eventlet.sleep(0.01) or "ran")).wait()
    assert done == ["ran"]


def _console_session(eventlet, port, lines):
    """Sends each line once the console's prompt is there; returns what it printed."""
    conn = eventlet.connect(("127.0.0.1", port))
    out = b""
    try:
        for line in lines + [None]:
            with eventlet.Timeout(5):
                while not out.endswith(b">>> "):
                    data = conn.recv(4096)
                    if not data:
                        return out.decode()
                    out += data
            if line is None:
                break
            conn.sendall(line.encode() + b"\n")
            out += b"<sent>"
    finally:
        conn.close()
    return out.decode()


def test_backdoor_evaluates_for_each_client(eventlet):
    backdoor = support.submodule("backdoor")
    server = eventlet.listen(("127.0.0.1", 0))
    port = server.getsockname()[1]
    namespace = {"x": 40, "nap": eventlet.sleep}
    gt = eventlet.spawn(backdoor.backdoor_server, server, namespace)
    try:
        out = _console_session(eventlet, port, ["x + 2", "print('hi' * 2)", "1/0", "y = x"])
        assert "42\r\n" in out or "42\n" in out, out
        assert "hihi" in out and "ZeroDivisionError" in out, out
        assert namespace.get("y") == 40

        t0 = time.monotonic()
        sessions = [eventlet.spawn(_console_session, eventlet, port, ["nap(%s)" % T, "'done'"])
                    for _ in range(N)]
        outs = [s.wait() for s in sessions]
        took = time.monotonic() - t0
        assert all("'done'" in o for o in outs), outs[0]
        # 20 consoles each sleeping T: together, about T (not 20 T).
        assert took < 10 * T, took
    finally:
        gt.kill()
