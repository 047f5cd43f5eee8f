"""Python green switch: two green threads ping-pong with sleep(0) N times each; ns per switch =
elapsed / (2 N). Prints one JSON line.

usage: py_switch.py greenhub|eventlet|gevent [N] [REPEATS]
(greenhub: the shim of bindings/python, imported as eventlet's API; put it on PYTHONPATH)
"""
import json
import statistics
import sys
import time

impl = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3

if impl == "gevent":
    import gevent as g

    def spawn(f, *a):
        return g.spawn(f, *a)

    def wait(t):
        t.join()
else:
    g = __import__("greenhub" if impl == "greenhub" else "eventlet")

    def spawn(f, *a):
        return g.spawn(f, *a)

    def wait(t):
        t.wait()


def pinger(count):
    sleep = g.sleep
    for _ in range(count):
        sleep(0)


def run(count):
    t0 = time.perf_counter_ns()
    a, b = spawn(pinger, count), spawn(pinger, count)
    wait(a)
    wait(b)
    return (time.perf_counter_ns() - t0) / (2 * count)


run(n // 10 + 1)  # warm-up
ns = [run(n) for _ in range(reps)]
print(json.dumps({"bench": "py_switch", "impl": impl, "iterations": n, "switches": 2 * n,
                  "ns_per_switch": [round(x, 1) for x in ns],
                  "ns_per_switch_median": round(statistics.median(ns), 1),
                  "python": sys.version.split()[0]}))
