"""Implementation selection and helpers shared by the tests of the Python shim.

The suite is written against Eventlet's documented behaviour and runs against the
implementation named by ``GREENHUB_TESTS_IMPL``:

* ``greenhub`` (default): ``bindings/python`` is put first on ``sys.path`` and the shim is
  imported as ``import greenhub as eventlet``;
* ``eventlet``: the real Eventlet (to validate the tests themselves).

Nothing here may raise at import time: a shim that cannot be imported must make every test
FAIL with the reason (see ``conftest.py``), not break collection.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import textwrap
import time
import traceback
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# GREENHUB_TESTS_BINDINGS: another copy of bindings/python to test (e.g. an installed one).
BINDINGS_DIR = Path(os.environ.get("GREENHUB_TESTS_BINDINGS") or REPO_ROOT / "bindings" / "python").resolve()
EXAMPLES_DIR = BINDINGS_DIR / "examples"
HEADER = REPO_ROOT / "include" / "greenhub.h"
TESTS_DIR = Path(__file__).resolve().parent

IMPL = os.environ.get("GREENHUB_TESTS_IMPL", "greenhub").strip().lower() or "greenhub"
if IMPL not in ("greenhub", "eventlet"):
    IMPL_ERROR = f"GREENHUB_TESTS_IMPL must be 'greenhub' or 'eventlet', not {IMPL!r}"
else:
    IMPL_ERROR = None

SUBMODULES = ("semaphore", "queue", "event", "timeout", "greenpool", "greenthread", "tpool")


def _load():
    """(module or None, import error text or None, {submodule: error text})."""
    if IMPL_ERROR:
        return None, IMPL_ERROR, {}
    if IMPL == "greenhub":
        if str(BINDINGS_DIR) not in sys.path:
            sys.path.insert(0, str(BINDINGS_DIR))
        name = "greenhub"
    else:
        warnings.filterwarnings("ignore", message=r"\s*[Ee]ventlet is deprecated")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="eventlet")
        name = "eventlet"
    try:
        mod = importlib.import_module(name)
    except BaseException:  # noqa: BLE001 - reported verbatim as the failure of every test
        how = (
            f"`import greenhub as eventlet` failed (looked in {BINDINGS_DIR}; the shim loads "
            "GREENHUB_LIBRARY, else the library built by `make` in this repository, else the "
            "system's). Build with `make` or point GREENHUB_LIBRARY at libgreenhub.so."
            if name == "greenhub"
            else "`import eventlet` failed: install it (pip install eventlet) in this environment."
        )
        return None, how + "\n\n" + traceback.format_exc(), {}
    sub_errors = {}
    for sub in SUBMODULES:
        try:
            importlib.import_module(f"{name}.{sub}")
        except BaseException:  # noqa: BLE001
            sub_errors[sub] = traceback.format_exc()
    return mod, None, sub_errors


eventlet, IMPORT_ERROR, SUBMODULE_ERRORS = _load()


def greenlet_exit_class():
    """GreenletExit as the implementation exposes it (Eventlet: greenlet's)."""
    exc = getattr(eventlet, "GreenletExit", None)
    if exc is None and IMPL == "eventlet":
        import greenlet

        exc = greenlet.GreenletExit
    if exc is None:
        raise AssertionError(f"{IMPL} has no GreenletExit")
    return exc


def queue_module():
    return eventlet.queue


def submodule(name):
    """The implementation's submodule ``name`` (``pools``, ``green.subprocess``, ...)."""
    return importlib.import_module(eventlet.__name__ + "." + name)


# --------------------------------------------------------------------------- subprocesses

PREAMBLE = textwrap.dedent(
    f"""\
    import importlib, os, sys, warnings
    warnings.filterwarnings("ignore", message=r"\\s*[Ee]ventlet is deprecated")
    IMPL = {IMPL!r}
    if IMPL == "greenhub":
        sys.path.insert(0, {str(BINDINGS_DIR)!r})
        import greenhub as eventlet
    else:
        import eventlet
    for _sub in {SUBMODULES!r}:
        importlib.import_module(eventlet.__name__ + "." + _sub)
    """
)


def subprocess_env(**extra) -> dict:
    env = dict(os.environ)
    env["GREENHUB_TESTS_IMPL"] = IMPL
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONDEVMODE", None)
    env.update(extra)
    return env


def run_script(code: str, timeout: float = 20.0, args=(), python_flags=(), env=None, tmp_path=None):
    """Run PREAMBLE + code in a fresh interpreter; returns CompletedProcess (text)."""
    script = PREAMBLE + "\n" + textwrap.dedent(code)
    if tmp_path is not None:
        path = Path(tmp_path) / f"script_{time.monotonic_ns()}.py"
        path.write_text(script)
        argv = [sys.executable, *python_flags, str(path), *map(str, args)]
    else:
        argv = [sys.executable, *python_flags, "-c", script, *map(str, args)]
    try:
        return subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env or subprocess_env(),
            cwd=str(tmp_path) if tmp_path else None,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise AssertionError(
            f"script did not finish within {timeout}s\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"
        ) from None


def describe(proc) -> str:
    return (
        f"exit status {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}"
        f"\n--- stderr ---\n{proc.stderr[-4000:]}"
    )


# --------------------------------------------------------------------------- sockets (plain)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound then closed)."""
    return free_port()


def wait_until(predicate, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
