"""End-to-end test of examples-c sync_example (no arguments; it talks to itself on 127.0.0.1).

Part 1: workers each read one byte n from a socket and append n! (n = 1..20) to a shared array
without a lock. Part 2: a read-modify-write with a sleep in the middle, once without and once
with a greenhub semaphore. The program exits 0 when the array and the guarded balance are right.
"""

from __future__ import annotations

import math
import re
import subprocess

from e2e_support import binary_path


def run_sync_example():
    exe = binary_path("sync_example")
    proc = subprocess.run(
        [str(exe)], stdin=subprocess.DEVNULL, capture_output=True, timeout=30
    )
    return proc, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def test_factorials_and_semaphore():
    proc, out, err = run_sync_example()
    assert proc.returncode == 0, f"exit status {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    lines = out.splitlines()

    # Part 1: every worker's n! exactly once (in whatever order the bytes arrived).
    for n in range(1, 21):
        want = f"worker: {n}! = {math.factorial(n)}"
        assert lines.count(want) == 1, f"{want!r} not printed exactly once:\n{out}"
    assert "shared_data: 20 results, all correct" in lines, out

    # Part 2: the guarded balance is right; the unguarded run is shown, clearly labelled.
    assert "with a semaphore: balance 100, expected 100, correct" in lines, out
    unguarded = [l for l in lines if l.startswith("WITHOUT a semaphore")]
    assert len(unguarded) == 1, out
    m = re.search(r"balance (\d+), expected 100, (\d+) deposits lost", unguarded[0])
    assert m, unguarded[0]
    # Cooperative scheduling makes the race deterministic: every depositor reads the balance
    # before any of them writes it back, so updates are lost.
    assert int(m.group(1)) < 100 and int(m.group(1)) + int(m.group(2)) == 100, unguarded[0]
    assert lines[-1] == "OK", out
    assert err == "", f"unexpected stderr (a green thread failed?):\n{err}"
