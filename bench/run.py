#!/usr/bin/env python3
"""greenhub's benchmark suite (`make bench`). Python 3 standard library only.

Builds what it needs (`make examples`, the load generator, the C baselines and micro-benchmarks
into build/bench/), installs Eventlet, gevent and uvloop into bench/.venv when it can, then runs
every benchmark declared in bench/benchmarks.py (bench/README.md says what each measures):

  * macro: every server of SERVERS at every point of POINTS, server pinned to CPU 0 and the load
    generator to CPU 1, each point repeated (--reps, default 3), servers interleaved: in every
    repetition each server runs once, so a ratio compares runs made minutes apart at most. A
    server is started fresh for each run. The load generator reports, over the same measured
    window, its own CPU time, the server's CPU time, the busy share of each CPU, and the
    server's RSS at the end of the window (connections still established and active).
  * micro: every row of MICRO: switch cost, spawn + exit cost, Python green switch, Python green
    threads under every supported CPython (1,000 spawns; RSS over 20 rounds of 1,000 threads x
    10,000 objects), memory per idle connection at 10,000 connections, how many green threads
    can live at once, and file_server's other clients' latency while one fetches a slow FUSE
    file or a 2 GiB cached one (slow_files.py).

Results: bench/results/<timestamp>.json (JSON lines, one object per measurement, the first one
describing the machine) and a table on stdout (also saved as <timestamp>.txt).

  * http: build/http_server against nginx (one worker, sendfile) serving a file with keep-alive,
    and hello-world WSGI through greenhub.wsgi against eventlet.wsgi and Granian (one worker),
    loaded by wrk (bench/http_bench.py, runnable on its own; it installs nginx and wrk with
    apt-get when they are missing; its rows are benchmarks.py's HTTP_*).

usage: python3 bench/run.py [--reps N] [--seconds S] [--warmup S] [--only NAME,...]
                            [--skip-micro] [--skip-macro] [--skip-http] [--no-pip] [--no-build]
"""
import argparse
import datetime
import json
import os
import resource
import sys
import time

import benchmarks as bench
from suite.building import build, setup_venv
from suite.macro import run_macro
from suite.micro import run_micro
from suite.paths import HERE, RESULTS, ROOT, log
from suite.report import machine, table


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--only", default="", help="comma-separated substrings of benchmark names "
                    "(servers and micro-benchmarks; a server brings its kind's baseline along)")
    ap.add_argument("--skip-micro", action="store_true")
    ap.add_argument("--skip-macro", action="store_true")
    ap.add_argument("--no-pip", action="store_true", help="do not install into bench/.venv")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--skip-http", action="store_true", help="skip bench/http_bench.py")
    args = ap.parse_args()
    if not (1 <= args.reps <= 20 and 0.5 <= args.seconds <= 60 and 0 <= args.warmup <= 30):
        ap.error("reps 1..20, seconds 0.5..60, warmup 0..30")
    t_start = time.monotonic()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it

    if not args.no_build:
        build(bench.POINTS)
    pip_notes = setup_venv(args.no_pip)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, stamp + ".json")
    mach = machine()
    mach.update(pip=pip_notes, args=vars(args), started=stamp)
    log("machine: %s, %s CPUs, Linux %s, load %s; greenhub %s" % (
        mach["cpu_model"], mach["cpus"], mach["kernel"], mach["loadavg"], mach["git"]))
    results = open(path, "w")
    results.write(json.dumps(mach) + "\n")

    servers = bench.select(bench.SERVERS, args.only)
    skipped, runnable = [], []
    for s in servers:
        ok, why = s["check"]()
        (runnable if ok else skipped).append(s if ok else dict(name=s["name"], kind=s["kind"], why=why))
    for s in skipped:
        log("skipping %s: %s" % (s["name"], s["why"]))
        results.write(json.dumps(dict(type="skipped", server=s["name"], why=s["why"])) + "\n")

    macro = []
    if not args.skip_macro:
        macro = run_macro(runnable, bench.POINTS, bench.KINDS, args, results)
    # HTTP: build/http_server against nginx, loaded by wrk (bench/http_bench.py, its own table)
    http_lines = []
    if not args.skip_http and not args.skip_macro:
        import http_bench
        http_recs, http_lines = http_bench.run(args.reps, args.seconds, args.warmup, log,
                                               only=args.only)
        for r in http_recs:
            results.write(json.dumps(r) + "\n")
    micro = []
    if not args.skip_micro:
        micro = run_micro(bench.select(bench.MICRO, args.only))
        for m in micro:
            results.write(json.dumps(m) + "\n")
    end = machine()
    results.write(json.dumps(dict(type="end", loadavg=end["loadavg"],
                                  seconds=round(time.monotonic() - t_start, 1))) + "\n")
    results.close()
    text = table(macro, skipped, micro, args, bench, servers) + "\n".join([""] + http_lines)
    text = ("greenhub benchmarks %s (git %s): %s, %s CPUs, Linux %s; load average at start %s, "
            "at end %s\n\n" % (stamp, mach["git"], mach["cpu_model"], mach["cpus"], mach["kernel"],
               " ".join(mach["loadavg"].split()[:3]), " ".join(end["loadavg"].split()[:3]))) + text
    with open(os.path.join(RESULTS, stamp + ".txt"), "w") as f:
        f.write(text + "\n")
    log("")
    log(text)
    log("")
    log("results: %s (%.0f s)" % (os.path.relpath(path, ROOT), time.monotonic() - t_start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
