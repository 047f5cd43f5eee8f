"""After ``eventlet.monkey_patch()``: ``time.sleep``, ``threading`` and ``_thread`` as their
documentation says, on green threads. Each case shows concurrency (20 threads each blocking
for T finish in about T, not 20 T; the bounds are loose) and correctness."""

import pytest

from patched_support import run_patched, run_patched_many, scenario

pytestmark = pytest.mark.budget(40)

N = 20
T = 0.2
# 20 threads each blocking T: one after another that is 20 T = 4 s; together about T.
CONCURRENT = 8 * T  # loose: a loaded machine, 3.14t; one after another is 20 T


# What the program imported and made before monkey_patch(): the late patch is the usual case.
BEFORE = """
import logging, threading, time
handler = logging.Handler()  # made before the patch (test_late_patch_greens_old_rlocks)
"""

SCENARIOS = {
    "time_sleep_waits_only_the_calling_green_thread": f"""
        import time
        slept = []
        def nap():
            t = clock(); time.sleep({T}); slept.append(clock() - t)
        t0 = clock()
        threads = [eventlet.spawn(nap) for _ in range({N})]
        for gt in threads:
            gt.wait()
        report(elapsed=clock() - t0, slept=slept)
        """,
    "threads_run_together_and_know_who_they_are": f"""
        import threading, time
        seen = {{}}
        def work(i):
            time.sleep({T})
            me = threading.current_thread()
            seen[i] = (me.name, threading.get_ident(), me.ident)
        t0 = clock()
        threads = [threading.Thread(target=work, args=(i,), name="w%d" % i) for i in range({N})]
        for t in threads:
            t.start()
        during = (threading.active_count(), sorted(t.name for t in threading.enumerate()))
        alive = all(t.is_alive() for t in threads)
        for t in threads:
            t.join()
        report(elapsed=clock() - t0, seen=seen, during=during, alive=alive,
               after=threading.active_count(), dead=not any(t.is_alive() for t in threads),
               idents=[t.ident for t in threads])
        """,
    "lock_excludes_and_rlock_reenters": f"""
        import threading, time
        lock = threading.Lock()
        inside = [0]; most = [0]; order = []
        def work(i):
            time.sleep({T})                  # outside the lock: together
            with lock:
                inside[0] += 1; most[0] = max(most[0], inside[0])
                time.sleep(0.005)            # inside: one at a time
                order.append(i); inside[0] -= 1
        t0 = clock()
        threads = [threading.Thread(target=work, args=(i,)) for i in range({N})]
        for t in threads: t.start()
        for t in threads: t.join()
        elapsed = clock() - t0
        rlock = threading.RLock()
        errors = []
        def other():
            try:
                rlock.release()
            except RuntimeError as e:
                errors.append("release")
            errors.append(rlock.acquire(timeout=0.1))
        with rlock:
            with rlock:
                t = threading.Thread(target=other); t.start(); t.join()
        got_it = rlock.acquire(blocking=False); rlock.release()
        plain = threading.Lock()
        try:
            plain.release()
        except RuntimeError:
            errors.append("unlocked")
        report(elapsed=elapsed, most=most[0], n=len(order), errors=errors, got_it=got_it,
               timed=[plain.acquire(), plain.acquire(timeout=0.05), plain.locked()])
        """,
    "condition_event_semaphore_barrier": f"""
        import threading, time
        ev = threading.Event()
        woke = []
        def waiter():
            ev.wait(); woke.append(clock())
        threads = [threading.Thread(target=waiter) for _ in range({N})]
        for t in threads: t.start()
        time.sleep({T})
        t_set = clock(); ev.set()
        for t in threads: t.join()
        timed_out = threading.Event().wait(0.05)

        cond = threading.Condition()
        items = []; got = []
        def consumer():
            with cond:
                while not items:
                    cond.wait()
                got.append(items.pop())
        threads = [threading.Thread(target=consumer) for _ in range({N})]
        for t in threads: t.start()
        time.sleep(0.05)
        for i in range({N}):
            with cond:
                items.append(i); cond.notify()
        for t in threads: t.join()
        with cond:
            notified = cond.wait_for(lambda: False, timeout=0.05)

        sem = threading.BoundedSemaphore(5)
        inside = [0]; most = [0]
        def limited():
            with sem:
                inside[0] += 1; most[0] = max(most[0], inside[0])
                time.sleep({T}); inside[0] -= 1
        t0 = clock()
        threads = [threading.Thread(target=limited) for _ in range({N})]
        for t in threads: t.start()
        for t in threads: t.join()
        sem_elapsed = clock() - t0
        try:
            sem.release(); over = False
        except ValueError:
            over = True

        barrier = threading.Barrier({N})
        passed = []
        def meet(i):
            time.sleep(0.01 * i)
            passed.append((barrier.wait(), clock()))
        t0 = clock()
        threads = [threading.Thread(target=meet, args=(i,)) for i in range({N})]
        for t in threads: t.start()
        for t in threads: t.join()
        report(woke_after=[w - t_set for w in woke], timed_out=timed_out, got=sorted(got),
               notified=notified, most=most[0], sem_elapsed=sem_elapsed, over=over,
               indexes=sorted(p[0] for p in passed), last_arrival=t0 + 0.01 * ({N} - 1),
               first_pass=min(p[1] for p in passed))
        """,
    "timer_and_local": f"""
        import threading, time
        fired = []
        t0 = clock()
        timers = [threading.Timer({T}, lambda i=i: fired.append((i, clock() - t0)))
                  for i in range({N})]
        for t in timers: t.start()
        timers[3].cancel()
        for t in timers: t.join()
        data = threading.local()
        data.value = "main"
        mine = {{}}
        def work(i):
            data.value = i
            time.sleep(0.05)
            mine[i] = data.value
        threads = [threading.Thread(target=work, args=(i,)) for i in range({N})]
        for t in threads: t.start()
        for t in threads: t.join()
        report(fired=sorted(f[0] for f in fired), when=[f[1] for f in fired], mine=mine,
               main_value=data.value, elapsed=clock() - t0)
        """,
    "thread_module_start_new_thread": f"""
        import _thread, time
        done = _thread.allocate_lock(); done.acquire()
        results = []
        def work(i):
            time.sleep({T}); results.append((i, _thread.get_ident()))
            if len(results) == {N}:
                done.release()
        t0 = clock()
        idents = [_thread.start_new_thread(work, (i,)) for i in range({N})]
        time.sleep(0.05)
        running = _thread._count()
        done.acquire()
        elapsed = clock() - t0
        time.sleep(0.05)
        report(elapsed=elapsed, results=sorted(results), idents=sorted(idents),
               running=running, after=_thread._count())
        """,
    "late_patch_greens_old_rlocks": """
        import threading, time
        inside = [0]; most = [0]
        class Slow(logging.Handler):
            def emit(self, record):
                inside[0] += 1; most[0] = max(most[0], inside[0])
                time.sleep(0.01); inside[0] -= 1
        log = logging.getLogger("late")
        log.addHandler(handler); log.propagate = False
        handler.__class__ = Slow
        threads = [threading.Thread(target=log.warning, args=("x",)) for _ in range(10)]
        for t in threads: t.start()
        for t in threads: t.join()
        report(most=most[0])
        """,
    "current_thread_in_green_threads_threading_did_not_start": """
        import threading, time
        seen = {}
        def work(i):
            me = threading.current_thread()
            time.sleep(0.05)
            seen[i] = (me.name, me is threading.current_thread(), me.ident == threading.get_ident())
            return me
        gts = [eventlet.spawn(work, i) for i in range(5)]
        objects = [gt.wait() for gt in gts]
        t0 = clock()
        for t in objects:
            t.join(timeout=1)
        report(seen=seen, names=len({v[0] for v in seen.values()}), join=clock() - t0,
               main=threading.current_thread().name)
        """,
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every case above, one after another in one interpreter (see run_patched_many)."""
    return run_patched_many(SCENARIOS, tmp_path_factory.mktemp("scenarios"), before=BEFORE)


def test_time_sleep_waits_only_the_calling_green_thread(results):
    r = scenario(results, "time_sleep_waits_only_the_calling_green_thread")
    assert len(r["slept"]) == N and min(r["slept"]) >= T - 0.005, r["slept"]
    assert r["elapsed"] < CONCURRENT, r


def test_threads_run_together_and_know_who_they_are(results):
    r = scenario(results, "threads_run_together_and_know_who_they_are")
    assert r["elapsed"] < CONCURRENT, r
    seen = r["seen"]
    assert sorted(seen, key=int) == [str(i) for i in range(N)]
    for i, (name, ident, tident) in seen.items():
        assert name == "w" + i and ident == tident
    assert sorted(r["idents"]) == sorted(v[1] for v in seen.values())
    assert len(set(r["idents"])) == N, "threads share an identity"
    count, names = r["during"]
    assert count == N + 1 and "MainThread" in names and "w7" in names, r["during"]
    assert r["alive"] and r["dead"] and r["after"] == 1


def test_lock_excludes_and_rlock_reenters(results):
    r = scenario(results, "lock_excludes_and_rlock_reenters")
    assert r["n"] == N and r["most"] == 1, r
    assert r["elapsed"] < CONCURRENT, r
    assert r["errors"] == ["release", False, "unlocked"], r["errors"]
    assert r["got_it"] is True
    assert r["timed"] == [True, False, True]


def test_condition_event_semaphore_barrier(results):
    r = scenario(results, "condition_event_semaphore_barrier")
    assert len(r["woke_after"]) == N and 0 <= max(r["woke_after"]) < 0.5, r["woke_after"]
    assert r["timed_out"] is False and r["notified"] is False
    assert r["got"] == list(range(N))
    assert r["most"] == 5 and 4 * T - 0.01 <= r["sem_elapsed"] < 4 * T + 1.0, r
    assert r["over"] is True
    assert r["indexes"] == list(range(N))
    assert r["first_pass"] >= r["last_arrival"] - 0.005, "a thread passed the barrier early"


def test_timer_and_local(results):
    r = scenario(results, "timer_and_local")
    assert r["fired"] == [i for i in range(N) if i != 3]
    assert min(r["when"]) >= T - 0.005 and max(r["when"]) < CONCURRENT, r["when"]
    assert r["mine"] == {str(i): i for i in range(N)}
    assert r["main_value"] == "main"


def test_thread_module_start_new_thread(results):
    r = scenario(results, "thread_module_start_new_thread")
    assert r["elapsed"] < CONCURRENT, r
    assert [i for i, _ in r["results"]] == list(range(N))
    assert sorted(ident for _, ident in r["results"]) == r["idents"]
    assert r["running"] == N and r["after"] == 0


def test_late_patch_greens_old_rlocks(results):
    # logging and a handler made before monkey_patch(): the handler's RLock (made then) still
    # excludes green threads.
    r = scenario(results, "late_patch_greens_old_rlocks")
    assert r["most"] == 1, "the handler's lock let two green threads in"


def test_current_thread_in_green_threads_threading_did_not_start(results):
    r = scenario(results, "current_thread_in_green_threads_threading_did_not_start")
    assert all(same and ident for _, same, ident in r["seen"].values()), r["seen"]
    assert r["names"] == 5 and r["join"] < 0.5 and r["main"] == "MainThread"


@pytest.mark.greenhub_only(
    "Eventlet's current_thread() in the main program after a late patch is not main_thread(), "
    "and its interpreter exit does not wait for non-daemon threads"
)
def test_late_patch_keeps_the_main_thread_and_exit_waits(tmp_path):
    # The main thread keeps its object and identity; at exit the interpreter waits for a
    # non-daemon thread, as it does for OS threads, without a traceback.
    r = run_patched(
        """
        import threading, time
        seen = []
        t = threading.Thread(target=lambda: seen.append(threading.main_thread() is main_before))
        t.start(); t.join()
        report(same_main=threading.main_thread() is main_before,
               current_is_main=threading.current_thread() is main_before,
               name=threading.current_thread().name,
               ident=threading.get_ident() == main_before.ident == threading.main_thread().ident,
               in_thread=seen, enumerated=main_before in threading.enumerate())
        def last():
            time.sleep(0.3)
            print("last thread done", flush=True)
        threading.Thread(target=last).start()
        """,
        tmp_path,
        before="""
        import threading
        main_before = threading.main_thread()
        """,
    )
    assert r["same_main"] and r["current_is_main"] and r["ident"], r
    assert r["name"] == "MainThread" and r["in_thread"] == [True] and r["enumerated"]
    assert r["_stdout"].rstrip().endswith("last thread done"), r["_stdout"]
    assert "Traceback" not in r["_stderr"] and "Exception" not in r["_stderr"], r["_stderr"]
