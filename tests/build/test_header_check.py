"""The committed header is only ever written by `make header`: builds generate the header into
build/ and compile against that, and `make check-header` compares the committed copy with it,
so the check fails on any difference, in a local build too."""

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "include" / "greenhub.h"


def make(*args, timeout=900):
    return subprocess.run(["make", "-s", "-C", str(REPO), *args], capture_output=True, text=True,
                          timeout=timeout)


def test_the_committed_header_is_what_capi_generates():
    r = make("check-header")
    assert r.returncode == 0, r.stdout + r.stderr


def test_an_edited_header_fails_the_check_and_no_build_rewrites_it():
    original = COMMITTED.read_bytes()
    text = original.decode()
    # A doc comment changed by hand, as someone editing the header instead of capi/ would.
    assert "Closes the socket." in text
    edited = text.replace("Closes the socket.", "Closes the socket!", 1)
    try:
        COMMITTED.write_text(edited)
        r = make("lib", "examples")
        assert r.returncode == 0, r.stdout + r.stderr
        assert COMMITTED.read_text() == edited, "a build rewrote the committed header"
        r = make("check-header")
        assert r.returncode != 0, "check-header passed on an edited header"
        assert "is stale" in r.stdout + r.stderr
        assert "Closes the socket!" in r.stdout  # the diff shows what differs
    finally:
        COMMITTED.write_bytes(original)
    assert make("check-header").returncode == 0
