"""file_server while one client fetches a slow or huge file: the other clients keep being served.

ROOT holds a small local file, a FUSE filesystem mounted by the test (tests/fuse/slowfs.py: a
file whose open takes 3 s, one read at 200 ms per read) and a 2 GiB sparse file in the page
cache. Each client runs in a process of its own (tests/fuse/slowfiles.py), so no client's
Python work delays another's measurement. FUSE must mount here (root, /dev/fuse, libfuse2,
fusepy): if it cannot, the tests FAIL with the reason.

The bounds are loose on purpose (the failure they catch is a stall of seconds); the latency
targets (50 ms, 20 ms) are measured by bench/slow_files.py.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuse"))
import slowfiles  # noqa: E402
import slowfs  # noqa: E402

SMALL = b"a small local file\n"
BIG = 2 << 30


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "small.txt").write_bytes(SMALL)
    try:
        mount = slowfiles.SlowFsMount(root / "fuse", log_dir=tmp_path)
    except slowfiles.MountError as e:
        pytest.fail(str(e), pytrace=False)
    yield root
    mount.close()


def others_while_fetching(srv, path: bytes, min_seconds: float, mode: str = "fetch"):
    fetched, pings = slowfiles.heavy_with_pingers(srv.port, path, b"small.txt", mode=mode)
    assert fetched["seconds"] >= min_seconds, (
        f"fetching {path!r} took {fetched['seconds']:.2f} s: the file is not slow, the test "
        f"proves nothing")
    for p in pings:
        assert not p["errors"], f"a pinging client failed: {p['errors']}"
        assert p["count"] >= 10, f"a pinging client was served only {p['count']} times"
    return fetched, max(p["max_ms"] for p in pings)


def test_slow_open_stalls_nobody_else(start_server, root):
    srv = start_server("file_server", "-r", str(root))
    fetched, worst = others_while_fetching(srv, b"fuse/slow_open.bin", 2.5)
    assert fetched["bytes"] == len(slowfs.content("slow_open.bin"))
    assert fetched["sha256"] == hashlib.sha256(slowfs.content("slow_open.bin")).hexdigest()
    assert worst < 1000, f"other clients waited up to {worst:.0f} ms during a 3 s open"
    assert slowfiles.request(srv.port, b"small.txt") == SMALL
    srv.assert_alive()


def test_slow_reads_stall_nobody_else(start_server, root):
    srv = start_server("file_server", "-r", str(root))
    fetched, worst = others_while_fetching(srv, b"fuse/slow_read.bin", 1.2)
    want = slowfs.content("slow_read.bin")
    assert fetched["bytes"] == len(want), "the slow file did not arrive whole"
    assert fetched["sha256"] == hashlib.sha256(want).hexdigest(), "the slow file arrived wrong"
    assert worst < 1000, f"other clients waited up to {worst:.0f} ms during 200 ms reads"
    srv.assert_alive()


def test_2gib_cached_file_with_a_fast_reader(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "small.txt").write_bytes(SMALL)
    big = root / "big.bin"
    with open(big, "wb") as f:
        f.truncate(BIG)  # sparse: all zeros
    subprocess.run(["cat", str(big)], stdout=subprocess.DEVNULL, check=True)  # page cache
    srv = start_server("file_server", "-r", str(root))
    fetched, worst = others_while_fetching(srv, b"big.bin", 0.0, mode="zeros")
    assert fetched["bytes"] == BIG, "the 2 GiB file did not arrive whole"
    assert fetched["zeros"], "the 2 GiB file of zeros arrived with other bytes"
    assert worst < 1000, f"other clients waited up to {worst:.0f} ms during a 2 GiB download"
    srv.assert_alive()
