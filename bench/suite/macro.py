"""Macro-benchmarks: a server under the load generator at each load point."""
import json
import os
import subprocess
import time

from suite.paths import CLIENT_CPU, FILES, LOADGEN, LOGS, ROOT, SERVER_CPU, free_port, last_json, \
    log, pinned, server_env, stop, wait_port


def cpu_busy(interval=0.3):
    """Busy % of each CPU over `interval` seconds (from /proc/stat)."""
    def read():
        rows = []
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("cpu") and line[3].isdigit():
                    v = [int(x) for x in line.split()[1:9]]
                    rows.append((sum(v) - v[3] - v[4], sum(v)))
        return rows
    a = read()
    time.sleep(interval)
    b = read()
    return [100.0 * (y[0] - x[0]) / max(1, y[1] - x[1]) for x, y in zip(a, b)]


# the seconds the whole suite may spend waiting for a quiet machine, and how many disturbed runs
# it may run again
QUIET = {"budget": 60.0, "reruns": 8}


def wait_quiet(limit=20.0, threshold=20.0):
    """Waits (bounded) until no CPU is more than `threshold` % busy with work not ours, so
    other jobs on a shared machine disturb the runs less. Returns (waited s, busy % last seen)."""
    t0 = time.monotonic()
    busy = cpu_busy()
    while max(busy) > threshold and time.monotonic() - t0 < min(limit, QUIET["budget"]):
        time.sleep(0.7)
        busy = cpu_busy()
    waited = time.monotonic() - t0
    QUIET["budget"] = max(0.0, QUIET["budget"] - waited)
    return round(waited, 1), round(max(busy), 1)


def start_server(srv, tag):
    port = free_port()
    cmd = srv["cmd"](port, FILES)
    errlog = open(os.path.join(LOGS, tag + ".stderr"), "wb")
    proc = subprocess.Popen(pinned(SERVER_CPU, cmd), stdout=subprocess.DEVNULL, stderr=errlog,
                            env=server_env(srv.get("env")), cwd=ROOT)
    errlog.close()
    if not wait_port(port, proc):
        stop(proc)
        return None, port, "did not listen on port %d (see %s)" % (port, os.path.join(LOGS, tag + ".stderr"))
    return proc, port, ""


def foreign_cpu(rec):
    """CPU time in the window that was neither the server's nor the load generator's: the
    highest of (CPU0 busy - server %) and (CPU1 busy - client %). A few % in a clean run
    (softirq work not charged to a process); more means another job ran meanwhile."""
    busy = rec.get("cpu_busy_pct") or []
    if len(busy) < 2 or rec.get("server_cpu_pct") is None or rec.get("client_cpu_pct") is None:
        return None
    return round(max(busy[0] - rec["server_cpu_pct"], busy[1] - rec["client_cpu_pct"]), 1)


def run_point(srv, point, rep, args, kinds):
    """One run of server `srv` at load point `point`: a fresh server, the load generator in the
    mode of the point's kind (with that kind's extra arguments), and what it reported."""
    tag = "%s-%s-%d" % (srv["name"].split()[0].lower(), point["name"].split(",")[0].replace(" ", ""), rep)
    rec = dict(type="macro", server=srv["name"], point=point["name"], kind=point["kind"],
               conns=point["conns"], rep=rep, cmd=" ".join(srv["cmd"](0, FILES)))
    rec["quiet_wait_s"], rec["background_busy_pct"] = wait_quiet()
    proc, port, why = start_server(srv, tag)
    if proc is None:
        rec.update(ok=False, error=why)
        return rec
    try:
        cmd = [LOADGEN, point["kind"], "--port", str(port), "--conns", str(point["conns"]),
               "--seconds", str(args.seconds), "--warmup", str(args.warmup), "--json",
               "--server-pid", str(proc.pid), "--batch", "32"]
        cmd += kinds[point["kind"]]["loadgen_args"](point)
        bound = 8 + args.warmup + args.seconds + 10 + 10
        r = subprocess.run(pinned(CLIENT_CPU, cmd), capture_output=True, timeout=bound, cwd=ROOT)
        out = last_json(r.stdout.decode(errors="replace"))
        if out is None:
            rec.update(ok=False, error="loadgen exit %d: %s" % (
                r.returncode, r.stderr.decode(errors="replace").strip()[-300:]))
        else:
            rec.update(out)
            rec["ok"] = bool(out.get("ok")) and r.returncode == 0
            if proc.poll() is not None:
                rec.update(ok=False, error="server exited with %s" % proc.returncode)
    except subprocess.TimeoutExpired:
        rec.update(ok=False, error="loadgen timed out")
    finally:
        stop(proc)
    return rec


def run_macro(servers, points, kinds, args, results):
    """Every server at every point of its kind, --reps times, servers interleaved within each
    repetition. A run that other jobs disturbed is kept (marked) and run again, a bounded
    number of times per suite. Writes each record to `results`; returns the kept ones."""
    macro = []
    for rep in range(args.reps):
        for point in points:
            for srv in [s for s in servers if s["kind"] == point["kind"]]:
                rec = run_point(srv, point, rep, args, kinds)
                rec["foreign_cpu_pct"] = foreign_cpu(rec)
                if (rec["foreign_cpu_pct"] or 0) > 12 and QUIET["reruns"] > 0:
                    # another job took CPU time during the run: keep the record, marked,
                    # and run it again once (a bounded number of times per suite)
                    QUIET["reruns"] -= 1
                    rec["discarded"] = "disturbed: %.0f%% of a CPU went to other jobs" % rec["foreign_cpu_pct"]
                    results.write(json.dumps(rec) + "\n")
                    log("rep %d  %-28s %-30s rerun (%s)" % (rep + 1, point["name"], srv["name"],
                                                           rec["discarded"]))
                    rec = run_point(srv, point, rep, args, kinds)
                    rec["foreign_cpu_pct"] = foreign_cpu(rec)
                macro.append(rec)
                results.write(json.dumps(rec) + "\n")
                results.flush()
                log("rep %d  %-28s %-30s %s" % (
                    rep + 1, point["name"], srv["name"],
                    ("%.0f req/s, p99 %s us, srv cpu %s%%, cli cpu %s%%, rss %s kB" % (
                        rec["rps"], rec["p99_us"], rec.get("server_cpu_pct"),
                        rec.get("client_cpu_pct"), rec.get("server_rss_kb")))
                    if rec.get("ok") else "FAILED: %s" % rec.get("error", rec.get("errors_by_kind"))))
    return macro
