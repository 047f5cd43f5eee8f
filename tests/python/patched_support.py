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


_SCENARIO = """
def _scenario_{name}():
    def report(**values):
        _results[{name!r}] = values

{body}


try:
    _scenario_{name}()
except BaseException:
    import traceback as _traceback
    _results[{name!r}] = {{"_error": _traceback.format_exc()}}
"""


def run_patched_many(scenarios: dict, tmp_path, before: str = "", patch: str = "",
                     timeout: float = 60.0):
    """Runs each of ``scenarios`` (name -> code calling ``report(**values)`` once) one after
    another in one interpreter, after one monkey_patch(): an interpreter per case would cost
    more than most cases (greenhub's import alone takes seconds on a loaded 3.14t). Returns
    name -> values; a case that raised has ``_error`` (its traceback) instead."""
    parts = ["_results = {}", "_report_all = report"]
    for name, code in scenarios.items():
        body = textwrap.indent(textwrap.dedent(code).strip("\n"), "    ")
        parts.append(_SCENARIO.format(name=name, body=body))
    parts.append("_report_all(**_results)")
    return run_patched("\n".join(parts), tmp_path, before=before, patch=patch, timeout=timeout)


def scenario(results: dict, name: str) -> dict:
    """One scenario's values from run_patched_many; fails with its traceback if it raised."""
    values = results.get(name)
    assert values is not None, f"scenario {name} reported nothing\n{results.get('_stderr', '')}"
    assert "_error" not in values, values["_error"]
    return values
