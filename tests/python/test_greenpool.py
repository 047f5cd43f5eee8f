"""GreenPool and GreenPile (eventlet.greenpool)."""

import time

import pytest


def test_names(eventlet):
    assert eventlet.GreenPool is eventlet.greenpool.GreenPool
    assert eventlet.GreenPile is eventlet.greenpool.GreenPile


def test_spawn_returns_greenthread(eventlet):
    pool = eventlet.GreenPool(4)
    gt = pool.spawn(lambda x: x * 2, 21)
    assert gt.wait() == 42


def test_never_more_than_size_at_once(eventlet):
    pool = eventlet.GreenPool(3)
    running = []
    peak = []

    def work(i):
        running.append(i)
        peak.append(len(running))
        eventlet.sleep(0.005)
        running.remove(i)
        return i

    gts = [pool.spawn(work, i) for i in range(12)]
    assert [gt.wait() for gt in gts] == list(range(12))
    assert max(peak) == 3
    assert pool.running() == 0


def test_spawn_blocks_while_full(eventlet):
    pool = eventlet.GreenPool(2)
    gate = eventlet.Event()
    pool.spawn(gate.wait)
    pool.spawn(gate.wait)
    assert pool.free() == 0
    log = []

    def spawner():
        log.append("spawning")
        pool.spawn(lambda: log.append("third ran"))
        log.append("spawned")

    s = eventlet.spawn(spawner)
    eventlet.sleep(0.02)
    assert log == ["spawning"], "spawn() on a full pool blocks the caller"
    assert pool.waiting() == 1
    gate.send(None)
    s.wait()
    pool.waitall()
    assert log == ["spawning", "spawned", "third ran"] or log == ["spawning", "third ran", "spawned"]
    assert pool.waiting() == 0


def test_spawn_n_respects_size(eventlet):
    pool = eventlet.GreenPool(2)
    running = []
    peak = []

    def work():
        running.append(1)
        peak.append(len(running))
        eventlet.sleep(0.005)
        running.pop()

    for _ in range(8):
        assert pool.spawn_n(work) is None
    pool.waitall()
    assert max(peak) == 2
    assert len(peak) == 8


def test_waitall(eventlet):
    pool = eventlet.GreenPool(10)
    done = []
    for d in (0.03, 0.01, 0.02):
        pool.spawn(lambda d=d: (eventlet.sleep(d), done.append(d)))
    t0 = time.monotonic()
    pool.waitall()
    assert sorted(done) == [0.01, 0.02, 0.03]
    assert pool.running() == 0
    assert time.monotonic() - t0 < 1.0
    pool.waitall()  # an idle pool returns at once


def test_running_free_waiting(eventlet):
    pool = eventlet.GreenPool(3)
    assert (pool.running(), pool.free(), pool.waiting()) == (0, 3, 0)
    gate = eventlet.Event()
    pool.spawn(gate.wait)
    pool.spawn(gate.wait)
    assert pool.running() == 2
    assert pool.free() == 1
    gate.send(None)
    pool.waitall()
    assert (pool.running(), pool.free(), pool.waiting()) == (0, 3, 0)


def test_resize(eventlet):
    pool = eventlet.GreenPool(4)
    gate = eventlet.Event()
    for _ in range(4):
        pool.spawn(gate.wait)
    pool.resize(2)
    assert pool.size == 2
    assert pool.running() == 4, "shrinking lets running threads finish"
    assert pool.free() == -2, "free() is negative until enough threads finished"
    gate.send(None)
    pool.waitall()
    assert pool.free() == 2


def test_resize_grow(eventlet):
    pool = eventlet.GreenPool(1)
    gate = eventlet.Event()
    pool.spawn(gate.wait)
    assert pool.free() == 0
    pool.resize(3)
    assert pool.size == 3
    assert pool.free() == 2
    t0 = time.monotonic()
    extra = [pool.spawn(gate.wait), pool.spawn(gate.wait)]  # room now: no blocking
    assert time.monotonic() - t0 < 0.5
    assert pool.running() == 3 and pool.free() == 0
    gate.send("x")
    assert [gt.wait() for gt in extra] == ["x", "x"]
    pool.waitall()


def test_imap_in_order(eventlet):
    pool = eventlet.GreenPool(4)

    def slow_square(x):
        eventlet.sleep(0.001 * (10 - x))
        return x * x

    assert list(pool.imap(slow_square, range(10))) == [x * x for x in range(10)]


def test_imap_multiple_iterables(eventlet):
    pool = eventlet.GreenPool(3)
    assert list(pool.imap(lambda a, b: a + b, [1, 2, 3], [10, 20, 30])) == [11, 22, 33]


def test_imap_reraises(eventlet):
    pool = eventlet.GreenPool(2)

    def f(x):
        if x == 2:
            raise KeyError(x)
        return x

    it = pool.imap(f, range(4))
    assert next(it) == 0
    assert next(it) == 1
    with pytest.raises(KeyError):
        next(it)


def test_starmap_in_order(eventlet):
    pool = eventlet.GreenPool(3)

    def f(a, b):
        eventlet.sleep(0.001 * (5 - a))
        return a * b

    assert list(pool.starmap(f, [(i, i + 1) for i in range(5)])) == [i * (i + 1) for i in range(5)]


def test_pool_thread_exception_reraised_by_wait(eventlet, capfd):
    pool = eventlet.GreenPool(2)
    gt = pool.spawn(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        gt.wait()
    pool.waitall()
    assert pool.running() == 0
    assert pool.spawn(lambda: "ok").wait() == "ok"


def test_greenpile_results_in_spawn_order(eventlet):
    pile = eventlet.GreenPile(4)

    def f(x):
        eventlet.sleep(0.002 * (6 - x))
        return x * 10

    for i in range(6):
        pile.spawn(f, i)
    assert list(pile) == [0, 10, 20, 30, 40, 50]


def test_greenpile_on_a_pool_and_next(eventlet):
    pool = eventlet.GreenPool(2)
    pile = eventlet.GreenPile(pool)
    pile.spawn(lambda: "a")
    pile.spawn(lambda: "b")
    assert next(pile) == "a"
    assert next(pile) == "b"
    with pytest.raises(StopIteration):
        next(pile)


def test_greenpile_reraises(eventlet, capfd):
    pile = eventlet.GreenPile()
    pile.spawn(lambda: 1)
    pile.spawn(lambda: {}["missing"])
    it = iter(pile)
    assert next(it) == 1
    with pytest.raises(KeyError):
        next(it)
