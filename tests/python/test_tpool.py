"""eventlet.tpool.execute: run a blocking function on a native thread, blocking only the caller."""

import threading
import time

import pytest


class Failure(Exception):
    pass


def test_execute_returns_the_value(eventlet):
    assert eventlet.tpool.execute(lambda a, b=1: a * b, 6, b=7) == 42


def test_execute_runs_on_another_os_thread(eventlet):
    here = threading.get_ident()
    there = eventlet.tpool.execute(threading.get_ident)
    assert there != here


def test_execute_reraises(eventlet):
    def bad():
        raise Failure("from the worker")

    with pytest.raises(Failure, match="from the worker"):
        eventlet.tpool.execute(bad)
    assert eventlet.tpool.execute(lambda: "still works") == "still works"


def test_hub_keeps_running_during_execute(eventlet):
    ticks = []
    stop = []

    def ticker():
        while not stop:
            ticks.append(time.monotonic())
            eventlet.sleep(0.01)

    gt = eventlet.spawn(ticker)
    eventlet.sleep(0)
    t0 = time.monotonic()
    assert eventlet.tpool.execute(time.sleep, 0.2) is None
    took = time.monotonic() - t0
    stop.append(True)
    gt.wait()
    assert 0.19 <= took < 1.0, took
    during = [t for t in ticks if t0 <= t <= t0 + took]
    assert len(during) >= 8, f"only {len(during)} ticks during a 0.2 s tpool call: the hub was blocked"


def test_execute_from_several_green_threads_concurrently(eventlet):
    def job(i):
        return eventlet.tpool.execute(lambda: (time.sleep(0.1), i * i)[1])

    t0 = time.monotonic()
    gts = [eventlet.spawn(job, i) for i in range(4)]
    assert [gt.wait() for gt in gts] == [0, 1, 4, 9]
    took = time.monotonic() - t0
    assert took < 0.35, f"4 x 0.1 s calls took {took:.2f}s: they did not overlap"
