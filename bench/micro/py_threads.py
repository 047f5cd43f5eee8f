"""Python green threads on the running interpreter: what 1,000 spawns cost, and whether memory
stays flat over rounds of threads that allocate and free objects. Prints one JSON line.

usage: py_threads.py [ROUNDS THREADS OBJECTS]   (default 20 1000 10000, the figure of issue 10)
(the shim of bindings/python on PYTHONPATH)

  * spawn: 1,000 trivial green threads spawned, then all waited for; seconds, best of 3. On
    CPython 3.14 each new thread state used to compute its stack bounds from /proc/self/maps
    at its first attach, which grows with every green stack.
  * rounds: THREADS green threads per round, each making and dropping OBJECTS small objects
    (lists, tracked by the garbage collector) after a first yield; RSS after each
    round. On 3.14 a thread state whose stack bounds are not its green stack's defers every
    such free for good. On a free-threaded build run it with MIMALLOC_PURGE_DELAY=0 (`make
    bench` does): mimalloc gives freed pages back some milliseconds late, which makes RSS vary
    by some 15% between rounds (101-129 MB over 20 rounds on 3.14t; 78.8-78.9 MB with 0).
"""
import json
import sys
import time

import greenhub


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def spawn_seconds(count=1000):
    t0 = time.perf_counter()
    threads = [greenhub.spawn(int) for _ in range(count)]
    for t in threads:
        t.wait()
    return time.perf_counter() - t0


def churn(objects):
    greenhub.sleep(0)  # every thread of the round is alive (and suspended) at once
    kept = [[i] for i in range(objects)]
    del kept


def round_of(threads, objects):
    pool = [greenhub.spawn(churn, objects) for _ in range(threads)]
    for t in pool:
        t.wait()
    return rss_kb()


def main():
    rounds, threads, objects = (int(a) for a in (sys.argv[1:] or (20, 1000, 10000)))
    spawn = min(spawn_seconds() for _ in range(3))
    rss = [round_of(threads, objects) for _ in range(rounds)]
    print(json.dumps({
        "bench": "py_threads", "python": sys.version.split()[0],
        "free_threaded": not getattr(sys, "_is_gil_enabled", lambda: True)(),
        "spawn_1000_s": round(spawn, 4), "rounds": rounds, "threads": threads,
        "objects": objects, "rss_kb": rss, "growth": round(rss[-1] / rss[0] - 1, 4),
    }))


main()
