"""The Python shim's own cost per echo round trip, without the network or any switch: the root
does readline + write + flush on a socketpair through a greenhub socket's makefile and through
the standard library's, with data always ready. Also one ctypes call of a no-op (gh_self).
Prints one JSON line. Not part of `make bench`:

  PYTHONPATH=bindings/python taskset -c 0 python3 bench/micro/py_shim_ops.py [N]
"""
import json
import socket
import sys
import time

import greenhub
from greenhub import greenio
from greenhub._lib import lib

n = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
line = b"x" * 63 + b"\n"


def per_call(f):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        f()
    return round((time.perf_counter_ns() - t0) / n, 1)


def round_trip(f, peer):
    def once():
        peer.send(line)
        f.write(f.readline())
        f.flush()
        peer.recv(100)
    return once


a, b = socket.socketpair()
green = greenio.GreenSocket(a).makefile("rw")
c, d = socket.socketpair()
plain = c.makefile("rw")
print(json.dumps({
    "bench": "py_shim_ops", "iterations": n, "python": sys.version.split()[0],
    "ctypes_noop_ns": per_call(lib.gh_self),
    "makefile_round_trip_greenhub_ns": per_call(round_trip(green, b)),
    "makefile_round_trip_stdlib_ns": per_call(round_trip(plain, d)),
}))
greenhub.sleep(0)
