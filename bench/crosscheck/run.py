#!/usr/bin/env python3
"""Cross-check of the echo figures (issue #5): the project's load generator (bench/loadgen) and
an independent client (bench/crosscheck/echo_client.c: C, level-triggered epoll, written without
reading loadgen) are run against the same servers, and should agree within noise.

Each server runs pinned to CPU 0, each client to CPU 1, on a fresh server process per client run.
Per repetition, every (connections, server) pair runs both clients back to back, in an order that
alternates between repetitions so neither tool always gets the warmer machine. Ratios are medians
over repetitions of ratios taken within one repetition, as in bench/run.py.

Python 3 standard library only. Needs build/bench/ (bench/run.py builds it; so does this script
when something is missing). Not part of `make bench`:

  python3 bench/crosscheck/run.py [--reps 3] [--seconds 4] [--warmup 1] [--only NAME,...]

Raw records: bench/results/crosscheck-<timestamp>.json, one JSON object per line.
"""
import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import benchmarks  # noqa: E402  (bench/benchmarks.py: the server list)
from suite import building, macro, paths, report  # noqa: E402  (pinning, start/stop, build step)

CLIENT = os.path.join(paths.BB, "echo_client")
CONNS = [100, 1000]
BASELINE = "epoll baseline (C)"
# The Python rows too: issue 16's targets are the shim against Eventlet and uvloop.
NAMES = [BASELINE, "greenhub C echo_server", "greenhub C, no log lines", "greenhub Python shim (seed)",
         "Eventlet (seed)", "uvloop streams"]
TOOLS = ["loadgen", "independent"]


def build():
    # bench/run.py's build step makes everything the servers and loadgen need; run it only when
    # something is missing, since others may be rebuilding build/bench/ while measuring.
    need = [paths.LOADGEN] + [os.path.join(paths.BB, n) for n in ("epoll_echo", "gh_echo_quiet")] + \
           [os.path.join(paths.BUILD, "echo_server")]
    if not all(os.path.exists(p) for p in need):
        building.build(benchmarks.POINTS)
    os.makedirs(paths.LOGS, exist_ok=True)
    paths.run_checked([os.environ.get("CC", "cc")] + paths.CFLAGS +
                    [os.path.join(HERE, "echo_client.c"), "-o", CLIENT], 120)


def client_cmd(tool, port, pid, conns, args):
    # both read the server's CPU time and each CPU's busy share over their measured window
    if tool == "loadgen":
        return [paths.LOADGEN, "echo", "--port", str(port), "--conns", str(conns), "--seconds",
                str(args.seconds), "--warmup", str(args.warmup), "--json", "--server-pid", str(pid)]
    return [CLIENT, "-p", str(port), "-c", str(conns), "-s", str(args.seconds), "-w", str(args.warmup),
            "-P", str(pid)]


def one_run(srv, tool, conns, rep, args):
    rec = dict(type="crosscheck", tool=tool, server=srv["name"], conns=conns, rep=rep)
    rec["quiet_wait_s"], rec["background_busy_pct"] = macro.wait_quiet(limit=10.0)
    slug = "".join(c if c.isalnum() else "_" for c in srv["name"].lower())
    proc, port, why = macro.start_server(srv, "crosscheck-%s-%s-%d-%d" % (slug, tool, conns, rep))
    if proc is None:
        rec.update(ok=False, error=why)
        return rec
    try:
        cmd = client_cmd(tool, port, proc.pid, conns, args)
        # connects (bounded by each client) + warm-up + window, with margin
        r = subprocess.run(paths.pinned(paths.CLIENT_CPU, cmd), capture_output=True, cwd=paths.ROOT,
                           timeout=40 + args.warmup + args.seconds)
        out = paths.last_json(r.stdout.decode(errors="replace"))
        if out is None:
            rec.update(ok=False, error="%s exit %d: %s" % (tool, r.returncode,
                                                           r.stderr.decode(errors="replace").strip()[-300:]))
        else:
            rec.update(out)
            rec["ok"] = bool(out.get("ok")) and r.returncode == 0 and proc.poll() is None
    except subprocess.TimeoutExpired:
        rec.update(ok=False, error="%s timed out" % tool)
    finally:
        paths.stop(proc)
    rec["foreign_cpu_pct"] = macro.foreign_cpu(rec)
    return rec


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def same_rep_ratio(recs, a, b):
    """Median over repetitions of a's rate / b's rate in the same repetition; a, b: filters."""
    ra = {r["rep"]: r["rps"] for r in recs if r.get("ok") and a(r)}
    rb = {r["rep"]: r["rps"] for r in recs if r.get("ok") and b(r)}
    return med([ra[k] / rb[k] for k in ra if rb.get(k)])


def table(recs, servers, args):
    f = lambda v, spec="{:.0f}": "-" if v is None else spec.format(v)
    lines = ["crosscheck: median of %d runs of %gs (after %gs warm-up); indep/lg = independent rate / "
             "loadgen rate, vs epoll = rate / epoll baseline's rate by the same tool; ratios are "
             "medians over repetitions of same-repetition ratios; cli%% = client CPU; oth%% = highest "
             "share of a CPU that went to neither server nor client (other jobs; a run above 12%% "
             "is rerun once, up to 8 reruns)" % (
                 args.reps, args.seconds, args.warmup), ""]
    lines.append("%-28s %5s %9s %9s %8s %9s %9s %5s %5s %4s %4s" % (
        "server", "conns", "loadgen", "indep", "indep/lg", "vs epoll", "vs epoll", "cli%", "cli%",
        "oth%", "err"))
    lines.append("%-28s %5s %9s %9s %8s %9s %9s %5s %5s %4s %4s" % (
        "", "", "req/s", "req/s", "", "(lg)", "(indep)", "lg", "ind", "max", ""))
    for conns in CONNS:
        lines.append("")
        for srv in servers:
            mine = [r for r in recs if r["server"] == srv["name"] and r["conns"] == conns]
            by = {t: [r for r in mine if r["tool"] == t and r.get("ok")] for t in TOOLS}
            failed = [r for r in mine if not r.get("ok")]
            rate = {t: med([r["rps"] for r in by[t]]) for t in TOOLS}
            cli = {t: med([r.get("client_cpu_pct") for r in by[t]]) for t in TOOLS}
            agree = same_rep_ratio(mine, lambda r: r["tool"] == "independent", lambda r: r["tool"] == "loadgen")
            vs = {t: same_rep_ratio(recs, lambda r, t=t: r["tool"] == t and r["server"] == srv["name"]
                                    and r["conns"] == conns,
                                    lambda r, t=t: r["tool"] == t and r["server"] == BASELINE
                                    and r["conns"] == conns) for t in TOOLS}
            errors = sum(int(r.get("errors") or 0) for r in mine)
            oth = max([r["foreign_cpu_pct"] for r in mine if r.get("foreign_cpu_pct") is not None],
                      default=None)
            note = ""
            if failed:
                note = "  (%d failed: %s)" % (len(failed), "; ".join(sorted(
                    {str(r.get("error") or "not ok") for r in failed}))[:120])
            lines.append("%-28s %5d %9s %9s %8s %9s %9s %5s %5s %4s %4d%s" % (
                srv["name"][:28], conns, f(rate["loadgen"]), f(rate["independent"]),
                f(agree, "{:.3f}"), f(vs["loadgen"], "{:.2f}"), f(vs["independent"], "{:.2f}"),
                f(cli["loadgen"]), f(cli["independent"]), f(oth), errors, note))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--only", default="", help="comma-separated substrings of server names "
                    "(the epoll baseline always runs: the 'vs epoll' columns need it)")
    args = ap.parse_args()
    if not (1 <= args.reps <= 20 and 0.5 <= args.seconds <= 60 and 0 <= args.warmup <= 30):
        ap.error("reps 1..20, seconds 0.5..60, warmup 0..30")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    build()

    servers = []
    for s in benchmarks.SERVERS:
        if s["name"] not in NAMES or (args.only and s["name"] != BASELINE and not any(
                o and o.lower() in s["name"].lower() for o in args.only.split(","))):
            continue
        ok, why = s["check"]()
        if ok:
            servers.append(s)
        else:
            paths.log("skipping %s: %s" % (s["name"], why))

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(paths.RESULTS, exist_ok=True)
    path = os.path.join(paths.RESULTS, "crosscheck-%s.json" % stamp)
    t_start = time.monotonic()
    recs = []
    with open(path, "w") as out:
        mach = report.machine()
        mach.update(args=vars(args), started=stamp, servers=[s["name"] for s in servers])
        out.write(json.dumps(mach) + "\n")
        for rep in range(args.reps):
            order = TOOLS if rep % 2 == 0 else TOOLS[::-1]
            for conns in CONNS:
                for srv in servers:
                    for tool in order:
                        rec = one_run(srv, tool, conns, rep, args)
                        if (rec.get("foreign_cpu_pct") or 0) > 12 and macro.QUIET["reruns"] > 0:
                            # another job took CPU time meanwhile: keep the record, marked, and
                            # run it once more (bench/run.py's rule and budget)
                            macro.QUIET["reruns"] -= 1
                            rec["discarded"] = "disturbed: %.0f%% of a CPU went to other jobs" % rec["foreign_cpu_pct"]
                            out.write(json.dumps(rec) + "\n")
                            paths.log("rep %d  %5d conns  %-28s %-11s rerun (%s)" % (
                                rep + 1, conns, srv["name"], tool, rec["discarded"]))
                            rec = one_run(srv, tool, conns, rep, args)
                        recs.append(rec)
                        out.write(json.dumps(rec) + "\n")
                        out.flush()
                        paths.log("rep %d  %5d conns  %-28s %-11s %s" % (
                            rep + 1, conns, srv["name"], tool,
                            "%.0f req/s, srv cpu %s%%, cli cpu %s%%, oth %s%%" % (
                                rec["rps"], rec.get("server_cpu_pct"), rec.get("client_cpu_pct"),
                                rec.get("foreign_cpu_pct"))
                            if rec.get("ok") else "FAILED: %s" % rec.get("error", "errors %s" % rec.get("errors"))))
        out.write(json.dumps(dict(type="end", seconds=round(time.monotonic() - t_start, 1))) + "\n")
    paths.log("")
    paths.log(table(recs, servers, args))
    paths.log("")
    paths.log("results: %s (%.0f s)" % (os.path.relpath(path, paths.ROOT), time.monotonic() - t_start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
