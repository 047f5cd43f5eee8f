#!/usr/bin/env python3
"""System calls per request of each C server, counted by `strace -c -f` while the load
generator drives it (the tracing slows everything down: only the counts mean something).
Not part of `make bench`; run after it (it uses build/bench/): python3 bench/strace_counts.py
"""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchmarks  # noqa: E402  (the server list)
from suite import paths  # noqa: E402  (the suite's helpers)


POINTS = [("echo", 100, None, None), ("file", 50, "f4k.bin", 4096)]
WANT = ["epoll baseline (C)", "greenhub C echo_server", "greenhub C, no log lines",
        "epoll+sendfile baseline (C)", "greenhub C file_server", "greenhub C file, no log lines"]


def count(srv, kind, conns, path, size):
    port = paths.free_port()
    proc = subprocess.Popen(paths.pinned("0", srv["cmd"](port, paths.FILES)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=paths.ROOT)
    try:
        if not paths.wait_port(port, proc):
            return None
        out = tempfile.mktemp(prefix="strace-")
        st = subprocess.Popen(["strace", "-c", "-f", "-p", str(proc.pid), "-o", out],
                              stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        cmd = [paths.LOADGEN, kind, "--port", str(port), "--conns", str(conns), "--seconds", "3",
               "--warmup", "0", "--json"]
        if path:
            cmd += ["--path", path, "--size", str(size)]
        lg = paths.last_json(subprocess.run(paths.pinned("1", cmd), capture_output=True,
                                          timeout=40).stdout.decode())
        time.sleep(0.2)
        st.send_signal(2)
        st.wait(timeout=20)
        calls = {}
        with open(out) as f:
            for line in f:
                m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)$", line)
                if m and m.group(3) != "total":
                    calls[m.group(3)] = (int(m.group(1)), int(m.group(2) or 0))
        os.unlink(out)
        return lg, calls
    finally:
        paths.stop(proc)


def main():
    for kind, conns, path, size in POINTS:
        for srv in benchmarks.SERVERS:
            if srv["name"] not in WANT or srv["kind"] != kind:
                continue
            res = count(srv, kind, conns, path, size)
            if res is None or res[0] is None:
                print("%s: no result" % srv["name"])
                continue
            lg, calls = res
            # every request completed while traced (plus the server's per-connection calls)
            n = lg["requests_all"]
            total = sum(c for c, _ in calls.values())
            parts = ", ".join("%s %.2f%s" % (k, c / n, " (%d%% failed)" % (100 * e // c) if e else "")
                              for k, (c, e) in sorted(calls.items(), key=lambda kv: -kv[1][0])
                              if c / n >= 0.01)
            print("%-30s %-5s %6d requests: %.2f syscalls/request: %s" % (srv["name"], kind, n,
                                                                           total / n, parts))


if __name__ == "__main__":
    main()
