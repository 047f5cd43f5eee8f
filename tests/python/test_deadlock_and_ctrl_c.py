"""The main program waiting on another green thread: DeadlockError when nothing at all can end
its wait, and Ctrl-C ending it otherwise, whatever the green threads do meanwhile (the signal
watcher's part: it steps aside while the root's wait could be a deadlock, and watches again as
soon as I/O or a timer could end a wait)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import ghsupport as support

greenhub_only = pytest.mark.greenhub_only

DEADLOCKS = r'''
import time
t0 = time.monotonic()
try:
    eventlet.Event().wait()
except eventlet.DeadlockError as e:
    print("EVENT DEADLOCK", "%.2f" % (time.monotonic() - t0), e, flush=True)
q = eventlet.Queue()
getter = eventlet.spawn(q.get)
try:
    getter.wait()  # it waits for a put nobody will make
except eventlet.DeadlockError:
    print("JOIN DEADLOCK", flush=True)
try:
    eventlet.Semaphore(0).acquire()
except eventlet.DeadlockError:
    print("SEMAPHORE DEADLOCK", flush=True)
# the hub goes on afterwards
print("AFTER", eventlet.spawn(lambda: 6 * 7).wait(), flush=True)
'''


@greenhub_only(reason="greenhub reports a deadlock of the main program; Eventlet hangs there")
def test_a_wait_nothing_can_end_raises_deadlockerror(tmp_path):
    proc = support.run_script(DEADLOCKS, timeout=20, tmp_path=tmp_path)
    assert proc.returncode == 0, support.describe(proc)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("EVENT DEADLOCK")]
    assert line, support.describe(proc)
    assert float(line[0].split()[2]) < 1.0, support.describe(proc)
    assert "would block forever" in line[0], support.describe(proc)
    for what in ("JOIN DEADLOCK", "SEMAPHORE DEADLOCK", "AFTER 42"):
        assert what in proc.stdout, support.describe(proc)


IO_LATER = r'''
import socket, threading
a, b = socket.socketpair()
ga = eventlet.greenio.GreenSocket(a)
evt = eventlet.Event()
eventlet.spawn(lambda: evt.send(ga.recv(10)))
eventlet.sleep(0)  # the reader waits in recv
threading.Timer(0.3, b.send, (b"late",)).start()  # another OS thread, not a green one
print("GOT", evt.wait(), flush=True)
'''


def test_a_green_thread_waiting_for_io_is_no_deadlock(tmp_path):
    """The root's wait can be ended by a green thread that waits for I/O: it waits."""
    proc = support.run_script(IO_LATER, timeout=20, tmp_path=tmp_path)
    assert proc.returncode == 0, support.describe(proc)
    assert "GOT b'late'" in proc.stdout, support.describe(proc)


# The root waits on an Event nobody sets while green threads do each of these (one prints
# READY once the root waits); then SIGINT.
BUSY = {
    # one already waits to read a socket nobody writes to when the root begins to wait
    "reading before the wait": """
        a, b = socket.socketpair()
        ga = eventlet.greenio.GreenSocket(a)
        def reader():
            print("READY", flush=True)
            ga.recv(10)
        eventlet.spawn(reader)
        eventlet.sleep(0)
    """,
    # two keep yielding to each other: runnable, but neither waits for I/O or a timer
    "yielding": """
        def spin(ready):
            for i in range(10**9):
                if i == 1000 and ready:
                    print("READY", flush=True)
                eventlet.sleep(0)
        eventlet.spawn(spin, True)
        eventlet.spawn(spin, False)
    """,
    # one yields a while after the root began its wait, then reads a socket forever
    "reading after the wait began": """
        a, b = socket.socketpair()
        ga = eventlet.greenio.GreenSocket(a)
        def later():
            for _ in range(1000):
                eventlet.sleep(0)
            print("READY", flush=True)
            ga.recv(10)
        eventlet.spawn(later)
    """,
}

CTRL_C = r'''
import socket
{busy}
try:
    eventlet.Event().wait()
    print("RETURNED", flush=True)
except KeyboardInterrupt:
    print("ROOT GOT KeyboardInterrupt", flush=True)
'''


@pytest.mark.parametrize("busy", list(BUSY))
def test_ctrl_c_ends_a_root_waiting_on_an_event(tmp_path, busy):
    script = tmp_path / "ctrl_c.py"
    script.write_text(support.PREAMBLE + "\n" + CTRL_C.format(busy=textwrap.dedent(BUSY[busy])))
    out_path = tmp_path / "out.txt"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=support.subprocess_env(),
        )
        try:
            ready = support.wait_until(
                lambda: "READY" in out_path.read_text() or proc.poll() is not None, 10
            )
            assert ready and proc.poll() is None, out_path.read_text()
            time.sleep(0.2)  # everyone is in its wait again
            os.kill(proc.pid, signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate(timeout=5)
                raise AssertionError("SIGINT did not end the wait\n" + out_path.read_text() + err)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
    text = out_path.read_text()
    assert "ROOT GOT KeyboardInterrupt" in text, text + err
    assert proc.returncode == 0, text + err
