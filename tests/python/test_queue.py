"""eventlet.queue: Queue, LightQueue, PriorityQueue, LifoQueue."""

import queue as stdlib_queue
import time

import pytest


@pytest.fixture(params=["Queue", "LightQueue", "PriorityQueue", "LifoQueue"])
def qclass(request, eventlet):
    return getattr(eventlet.queue, request.param)


def test_names(eventlet):
    assert eventlet.Queue is eventlet.queue.Queue
    assert issubclass(eventlet.queue.Empty, stdlib_queue.Empty) or eventlet.queue.Empty is stdlib_queue.Empty
    assert issubclass(eventlet.queue.Full, stdlib_queue.Full) or eventlet.queue.Full is stdlib_queue.Full


def test_fifo(eventlet):
    for cls in (eventlet.queue.Queue, eventlet.queue.LightQueue):
        q = cls()
        for i in (3, 1, 2):
            q.put(i)
        assert q.qsize() == 3
        assert [q.get(), q.get(), q.get()] == [3, 1, 2]
        assert q.empty()


def test_priority(eventlet):
    q = eventlet.queue.PriorityQueue()
    for item in [(3, "c"), (1, "a"), (2, "b"), (0, "z")]:
        q.put(item)
    assert [q.get() for _ in range(4)] == [(0, "z"), (1, "a"), (2, "b"), (3, "c")]


def test_lifo(eventlet):
    q = eventlet.queue.LifoQueue()
    for i in range(4):
        q.put(i)
    assert [q.get() for _ in range(4)] == [3, 2, 1, 0]


def test_get_timeout_raises_empty(eventlet, qclass):
    q = qclass()
    t0 = time.monotonic()
    with pytest.raises(eventlet.queue.Empty):
        q.get(timeout=0.05)
    took = time.monotonic() - t0
    assert 0.04 <= took < 0.5, took
    with pytest.raises(stdlib_queue.Empty):
        q.get(timeout=0.01)


def test_get_nowait_raises_empty(eventlet, qclass):
    q = qclass()
    with pytest.raises(eventlet.queue.Empty):
        q.get_nowait()
    with pytest.raises(eventlet.queue.Empty):
        q.get(block=False)


def test_put_on_full_non_blocking_raises_full(eventlet, qclass):
    q = qclass(2)
    q.put((1, 1))
    q.put((2, 2))
    assert q.full()
    with pytest.raises(eventlet.queue.Full):
        q.put((3, 3), block=False)
    with pytest.raises(stdlib_queue.Full):
        q.put_nowait((3, 3))
    t0 = time.monotonic()
    with pytest.raises(eventlet.queue.Full):
        q.put((3, 3), timeout=0.05)
    assert 0.04 <= time.monotonic() - t0 < 0.5
    assert q.qsize() == 2


def test_put_blocks_until_room(eventlet, qclass):
    q = qclass(1)
    q.put((0, "a"))
    log = []

    def putter():
        q.put((1, "b"))
        log.append("put done")

    gt = eventlet.spawn(putter)
    eventlet.sleep(0.01)
    assert log == []
    assert q.putting() == 1
    assert q.get() == (0, "a")
    gt.wait()
    assert log == ["put done"]
    assert q.get() == (1, "b")
    assert q.putting() == 0


def test_get_blocks_until_put(eventlet, qclass):
    q = qclass()
    got = []
    gt = eventlet.spawn(lambda: got.append(q.get()))
    eventlet.sleep(0.01)
    assert got == []
    assert q.getting() == 1
    q.put((5, "x"))
    gt.wait()
    assert got == [(5, "x")]
    assert q.getting() == 0


def test_unbounded_is_never_full(eventlet, qclass):
    for q in (qclass(), qclass(None), qclass(-1)):
        for i in range(100):
            q.put(i)
        assert not q.full()
        assert q.qsize() == 100


def test_queue_zero_is_a_rendezvous(eventlet):
    q = eventlet.queue.Queue(0)
    log = []

    def putter():
        log.append("putting")
        q.put("item")
        log.append("delivered")

    gt = eventlet.spawn(putter)
    eventlet.sleep(0.02)
    assert log == ["putting"], "put() on Queue(0) blocks until a getter takes the item"
    assert q.putting() == 1
    assert q.qsize() == 0
    assert q.get(timeout=1) == "item"
    gt.wait()
    assert log == ["putting", "delivered"]


def test_queue_zero_put_nowait_without_getter_raises_full(eventlet):
    q = eventlet.queue.Queue(0)
    with pytest.raises(eventlet.queue.Full):
        q.put_nowait(1)
    with pytest.raises(eventlet.queue.Full):
        q.put(1, timeout=0.02)


def test_queue_zero_get_waits_for_putter(eventlet):
    q = eventlet.queue.Queue(0)
    gt = eventlet.spawn(lambda: q.get())
    eventlet.sleep(0.01)
    assert q.getting() == 1
    q.put("handed over")
    assert gt.wait() == "handed over"


def test_qsize_empty_full(eventlet, qclass):
    q = qclass(2)
    assert q.empty() and not q.full() and q.qsize() == 0
    q.put((1, 1))
    assert not q.empty() and not q.full() and q.qsize() == 1
    q.put((2, 2))
    assert q.full() and q.qsize() == 2
    q.get()
    assert q.qsize() == 1


def test_many_producers_consumers(eventlet):
    q = eventlet.queue.Queue(3)
    got = []

    def producer(base):
        for i in range(20):
            q.put(base + i)

    def consumer():
        while True:
            item = q.get()
            if item is None:
                return
            got.append(item)

    consumers = [eventlet.spawn(consumer) for _ in range(3)]
    producers = [eventlet.spawn(producer, b) for b in (0, 100, 200)]
    for p in producers:
        p.wait()
    for _ in consumers:
        q.put(None)
    for c in consumers:
        c.wait()
    assert sorted(got) == sorted(list(range(20)) + list(range(100, 120)) + list(range(200, 220)))


def test_task_done_and_join(eventlet):
    q = eventlet.queue.Queue()
    done = []

    def worker():
        while True:
            item = q.get()
            eventlet.sleep(0.005)
            done.append(item)
            q.task_done()

    w = eventlet.spawn(worker)
    for i in range(5):
        q.put(i)
    t0 = time.monotonic()
    q.join()
    assert done == [0, 1, 2, 3, 4], "join() returns only after task_done() for every item"
    assert time.monotonic() - t0 < 1.0
    q.join()  # nothing unfinished: returns at once
    with pytest.raises(ValueError):
        q.task_done()
    w.kill()


def test_join_blocks_until_task_done(eventlet):
    q = eventlet.queue.Queue()
    q.put("x")
    log = []
    j = eventlet.spawn(lambda: (q.join(), log.append("joined")))
    eventlet.sleep(0.01)
    assert log == []
    q.get()
    eventlet.sleep(0.01)
    assert log == [], "get() alone does not finish the task"
    q.task_done()
    j.wait()
    assert log == ["joined"]
