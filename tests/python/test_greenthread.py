"""spawn / GreenThread / sleep / kill / getcurrent, from Eventlet's documented behaviour."""

import time

import pytest

import ghsupport as support


class Boom(Exception):
    pass


class Custom(Exception):
    pass


# --------------------------------------------------------------------------- spawn, wait


def test_wait_returns_the_result(eventlet):
    gt = eventlet.spawn(lambda a, b=0: (a, b), 1, b=2)
    assert gt.wait() == (1, 2)
    assert gt.wait() == (1, 2), "a second wait() must return the same result"


def test_wait_reraises_the_exception(eventlet, capfd):
    def fail():
        eventlet.sleep(0)
        raise Boom("boom-from-thread")

    gt = eventlet.spawn(fail)
    with pytest.raises(Boom, match="boom-from-thread"):
        gt.wait()
    with pytest.raises(Boom, match="boom-from-thread"):
        gt.wait()


def test_spawned_thread_runs_only_when_the_spawner_yields(eventlet):
    log = []
    gts = [eventlet.spawn(log.append, i) for i in range(5)]
    assert log == [], "a spawned thread must not run before the spawner blocks or yields"
    eventlet.sleep(0)
    assert log == [0, 1, 2, 3, 4], "sleep(0) lets every spawned thread run, in spawn order"
    for gt in gts:
        assert gt.wait() is None


def test_spawn_n_runs_the_function_with_args(eventlet):
    log = []
    result = eventlet.spawn_n(lambda *a, **k: log.append((a, k)), 1, 2, x=3)
    assert log == []
    eventlet.sleep(0)
    assert log == [((1, 2), {"x": 3})]
    del result  # Eventlet returns None or the greenlet; nothing else is promised


def test_spawn_after_runs_after_the_delay(eventlet):
    log = []
    t0 = time.monotonic()
    gt = eventlet.spawn_after(0.1, lambda x: log.append((x, time.monotonic() - t0)) or "done", "a")
    eventlet.sleep(0.03)
    assert log == [], "spawn_after ran its function before the delay"
    assert gt.wait() == "done"
    assert len(log) == 1 and log[0][0] == "a"
    assert log[0][1] >= 0.09, f"ran after {log[0][1]:.3f}s, expected >= 0.1"
    assert log[0][1] < 1.0


def test_kill_before_spawn_after_fires_cancels_it(eventlet, GreenletExit):
    log = []
    gt = eventlet.spawn_after(0.05, log.append, 1)
    gt.kill()
    eventlet.sleep(0.15)
    assert log == [], "a spawn_after killed before its delay must never run"
    assert gt.dead
    with pytest.raises(GreenletExit):
        gt.wait()


# --------------------------------------------------------------------------- link, unlink, dead


def test_link_called_with_the_thread_and_args(eventlet):
    calls = []

    def linked(gt, *args, **kwargs):
        calls.append((gt, gt.wait(), args, kwargs))

    gt = eventlet.spawn(lambda: eventlet.sleep(0.01) or 42)
    gt.link(linked, "a", "b", k="v")
    assert calls == []
    assert gt.wait() == 42
    eventlet.sleep(0.01)
    assert calls == [(gt, 42, ("a", "b"), {"k": "v"})]


def test_link_is_called_when_the_thread_raised(eventlet, capfd):
    seen = []
    gt = eventlet.spawn(lambda: (_ for _ in ()).throw(Boom("x")))
    gt.link(lambda g: seen.append(g))
    with pytest.raises(Boom):
        gt.wait()
    eventlet.sleep(0.01)
    assert seen == [gt]


def test_link_after_death_is_called_at_once(eventlet):
    gt = eventlet.spawn(lambda: 5)
    assert gt.wait() == 5
    calls = []
    gt.link(lambda g, *a, **k: calls.append((g, a, k)), 1, x=2)
    assert calls == [(gt, (1,), {"x": 2})], "link() on a dead thread calls the function immediately"


def test_unlink(eventlet):
    calls = []

    def cb(g):
        calls.append(g)

    gt = eventlet.spawn(eventlet.sleep, 0.01)
    gt.link(cb)
    assert gt.unlink(cb) is True
    assert gt.unlink(cb) is False, "unlinking a function that is not linked returns False"
    gt.wait()
    eventlet.sleep(0.01)
    assert calls == []


def test_dead(eventlet):
    ev = eventlet.Event()
    gt = eventlet.spawn(ev.wait)
    assert not gt.dead
    eventlet.sleep(0)
    assert not gt.dead, "a thread blocked in wait() is not dead"
    ev.send("x")
    assert gt.wait() == "x"
    assert gt.dead


# --------------------------------------------------------------------------- kill


def test_kill_raises_greenletexit_at_the_blocking_point(eventlet, GreenletExit):
    log = []

    def victim():
        try:
            log.append("blocking")
            eventlet.sleep(10)
            log.append("woke")
        except GreenletExit:
            log.append("GreenletExit")
            raise
        finally:
            log.append("finally")

    gt = eventlet.spawn(victim)
    eventlet.sleep(0)
    assert log == ["blocking"]
    t0 = time.monotonic()
    gt.kill()
    # Eventlet: the target "sees an exception right away"; kill() yields to it.
    assert log == ["blocking", "GreenletExit", "finally"]
    assert time.monotonic() - t0 < 1.0
    assert gt.dead
    with pytest.raises(GreenletExit):
        gt.wait()


def test_kill_lets_the_victim_clean_up_and_return(eventlet, GreenletExit):
    def victim():
        try:
            eventlet.sleep(10)
        except GreenletExit:
            return "cleaned up"

    gt = eventlet.spawn(victim)
    eventlet.sleep(0)
    gt.kill()
    assert gt.wait() == "cleaned up"


def test_kill_of_a_never_started_thread(eventlet, GreenletExit):
    log = []
    gt = eventlet.spawn(log.append, "ran")
    gt.kill()
    eventlet.sleep(0.02)
    assert log == [], "a thread killed before it started must never run"
    assert gt.dead
    with pytest.raises(GreenletExit):
        gt.wait()


def test_kill_with_a_custom_exception_instance(eventlet):
    def victim():
        try:
            eventlet.sleep(10)
        except Custom as e:
            return ("caught", e.args)

    gt = eventlet.spawn(victim)
    eventlet.sleep(0)
    gt.kill(Custom("why"))
    assert gt.wait() == ("caught", ("why",))


def test_module_kill_with_an_exception_class(eventlet, capfd):
    seen = []

    def victim():
        try:
            eventlet.sleep(10)
        except Custom as e:
            seen.append(type(e))
            raise

    gt = eventlet.spawn(victim)
    eventlet.sleep(0)
    eventlet.kill(gt, Custom)
    assert seen == [Custom]
    with pytest.raises(Custom):
        gt.wait()


def test_module_kill_default_is_greenletexit(eventlet, GreenletExit):
    seen = []

    def victim():
        try:
            eventlet.sleep(10)
        except BaseException as e:
            seen.append(type(e))
            raise

    gt = eventlet.spawn(victim)
    eventlet.sleep(0)
    eventlet.kill(gt)
    assert seen == [GreenletExit]
    assert gt.dead


def test_kill_of_a_dead_thread_does_nothing(eventlet):
    gt = eventlet.spawn(lambda: 7)
    assert gt.wait() == 7
    gt.kill()
    eventlet.kill(gt)
    assert gt.wait() == 7


def test_killed_thread_blocked_on_event_leaves_waiters_alone(eventlet):
    ev = eventlet.Event()
    a = eventlet.spawn(ev.wait)
    b = eventlet.spawn(ev.wait)
    eventlet.sleep(0)
    a.kill()
    ev.send("v")
    assert b.wait() == "v"


# --------------------------------------------------------------------------- getcurrent


def test_getcurrent_stable_and_distinct(eventlet):
    root1 = eventlet.getcurrent()
    root2 = eventlet.getcurrent()
    assert root1 is root2

    seen = {}

    def who(i):
        first = eventlet.getcurrent()
        eventlet.sleep(0)
        second = eventlet.getcurrent()
        eventlet.sleep(0.001)
        seen[i] = (first, second, eventlet.getcurrent())

    gts = [eventlet.spawn(who, i) for i in range(4)]
    for gt in gts:
        gt.wait()
    for first, second, third in seen.values():
        assert first is second is third, "getcurrent() must be stable within a green thread"
    idents = [v[0] for v in seen.values()]
    assert len({id(x) for x in idents}) == 4, "getcurrent() must differ between green threads"
    assert all(x is not root1 for x in idents)
    assert eventlet.getcurrent() is root1


def test_getcurrent_in_a_spawned_thread_is_its_greenthread(eventlet):
    out = []
    gt = eventlet.spawn(lambda: out.append(eventlet.getcurrent()))
    gt.wait()
    assert out[0] is gt


# --------------------------------------------------------------------------- sleep


def test_sleep_zero_yields_to_others(eventlet):
    log = []

    def worker(name):
        for i in range(3):
            log.append((name, i))
            eventlet.sleep(0)

    a = eventlet.spawn(worker, "a")
    b = eventlet.spawn(worker, "b")
    a.wait()
    b.wait()
    assert log == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]


def test_sleep_ordering(eventlet):
    log = []

    def sleeper(d):
        eventlet.sleep(d)
        log.append(d)

    gts = [eventlet.spawn(sleeper, d) for d in (0.06, 0.02, 0.04, 0.0)]
    for gt in gts:
        gt.wait()
    assert log == [0.0, 0.02, 0.04, 0.06]


def test_sleep_default_is_a_yield(eventlet):
    log = []
    gt = eventlet.spawn(log.append, "ran")
    eventlet.sleep()
    assert log == ["ran"]
    gt.wait()


def test_sleep_duration(eventlet):
    t0 = time.monotonic()
    eventlet.sleep(0.05)
    took = time.monotonic() - t0
    assert 0.045 <= took < 0.5, took


def test_sleep_in_root_runs_green_threads(eventlet):
    ticks = []

    def ticker():
        for _ in range(5):
            ticks.append(time.monotonic())
            eventlet.sleep(0.01)

    gt = eventlet.spawn(ticker)
    eventlet.sleep(0.2)
    assert len(ticks) == 5
    gt.wait()


# --------------------------------------------------------------------------- exceptions


def test_escaping_exception_prints_traceback_and_only_that_thread_dies(eventlet, capfd):
    ticks = []

    def ticker():
        for i in range(10):
            ticks.append(i)
            eventlet.sleep(0.005)
        return "ticker done"

    def doomed_handler():
        eventlet.sleep(0.01)
        raise IOError("[Errno 2] No such file or directory: '/tmp/x-marker-7731'")

    t = eventlet.spawn(ticker)
    eventlet.spawn_n(doomed_handler)
    eventlet.sleep(0.03)
    assert t.wait() == "ticker done"
    assert ticks == list(range(10)), "the other green thread must go on"
    err = capfd.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "doomed_handler" in err, "the traceback must show the failing function"
    assert "x-marker-7731" in err
    assert "OSError" in err


def test_escaping_exception_of_spawn_is_printed(eventlet, capfd):
    def doomed():
        raise Boom("spawn-marker-5512")

    gt = eventlet.spawn(doomed)
    eventlet.sleep(0.01)
    err = capfd.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "spawn-marker-5512" in err
    with pytest.raises(Boom):
        gt.wait()


def test_greenletexit_is_silent(eventlet, capfd, GreenletExit):
    gt = eventlet.spawn(eventlet.sleep, 10)
    eventlet.sleep(0)
    gt.kill()
    eventlet.sleep(0.01)

    def raiser():
        raise GreenletExit()

    eventlet.spawn_n(raiser)
    eventlet.sleep(0.01)
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    assert "GreenletExit" not in err, err


def test_many_failing_threads_do_not_disturb_the_root(eventlet, capfd):
    def fail(i):
        raise ValueError(i)

    for i in range(50):
        eventlet.spawn_n(fail, i)
    eventlet.sleep(0.02)
    err = capfd.readouterr().err
    assert err.count("Traceback (most recent call last)") == 50
    assert eventlet.spawn(lambda: "alive").wait() == "alive"


def test_systemexit_in_a_green_thread_reaches_the_main_program(tmp_path):
    proc = support.run_script(
        """
        def bye():
            eventlet.sleep(0.01)
            raise SystemExit(3)

        eventlet.spawn(bye)
        try:
            eventlet.sleep(1)
            print("main not interrupted")
        except SystemExit as e:
            print("main got SystemExit", e.code, flush=True)
            raise
        """,
        timeout=15,
        tmp_path=tmp_path,
    )
    assert proc.returncode == 3, support.describe(proc)
    assert "main got SystemExit 3" in proc.stdout, support.describe(proc)
    assert "Traceback" not in proc.stderr, support.describe(proc)


def test_keyboardinterrupt_in_a_green_thread_reaches_the_main_program(tmp_path):
    proc = support.run_script(
        """
        def ctrl_c():
            eventlet.sleep(0.01)
            raise KeyboardInterrupt

        eventlet.spawn(ctrl_c)
        try:
            eventlet.sleep(1)
            print("main not interrupted")
        except KeyboardInterrupt:
            print("main got KeyboardInterrupt", flush=True)
        # the hub still works afterwards
        print("after:", eventlet.spawn(lambda: 6 * 7).wait(), flush=True)
        """,
        timeout=15,
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, support.describe(proc)
    assert "main got KeyboardInterrupt" in proc.stdout, support.describe(proc)
    assert "after: 42" in proc.stdout, support.describe(proc)
