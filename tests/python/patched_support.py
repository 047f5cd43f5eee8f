"""Helpers for the tests of programs run after ``eventlet.monkey_patch()``: each runs in a
fresh interpreter (patching is for the whole process), prints what it found as one JSON line,
and the test asserts on it.

``run_patched(code, tmp_path)`` runs ghsupport's PREAMBLE (``import greenhub as eventlet``,
or the real Eventlet), then ``before`` (what a program imports before patching: the late patch
is the usual case, pytest and greenhub themselves import threading first), then
``eventlet.monkey_patch(**patch)``, then ``code``. The script calls ``report(**values)``
once; ``run_patched`` returns those values. ``clock()`` is the unpatched monotonic clock.
"""

from __future__ import annotations

import json
import textwrap

import ghsupport as support

_PROLOGUE = """\
import json as _json, sys as _sys, time as _time
clock = _time.monotonic


def report(**values):
    print("REPORT " + _json.dumps(values), flush=True)
"""


def run_patched(code: str, tmp_path, before: str = "", patch: str = "", timeout: float = 30.0,
                env=None, args=()):
    """Runs ``code`` after monkey_patch(``patch``); returns the dict it reported."""
    script = "\n".join(
        [
            _PROLOGUE,
            textwrap.dedent(before),
            f"eventlet.monkey_patch({patch})",
            textwrap.dedent(code),
        ]
    )
    proc = support.run_script(script, timeout=timeout, tmp_path=tmp_path, env=env, args=args)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("REPORT ")]
    assert proc.returncode == 0 and len(lines) == 1, support.describe(proc)
    values = json.loads(lines[0][len("REPORT "):])
    values["_stderr"] = proc.stderr
    values["_stdout"] = proc.stdout
    return values
