"""Scheduling order as in Eventlet: the main program looping on ``sleep(0)`` lets timers and I/O
run, ``spawn_after(0, f)`` has started ``f`` after one ``sleep(0)``, and a rendezvous queue
runs the waiting getter before ``put()`` returns.

Loops a regression would make endless are bounded by the clock (a watchdog), so they fail
instead; the conftest watchdog is the last resort.
"""

import time

import pytest

WATCHDOG = 3.0


@pytest.fixture(autouse=True)
def _deadline(eventlet):
    t = eventlet.Timeout(8)
    try:
        yield
    finally:
        t.cancel()


def sleep0_until(eventlet, predicate):
    """``while not predicate(): sleep(0)`` in the main program, for at most WATCHDOG
    seconds; returns the number of sleeps."""
    end = time.monotonic() + WATCHDOG
    turns = 0
    while not predicate() and time.monotonic() < end:
        eventlet.sleep(0)
        turns += 1
    return turns


def test_main_loop_on_sleep0_lets_a_socket_reader_run(eventlet):
    server = eventlet.listen(("127.0.0.1", 0))
    client = eventlet.connect(("127.0.0.1", server.getsockname()[1]))
    conn, _ = server.accept()
    got = []
    try:
        eventlet.spawn(lambda: got.append(conn.recv(16)))
        eventlet.sleep(0)  # the reader now waits in recv()
        assert got == []
        client.sendall(b"ping")
        turns = sleep0_until(eventlet, lambda: got)
        assert got == [b"ping"], f"the reader never ran: {turns} sleep(0) in {WATCHDOG}s"
        assert turns <= 3, f"the reader ran after {turns} sleep(0) calls"
    finally:
        for s in (client, conn, server):
            s.close()


def test_main_loop_on_sleep0_lets_timers_fire(eventlet):
    done = []

    def sleeper():
        eventlet.sleep(0.02)
        done.append(time.monotonic())

    t0 = time.monotonic()
    eventlet.spawn(sleeper)
    turns = sleep0_until(eventlet, lambda: done)
    assert done, f"a 20 ms sleep never ended: {turns} sleep(0) in {WATCHDOG}s"
    assert done[0] - t0 < 1.0


@pytest.mark.parametrize("spawn_after", ["spawn_after", "spawn_after_local"])
def test_spawn_after_zero_has_started_after_one_sleep0(eventlet, spawn_after):
    ran = []
    gt = getattr(eventlet.greenthread, spawn_after)(0, lambda: ran.append("ran") or "result")
    eventlet.sleep(0)
    assert ran == ["ran"], "f had not started after one sleep(0)"
    gt.cancel()  # too late: it has run
    assert gt.wait() == "result"


def test_rendezvous_queue_runs_the_getter_before_put_returns(eventlet):
    q = eventlet.queue.Queue(0)
    events = []

    def getter():
        events.append(q.get())
        events.append(q.get())

    eventlet.spawn(getter)
    events.append("sending")
    q.put("hello")
    events.append("sent hello")
    q.put("world")
    events.append("sent world")
    assert events == ["sending", "hello", "sent hello", "world", "sent world"]


def test_rendezvous_put_nowait_runs_the_waiting_getter_first(eventlet):
    q = eventlet.queue.LightQueue(0)
    events = []

    def getter():
        events.append(q.get())

    eventlet.spawn(getter)
    eventlet.sleep(0)  # the getter waits
    q.put_nowait("item")
    events.append("put returned")
    assert events == ["item", "put returned"]
