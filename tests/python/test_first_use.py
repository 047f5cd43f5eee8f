"""The hub starts on first use, not at import (issue 11): importing the package leaves the
process as it was (the library's log sink, the signal wakeup fd), and the OS thread making the
first spawn, blocking call or socket is the hub's thread, whichever thread imported it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import ghsupport as support

greenhub_only = pytest.mark.greenhub_only

# Loads the library itself (argv[1]) and installs a log sink of its own before importing the
# shim; a C green thread running atoi("7") ends with status 7, which the library reports.
IMPORT_ONLY = r'''
import ctypes, signal, sys

class Report(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("status", ctypes.c_int), ("thread", ctypes.c_int64),
                ("text", ctypes.c_char_p)]

LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(Report))
lib = ctypes.CDLL(sys.argv[1], use_errno=True)
lib.gh_set_log.argtypes = [LOG_FN, ctypes.c_void_p]
lib.gh_spawn.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
lib.gh_spawn.restype = ctypes.c_int64
libc = ctypes.CDLL(None)
atoi = ctypes.cast(libc.atoi, ctypes.c_void_p)
seen = []

@LOG_FN
def sink(ctx, report):
    seen.append((report.contents.kind, report.contents.text.decode()))

lib.gh_set_log(sink, None)

def failing_c_thread(status):
    assert lib.gh_spawn(atoi, str(status).encode()) > 0
    assert lib.gh_yield() == 0

sys.path.insert(0, sys.argv[2])
import importlib
import greenhub
for sub in ("semaphore", "queue", "event", "timeout", "greenpool", "greenthread", "tpool",
            "greenio", "convenience"):
    importlib.import_module("greenhub." + sub)

print("WAKEUP FD AFTER IMPORT", signal.set_wakeup_fd(-1), flush=True)
failing_c_thread(7)
print("SINK AFTER IMPORT", seen, flush=True)

greenhub.sleep(0)  # the first use
print("WAKEUP FD CLAIMED AFTER FIRST USE", signal.set_wakeup_fd(-1) != -1, flush=True)
del seen[:]
failing_c_thread(8)
print("SINK AFTER FIRST USE", seen, flush=True)
'''


@greenhub_only(reason="greenhub's library log sink")
def test_importing_replaces_neither_the_log_sink_nor_the_wakeup_fd(tmp_path):
    lib_path = support.eventlet._lib.path
    script = tmp_path / "import_only.py"
    script.write_text(IMPORT_ONLY)
    proc = subprocess.run(
        [sys.executable, str(script), lib_path, str(support.BINDINGS_DIR)],
        capture_output=True,
        text=True,
        timeout=20,
        env=support.subprocess_env(),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, support.describe(proc)
    out = proc.stdout
    assert "WAKEUP FD AFTER IMPORT -1" in out, support.describe(proc)
    assert "SINK AFTER IMPORT [(1, 'greenhub: green thread" in out, support.describe(proc)
    assert "failed with status 7')]" in out, support.describe(proc)
    # From the first use on, the shim's sink (stderr) and its Ctrl-C watcher are in place.
    assert "WAKEUP FD CLAIMED AFTER FIRST USE True" in out, support.describe(proc)
    assert "SINK AFTER FIRST USE []" in out, support.describe(proc)
    assert "failed with status 8" in proc.stderr, support.describe(proc)


FIRST_USE_IN_ANOTHER_THREAD = r'''
import socket, threading, time
out = {}

def main():
    ticks = []

    def ticker():
        while True:
            ticks.append(time.monotonic())
            eventlet.sleep(0.01)

    t = eventlet.spawn(ticker)
    eventlet.sleep(0)
    eventlet.tpool.execute(time.sleep, 0.3)  # on a worker: the ticker runs meanwhile
    out["ticks"] = len(ticks)
    server = eventlet.listen(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.close()  # closed now, in this thread (the hub's)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        out["refused"] = False
    except ConnectionRefusedError:
        out["refused"] = True
    t.kill()

th = threading.Thread(target=main)
th.start()
th.join(15)
print("TICKS DURING THE POOL CALL", out["ticks"], flush=True)
print("CLOSED LISTENER REFUSES", out["refused"], flush=True)
'''


def test_the_thread_of_the_first_use_is_the_hub_thread(tmp_path):
    """The package is imported by the main thread, used only by another one: that one's hub
    serves the green threads, the thread pool and the sockets."""
    proc = support.run_script(FIRST_USE_IN_ANOTHER_THREAD, timeout=20, tmp_path=tmp_path)
    assert proc.returncode == 0, support.describe(proc)
    ticks = int(proc.stdout.split("TICKS DURING THE POOL CALL ")[1].split()[0])
    assert ticks >= 10, "the pool call ran on the hub's thread, blocking it\n" + support.describe(proc)
    assert "CLOSED LISTENER REFUSES True" in proc.stdout, support.describe(proc)


def test_importing_leaves_the_signal_wakeup_fd_alone(tmp_path):
    """A program may set up its own signal handling (asyncio's wakeup fd) after importing."""
    proc = support.run_script(
        textwrap.dedent(
            """
            import signal
            print("WAKEUP FD", signal.set_wakeup_fd(-1), flush=True)
            """
        ),
        timeout=20,
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, support.describe(proc)
    assert "WAKEUP FD -1" in proc.stdout, support.describe(proc)
