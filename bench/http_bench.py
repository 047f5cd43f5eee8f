#!/usr/bin/env python3
"""HTTP benchmark, loaded by wrk (Debian's): build/http_server against nginx (Debian's, one
worker) serving the same file with keep-alive, and a hello-world WSGI application through
greenhub.wsgi against eventlet.wsgi and Granian (one worker, one runtime thread; both from PyPI,
in bench/.venv). The servers, points and targets are rows of benchmarks.py (HTTP_*).

Each server runs pinned to CPU 0 and wrk (one thread) to CPU 1. Servers are interleaved: every
repetition runs each server once at each point, on a fresh process, so a ratio compares runs
made seconds apart; the reported ratio is the median of the per-repetition ratios. Over the
measured window (after a warm-up run of wrk) it records requests/s and wrk's latency
percentiles, the server's CPU time (/proc/PID/stat), wrk's CPU time (wait4), and how busy each
CPU was (/proc/stat), so a table can show which side was the bottleneck.

nginx: `worker_processes 1; master_process off; sendfile on; access_log off;
keepalive_requests 1000000` (so neither server closes a connection during a run), root the
same directory (suite/nginx.py). Missing nginx or wrk are installed with apt-get when it is
there. A server's CPU time is its whole process tree's (Granian runs its worker in a child).

Standalone:  python3 bench/http_bench.py [--reps N] [--seconds S] [--warmup S] [--json FILE]
From bench/run.py: `http_bench.run(reps, seconds, warmup, log)` returns (records, table lines).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import benchmarks

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.join(ROOT, "build")
FILES = os.path.join(BUILD, "bench", "files")
SERVER_CPU, CLIENT_CPU = "0", "1"
HAVE_TASKSET = shutil.which("taskset") is not None

SERVERS = benchmarks.HTTP_SERVERS
POINTS = benchmarks.HTTP_POINTS
TARGETS = benchmarks.HTTP_TARGETS
P99_TARGETS = benchmarks.HTTP_P99_TARGETS


def pinned(cpu, cmd):
    return (["taskset", "-c", cpu] if HAVE_TASKSET else []) + cmd


def ensure_tools(log):
    """nginx and wrk, installed from Debian's packages if missing. Returns {tool: why missing}."""
    missing = [t for t in ("nginx", "wrk") if not shutil.which(t)]
    if missing and shutil.which("apt-get"):
        log("installing %s with apt-get" % " ".join(missing))
        pkgs = ["nginx-light" if t == "nginx" else t for t in missing]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq"] + pkgs, capture_output=True,
                       timeout=900, env=env)
    return {t: "not installed (apt-get install %s failed or is unavailable)" % t
            for t in ("nginx", "wrk") if not shutil.which(t)}


def make_files():
    os.makedirs(FILES, exist_ok=True)
    for p in POINTS:
        if p["kind"] != "file":
            continue
        path, size = os.path.join(FILES, p["path"]), p["size"]
        if not os.path.exists(path) or os.path.getsize(path) != size:
            with open(path, "wb") as f:
                f.write(os.urandom(size))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, proc, path, timeout=10.0):
    """True once the server answers GET path with 200."""
    deadline = time.monotonic() + timeout
    req = ("GET /%s HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n" % path).encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(req)
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def start(server, port, workdir):
    cmd = server["cmd"](port, FILES, workdir)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.pop("PYTHONUNBUFFERED", None)
    env.update(server.get("env") or {})
    err = open(os.path.join(workdir, "server.stderr"), "ab")
    proc = subprocess.Popen(pinned(SERVER_CPU, cmd), stdout=subprocess.DEVNULL, stderr=err,
                            cwd=workdir, env=env, start_new_session=True)
    err.close()
    return proc


def stop(proc):
    """Ends the server and every process it started (its own session)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # a worker left behind
    except ProcessLookupError:
        pass


def tree_cpu_s(pid):
    """CPU time of `pid` and of its descendants alive now."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += proc_cpu_s(p)
        except OSError:
            pass
        todo.extend(children.get(p, ()))
    return total


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_times():
    rows = []
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                v = [int(x) for x in line.split()[1:9]]
                rows.append((sum(v) - v[3] - v[4], sum(v)))
    return rows


def wait_quiet(limit=15.0, threshold=20.0):
    """Waits (at most `limit` s) until no CPU is more than `threshold` % busy: other jobs on a
    shared machine disturb the runs less. Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        a = cpu_times()
        time.sleep(0.3)
        b = cpu_times()
        if max(100.0 * (y[0] - x[0]) / max(1, y[1] - x[1]) for x, y in zip(a, b)) <= threshold:
            break
    return round(time.monotonic() - t0, 1)


def foreign_cpu(rec):
    """CPU busy in the window that was neither the server's nor wrk's (other jobs)."""
    busy = rec.get("cpu_busy_pct") or []
    if len(busy) < 2:
        return None
    return round(max(busy[0] - rec["server_cpu_pct"], busy[1] - rec["client_cpu_pct"]), 1)


UNITS = {"us": 1.0, "ms": 1000.0, "s": 1e6}


def parse_wrk(text):
    out = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in", text)
    out["requests"] = int(m.group(1)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % pct, text, re.M)
        out["p%s_us" % pct] = float(m.group(1)) * UNITS[m.group(2)] if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(x) for x in m.groups())
    out["errors"] = errors
    return out


def run_wrk(port, path, conns, seconds):
    cmd = pinned(CLIENT_CPU, ["wrk", "-t1", "-c%d" % conns, "-d%gs" % seconds, "--latency",
                              "--timeout", "5s", "http://127.0.0.1:%d/%s" % (port, path)])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    return out, usage.ru_utime + usage.ru_stime


def run_point(server, point, rep, seconds, warmup):
    path, conns = point["path"], point["conns"]
    rec = dict(type="http", server=server["name"], point=point["name"], conns=conns,
               size=point.get("size"), rep=rep)
    rec["quiet_wait_s"] = wait_quiet()
    workdir = tempfile.mkdtemp(prefix="gh-http-bench-")
    port = free_port()
    proc = start(server, port, workdir)
    try:
        if not wait_http(port, proc, path):
            rec.update(ok=False, error="did not answer on port %d (see %s)" % (port, workdir))
            return rec
        if warmup > 0:
            run_wrk(port, path, conns, warmup)
        cpu0, busy0 = tree_cpu_s(proc.pid), cpu_times()
        out, client_cpu = run_wrk(port, path, conns, seconds)
        cpu1, busy1 = tree_cpu_s(proc.pid), cpu_times()
        rec.update(parse_wrk(out))
        rec["server_cpu_s"] = round(cpu1 - cpu0, 3)
        rec["server_cpu_pct"] = round(100 * (cpu1 - cpu0) / seconds, 1)
        rec["client_cpu_pct"] = round(100 * client_cpu / seconds, 1)
        rec["cpu_busy_pct"] = [round(100.0 * (b[0] - a[0]) / max(1, b[1] - a[1]), 1)
                               for a, b in zip(busy0, busy1)]
        rec["foreign_cpu_pct"] = foreign_cpu(rec)
        rec["ok"] = rec["rps"] is not None and rec["errors"] == 0 and proc.poll() is None
        if not rec["ok"]:
            rec["error"] = "wrk: " + out.strip()[-300:]
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    return rec


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec="{:.0f}"):
    return "-" if v is None else spec.format(v)


def ratios(records, point, a, b):
    ra = {r["rep"]: r["rps"] for r in records if r["point"] == point and r["server"] == a and r.get("ok")}
    rb = {r["rep"]: r["rps"] for r in records if r["point"] == point and r["server"] == b and r.get("ok")}
    return [ra[k] / rb[k] for k in sorted(ra) if rb.get(k)]


def select(only):
    """The servers whose names contain one of `only`'s comma-separated substrings (all if it
    is empty), with the baselines of their kinds."""
    wanted = [o.lower() for o in only.split(",") if o]
    if not wanted:
        return list(SERVERS)
    picked = [s for s in SERVERS if any(o in s["name"].lower() for o in wanted)]
    kinds = {s["kind"] for s in picked}
    return [s for s in SERVERS if s in picked or (s.get("baseline") and s["kind"] in kinds)]


def baseline_of(kind):
    return next(s["name"] for s in SERVERS if s["kind"] == kind and s.get("baseline"))


def table(records, skipped):
    lines = []
    for point in POINTS:
        name = point["name"]
        rows = [r for r in records if r["point"] == name]
        if not rows and not any(s["kind"] == point["kind"] for s in SERVERS if s["name"] in skipped):
            continue
        base = baseline_of(point["kind"])
        lines.append("")
        lines.append("## " + name)
        lines.append("%-34s %9s %6s %7s %7s %5s %5s %5s %5s %7s %4s %4s" % (
            "server", "req/s", "ratio", "p50 us", "p99 us", "srv%", "cli%", "CPU0", "CPU1",
            "us/req", "err", "oth%"))
        for server in [s["name"] for s in SERVERS if s["kind"] == point["kind"]]:
            mine = [r for r in rows if r["server"] == server]
            good = [r for r in mine if r.get("ok")]
            if not good:
                why = mine[0].get("error") if mine else skipped.get(server, "not run")
                lines.append("%-34s not measured: %s" % (server, why))
                continue
            rs = ratios(records, name, server, base)
            busy = [med([r["cpu_busy_pct"][k] for r in good if len(r["cpu_busy_pct"]) > k]) for k in (0, 1)]
            per_req = med([r["server_cpu_s"] * 1e6 / r["requests"] for r in good if r.get("requests")])
            note = "" if len(good) == len(mine) else "  (%d of %d runs failed)" % (len(mine) - len(good), len(mine))
            lines.append("%-34s %9s %6s %7s %7s %5s %5s %5s %5s %7s %4d %4s%s" % (
                server, fmt(med([r["rps"] for r in good])), fmt(med(rs), "{:.2f}"),
                fmt(med([r["p50_us"] for r in good])), fmt(med([r["p99_us"] for r in good])),
                fmt(med([r["server_cpu_pct"] for r in good])), fmt(med([r["client_cpu_pct"] for r in good])),
                fmt(busy[0]), fmt(busy[1]), fmt(per_req, "{:.2f}"),
                sum(r.get("errors") or 0 for r in good),
                fmt(med([r.get("foreign_cpu_pct") for r in good])), note))
    lines.append("")
    lines.append("## issue 14 targets (ratio: median over repetitions of the same-repetition ratio)")
    for what, point, server, versus, minimum in TARGETS:
        rs = ratios(records, point, server, versus)
        if not rs:
            lines.append("%-36s %-42s not measured" % (what, point))
            continue
        m = statistics.median(rs)
        lines.append("%-36s %-42s %.2fx  %s (per repetition: %s)" % (
            what, point, m, "met" if m >= minimum else "MISSED", ", ".join("%.2f" % x for x in rs)))
        cli = med([r["client_cpu_pct"] for r in records if r["point"] == point and r.get("ok")])
        cost = {s: med([r["server_cpu_s"] / r["requests"] for r in records if r["point"] == point
                        and r["server"] == s and r.get("ok") and r.get("requests")])
                for s in (server, versus)}
        if cost[server] and cost[versus]:
            lines.append("%-36s %-42s   server CPU per request %.2f vs %.2f us (%.2fx the cost); "
                         "wrk at %.0f%% of CPU 1%s" % (
                             "", "", cost[server] * 1e6, cost[versus] * 1e6,
                             cost[server] / cost[versus], cli or 0,
                             ": client-bound" if (cli or 0) >= 90 else ""))
    for what, point, server, versus in P99_TARGETS:
        p99 = {s: med([r["p99_us"] for r in records if r["point"] == point and r["server"] == s
                       and r.get("ok")]) for s in (server, versus)}
        if not (p99[server] and p99[versus]):
            lines.append("%-36s %-42s not measured" % (what, point))
            continue
        lines.append("%-36s %-42s %.0f vs %.0f us  %s" % (
            what, point, p99[server], p99[versus],
            "met" if p99[server] <= p99[versus] else "MISSED"))
    return lines


def run(reps=3, seconds=5.0, warmup=1.0, log=print, only=""):
    """Runs every point `reps` times, servers interleaved. Returns (records, table lines).
    `only`: comma-separated substrings of server names (with the baselines of their kinds)."""
    skipped = {}
    missing = ensure_tools(log)
    if "wrk" in missing:
        return [dict(type="skipped", server="http", why=missing["wrk"])], ["", "## http: not measured: " + missing["wrk"]]
    servers = select(only)
    runnable = []
    for s in servers:
        ok, why = s["check"]()
        if ok:
            runnable.append(s)
        else:
            skipped[s["name"]] = why
            log("skipping %s: %s" % (s["name"], why))
    make_files()
    records = []
    reruns = 6
    for rep in range(reps):
        for point in POINTS:
            for server in [s for s in runnable if s["kind"] == point["kind"]]:
                rec = run_point(server, point, rep, seconds, warmup)
                if (rec.get("foreign_cpu_pct") or 0) > 12 and reruns > 0:
                    reruns -= 1  # another job took CPU time meanwhile: run it once more
                    log("rep %d  %-42s %-34s rerun (%.0f%% of a CPU went to other jobs)" % (
                        rep + 1, point["name"], server["name"], rec["foreign_cpu_pct"]))
                    rec = run_point(server, point, rep, seconds, warmup)
                records.append(rec)
                log("rep %d  %-42s %-34s %s" % (rep + 1, point["name"], server["name"], (
                    "%.0f req/s, p99 %s us, srv cpu %s%%, wrk cpu %s%%" % (
                        rec["rps"], fmt(rec.get("p99_us")), rec["server_cpu_pct"], rec["client_cpu_pct"]))
                    if rec.get("ok") else "FAILED: %s" % rec.get("error")))
    return records, table(records, skipped)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--json", help="also write the records there, one JSON object per line")
    ap.add_argument("--no-build", action="store_true", help="do not run `make examples` first")
    ap.add_argument("--only", default="", help="comma-separated substrings of server names")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["make", "examples"], cwd=ROOT, check=True, timeout=900)
    records, lines = run(args.reps, args.seconds, args.warmup, only=args.only)
    if args.json:
        with open(args.json, "w") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
