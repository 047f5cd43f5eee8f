"""greenhub's own promises (issue #4), beyond Eventlet's API: the runtime.

Tests marked ``greenhub_only`` are skipped under GREENHUB_TESTS_IMPL=eventlet (they check
native stacks, the GIL rule); the others here hold for Eventlet too. The shim's declarations
against the C header are checked in test_shim_declarations.py.
"""

from __future__ import annotations

import re
import sys

import pytest

import ghsupport as support

greenhub_only = pytest.mark.greenhub_only


# =========================================================================== stress under -X dev

STRESS = r'''
import contextvars
import gc
import sys
import threading
import traceback

N = int(sys.argv[1])
ROUNDS = int(sys.argv[2])
CHECK_THREADING_LOCAL = IMPL == "greenhub"  # Eventlet isolates it only when monkey-patched
DEPTH = 8

tl = threading.local()
cv = contextvars.ContextVar("cv", default=None)


class Expected(Exception):
    pass


def deep(n, ident, acc):
    """DEPTH levels of recursion, switching at every level and inside except/chaining."""
    if n == 0:
        eventlet.sleep(0)
        return acc + ident
    if n % 3 == 0:
        try:
            raise ValueError((ident, n))
        except ValueError as e:
            eventlet.sleep(0)  # suspended while handling an exception
            assert sys.exc_info()[1] is e, "exception state lost across a switch"
            try:
                try:
                    raise KeyError(n) from e
                except KeyError as k:
                    eventlet.sleep(0)  # suspended during chaining
                    assert k.__cause__ is e and e.args[0] == (ident, n)
                    raise
            except KeyError as k2:
                assert k2.args == (n,) and sys.exc_info()[1] is k2
            assert sys.exc_info()[1] is e
    r = deep(n - 1, ident, acc + n)
    eventlet.sleep(0)
    return r


def gen(ident, log):
    try:
        for i in range(3):
            eventlet.sleep(0)
            yield ident * 10 + i
    finally:
        eventlet.sleep(0)  # sleeps inside close()
        log.append("closed")


class Ctx:
    def __init__(self):
        self.state = []

    def __enter__(self):
        eventlet.sleep(0)
        self.state.append("enter")
        return self

    def __exit__(self, typ, val, tb):
        eventlet.sleep(0)
        self.state.append(("exit", typ))
        return False


def task(ident):
    tl.value = ident
    cv.set(ident)
    r = deep(DEPTH, ident, 0)
    assert r == DEPTH * (DEPTH + 1) // 2 + ident, r
    if CHECK_THREADING_LOCAL:
        assert tl.value == ident, f"threading.local leaked: {tl.value} != {ident}"
    assert cv.get() == ident, f"contextvar leaked: {cv.get()} != {ident}"
    log = []
    g = gen(ident, log)
    first = next(g)
    eventlet.sleep(0.001)
    second = next(g)
    g.close()
    assert log == ["closed"], log
    assert (first, second) == (ident * 10, ident * 10 + 1)
    with Ctx() as c:
        eventlet.sleep(0)
        if ident % 50 == 0:
            gc.collect()  # collect while hundreds of others are suspended
    assert c.state == ["enter", ("exit", None)], c.state
    c2 = Ctx()
    try:
        with c2:
            eventlet.sleep(0)
            raise RuntimeError(ident)
    except RuntimeError as e:
        assert e.args == (ident,)
        assert e.__traceback__ is not None
    assert c2.state == ["enter", ("exit", RuntimeError)], c2.state
    if CHECK_THREADING_LOCAL:
        assert tl.value == ident
    assert cv.get() == ident
    if ident % 100 == 7:
        raise Expected(ident)  # escapes: printed, re-raised by wait()
    return ident * 2


def root_nested(k, fn):
    """The root blocks 10 frames deep."""
    if k == 0:
        return fn()
    return root_nested(k - 1, fn)


def one_round(round_no):
    tl.value = "root"
    cv.set("root")
    gts = [eventlet.spawn(task, i) for i in range(N)]
    eventlet.sleep(0)
    gc.collect()  # in the root while every green thread is suspended
    results = {}
    failures = {}

    def collect():
        for i, gt in enumerate(gts):
            try:
                results[i] = gt.wait()
            except Expected as e:
                tb = traceback.extract_tb(e.__traceback__)
                assert any(f.name == "task" for f in tb), "traceback lost its frames"
                failures[i] = e.args[0]

    root_nested(10, collect)
    assert cv.get() == "root"
    if CHECK_THREADING_LOCAL:
        assert tl.value == "root"
    expected_fail = {i for i in range(N) if i % 100 == 7}
    assert set(failures) == expected_fail, (sorted(failures), sorted(expected_fail))
    assert all(failures[i] == i for i in failures)
    assert results == {i: i * 2 for i in range(N) if i not in expected_fail}
    return len(expected_fail)


escaped = 0
for r in range(ROUNDS):
    escaped += one_round(r)
    gc.collect()
print(f"STRESS OK rounds={ROUNDS} threads={N} escaped={escaped}", flush=True)
'''


@greenhub_only(reason="native stacks and thread states: the script also runs under Eventlet (threading.local check off)")
@pytest.mark.budget(60)
def test_stress_1000_green_threads_under_dev_mode(tmp_path):
    n, rounds = 1200, 2
    proc = support.run_script(STRESS, timeout=50, args=(n, rounds), python_flags=("-X", "dev"), tmp_path=tmp_path)
    assert proc.returncode == 0, support.describe(proc)
    assert f"STRESS OK rounds={rounds} threads={n} escaped=24" in proc.stdout, support.describe(proc)
    assert proc.stderr.count("Traceback (most recent call last)") == 24, support.describe(proc)
    assert proc.stderr.count("Expected: ") == 24, support.describe(proc)
    assert "Fatal Python error" not in proc.stderr, support.describe(proc)


# =========================================================================== C -> Python callbacks

CALLBACKS = r'''
import ctypes, random
libc = ctypes.CDLL(None)
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
libc.qsort.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, CMP]
libc.qsort.restype = None
calls = []

def sorter(ident):
    rnd = random.Random(ident)
    values = [rnd.randrange(1000) for _ in range(30)]

    def cmp(a, b):
        calls.append(ident)
        eventlet.sleep(0)  # switch inside a C -> Python callback (ctypes: PyGILState_Ensure)
        return (a[0] > b[0]) - (a[0] < b[0])

    cb = CMP(cmp)
    arr = (ctypes.c_int * len(values))(*values)
    libc.qsort(arr, len(values), ctypes.sizeof(ctypes.c_int), cb)
    assert list(arr) == sorted(values), (ident, list(arr))
    return ident

gts = [eventlet.spawn(sorter, i) for i in range(20)]
assert [gt.wait() for gt in gts] == list(range(20))
switches = sum(1 for a, b in zip(calls, calls[1:]) if a != b)
assert switches > 100, f"callbacks did not interleave ({switches} switches)"
print("CALLBACKS OK", flush=True)
'''


def test_switching_inside_ctypes_callbacks_under_dev_mode(tmp_path):
    """A C->Python callback (ctypes, through PyGILState_Ensure) in a green thread may switch."""
    proc = support.run_script(CALLBACKS, timeout=30, python_flags=("-X", "dev"), tmp_path=tmp_path)
    assert proc.returncode == 0 and "CALLBACKS OK" in proc.stdout, support.describe(proc)


# =========================================================================== stack overflow

OVERFLOW = r'''
import json, sys
sys.setrecursionlimit(10_000_000)  # Python's limit must not stop it: the C stack overflows
KIND = sys.argv[1]
ticks = []

def ticker():
    for i in range(40):
        ticks.append(i)
        eventlet.sleep(0.002)
    return "ticker done"

def overflow_sorted():
    def rec(n):
        return sorted([n], key=lambda x: rec(x + 1))  # C (sorted) re-entering Python
    eventlet.sleep(0.01)
    rec(0)

def overflow_json():
    nested = cur = []
    for _ in range(3_000_000):
        new = []
        cur.append(new)
        cur = new
    eventlet.sleep(0.01)
    json.dumps(nested)

t = eventlet.spawn(ticker)
victim = eventlet.spawn(overflow_sorted if KIND == "sorted" else overflow_json)
try:
    with eventlet.Timeout(10):
        result = victim.wait()
    print("VICTIM returned", repr(result), flush=True)
except eventlet.Timeout:
    print("VICTIM wait() hung", flush=True)
except BaseException as e:
    print("VICTIM raised", type(e).__name__, flush=True)
    print("MESSAGE", str(e)[:200], flush=True)
assert t.wait() == "ticker done"
assert ticks == list(range(40)), ticks

# the interpreter and the hub are healthy afterwards
def work(i):
    eventlet.sleep(0.001)
    return sorted(range(i, 0, -1), key=lambda x: -x)[:2]
assert [g.wait() for g in [eventlet.spawn(work, i) for i in range(3, 50)]] == [[i, i - 1] for i in range(3, 50)]
import gc; gc.collect()
print("SURVIVED", flush=True)
'''


@greenhub_only(reason="greenhub runs Python green threads on their own guarded C stacks")
@pytest.mark.parametrize("kind", ["sorted", "json"])
@pytest.mark.budget(40)
def test_c_stack_overflow_kills_only_that_green_thread(tmp_path, kind):
    """Up to 3.13 the recursion runs into the green stack's guard page: greenhub stops that
    thread alone. From 3.14 CPython checks the stack pointer against the thread state's stack
    bounds, which greenhub gives it (the green stack's): the thread gets CPython's own
    RecursionError, near the end of its 1 MiB stack, before the guard page."""
    proc = support.run_script(OVERFLOW, timeout=30, args=(kind,), tmp_path=tmp_path)
    assert proc.returncode == 0, support.describe(proc)
    assert "SURVIVED" in proc.stdout, support.describe(proc)
    assert "VICTIM returned" not in proc.stdout, "the recursion did not overflow:\n" + support.describe(proc)
    assert "VICTIM wait() hung" not in proc.stdout, support.describe(proc)
    if sys.version_info >= (3, 14):
        assert "VICTIM raised RecursionError" in proc.stdout, support.describe(proc)
        used = re.search(r"MESSAGE Stack overflow \(used (\d+) kB\)", proc.stdout)
        assert used, "not CPython's C stack check:\n" + support.describe(proc)
        assert 512 < int(used.group(1)) <= 1024, "bounds other than the 1 MiB green stack's:\n" + support.describe(proc)
        assert "overflowed its stack" not in proc.stderr, support.describe(proc)
        return
    if kind == "json" and sys.version_info[:2] == (3, 12):
        # 3.12 bounds C recursion in its own encoder (a fixed C recursion limit, not
        # sys.setrecursionlimit): the thread gets RecursionError before the stack runs out.
        assert "VICTIM raised RecursionError" in proc.stdout, support.describe(proc)
        return
    assert "VICTIM raised RecursionError" not in proc.stdout, (
        "Python's recursion limit stopped it before the C stack overflowed:\n" + support.describe(proc)
    )
    assert "overflow" in proc.stderr.lower(), "the overflow must be reported on stderr:\n" + support.describe(proc)


# =========================================================================== GIL held

GIL_HELD = r'''
import ctypes, errno, threading, time, importlib
_lib = importlib.import_module(eventlet.__name__ + "._lib")
pydll = ctypes.PyDLL(_lib.path, use_errno=True)  # the GIL stays held through each call
for name, args in (("gh_sleep", [ctypes.c_int64]), ("gh_yield", []),
                   ("gh_sem_acquire", [ctypes.c_int64, ctypes.c_int64])):
    getattr(pydll, name).argtypes = args
    getattr(pydll, name).restype = ctypes.c_int

def attempt(where):
    # While the call waits: green threads run, and so does Python on another OS thread
    # (which it could not if the GIL stayed held through the switch).
    green, os_ticks, stop = [], [0], []
    def ticker():
        for _ in range(5):
            green.append(1)
            eventlet.sleep(0.01)
    def os_thread():
        while not stop:
            os_ticks[0] += 1
            time.sleep(0.001)
    t = threading.Thread(target=os_thread)
    t.start()
    eventlet.spawn(ticker)
    ctypes.set_errno(0)
    t0 = time.monotonic()
    r = pydll.gh_sleep(150)
    took = time.monotonic() - t0
    e = ctypes.get_errno()
    ticks = os_ticks[0]
    stop.append(1)
    t.join()
    print(where, "gh_sleep", r, errno.errorcode.get(e, e), len(green), ticks, "%.3f" % took, flush=True)

    yielded = []
    eventlet.spawn(yielded.append, 1)
    r = pydll.gh_yield()
    print(where, "gh_yield", r, errno.errorcode.get(ctypes.get_errno(), 0), len(yielded), flush=True)

    csem = _lib.lib.gh_sem_new(0)
    eventlet.spawn(lambda: (eventlet.sleep(0.02), _lib.lib.gh_sem_release(csem)))
    r = pydll.gh_sem_acquire(csem, 2000)
    print(where, "gh_sem_acquire", r, errno.errorcode.get(ctypes.get_errno(), 0), flush=True)
    _lib.lib.gh_sem_free(csem)

attempt("ROOT")
eventlet.spawn(attempt, "GREEN").wait()
print("AFTER", eventlet.spawn(lambda: 6 * 7).wait(), flush=True)
'''


@greenhub_only(reason="greenhub's rule: a call made with the GIL held releases it to switch")
def test_blocking_call_with_the_gil_held_releases_it_to_switch(tmp_path):
    proc = support.run_script(GIL_HELD, timeout=20, tmp_path=tmp_path)
    assert proc.returncode == 0, support.describe(proc)
    lines = {tuple(line.split()[:2]): line.split()[2:] for line in proc.stdout.splitlines()
             if line.startswith(("ROOT", "GREEN"))}
    for where in ("ROOT", "GREEN"):
        r, err, green, os_ticks, took = lines.get((where, "gh_sleep"), [None] * 5)
        assert r == "0", f"{where} gh_sleep returned {r}, errno {err}\n" + support.describe(proc)
        assert float(took) >= 0.14, f"{where} gh_sleep(150) returned after {took} s"
        assert int(green) >= 5, f"{where}: a green thread ran {green} of 5 steps during the sleep"
        assert int(os_ticks) > 0, f"{where}: no Python ran on another OS thread during the sleep"
        r, err, yielded = lines.get((where, "gh_yield"), [None] * 3)
        assert (r, yielded) == ("0", "1"), f"{where} gh_yield: {r} {err}, spawned ran: {yielded}"
        r, err = lines.get((where, "gh_sem_acquire"), [None] * 2)
        assert r == "0", f"{where} gh_sem_acquire returned {r}, errno {err}\n" + support.describe(proc)
    assert "AFTER 42" in proc.stdout, support.describe(proc)
