"""What the tests of tests/install share: the repository, make, and commands that must work."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


# The workspace version (Cargo.toml's first `version = "..."`, as the Makefile reads it) and
# the soname's (README "ABI policy": MAJOR.MINOR while 0.x, MAJOR from 1.0 on).
VERSION = re.search(r'^version = "(.*)"', (REPO / "Cargo.toml").read_text(), re.M).group(1)
_MAJOR, _MINOR, _PATCH = VERSION.split(".")
SOVERSION = f"0.{_MINOR}" if _MAJOR == "0" else _MAJOR


def run(argv, timeout=600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, **kw)


def sh(argv, **kw) -> str:
    """stdout of a command that must succeed (else AssertionError with its output)."""
    r = run(argv, **kw)
    command = " ".join(map(str, argv))
    assert r.returncode == 0, f"{command} failed ({r.returncode}):\n{r.stdout}{r.stderr}"
    return r.stdout


def make(*args: str) -> str:
    return sh(["make", "-s", "-C", REPO, *args], timeout=900)


def install_prefix(tmp_path_factory) -> Path:
    """greenhub installed with `make install PREFIX=<a new temporary directory>` (the tests'
    `prefix` fixture; no conftest.py here, whose name tests/e2e imports by)."""
    p = tmp_path_factory.mktemp("prefix")
    make("install", f"PREFIX={p}")
    return p
