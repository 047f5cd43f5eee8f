#!/usr/bin/env python3
"""How long other clients of build/file_server wait while one client fetches a slow file.

Scenarios (each: a fresh file_server, 2 clients pinging a small local file, 2 ms apart, over a
new connection each time, from 0.3 s before the heavy fetch until it ends):
  idle   the heavy fetch is the small file too: the floor this machine's scheduling gives
  open   a FUSE file whose open takes 3 s       (target: others' max latency < 50 ms)
  read   a 1 MiB FUSE file read at 200 ms/read  (target: < 50 ms)
  big    a 2 GiB file from the page cache, read by one fast client  (target: < 20 ms)

usage: python3 bench/slow_files.py [--build DIR] [--only idle,open,read,big] [--reps N] [--json]
Needs root, /dev/fuse, libfuse2 and fusepy (make's .venv has it: run it with .venv/bin/python).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fuse"))
import slowfiles  # noqa: E402

SCENARIOS = {  # path, target (others' max latency, ms), how the heavy client reads
    "idle": (b"small.txt", None, "fetch"),  # the floor: what this machine gives an idle server
    "open": (b"fuse/slow_open.bin", 50, "fetch"),
    "read": (b"fuse/slow_read.bin", 50, "fetch"),
    "big": (b"big.bin", 20, "zeros"),
}
BIG = 2 << 30


def wait_listening(proc, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if b"listening on port" in line:
            return int(line.split()[-1])
    raise RuntimeError("file_server did not start")


def run(build, name, root):
    path, target, mode = SCENARIOS[name]
    # -p 0: the server prints the port it got
    proc = subprocess.Popen([str(build / "file_server"), "-p", "0", "-r", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        port = wait_listening(proc)
        # the log fills the pipe otherwise
        drain = subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
        fetched, pings = slowfiles.heavy_with_pingers(port, path, b"small.txt", mode=mode)
        drain.kill()
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    return dict(scenario=name, target_ms=target, fetch_s=round(fetched["seconds"], 3),
                fetch_bytes=fetched["bytes"],
                others_max_ms=max(p["max_ms"] for p in pings),
                others_p99_ms=max(p["p99_ms"] for p in pings),
                pings=sum(p["count"] for p in pings),
                errors=sum(len(p["errors"]) for p in pings))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--only", default="idle,open,read,big")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    build = Path(args.build)
    names = [n for n in args.only.split(",") if n]
    with tempfile.TemporaryDirectory(prefix="gh-slowfiles-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        (root / "small.txt").write_bytes(b"small\n")
        mount = None
        try:
            if "open" in names or "read" in names:
                mount = slowfiles.SlowFsMount(root / "fuse", log_dir=Path(tmp))
            if "big" in names:
                with open(root / "big.bin", "wb") as f:
                    f.truncate(BIG)  # sparse: zeros
                subprocess.run(["cat", str(root / "big.bin")], stdout=subprocess.DEVNULL,
                               check=True)  # into the page cache
            for rep in range(args.reps):
                for name in names:
                    r = run(build, name, root)
                    r["rep"] = rep
                    if args.json:
                        print(json.dumps(r), flush=True)
                    else:
                        print("%-5s fetch %6.2f s %11d B | others: max %7.1f ms, p99 %6.1f ms, "
                              "%5d requests, %d errors%s" % (
                                  name, r["fetch_s"], r["fetch_bytes"], r["others_max_ms"],
                                  r["others_p99_ms"], r["pings"], r["errors"],
                                  " (target max < %d ms)" % r["target_ms"] if r["target_ms"]
                                  else " (no target: the floor)"), flush=True)
        finally:
            if mount:
                mount.close()


if __name__ == "__main__":
    main()
