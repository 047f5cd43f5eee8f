"""monkey_patch's keys for this part of the standard library and the drivers: what each
patches, what is_monkey_patched says, and a driver that is not installed (psycopg2 here:
there is no build of it for every CPython the suite runs on) left alone without an error."""

from patched_support import run_patched


def test_thread_and_time_keys_alone(tmp_path):
    r = run_patched(
        """
        import importlib, socket, threading, time, _thread
        patcher = importlib.import_module(eventlet.__name__ + ".patcher")
        t0 = clock()
        gts = [eventlet.spawn(time.sleep, 0.2) for _ in range(10)]
        for gt in gts: gt.wait()
        report(elapsed=clock() - t0,
               patched={k: patcher.is_monkey_patched(k)
                        for k in ("time", "thread", "socket", "os", "subprocess")},
               socket_module=socket.socket.__module__)
        """,
        tmp_path,
        patch="time=True, thread=True",
    )
    assert r["elapsed"] < 1.0, r
    assert r["patched"] == {"time": True, "thread": True, "socket": False, "os": False,
                            "subprocess": False}
    assert r["socket_module"] == "socket"


def test_drivers_not_installed_are_left_alone(tmp_path):
    r = run_patched(
        """
        import importlib, sys
        patcher = importlib.import_module(eventlet.__name__ + ".patcher")
        eventlet.monkey_patch(psycopg=True)
        eventlet.monkey_patch(MySQLdb=True, builtins=True)
        report(psycopg=patcher.is_monkey_patched("psycopg"),
               imported=[m for m in ("psycopg2", "MySQLdb") if sys.modules.get(m) is not None],
               still_works=eventlet.spawn(lambda: 42).wait())
        """,
        tmp_path,
        before="""
        import sys
        for name in ("psycopg2", "MySQLdb"):
            sys.modules[name] = None  # not installed, whatever this machine has
        """,
        patch="time=True",
    )
    assert r["psycopg"] is False and r["still_works"] == 42
    assert r["imported"] == [], r
