"""Micro-benchmarks: each row of benchmarks.MICRO run by the runner of its kind."""
import json
import os
import resource
import subprocess

from suite.macro import wait_quiet
from suite.paths import BB, CLIENT_CPU, LOADGEN, ROOT, SERVER_CPU, last_json, log, pinned, server_env


def micro_json(cmd, timeout, env=None):
    """Runs a program that prints its result as a JSON object (the last one it prints)."""
    wait_quiet()
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "timed out after %ds" % timeout}
    out = last_json(r.stdout.decode(errors="replace"))
    if out is None or r.returncode != 0:
        return {"ok": False, "error": "exit %d: %s" % (r.returncode,
                                                        r.stderr.decode(errors="replace").strip()[-300:])}
    out["ok"] = True
    return out


def idle_conns(mode, n, hold_seconds):
    """idle_conns server on CPU 0, clients from `loadgen hold` on CPU 1 (another process)."""
    wait_quiet()
    srv = subprocess.Popen(pinned(SERVER_CPU, [os.path.join(BB, "idle_conns"), "-m", mode,
                                               "-n", str(n), "-p", "0"]),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        line = srv.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "LISTENING":
            return {"ok": False, "error": "idle_conns did not start: %s" % line}
        hold = subprocess.Popen(pinned(CLIENT_CPU, [LOADGEN, "hold", "--port", line[1], "--conns",
                                                    str(n), "--seconds", str(hold_seconds),
                                                    "--batch", "512", "--timeout", "30", "--json"]),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
        try:
            out, _ = srv.communicate(timeout=hold_seconds + 30)
        except subprocess.TimeoutExpired:
            srv.kill()
            out, _ = srv.communicate(timeout=10)
        try:
            hout, _ = hold.communicate(timeout=8 + hold_seconds + 15)
        except subprocess.TimeoutExpired:
            hold.kill()
            hout, _ = hold.communicate(timeout=10)
        res = last_json(out.decode(errors="replace"))
        if res is None:
            return {"ok": False, "error": "idle_conns printed no result (exit %s)" % srv.returncode}
        h = last_json(hout.decode(errors="replace")) or {}
        res["client_held"] = h.get("held")
        res["client_connect_errors"] = h.get("errors_total")
        res["ok"] = True
        return res
    finally:
        for p in (srv,):
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


def run_row(row):
    """One micro-benchmark's result: its kind's runner, or why it was skipped."""
    ok, why = row["check"]() if "check" in row else (True, "")
    if not ok:
        return {"ok": False, "skipped": why}
    if row["kind"] == "idle":
        # every connection is a file descriptor of the server: the fd limit bounds the count
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        n = min(row["conns"], nofile - 64)
        r = idle_conns(row["mode"], n, row["hold"])
        if n < row["conns"]:
            r["bound_reason"] = "RLIMIT_NOFILE hard limit %d (this process cannot raise it)" % nofile
        return r
    cmd = row["cmd"]()
    env = None if row.get("env") is None else server_env(row["env"])
    return micro_json(pinned(SERVER_CPU, cmd) if row.get("pin", True) else cmd, row["timeout"],
                      env=env)


def run_micro(rows):
    """Every row in order; a row's title is logged when it differs from the previous row's."""
    recs, title = [], None
    for row in rows:
        if row["title"] != title:
            title = row["title"]
            log("micro: " + title)
        r = run_row(row)
        recs.append(dict(type="micro", name=row["name"], **r))
        log("  %s: %s" % (row["name"], json.dumps(r)[:400]))
    return recs
