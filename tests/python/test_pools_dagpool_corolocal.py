"""eventlet.pools, eventlet.dagpool and eventlet.corolocal as Eventlet documents them: limits,
orders and results, and that waits suspend only the calling green thread (20 green threads
each holding an item for T finish in about T when the pool allows 20, not 20 T)."""

import time

import pytest

import ghsupport as support

N = 20
T = 0.2


def test_pool_creates_up_to_max_size_and_waiters_get_what_is_put_back(eventlet):
    pools = support.submodule("pools")
    made = []
    pool = pools.Pool(max_size=N, create=lambda: made.append(1) or len(made))

    def hold():
        with pool.item() as item:
            eventlet.sleep(T)
            return item

    t0 = time.monotonic()
    got = [gt.wait() for gt in [eventlet.spawn(hold) for _ in range(N)]]
    assert time.monotonic() - t0 < 10 * T  # one after another: 20 T
    assert sorted(got) == list(range(1, N + 1)) and len(made) == N
    assert pool.free() == N and pool.waiting() == 0

    small = pools.Pool(max_size=5, create=object)
    inside, most = [0], [0]

    def limited():
        with small.item():
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            eventlet.sleep(T)
            inside[0] -= 1

    t0 = time.monotonic()
    gts = [eventlet.spawn(limited) for _ in range(N)]
    eventlet.sleep(0.02)
    assert small.waiting() == N - 5 and small.free() == 0
    for gt in gts:
        gt.wait()
    took = time.monotonic() - t0
    # 20 holders, 5 at a time: 4 rounds of T.
    assert most[0] == 5 and 4 * T - 0.02 <= took < 4 * T + 1.0, took
    assert small.current_size == 5 and small.free() == 5


def test_pool_orders_min_size_resize_and_token_pool(eventlet):
    pools = support.submodule("pools")
    counter = iter(range(100))
    fifo = pools.Pool(min_size=3, max_size=3, create=lambda: next(counter))
    assert fifo.current_size == 3 and fifo.free() == 3
    a, b = fifo.get(), fifo.get()
    fifo.put(a)
    fifo.put(b)
    assert [fifo.get(), fifo.get(), fifo.get()] == [2, 0, 1]  # round-robin: oldest free first

    stack = pools.Pool(max_size=3, order_as_stack=True, create=lambda: next(counter))
    items = [stack.get() for _ in range(3)]
    for item in items:
        stack.put(item)
    assert stack.get() == items[-1]  # most recently used first

    resized = pools.Pool(max_size=2, create=object)
    x, y = resized.get(), resized.get()
    resized.resize(1)
    resized.put(x)  # beyond the new size: dropped
    assert resized.current_size == 1 and resized.free() == 0
    resized.put(y)
    assert resized.free() == 1

    tokens = pools.TokenPool(max_size=4)
    with tokens.item() as token:
        assert isinstance(token, pools.Token) and tokens.free() == 3
    assert tokens.free() == 4

    class Mine(pools.Pool):
        def create(self):
            return "made"

    assert Mine(max_size=1).get() == "made"
    with pytest.raises(NotImplementedError):
        pools.Pool().get()


def test_dagpool_runs_by_dependencies(eventlet):
    dagpool = support.submodule("dagpool")
    started = {}

    def node(key, results, delay):
        started[key] = time.monotonic()
        inputs = dict(results)  # waits for every dependency
        eventlet.sleep(delay)
        return key + "(" + ",".join(sorted(inputs)) + ")" if inputs else key

    pool = dagpool.DAGPool({"pre": "loaded"})
    t0 = time.monotonic()
    pool.spawn("c", ["a", "b"], node, T)
    pool.spawn("d", ["c", "pre", "ext"], node, 0)
    for key in "ab":
        pool.spawn(key, [], node, T)
    for i in range(N):
        pool.spawn("leaf%d" % i, [], node, T)  # 20 independent nodes, all at once
    eventlet.sleep(0)
    assert pool.waiting_for("d") == {"c", "ext"} and pool.running() == N + 4
    pool.post("ext", "outside")
    with pytest.raises(dagpool.Collision):
        pool.post("ext", "again")
    with pytest.raises(dagpool.Collision):
        pool.spawn("a", [], node, 0)
    assert pool["d"] == "d(c,ext,pre)"
    took = time.monotonic() - t0
    values = pool.waitall()
    assert values["c"] == "c(a,b)" and values["a"] == "a" and values["leaf7"] == "leaf7"
    assert values["pre"] == "loaded" and values["ext"] == "outside"
    # a and b (and the 20 leaves) together, then c: 2 T, not 24 T.
    assert 2 * T - 0.02 <= took < 8 * T, took
    assert pool.running() == 0 and pool.waiting() == 0
    assert pool.get("nothing", "default") == "default"
    assert set(pool.keys()) == set(values)


def test_dagpool_propagates_errors(eventlet):
    dagpool = support.submodule("dagpool")

    def bad(key, results):
        raise ValueError("broken " + key)

    def downstream(key, results):
        return dict(results)

    pool = dagpool.DAGPool()
    pool.spawn("bad", [], bad)
    pool.spawn("down", ["bad"], downstream)
    with pytest.raises(dagpool.PropagateError) as info:
        pool["down"]
    err = info.value
    assert err.key == "down" and isinstance(err.exc, dagpool.PropagateError)
    assert err.exc.key == "bad" and isinstance(err.exc.exc, ValueError)
    assert "broken bad" in str(err.exc)
    failed = dict(pool.wait_each_exception())
    assert set(failed) == {"bad", "down"}
    assert list(pool.wait_each_success()) == []


def test_corolocal_is_per_green_thread(eventlet):
    corolocal = support.submodule("corolocal")

    class Counter(corolocal.local):
        def __init__(self, start):
            self.value = start

    data = corolocal.local()
    counter = Counter(10)
    data.name = "main"
    seen = {}

    def work(i):
        assert not hasattr(data, "name")
        data.name = i
        counter.value += i
        eventlet.sleep(T)
        seen[i] = (data.name, counter.value, corolocal.get_ident())

    t0 = time.monotonic()
    for gt in [eventlet.spawn(work, i) for i in range(N)]:
        gt.wait()
    assert time.monotonic() - t0 < 10 * T
    assert {i: v[:2] for i, v in seen.items()} == {i: (i, 10 + i) for i in range(N)}
    assert len({v[2] for v in seen.values()}) == N
    assert data.name == "main" and counter.value == 10
