"""After ``eventlet.monkey_patch()``: the standard ``queue`` module and
``concurrent.futures.ThreadPoolExecutor`` as documented, on green threads (20 threads each
blocking T finish in about T; the bounds are loose)."""

import pytest

from patched_support import run_patched, run_patched_many, scenario

pytestmark = pytest.mark.budget(40)

N = 20
T = 0.2
CONCURRENT = 8 * T  # loose: a loaded machine, 3.14t; one after another is 20 T


# What the program imported before monkey_patch(): the late patch is the usual case.
BEFORE = """
import concurrent.futures, queue, threading
"""

SCENARIOS = {
    "queue_get_and_put_wait_green": f"""
        import queue, threading, time
        q = queue.Queue()
        got = []
        def consumer():
            item = q.get()
            got.append((item, clock() - t_put))
            q.task_done()
        threads = [threading.Thread(target=consumer) for _ in range({N})]
        for t in threads: t.start()
        time.sleep({T})                      # all 20 wait in get() meanwhile
        t_put = clock()
        for i in range({N}):
            q.put(i)
        q.join()
        for t in threads: t.join()

        small = queue.Queue(maxsize=2)       # put() waits while it is full
        small.put(1); small.put(2)
        def drain():
            time.sleep({T}); small.get()
        threading.Thread(target=drain).start()
        t0 = clock(); small.put(3); put_waited = clock() - t0
        try:
            small.put(4, timeout=0.05); full = False
        except queue.Full:
            full = True
        try:
            queue.Queue().get(timeout=0.05); empty = False
        except queue.Empty:
            empty = True
        unbounded = queue.Queue(0)           # the standard library's 0: no limit
        for i in range(100):
            unbounded.put_nowait(i)

        lifo, prio, simple = queue.LifoQueue(), queue.PriorityQueue(), queue.SimpleQueue()
        for x in (3, 1, 2):
            lifo.put(x); prio.put(x); simple.put(x)
        def late_put():
            time.sleep({T}); simple.put("late")
        threading.Thread(target=late_put).start()
        order = ([lifo.get() for _ in range(3)], [prio.get() for _ in range(3)],
                 [simple.get() for _ in range(3)])
        t0 = clock(); late = simple.get(timeout=5); simple_waited = clock() - t0
        report(got=sorted(g[0] for g in got), latency=max(g[1] for g in got),
               put_waited=put_waited, full=full, empty=empty, size=unbounded.qsize(),
               order=order, late=late, simple_waited=simple_waited,
               simple_empty=simple.empty())
        """,
    "thread_pool_executor": f"""
        import concurrent.futures as cf, threading, time
        def job(i):
            time.sleep({T})
            if i == 7:
                raise ValueError("seven")
            return i * i, threading.current_thread().name
        t0 = clock()
        with cf.ThreadPoolExecutor(max_workers={N}, thread_name_prefix="pool") as ex:
            futures = [ex.submit(job, i) for i in range({N})]
            done_order = [f for f in cf.as_completed(futures, timeout=10)]
        elapsed = clock() - t0
        results, names, error = {{}}, set(), None
        for i, f in enumerate(futures):
            if f.exception() is not None:
                error = (i, str(f.exception()))
            else:
                value, name = f.result()
                results[i] = value; names.add(name.split("_")[0])
        with cf.ThreadPoolExecutor(max_workers=4) as ex:
            t0 = clock()
            mapped = list(ex.map(lambda x: (time.sleep(0.05), x + 1)[1], range(16)))
            map_elapsed = clock() - t0
            slow = ex.submit(time.sleep, 0.4)
            try:
                slow.result(timeout=0.05); timed_out = False
            except cf.TimeoutError:
                timed_out = True
        report(elapsed=elapsed, results=results, names=sorted(names), error=error,
               completed=len(done_order), mapped=mapped, map_elapsed=map_elapsed,
               timed_out=timed_out, workers=threading.active_count())
        """,
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every case above, one after another in one interpreter (see run_patched_many)."""
    return run_patched_many(SCENARIOS, tmp_path_factory.mktemp("scenarios"), before=BEFORE)


def test_queue_get_and_put_wait_green(results):
    r = scenario(results, "queue_get_and_put_wait_green")
    assert r["got"] == list(range(N)) and r["latency"] < 0.5, r
    assert T - 0.01 <= r["put_waited"] < CONCURRENT, r
    assert r["full"] and r["empty"] and r["size"] == 100
    assert r["order"] == [[2, 1, 3], [1, 2, 3], [3, 1, 2]]
    assert r["late"] == "late" and T - 0.05 <= r["simple_waited"] < CONCURRENT
    assert r["simple_empty"] is True


def test_thread_pool_executor(results):
    r = scenario(results, "thread_pool_executor")
    assert r["elapsed"] < CONCURRENT, r
    assert r["results"] == {str(i): i * i for i in range(N) if i != 7}
    assert r["error"] == [7, "seven"] and r["completed"] == N
    assert r["names"] == ["pool"]
    assert r["mapped"] == list(range(1, 17)) and 0.19 <= r["map_elapsed"] < 0.6, r
    assert r["timed_out"] is True
    assert r["workers"] == 1, "the executors' threads did not end at shutdown"
