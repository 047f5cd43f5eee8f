"""eventlet.Event: one-shot send/wait."""

import time

import pytest


class Oops(Exception):
    pass


def test_names(eventlet):
    assert eventlet.Event is eventlet.event.Event


def test_send_then_wait_returns_the_value(eventlet):
    ev = eventlet.Event()
    assert not ev.ready()
    ev.send("value")
    assert ev.ready()
    assert ev.wait() == "value"
    assert ev.wait() == "value", "wait() after send returns at once, every time"


def test_waiter_is_woken_by_send(eventlet):
    ev = eventlet.Event()
    log = []

    def waiter():
        log.append("waiting")
        log.append(ev.wait())

    gt = eventlet.spawn(waiter)
    eventlet.sleep(0.01)
    assert log == ["waiting"]
    ev.send(42)
    gt.wait()
    assert log == ["waiting", 42]


def test_send_default_is_none(eventlet):
    ev = eventlet.Event()
    ev.send()
    assert ev.wait() is None


def test_send_exc_makes_wait_raise(eventlet):
    ev = eventlet.Event()
    raised = []

    def waiter():
        try:
            ev.wait()
        except Oops as e:
            raised.append(e.args)

    gt = eventlet.spawn(waiter)
    eventlet.sleep(0)
    ev.send(exc=Oops("sent"))
    gt.wait()
    assert raised == [("sent",)]
    with pytest.raises(Oops):
        ev.wait()
    assert ev.ready()


def test_send_exception(eventlet):
    ev = eventlet.Event()
    ev.send_exception(Oops("via send_exception"))
    with pytest.raises(Oops, match="via send_exception"):
        ev.wait()


def test_sending_twice_raises_assertionerror(eventlet):
    ev = eventlet.Event()
    ev.send(1)
    with pytest.raises(AssertionError):
        ev.send(2)
    assert ev.wait() == 1


def test_reset(eventlet):
    ev = eventlet.Event()
    ev.send(1)
    ev.reset()
    assert not ev.ready()
    assert ev.wait(0.01) is None, "after reset() wait() blocks again"
    ev.send(2)
    assert ev.wait() == 2


def test_reset_of_a_fresh_event_raises(eventlet):
    ev = eventlet.Event()
    with pytest.raises(AssertionError):
        ev.reset()


def test_wait_timeout_returns_none(eventlet):
    ev = eventlet.Event()
    t0 = time.monotonic()
    assert ev.wait(0.05) is None
    took = time.monotonic() - t0
    assert 0.04 <= took < 0.5, took
    assert not ev.ready()
    ev.send("later")
    assert ev.wait(0.05) == "later"


def test_wait_timeout_in_green_thread(eventlet):
    ev = eventlet.Event()
    gt = eventlet.spawn(ev.wait, 0.02)
    assert gt.wait() is None


def test_many_waiters_all_woken(eventlet):
    ev = eventlet.Event()
    results = []

    def waiter(i):
        results.append((i, ev.wait()))

    gts = [eventlet.spawn(waiter, i) for i in range(50)]
    eventlet.sleep(0.01)
    assert results == []
    ev.send("all")
    for gt in gts:
        gt.wait()
    assert sorted(results) == [(i, "all") for i in range(50)]


def test_send_does_not_switch(eventlet):
    ev = eventlet.Event()
    log = []

    def waiter():
        ev.wait()
        log.append("woken")

    gt = eventlet.spawn(waiter)
    eventlet.sleep(0)
    ev.send(None)
    assert log == [], "send() makes arrangements and returns immediately"
    gt.wait()
    assert log == ["woken"]


def test_send_exception_with_exc_info(eventlet):
    import sys

    try:
        raise Oops("with traceback")
    except Oops:
        info = sys.exc_info()
    ev = eventlet.Event()
    ev.send_exception(*info)
    with pytest.raises(Oops, match="with traceback"):
        ev.wait()
