"""eventlet.Timeout, with_timeout, is_timeout."""

import socket
import time

import pytest


class MyError(Exception):
    pass


def test_timeout_is_a_baseexception_not_an_exception(eventlet):
    assert issubclass(eventlet.Timeout, BaseException)
    assert not issubclass(eventlet.Timeout, Exception)
    assert eventlet.timeout.Timeout is eventlet.Timeout


def test_timeout_starts_on_construction(eventlet):
    t = eventlet.Timeout(0.05)
    try:
        assert t.pending
        t0 = time.monotonic()
        with pytest.raises(eventlet.Timeout) as info:
            eventlet.sleep(1)
        assert info.value is t, "the Timeout raises itself"
        assert 0.04 <= time.monotonic() - t0 < 0.5
        assert not t.pending
    finally:
        t.cancel()


def test_timeout_fires_at_the_blocking_point(eventlet):
    log = []
    t0 = time.monotonic()
    with pytest.raises(eventlet.Timeout):
        with eventlet.Timeout(0.05):
            log.append("before")
            eventlet.sleep(1)
            log.append("after")  # never reached
    assert log == ["before"]
    assert 0.04 <= time.monotonic() - t0 < 0.5


def test_timeout_not_caught_by_except_exception(eventlet):
    caught_by = []
    with pytest.raises(eventlet.Timeout):
        with eventlet.Timeout(0.02):
            try:
                eventlet.sleep(1)
            except Exception:  # noqa: BLE001 - the point of the test
                caught_by.append("Exception")
    assert caught_by == []


def test_timeout_false_is_silent_in_with(eventlet):
    log = []
    t0 = time.monotonic()
    with eventlet.Timeout(0.05, False):
        eventlet.sleep(1)
        log.append("not reached")
    assert log == []
    assert 0.04 <= time.monotonic() - t0 < 0.5


def test_timeout_no_fire_when_body_is_quick(eventlet):
    with eventlet.Timeout(0.2) as t:
        eventlet.sleep(0.01)
    assert not t.pending
    eventlet.sleep(0.25)  # a cancelled timeout must not fire later


def test_timeout_with_exception_class(eventlet):
    with pytest.raises(MyError):
        with eventlet.Timeout(0.03, MyError):
            eventlet.sleep(1)


def test_timeout_with_exception_instance(eventlet):
    exc = MyError("custom instance")
    with pytest.raises(MyError) as info:
        with eventlet.Timeout(0.03, exc):
            eventlet.sleep(1)
    assert info.value is exc


def test_nested_outer_fires_first(eventlet):
    outer = eventlet.Timeout(0.05)
    try:
        with pytest.raises(eventlet.Timeout) as info:
            with eventlet.Timeout(1) as inner:
                eventlet.sleep(2)
        assert info.value is outer
        assert not inner.pending, "leaving the with block cancels the inner timeout"
    finally:
        outer.cancel()


def test_nested_inner_fires_first(eventlet):
    log = []
    with eventlet.Timeout(0.3) as outer:
        try:
            with eventlet.Timeout(0.03) as inner:
                eventlet.sleep(2)
        except eventlet.Timeout as e:
            log.append(e is inner)
        assert outer.pending, "the outer timeout is still running"
        eventlet.sleep(0.01)
    assert log == [True]
    assert not outer.pending
    eventlet.sleep(0.35)  # the outer one was cancelled: nothing fires now


def test_cancel(eventlet):
    t = eventlet.Timeout(0.03)
    assert t.pending
    t.cancel()
    assert not t.pending
    eventlet.sleep(0.06)  # would raise if cancel() did not work
    t.cancel()  # idempotent


def test_timeout_none_never_fires(eventlet):
    with eventlet.Timeout(None) as t:
        assert not t.pending
        eventlet.sleep(0.05)
    t2 = eventlet.Timeout(None, MyError)
    eventlet.sleep(0.02)
    t2.cancel()


def test_timeout_in_green_thread_hits_only_that_thread(eventlet):
    def limited():
        try:
            with eventlet.Timeout(0.02):
                eventlet.sleep(1)
        except eventlet.Timeout:
            return "timed out"
        return "not timed out"

    def free():
        eventlet.sleep(0.06)
        return "free done"

    a = eventlet.spawn(limited)
    b = eventlet.spawn(free)
    assert a.wait() == "timed out"
    assert b.wait() == "free done"


def test_timeout_interrupts_event_wait_and_queue_get(eventlet):
    ev = eventlet.Event()
    with pytest.raises(eventlet.Timeout):
        with eventlet.Timeout(0.02):
            ev.wait()
    q = eventlet.queue.Queue()
    with eventlet.Timeout(0.02, False):
        q.get()
        pytest.fail("q.get() returned")
    sem = eventlet.Semaphore(0)
    with eventlet.Timeout(0.02, False):
        sem.acquire()
        pytest.fail("acquire() returned")
    # the cancelled waiters were cleaned up: a later send/put/release still works
    ev.send(1)
    assert ev.wait() == 1
    q.put(2)
    assert q.get(timeout=1) == 2
    sem.release()
    assert sem.acquire(blocking=False) is True


def test_with_timeout_returns_the_value(eventlet):
    assert eventlet.with_timeout(1, lambda a, b: a + b, 2, b=3) == 5


def test_with_timeout_raises_on_timeout(eventlet):
    with pytest.raises(eventlet.Timeout):
        eventlet.with_timeout(0.03, eventlet.sleep, 1)


def test_with_timeout_timeout_value(eventlet):
    t0 = time.monotonic()
    assert eventlet.with_timeout(0.03, eventlet.sleep, 1, timeout_value="tv") == "tv"
    assert time.monotonic() - t0 < 0.5


def test_with_timeout_passes_other_exceptions(eventlet):
    def bad():
        raise MyError("x")

    with pytest.raises(MyError):
        eventlet.with_timeout(1, bad, timeout_value="tv")


def test_is_timeout(eventlet):
    t = eventlet.Timeout(None)
    assert eventlet.is_timeout(t)
    assert eventlet.is_timeout(socket.timeout("x"))
    assert not eventlet.is_timeout(ValueError("x"))
    assert not eventlet.is_timeout(None)
    assert eventlet.timeout.is_timeout is eventlet.is_timeout
