#!/usr/bin/env python3
"""greenhub's benchmark suite (`make bench`). Python 3 standard library only.

Builds what it needs (`make examples`, the load generator, the C baselines and micro-benchmarks
into build/bench/), installs Eventlet, gevent and uvloop into bench/.venv when it can, then:

  * macro: every server of SERVERS at every point of POINTS, server pinned to CPU 0 and the load
    generator to CPU 1, each point repeated (--reps, default 3), servers interleaved: in every
    repetition each server runs once, so a ratio compares runs made minutes apart at most. A
    server is started fresh for each run. The load generator reports, over the same measured
    window, its own CPU time, the server's CPU time, the busy share of each CPU, and the
    server's RSS at the end of the window (connections still established and active).
  * micro: switch cost, spawn + exit cost, Python green switch, memory per idle connection at
    10,000 connections, how many green threads can live at once, and file_server's other
    clients' latency while one fetches a slow FUSE file or a 2 GiB cached one (slow_files.py).
  * micro: switch cost, spawn + exit cost, Python green switch, Python green threads under every
    supported CPython (1,000 spawns; RSS over 20 rounds of 1,000 threads x 10,000 objects),
    memory per idle connection at 10,000 connections, and how many green threads can live at
    once.

Results: bench/results/<timestamp>.json (JSON lines, one object per measurement, the first one
describing the machine) and a table on stdout (also saved as <timestamp>.txt).

  * http: build/http_server against nginx (one worker, sendfile) serving a file with keep-alive,
    loaded by wrk (bench/http_bench.py, runnable on its own; it installs nginx and wrk with
    apt-get when they are missing).

usage: python3 bench/run.py [--reps N] [--seconds S] [--warmup S] [--only NAME,...]
                            [--skip-micro] [--skip-macro] [--skip-http] [--no-pip]
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.join(ROOT, "build")
BB = os.path.join(BUILD, "bench")
VENV = os.path.join(HERE, ".venv")
VPY = os.path.join(VENV, "bin", "python")
RESULTS = os.path.join(HERE, "results")
FILES = os.path.join(BB, "files")
LOGS = os.path.join(BB, "logs")
LOADGEN = os.path.join(BB, "loadgen")
SERVER_CPU, CLIENT_CPU = "0", "1"
CFLAGS = ["-O2", "-Wall", "-Wextra", "-Werror"]
PY_PACKAGES = ["eventlet", "gevent", "uvloop"]
SHIM_ECHO = os.path.join(ROOT, "bindings", "python", "examples", "echo_server.py")
SHIM_DIR = os.path.join(ROOT, "bindings", "python")
TESTS_PY = os.path.join(ROOT, ".venv", "bin", "python")  # make's venv: pytest, fusepy

HAVE_TASKSET = shutil.which("taskset") is not None


def log(*a):
    print(*a, flush=True)


def pinned(cpu, cmd):
    return (["taskset", "-c", cpu] if HAVE_TASKSET else []) + cmd


def server_env(extra=None):
    """The environment a user would have: no forced unbuffered Python output."""
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    env["PYTHONWARNINGS"] = "ignore"  # Eventlet's deprecation notice, once per start
    env.update(extra or {})
    return env


def venv_has(module):
    if not os.path.exists(VPY):
        return False
    r = subprocess.run([VPY, "-c", "import " + module], capture_output=True, timeout=60)
    return r.returncode == 0


def shim_ok():
    """The Python shim (issue #4) with its seed echo program, if it is there and imports."""
    if not os.path.exists(SHIM_ECHO):
        return False, "bindings/python/examples/echo_server.py not present yet (issue #4)"
    py = VPY if os.path.exists(VPY) else sys.executable
    r = subprocess.run([py, "-c", "import greenhub"], capture_output=True, timeout=60,
                       env=server_env({"PYTHONPATH": SHIM_DIR}), cwd=ROOT)
    if r.returncode != 0:
        return False, "the shim does not import: " + r.stderr.decode(errors="replace").strip()[-200:]
    return True, ""


def python_for_shim():
    return VPY if os.path.exists(VPY) else sys.executable


def supported_pythons():
    """The CPython versions the shim supports: the Makefile's PY_VERSIONS."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        for line in f:
            if line.startswith("PY_VERSIONS"):
                return line.split(":=", 1)[1].split()
    return []


def find_python(version):
    """That version's interpreter (tests/python/find-python), or None."""
    r = subprocess.run([os.path.join(ROOT, "tests", "python", "find-python"), version],
                       capture_output=True, timeout=60)
    return r.stdout.decode().strip() or None if r.returncode == 0 else None


# ---------------------------------------------------------------------------------------------
# What is measured. Add a server by adding an entry: `cmd(port, root)` gives its command line,
# `check()` says whether it can run here ((True, "") or (False, why)); `baseline` marks the row
# the others are compared with (one per kind).

def always():
    return True, ""


def venv_check(*modules):
    def check():
        for m in modules:
            if not venv_has(m):
                return False, "%s not installed in bench/.venv (pip install failed or --no-pip)" % m
        return True, ""
    return check


SERVERS = [
    # echo: 64-byte lines
    dict(name="epoll baseline (C)", kind="echo", baseline=True, check=always,
         cmd=lambda port, root: [os.path.join(BB, "epoll_echo"), "-p", str(port)]),
    dict(name="greenhub C echo_server", kind="echo", check=always,
         cmd=lambda port, root: [os.path.join(BUILD, "echo_server"), "-p", str(port)]),
    dict(name="greenhub C, no log lines", kind="echo", check=always,
         cmd=lambda port, root: [os.path.join(BB, "gh_echo_quiet"), "-p", str(port)]),
    dict(name="greenhub Python shim (seed)", kind="echo", check=shim_ok,
         env={"PYTHONPATH": SHIM_DIR},
         cmd=lambda port, root: [python_for_shim(), SHIM_ECHO, str(port)]),
    dict(name="Eventlet (seed)", kind="echo", check=venv_check("eventlet"),
         cmd=lambda port, root: [VPY, os.path.join(HERE, "servers", "eventlet_echo.py"), str(port)]),
    dict(name="gevent (seed)", kind="echo", check=venv_check("gevent"),
         cmd=lambda port, root: [VPY, os.path.join(HERE, "servers", "gevent_echo.py"), str(port)]),
    dict(name="asyncio streams", kind="echo", check=lambda: (True, ""),
         cmd=lambda port, root: [VPY if os.path.exists(VPY) else sys.executable,
                                 os.path.join(HERE, "servers", "asyncio_echo.py"), str(port)]),
    dict(name="uvloop streams", kind="echo", check=venv_check("uvloop"),
         cmd=lambda port, root: [VPY, os.path.join(HERE, "servers", "asyncio_echo.py"), str(port),
                                 "--uvloop"]),
    # file: path + NUL, the file back
    dict(name="epoll+sendfile baseline (C)", kind="file", baseline=True, check=always,
         cmd=lambda port, root: [os.path.join(BB, "epoll_file"), "-p", str(port), "-r", root]),
    dict(name="greenhub C file_server", kind="file", check=always,
         cmd=lambda port, root: [os.path.join(BUILD, "file_server"), "-p", str(port), "-r", root]),
]

POINTS = [
    dict(name="echo, 100 connections", kind="echo", conns=100),
    dict(name="echo, 1000 connections", kind="echo", conns=1000),
    dict(name="file 4 KiB, 50 connections", kind="file", conns=50, file="f4k.bin", size=4096),
    dict(name="file 1 MiB, 50 connections", kind="file", conns=50, file="f1m.bin", size=1 << 20),
]


# ---------------------------------------------------------------------------------------------
# Building

def run_checked(cmd, timeout, **kw):
    log("+ " + " ".join(cmd))
    subprocess.run(cmd, check=True, timeout=timeout, cwd=ROOT, **kw)


def build():
    os.makedirs(BB, exist_ok=True)
    os.makedirs(LOGS, exist_ok=True)
    run_checked(["make", "examples"], 900)
    run_checked(["cargo", "build", "--release", "--quiet", "--manifest-path",
                 os.path.join(HERE, "loadgen", "Cargo.toml"),
                 "--target-dir", os.path.join(BB, "cargo")], 900)
    shutil.copy2(os.path.join(BB, "cargo", "release", "loadgen"), LOADGEN)
    cc = os.environ.get("CC", "cc")
    for name in ("epoll_echo", "epoll_file"):
        run_checked([cc] + CFLAGS + [os.path.join(HERE, "baseline", name + ".c"),
                                     "-o", os.path.join(BB, name)], 120)
    gh = ["-std=c99", "-D_GNU_SOURCE", "-I" + os.path.join(ROOT, "include")]
    link = ["-L" + BUILD, "-lgreenhub", "-Wl,-rpath,$ORIGIN/.."]
    for src, name in (("servers/gh_echo_quiet.c", "gh_echo_quiet"), ("micro/switch.c", "switch"),
                      ("micro/spawn.c", "spawn"), ("micro/idle_conns.c", "idle_conns")):
        run_checked([cc] + CFLAGS + gh + [os.path.join(HERE, src), "-o", os.path.join(BB, name)]
                    + link, 120)
    os.makedirs(FILES, exist_ok=True)
    for p in POINTS:
        if "file" in p:
            path = os.path.join(FILES, p["file"])
            if not os.path.exists(path) or os.path.getsize(path) != p["size"]:
                with open(path, "wb") as f:
                    f.write(os.urandom(p["size"]))


def setup_venv(no_pip):
    """Eventlet, gevent and uvloop in bench/.venv; each one that fails only loses its rows."""
    notes = {}
    if no_pip:
        return notes
    try:
        if not os.path.exists(VPY):
            run_checked([sys.executable, "-m", "venv", VENV], 300)
        for pkg in PY_PACKAGES:
            if venv_has(pkg):
                continue
            r = subprocess.run([VPY, "-m", "pip", "install", "--quiet",
                                "--disable-pip-version-check", pkg],
                               capture_output=True, timeout=600, cwd=ROOT)
            if r.returncode != 0:
                notes[pkg] = r.stderr.decode(errors="replace").strip().splitlines()[-1:]
                log("pip install %s failed: %s" % (pkg, notes[pkg]))
    except (subprocess.SubprocessError, OSError) as e:
        notes["venv"] = str(e)
        log("could not set up bench/.venv: %s" % e)
    return notes


# ---------------------------------------------------------------------------------------------
# Running servers

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


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


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


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None


def foreign_cpu(rec):
    """CPU time in the window that was neither the server's nor the load generator's: the
    highest of (CPU0 busy - server %) and (CPU1 busy - client %). A few % in a clean run
    (softirq work not charged to a process); more means another job ran meanwhile."""
    busy = rec.get("cpu_busy_pct") or []
    if len(busy) < 2 or rec.get("server_cpu_pct") is None or rec.get("client_cpu_pct") is None:
        return None
    return round(max(busy[0] - rec["server_cpu_pct"], busy[1] - rec["client_cpu_pct"]), 1)


def run_point(srv, point, rep, args):
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
        if point["kind"] == "file":
            cmd += ["--path", point["file"], "--size", str(point["size"])]
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


# ---------------------------------------------------------------------------------------------
# Micro-benchmarks

def micro_json(cmd, timeout, env=None):
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


def run_micro(args):
    recs = []
    add = lambda name, r: recs.append(dict(type="micro", name=name, **r)) or log("  %s: %s" % (
        name, json.dumps(r)[:400]))
    log("micro: switch (green thread -> hub -> green thread)")
    add("switch", micro_json(pinned(SERVER_CPU, [os.path.join(BB, "switch"), "-n", "2000000"]), 120))
    log("micro: spawn + exit")
    add("spawn", micro_json(pinned(SERVER_CPU, [os.path.join(BB, "spawn"), "-n", "1000000"]), 120))
    log("micro: Python green switch")
    ok, why = shim_ok()
    if ok:
        add("py_switch greenhub", micro_json(pinned(SERVER_CPU, [python_for_shim(), os.path.join(
            HERE, "micro", "py_switch.py"), "greenhub"]), 120, env=server_env({"PYTHONPATH": SHIM_DIR})))
    else:
        add("py_switch greenhub", {"ok": False, "skipped": why})
    for impl in ("eventlet", "gevent"):
        if venv_has(impl):
            add("py_switch " + impl, micro_json(pinned(SERVER_CPU, [VPY, os.path.join(
                HERE, "micro", "py_switch.py"), impl]), 120, env=server_env()))
        else:
            add("py_switch " + impl, {"ok": False, "skipped": impl + " not installed"})
    log("micro: Python green threads under every supported CPython (1,000 spawns; RSS over rounds)")
    for version in supported_pythons():
        py = find_python(version)
        if py is None:
            add("py_threads " + version, {"ok": False, "skipped": "no CPython %s here" % version})
            continue
        # MIMALLOC_PURGE_DELAY=0: see py_threads.py (only the free-threaded build uses mimalloc)
        add("py_threads " + version, micro_json(pinned(SERVER_CPU, [py, os.path.join(
            HERE, "micro", "py_threads.py")]), 900, env=server_env({"PYTHONPATH": SHIM_DIR,
                                                                   "MIMALLOC_PURGE_DELAY": "0"})))
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    log("micro: memory per idle connection, 10,000 connections")
    add("idle_conns 10000", idle_conns("mem", 10000, 20))
    cap = min(40000, nofile - 64)
    log("micro: live green threads holding an idle connection, until spawn fails (bound %d)" % cap)
    r = idle_conns("probe", cap, 30)
    if cap < 40000:
        r["bound_reason"] = "RLIMIT_NOFILE hard limit %d (this process cannot raise it)" % nofile
    add("max threads with connections", r)
    log("micro: live green threads without connections, until spawn fails (bound 40000)")
    add("max threads parked", micro_json(pinned(SERVER_CPU, [os.path.join(BB, "idle_conns"), "-m",
                                                             "threads", "-n", "40000"]), 120))
    # file_server's other clients while one fetches a slow FUSE file or a 2 GiB cached one
    # (bench/slow_files.py; FUSE needs fusepy, which `make test` puts in .venv, and root)
    py = TESTS_PY if os.path.exists(TESTS_PY) else sys.executable
    for scenario in ("idle", "open", "read", "big"):
        log("micro: file_server's other clients during a slow fetch (%s)" % scenario)
        add("slow files " + scenario, micro_json([py, os.path.join(HERE, "slow_files.py"),
                                                  "--only", scenario, "--json"], 300))
    return recs


# ---------------------------------------------------------------------------------------------
# Report

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


def table(macro, skipped, micro, args):
    lines = []
    out = lines.append
    out("macro: median of %d runs of %gs (after %gs warm-up); ratio = median over repetitions of "
        "(rate / baseline's rate in the same repetition)" % (args.reps, args.seconds, args.warmup))
    out("CPU columns: % of one CPU over the measured window: srv = server process, cli = load "
        "generator, CPU0/CPU1 = whole CPU busy (server's, client's; incl. softirq and anything "
        "else running); srv us/req = server CPU time per request; RSS = server VmRSS at the end "
        "of the window, connections still active; oth% = CPU busy that was neither server nor "
        "client (other jobs; a run above 12% is rerun once, up to 8 reruns per suite)")
    for point in POINTS:
        rows = [r for r in macro if r["point"] == point["name"]]
        if not rows and not any(s["kind"] == point["kind"] for s in skipped):
            continue
        out("")
        out("## " + point["name"])
        out("%-30s %9s %6s %7s %7s %5s %5s %5s %5s %7s %7s %4s %4s" % (
            "server", "req/s", "ratio", "p50 us", "p99 us", "srv%", "cli%", "CPU0", "CPU1",
            "us/req", "RSS MB" if point["kind"] == "echo" else "MB/s", "err", "oth%"))
        base = next(s for s in SERVERS if s["kind"] == point["kind"] and s.get("baseline"))
        base_by_rep = {r["rep"]: r.get("rps") for r in rows if r["server"] == base["name"] and r.get("ok")}
        for srv in [s for s in SERVERS if s["kind"] == point["kind"]]:
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
            rss = med([r.get("server_rss_kb") for r in good])
            last = rss / 1024 if point["kind"] == "echo" and rss else med([r.get("mb_per_s") for r in good])
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
    for line in targets(macro, micro):
        out(line)
    if micro:
        out("")
        out("## micro-benchmarks (CPU 0)")
        for m in micro:
            out("%-32s %s" % (m["name"], micro_summary(m)))
    return "\n".join(lines)


SHIM, C_ECHO = "greenhub Python shim (seed)", "greenhub C echo_server"
# (what, point, server, compared with, minimum ratio)
RATIO_TARGETS = [
    ("C echo >= 0.95x epoll", "echo, 100 connections", C_ECHO, "epoll baseline (C)", 0.95),
    ("C echo >= 0.95x epoll", "echo, 1000 connections", C_ECHO, "epoll baseline (C)", 0.95),
    ("Python shim >= 3x Eventlet", "echo, 100 connections", SHIM, "Eventlet (seed)", 3.0),
    ("Python shim >= 3x Eventlet", "echo, 1000 connections", SHIM, "Eventlet (seed)", 3.0),
    ("Python shim >= 1x uvloop", "echo, 100 connections", SHIM, "uvloop streams", 1.0),
    ("Python shim >= 1x uvloop", "echo, 1000 connections", SHIM, "uvloop streams", 1.0),
    ("file >= 0.95x sendfile", "file 4 KiB, 50 connections", "greenhub C file_server",
     "epoll+sendfile baseline (C)", 0.95),
    ("file >= 0.95x sendfile", "file 1 MiB, 50 connections", "greenhub C file_server",
     "epoll+sendfile baseline (C)", 0.95),
]


def targets(macro, micro):
    lines = []

    def verdict(ok):
        return "met" if ok else "MISSED"

    for what, point, a, b, minimum in RATIO_TARGETS:
        ra = {r["rep"]: r["rps"] for r in macro if r["point"] == point and r["server"] == a and r.get("ok")}
        rb = {r["rep"]: r["rps"] for r in macro if r["point"] == point and r["server"] == b and r.get("ok")}
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
    for what, server, limit in (("C echo RSS <= 12 MB", C_ECHO, 12.0), ("Python RSS <= 30 MB", SHIM, 30.0)):
        rss = med([r.get("server_rss_kb") for r in macro if r["server"] == server and r.get("ok")
                   and r["point"] == "echo, 1000 connections"])
        lines.append("%-30s %-28s %s" % (what, "echo, 1000 connections", "not measured" if rss is None
                                          else "%.1f MB  %s" % (rss / 1024, verdict(rss / 1024 <= limit))))
    by = {m["name"]: m for m in micro if m.get("ok")}
    for what, name, key, limit in (("switch <= 25 ns", "switch", "ns_per_switch_median", 25),
                                   ("spawn + exit <= 100 ns", "spawn", "ns_spawn_n_batch_median", 100),
                                   ("Python green switch <= 150 ns", "py_switch greenhub",
                                    "ns_per_switch_median", 150)):
        v = by.get(name, {}).get(key)
        lines.append("%-30s %-28s %s" % (what, "micro", "not measured" if v is None else
                                          "%.0f ns  %s" % (v, verdict(v <= limit))))
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


def micro_summary(m):
    if not m.get("ok"):
        return "skipped: " + str(m.get("skipped") or m.get("error"))
    n = m["name"]
    if n == "switch":
        return "%.1f ns per switch (median of %d runs of %d switches; min %.1f)" % (
            m["ns_per_switch_median"], len(m["ns_per_switch"]), m["switches"], m["ns_per_switch_min"])
    if n == "spawn":
        return ("spawn_n + exit %.0f ns per thread (batches of %d, run by one yield); "
                "spawn + join one at a time %.0f ns" % (m["ns_spawn_n_batch_median"], m["batch"],
                                                        m["ns_spawn_join_median"]))
    if n.startswith("py_switch"):
        return "%.0f ns per switch (median of %d runs of %d switches, Python %s)" % (
            m["ns_per_switch_median"], len(m["ns_per_switch"]), m["switches"], m["python"])
    if n.startswith("slow files"):
        return ("fetch %.2f s; the other clients: max %.1f ms, p99 %.1f ms over %d requests "
                "(%s)" % (m["fetch_s"], m["others_max_ms"], m["others_p99_ms"], m["pings"],
                          "target max < %d ms" % m["target_ms"] if m["target_ms"]
                          else "no slow fetch: this machine's floor"))
    if n.startswith("py_threads"):
        rss = [kb / 1024 for kb in m["rss_kb"]]
        return ("CPython %s%s: 1,000 spawns %.3f s; RSS over %d rounds of %d threads x %d objects "
                "%.1f -> %.1f MB (min %.1f, max %.1f)" % (
                    m["python"], "t" if m["free_threaded"] else "", m["spawn_1000_s"], m["rounds"],
                    m["threads"], m["objects"], rss[0], rss[-1], min(rss), max(rss)))
    if m.get("mode") == "mem":
        return ("%d connections: %.1f KiB per idle connection (RSS %.1f -> %.1f MB); stack pages "
                "resident, low to high: %s" % (m["count"], m["bytes_per_thread"] / 1024,
                                                m["rss_before_kb"] / 1024, m["rss_after_kb"] / 1024,
                                                m.get("stack_pages_low_to_high", "?")))
    if m.get("mode") in ("probe", "threads"):
        how = {"spawn": "spawn failed with %s" % m["spawn_errno"],
               "accept": "accept stopped (%s; fd limit %d)" % (m["stop_errno"], m["nofile_soft"]),
               "limit": "stopped at the bound %d%s, no spawn failure" % (
                   m["requested"], ": " + m["bound_reason"] if m.get("bound_reason") else "")}[m["stopped_by"]]
        rec = {"true": "; spawn works again after one thread ended", "false": "; NOT recovered"}.get(
            str(m.get("recovered")).lower(), "")
        return "%d live threads (%s)%s; maps %d; RSS %.0f MB" % (
            m["count"], how, rec, m["maps_after"], m["rss_after_kb"] / 1024)
    return json.dumps(m)


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--only", default="", help="comma-separated substrings of server names")
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
        build()
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

    servers = [s for s in SERVERS if not args.only or s.get("baseline")
               or any(o and o.lower() in s["name"].lower() for o in args.only.split(","))]
    skipped, runnable = [], []
    for s in servers:
        ok, why = s["check"]()
        (runnable if ok else skipped).append(s if ok else dict(name=s["name"], kind=s["kind"], why=why))
    for s in skipped:
        log("skipping %s: %s" % (s["name"], s["why"]))
        results.write(json.dumps(dict(type="skipped", server=s["name"], why=s["why"])) + "\n")

    macro = []
    if not args.skip_macro:
        for rep in range(args.reps):
            for point in POINTS:
                for srv in [s for s in runnable if s["kind"] == point["kind"]]:
                    rec = run_point(srv, point, rep, args)
                    rec["foreign_cpu_pct"] = foreign_cpu(rec)
                    if (rec["foreign_cpu_pct"] or 0) > 12 and QUIET["reruns"] > 0:
                        # another job took CPU time during the run: keep the record, marked,
                        # and run it again once (a bounded number of times per suite)
                        QUIET["reruns"] -= 1
                        rec["discarded"] = "disturbed: %.0f%% of a CPU went to other jobs" % rec["foreign_cpu_pct"]
                        results.write(json.dumps(rec) + "\n")
                        log("rep %d  %-28s %-30s rerun (%s)" % (rep + 1, point["name"], srv["name"],
                                                               rec["discarded"]))
                        rec = run_point(srv, point, rep, args)
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
    # HTTP: build/http_server against nginx, loaded by wrk (bench/http_bench.py, its own table)
    http_lines = []
    if not args.skip_http and not args.skip_macro:
        sys.path.insert(0, HERE)
        import http_bench
        http_recs, http_lines = http_bench.run(args.reps, args.seconds, args.warmup, log)
        for r in http_recs:
            results.write(json.dumps(r) + "\n")
    micro = []
    if not args.skip_micro:
        micro = run_micro(args)
        for m in micro:
            results.write(json.dumps(m) + "\n")
    end = machine()
    results.write(json.dumps(dict(type="end", loadavg=end["loadavg"],
                                  seconds=round(time.monotonic() - t_start, 1))) + "\n")
    results.close()
    text = table(macro, skipped, micro, args) + "\n".join([""] + http_lines)
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
