"""Semaphore, BoundedSemaphore, CappedSemaphore (eventlet.semaphore)."""

import time

import pytest


def test_names(eventlet):
    assert eventlet.Semaphore is eventlet.semaphore.Semaphore
    assert eventlet.BoundedSemaphore is eventlet.semaphore.BoundedSemaphore
    assert eventlet.CappedSemaphore is eventlet.semaphore.CappedSemaphore


def test_acquire_release_counter(eventlet):
    sem = eventlet.Semaphore(2)
    assert sem.counter == 2 and sem.balance == 2
    assert sem.acquire() is True
    assert sem.counter == 1
    assert sem.acquire() is True
    assert sem.counter == 0 and sem.locked()
    sem.release()
    assert sem.counter == 1 and not sem.locked()
    sem.release()
    sem.release()  # an unbounded semaphore may go past its start
    assert sem.counter == 3


def test_default_value_is_one(eventlet):
    sem = eventlet.Semaphore()
    assert sem.counter == 1
    assert sem.acquire(blocking=False) is True
    assert sem.acquire(blocking=False) is False


def test_negative_value_rejected(eventlet):
    with pytest.raises(ValueError):
        eventlet.Semaphore(-1)


def test_non_blocking_acquire(eventlet):
    sem = eventlet.Semaphore(1)
    assert sem.acquire(blocking=False) is True
    t0 = time.monotonic()
    assert sem.acquire(blocking=False) is False
    assert sem.acquire(False) is False
    assert time.monotonic() - t0 < 0.05
    assert sem.counter == 0


def test_acquire_timeout_returns_false(eventlet):
    sem = eventlet.Semaphore(0)
    t0 = time.monotonic()
    assert sem.acquire(timeout=0.05) is False
    took = time.monotonic() - t0
    assert 0.04 <= took < 0.5, took
    assert sem.counter == 0 and sem.balance == 0, "a timed-out acquire leaves nothing behind"


def test_acquire_timeout_succeeds_when_released_in_time(eventlet):
    sem = eventlet.Semaphore(0)
    eventlet.spawn_after(0.02, sem.release)
    assert sem.acquire(timeout=1) is True
    assert sem.counter == 0


def test_blocking_acquire_waits_for_release(eventlet):
    sem = eventlet.Semaphore(0)
    log = []

    def taker():
        log.append("waiting")
        assert sem.acquire() is True
        log.append("got")

    gt = eventlet.spawn(taker)
    eventlet.sleep(0.01)
    assert log == ["waiting"]
    assert sem.balance == -1, "balance counts the blocked acquirer"
    sem.release()
    gt.wait()
    assert log == ["waiting", "got"]
    assert sem.counter == 0 and sem.balance == 0


def test_context_manager(eventlet):
    sem = eventlet.Semaphore(1)
    with sem:
        assert sem.locked()
        assert sem.counter == 0
    assert not sem.locked()
    with pytest.raises(KeyError):
        with sem:
            raise KeyError("x")
    assert sem.counter == 1, "the with block releases on an exception too"


def test_mutual_exclusion(eventlet):
    sem = eventlet.Semaphore(2)
    inside = []
    peak = []

    def worker(i):
        with sem:
            inside.append(i)
            peak.append(len(inside))
            eventlet.sleep(0.005)
            inside.remove(i)

    gts = [eventlet.spawn(worker, i) for i in range(10)]
    for gt in gts:
        gt.wait()
    assert max(peak) == 2
    assert sem.counter == 2


def test_fifo_fairness(eventlet):
    sem = eventlet.Semaphore(0)
    order = []

    def waiter(i):
        sem.acquire()
        order.append(i)

    gts = []
    for i in range(6):
        gts.append(eventlet.spawn(waiter, i))
        eventlet.sleep(0)  # each one queues in turn
    assert sem.balance == -6
    for _ in range(6):
        sem.release()
        eventlet.sleep(0)
    for gt in gts:
        gt.wait()
    assert order == [0, 1, 2, 3, 4, 5]


def test_bounded_semaphore_release_past_start_raises(eventlet):
    sem = eventlet.BoundedSemaphore(2)
    sem.acquire()
    sem.release()
    with pytest.raises(ValueError):
        sem.release()
    assert sem.counter == 2
    assert sem.acquire(blocking=False) and sem.acquire(blocking=False)
    assert not sem.acquire(blocking=False)
    assert isinstance(sem, eventlet.Semaphore)


def test_bounded_semaphore_default_and_with(eventlet):
    sem = eventlet.BoundedSemaphore()
    with sem:
        assert sem.locked()
    with pytest.raises(ValueError):
        sem.release()


def test_capped_semaphore_acquire_blocks_at_zero(eventlet):
    sem = eventlet.CappedSemaphore(1, 3)
    assert sem.acquire() is True
    assert sem.locked()
    assert sem.acquire(blocking=False) is False
    sem.release()
    assert not sem.locked()


def test_capped_semaphore_release_blocks_at_limit(eventlet):
    sem = eventlet.CappedSemaphore(2, 2)
    assert sem.bounded(), "at its limit a release would block"
    assert sem.release(blocking=False) is False
    log = []

    def releaser():
        log.append("releasing")
        sem.release()  # blocks: count is at limit
        log.append("released")

    gt = eventlet.spawn(releaser)
    eventlet.sleep(0.02)
    assert log == ["releasing"], "release() at the limit must block"
    sem.acquire()  # count drops below the limit: the releaser goes on
    gt.wait()
    assert log == ["releasing", "released"]
    assert sem.bounded()


def test_capped_semaphore_acquire_waits_for_release(eventlet):
    sem = eventlet.CappedSemaphore(0, 1)
    got = []
    gt = eventlet.spawn(lambda: got.append(sem.acquire()))
    eventlet.sleep(0.01)
    assert got == []
    sem.release()
    gt.wait()
    assert got == [True]


def test_capped_semaphore_invalid_arguments(eventlet):
    with pytest.raises(ValueError):
        eventlet.CappedSemaphore(3, 2)
    with pytest.raises(ValueError):
        eventlet.CappedSemaphore(-1, 2)


def test_capped_semaphore_context_manager(eventlet):
    sem = eventlet.CappedSemaphore(1, 1)
    with sem:
        assert sem.locked()
    assert not sem.locked() and sem.bounded()


def test_acquire_argument_checks(eventlet):
    sem = eventlet.Semaphore(1)
    with pytest.raises(ValueError):
        sem.acquire(blocking=False, timeout=1)
    with pytest.raises(ValueError):
        sem.acquire(timeout=-5)
    assert sem.acquire(timeout=-1) is True, "timeout=-1 means no timeout, as in threading"
