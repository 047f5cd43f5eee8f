"""The report: the machine, and the table printed (and saved) at the end of a run."""
import json
import os
import platform
import resource
import statistics
import subprocess

from suite.paths import HAVE_TASKSET, ROOT, supported_pythons


def machine():
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, timeout=10).stdout.decode()
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass

    def read(p):
        try:
            with open(p) as f:
                return f.read().strip()
        except OSError:
            return ""
    try:
        rev = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                             timeout=10, cwd=ROOT).stdout.decode().strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return dict(type="machine", git=rev, cpu_model=model, cpus=os.cpu_count(), kernel=platform.release(),
                python=platform.python_version(), loadavg=read("/proc/loadavg"),
                max_map_count=read("/proc/sys/vm/max_map_count"),
                nofile=list(resource.getrlimit(resource.RLIMIT_NOFILE)),
                taskset=HAVE_TASKSET, mem_total=read("/proc/meminfo").split("\n")[0])


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec="{:.0f}", none="-"):
    return none if v is None else spec.format(v)


def table(macro, skipped, micro, args, bench, servers):
    """bench: the declarations (benchmarks.py); servers: the rows of bench.SERVERS selected."""
    lines = []
    out = lines.append
    out("macro: median of %d runs of %gs (after %gs warm-up); ratio = median over repetitions of "
        "(rate / baseline's rate in the same repetition)" % (args.reps, args.seconds, args.warmup))
    out("CPU columns: % of one CPU over the measured window: srv = server process, cli = load "
        "generator, CPU0/CPU1 = whole CPU busy (server's, client's; incl. softirq and anything "
        "else running); srv us/req = server CPU time per request; RSS = server VmRSS at the end "
        "of the window, connections still active; oth% = CPU busy that was neither server nor "
        "client (other jobs; a run above 12% is rerun once, up to 8 reruns per suite)")
    for point in bench.POINTS:
        rows = [r for r in macro if r["point"] == point["name"]]
        if not rows and not any(s["kind"] == point["kind"] for s in skipped):
            continue
        out("")
        out("## " + point["name"])
        out("%-30s %9s %6s %7s %7s %5s %5s %5s %5s %7s %7s %4s %4s" % (
            "server", "req/s", "ratio", "p50 us", "p99 us", "srv%", "cli%", "CPU0", "CPU1",
            "us/req", bench.KINDS[point["kind"]]["last"][0], "err", "oth%"))
        base = next(s for s in servers if s["kind"] == point["kind"] and s.get("baseline"))
        base_by_rep = {r["rep"]: r.get("rps") for r in rows if r["server"] == base["name"] and r.get("ok")}
        for srv in [s for s in servers if s["kind"] == point["kind"]]:
            skip = next((s for s in skipped if s["name"] == srv["name"]), None)
            if skip:
                out("%-30s skipped: %s" % (srv["name"], skip["why"]))
                continue
            mine = [r for r in rows if r["server"] == srv["name"]]
            good = [r for r in mine if r.get("ok")]
            if not good:
                errs = "; ".join(sorted({str(r.get("error", "no result")) for r in mine}))
                out("%-30s failed: %s" % (srv["name"], errs[:150]))
                continue
            ratios = [r["rps"] / base_by_rep[r["rep"]] for r in good if base_by_rep.get(r["rep"])]
            cpu = [med([r.get("cpu_busy_pct", [None, None])[k] if len(r.get("cpu_busy_pct", [])) > k
                        else None for r in good]) for k in (0, 1)]
            last = bench.KINDS[point["kind"]]["last"][1](good)
            errors = sum(r.get("errors", 0) for r in good)
            note = "" if len(good) == len(mine) else "  (%d of %d runs failed)" % (len(mine) - len(good), len(mine))
            per_req = med([r["server_cpu_s"] * 1e6 / r["requests"] for r in good
                           if r.get("server_cpu_s") is not None and r.get("requests")])
            bg = med([r.get("foreign_cpu_pct") for r in good]) or 0
            out("%-30s %9s %6s %7s %7s %5s %5s %5s %5s %7s %7s %4d %4.0f%s" % (
                srv["name"], fmt(med([r["rps"] for r in good])), fmt(med(ratios), "{:.2f}"),
                fmt(med([r["p50_us"] for r in good])), fmt(med([r["p99_us"] for r in good])),
                fmt(med([r.get("server_cpu_pct") for r in good])),
                fmt(med([r.get("client_cpu_pct") for r in good])), fmt(cpu[0]), fmt(cpu[1]),
                fmt(per_req, "{:.2f}"), fmt(last, "{:.1f}"), errors, bg, note))
    out("")
    out("## issue #5 targets (ratios: median over repetitions of the same-repetition ratio)")
    for line in targets(macro, micro, bench):
        out(line)
    if micro:
        out("")
        out("## micro-benchmarks (CPU 0)")
        for m in micro:
            out("%-32s %s" % (m["name"], micro_summary(m, bench.MICRO)))
    return "\n".join(lines)


def targets(macro, micro, bench):
    """The targets of issues 5 and 16: the declared ratio, p99, RSS and micro ones, then those
    that need code."""
    lines = []

    def verdict(ok):
        return "met" if ok else "MISSED"

    def per_rep(point, server, key):
        return {r["rep"]: r[key] for r in macro
                if r["point"] == point and r["server"] == server and r.get("ok")}

    for what, point, a, b, minimum in bench.RATIO_TARGETS:
        ra, rb = per_rep(point, a, "rps"), per_rep(point, b, "rps")
        ratios = [ra[k] / rb[k] for k in ra if rb.get(k)]
        if not ratios:
            lines.append("%-30s %-28s not measured (a row is missing)" % (what, point))
            continue
        m = statistics.median(ratios)
        lines.append("%-30s %-28s %.2fx  %s (per repetition: %s)" % (
            what, point, m, verdict(m >= minimum), ", ".join("%.2f" % x for x in ratios)))
        # When the compared-with row saturated the load generator, its rate is a floor, not what
        # it could do: say so, and give the server-CPU-per-request ratio, which still compares.
        cost = {}
        for name in (a, b):
            cost[name] = med([r["server_cpu_s"] / r["requests"] for r in macro if r["point"] == point
                              and r["server"] == name and r.get("ok") and r.get("server_cpu_s")
                              and r.get("requests")])
        cli = med([r.get("client_cpu_pct") for r in macro if r["point"] == point and r["server"] == b
                   and r.get("ok")])
        if cli is not None and cli >= 90 and cost[a] and cost[b]:
            lines.append("%-30s %-28s   the load generator ran at %.0f%% CPU against %s: client-"
                         "bound; server CPU per request: %.2f vs %.2f us (%.2fx the cost)" % (
                             "", "", cli, b, cost[a] * 1e6, cost[b] * 1e6, cost[a] / cost[b]))
    for what, point, a, b, maximum in bench.P99_TARGETS:
        pa, pb = per_rep(point, a, "p99_us"), per_rep(point, b, "p99_us")
        ratios = [pa[k] / pb[k] for k in pa if pb.get(k)]
        if not ratios:
            lines.append("%-30s %-28s not measured (a row is missing)" % (what, point))
            continue
        m = statistics.median(ratios)
        lines.append("%-30s %-28s %.2fx  %s (per repetition: %s; p99 %s vs %s us)" % (
            what, point, m, verdict(m <= maximum), ", ".join("%.2f" % x for x in ratios),
            med(list(pa.values())), med(list(pb.values()))))
    for what, server, limit in bench.RSS_TARGETS:
        rss = med([r.get("server_rss_kb") for r in macro if r["server"] == server and r.get("ok")
                   and r["point"] == "echo, 1000 connections"])
        lines.append("%-30s %-28s %s" % (what, "echo, 1000 connections", "not measured" if rss is None
                                          else "%.1f MB  %s" % (rss / 1024, verdict(rss / 1024 <= limit))))
    by = {m["name"]: m for m in micro if m.get("ok")}
    for what, name, key, limit in bench.MICRO_TARGETS:
        v = by.get(name, {}).get(key)
        unit = "%+.1f%%" if key.endswith("_pct") else "%.0f ns"
        lines.append("%-30s %-28s %s" % (what, "micro", "not measured" if v is None else
                                          (unit + "  %s") % (v, verdict(v <= limit))))
    for what, a, ka, b, kb, maximum in bench.MICRO_RATIO_TARGETS:
        va, vb = by.get(a, {}).get(ka), by.get(b, {}).get(kb)
        lines.append("%-30s %-28s %s" % (what, "micro", "not measured" if not va or not vb else
                                          "%.1f vs %.1f ns: %.2fx  %s" % (
                                              va, vb, va / vb, verdict(va / vb <= maximum))))
    for scenario, what in (("open", "a 3 s open"), ("read", "200 ms reads"), ("big", "2 GiB cached")):
        m = by.get("slow files " + scenario)
        lines.append("%-30s %-28s %s" % (
            "others' max latency, %s" % what, "file_server", "not measured" if m is None else
            "%.1f ms  %s" % (m["others_max_ms"], verdict(m["others_max_ms"] < m["target_ms"]))))
    spawn = {v: by.get("py_threads " + v, {}).get("spawn_1000_s") for v in ("3.13", "3.14")}
    lines.append("%-30s %-28s %s" % ("1,000 spawns: 3.14 <= 2x 3.13", "micro", "not measured"
                                      if None in spawn.values() else "%.3f s vs %.3f s: %.2fx  %s" % (
                                          spawn["3.14"], spawn["3.13"], spawn["3.14"] / spawn["3.13"],
                                          verdict(spawn["3.14"] <= 2 * spawn["3.13"]))))
    for v in supported_pythons():
        m = by.get("py_threads " + v)
        lines.append("%-30s %-28s %s" % ("Python RSS flat, " + v, "micro", "not measured" if m is None
                                          else "%+.1f%% after %d rounds  %s" % (
                                              100 * m["growth"], m["rounds"], verdict(m["growth"] <= 0.10))))
    probe, parked = by.get("max threads with connections"), by.get("max threads parked")
    if probe:
        clean = parked and parked["stopped_by"] == "spawn" and parked.get("recovered") is True
        lines.append("%-30s %-28s %d with a connection each (%s); %s" % (
            ">= 30,000 live threads", "micro", probe["count"],
            "fd limit %d stops it: NOT MEASURED at 30,000" % probe["nofile_soft"]
            if probe["stopped_by"] != "spawn" and probe["count"] < 30000 else probe["stopped_by"],
            "%d without connections, then spawn fails with %s and recovers: %s" % (
                parked["count"], parked["spawn_errno"], verdict(parked["count"] >= 30000 and clean))
            if parked else "no parked-thread probe"))
    return lines


def micro_summary(m, rows):
    """A micro-benchmark's line in the table: its row's summary of the result."""
    if not m.get("ok"):
        return "skipped: " + str(m.get("skipped") or m.get("error"))
    row = next((r for r in rows if r["name"] == m["name"]), None)
    return row["summary"](m) if row and row.get("summary") else json.dumps(m)
