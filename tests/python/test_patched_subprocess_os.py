"""After ``eventlet.monkey_patch()``: ``subprocess`` (run, Popen pipes, communicate, wait with
a timeout, check_output) and ``os`` (pipe reads and writes, waitpid) as documented, waiting
only the calling green thread: 20 ``sleep 0.2`` children finish in about 0.2 s, not 4 s."""

import time

import pytest

import ghsupport as support
from patched_support import run_patched, run_patched_many, scenario

pytestmark = pytest.mark.budget(40)

N = 20
T = 0.2
CONCURRENT = 8 * T  # loose: a loaded machine, 3.14t; one after another is 20 T


# What the program imported before monkey_patch(): the late patch is the usual case.
BEFORE = """
import os, subprocess
"""

SCENARIOS = {
    "subprocess_run_and_popen_pipes": f"""
        import subprocess, threading
        t0 = clock()
        runs = [eventlet.spawn(subprocess.run, ["sleep", "{T}"]) for _ in range({N})]
        codes = [gt.wait().returncode for gt in runs]
        run_elapsed = clock() - t0

        def child(i):
            p = subprocess.Popen(["sh", "-c", "sleep {T}; echo out $0; echo err $0 >&2", str(i)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            return p.communicate() + (p.returncode,)
        t0 = clock()
        outs = [gt.wait() for gt in [eventlet.spawn(child, i) for i in range({N})]]
        popen_elapsed = clock() - t0

        big = bytes(range(256)) * 4096  # 1 MiB through cat: stdin and stdout at once
        echoed, _ = subprocess.Popen(["cat"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE).communicate(big)

        lines = []
        p = subprocess.Popen(["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.05; done"],
                             stdout=subprocess.PIPE, text=True)
        ticks = []
        ticker = eventlet.spawn(lambda: [ticks.append(eventlet.sleep(0.01)) for _ in range(10)])
        for line in p.stdout:
            lines.append(line)
        p.wait()
        ticker.wait()
        report(codes=codes, run_elapsed=run_elapsed, popen_elapsed=popen_elapsed,
               outs=[[o.decode(), e.decode(), c] for o, e, c in outs],
               echoed=echoed == big, lines=lines, ticks=len(ticks),
               text=subprocess.check_output(["echo", "hi"], text=True))
        """,
    "subprocess_timeouts_and_errors": """
        import subprocess
        ticks = []
        def tick():
            while len(ticks) < 100:
                ticks.append(clock()); eventlet.sleep(0.01)
        ticker = eventlet.spawn(tick)
        p = subprocess.Popen(["sleep", "5"])
        t0 = clock()
        try:
            p.wait(timeout=0.3); waited = "returned"
        except subprocess.TimeoutExpired:
            waited = clock() - t0
        during = len([t for t in ticks if t0 <= t <= t0 + 0.3])
        p.kill()
        killed = p.wait(timeout=5)
        t0 = clock()
        try:
            subprocess.run(["sleep", "5"], timeout=0.3); run_timeout = "returned"
        except subprocess.TimeoutExpired as e:
            run_timeout = [clock() - t0, e.timeout]
        try:
            subprocess.check_call(["false"]); err = None
        except subprocess.CalledProcessError as e:
            err = [type(e) is subprocess.CalledProcessError, e.returncode]
        ticker.wait()
        report(waited=waited, during=during, killed=killed, run_timeout=run_timeout, err=err)
        """,
    "os_pipes_and_waitpid": f"""
        import os, subprocess
        pipes = [os.pipe() for _ in range({N})]
        got = {{}}
        def reader(i):
            got[i] = (os.read(pipes[i][0], 100), clock())
        readers = [eventlet.spawn(reader, i) for i in range({N})]
        eventlet.sleep({T})          # all 20 wait in os.read meanwhile
        t_write = clock()
        for i, (r, w) in enumerate(pipes):
            os.write(w, b"data %d" % i)
        for gt in readers: gt.wait()
        latency = max(t for _, t in got.values()) - t_write

        children = [subprocess.Popen(["sleep", "{T}"]) for _ in range({N})]
        t0 = clock()
        statuses = [gt.wait() for gt in [eventlet.spawn(os.waitpid, c.pid, 0) for c in children]]
        waited = clock() - t0
        last = subprocess.Popen(["sh", "-c", "exit 3"])  # kept: its __del__ would reap it
        any_pid, status = os.wait()
        pid = last.pid
        report(got=sorted(v[0].decode() for v in got.values()), latency=latency,
               pids=[s[0] for s in statuses] == [c.pid for c in children],
               codes=sorted(set(os.waitstatus_to_exitcode(s[1]) for s in statuses)),
               waited=waited, wait=[any_pid == pid, os.waitstatus_to_exitcode(status)])
        """,
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every case above, one after another in one interpreter (see run_patched_many)."""
    return run_patched_many(SCENARIOS, tmp_path_factory.mktemp("scenarios"), before=BEFORE)


def test_subprocess_run_and_popen_pipes(results):
    r = scenario(results, "subprocess_run_and_popen_pipes")
    assert r["codes"] == [0] * N and r["run_elapsed"] < CONCURRENT, r
    assert r["popen_elapsed"] < CONCURRENT, r
    assert r["outs"] == [["out %d\n" % i, "err %d\n" % i, 0] for i in range(N)]
    assert r["echoed"] is True
    assert r["lines"] == ["line1\n", "line2\n", "line3\n"] and r["ticks"] == 10
    assert r["text"] == "hi\n"


def test_subprocess_timeouts_and_errors(results):
    r = scenario(results, "subprocess_timeouts_and_errors")
    assert isinstance(r["waited"], float) and 0.29 <= r["waited"] < 1.0, r
    assert r["during"] >= 10, "the hub did not run while wait(timeout) waited"
    assert r["killed"] == -9
    assert isinstance(r["run_timeout"], list) and r["run_timeout"][0] < 1.5, r
    assert 0 < r["run_timeout"][1] <= 0.3
    assert r["err"] == [True, 1]


def test_os_pipes_and_waitpid(results):
    r = scenario(results, "os_pipes_and_waitpid")
    assert r["got"] == sorted("data %d" % i for i in range(N)) and r["latency"] < 0.5, r
    assert r["pids"] and r["codes"] == [0]
    assert r["waited"] < CONCURRENT, r
    assert r["wait"] == [True, 3]


@pytest.mark.greenhub_only("Eventlet's communicate() raises a TimeoutExpired of its own copy of "
                           "subprocess, which except subprocess.TimeoutExpired does not catch")
def test_communicate_after_a_timeout_keeps_the_output(tmp_path):
    r = run_patched(
        """
        import subprocess
        partial = subprocess.Popen(["sh", "-c", "echo early; exec sleep 5"], stdout=subprocess.PIPE)
        try:
            partial.communicate(timeout=0.3); again = "returned"
        except subprocess.TimeoutExpired:
            partial.kill()
            again = partial.communicate()[0].decode()
        report(again=again, code=partial.returncode)
        """,
        tmp_path,
    )
    assert r["again"] == "early\n" and r["code"] == -9


@pytest.mark.greenhub_only("Eventlet's os.write hands a blocking pipe the whole buffer: the OS "
                           "thread blocks with the reader green thread behind it")
def test_os_write_through_a_blocking_pipe(tmp_path):
    r = run_patched(
        """
        import os
        r, w = os.pipe()             # blocking fds: 1 MiB through a 64 KiB pipe
        big = os.urandom(1 << 20)
        def write_all():
            view = memoryview(big)
            while view:
                view = view[os.write(w, view):]
        def read_all():
            chunks, n = [], 0
            while n < len(big):
                chunk = os.read(r, 65536); chunks.append(chunk); n += len(chunk)
            return b"".join(chunks)
        writer = eventlet.spawn(write_all)
        received = eventlet.spawn(read_all).wait()
        writer.wait()
        report(same=received == big, blocking=os.get_blocking(w))
        """,
        tmp_path,
    )
    assert r["same"] is True and r["blocking"] is True


@pytest.mark.greenhub_only("Eventlet's green subprocess, used without monkey patching, runs "
                           "these children one after another")
def test_green_subprocess_without_patching(eventlet):
    # Eventlet's ``from eventlet.green import subprocess``, no monkey patching.
    subprocess = support.submodule("green.subprocess")
    t0 = time.monotonic()
    script = "sleep %s; echo $0" % T
    children = [eventlet.spawn(subprocess.check_output, ["sh", "-c", script, str(i)])
                for i in range(N)]
    outs = [gt.wait() for gt in children]
    assert outs == [b"%d\n" % i for i in range(N)]
    assert time.monotonic() - t0 < CONCURRENT
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.check_call(["false"])
