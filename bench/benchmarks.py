"""What `make bench` measures: every benchmark is a row of a table here (bench/README.md).

  KINDS    a kind of load: the load generator's mode of that name (`loadgen KIND`), the extra
           arguments a point of that kind gives it, and the table's last column for it
  SERVERS  a server measured under load: name, kind, command, whether it can run here; one
           row per kind is the baseline the others are compared with
  POINTS   a load point of a kind: connections (and what each request asks for)
  MICRO    a micro-benchmark: name, kind ("json": a program printing a JSON object;
           "idle": idle_conns against `loadgen hold`), command, summary format
  *_TARGETS  the targets the report checks (issue #5's; the block detector's, issue #15)
  HTTP_*   the HTTP benchmark (bench/http_bench.py, under wrk): its servers, points, targets

Adding a server, a point or a micro-benchmark is adding a row; the C programs of
bench/baseline, bench/servers and bench/micro are built by file name (suite/building.py).
"""
import os
import subprocess
import sys

from suite.paths import BB, BUILD, HERE, ROOT, SHIM_DIR, SHIM_ECHO, SHIM_ECHO_PATCHED, TESTS_PY, \
    VPY, find_python, python_for_shim, server_env, supported_pythons, venv_has
from suite.report import med


# ---------------------------------------------------------------------------------------------
# Whether a row can run here: (True, "") or (False, why).

def always():
    return True, ""


def venv_check(*modules):
    def check():
        for m in modules:
            if not venv_has(m):
                return False, "%s not installed in bench/.venv (pip install failed or --no-pip)" % m
        return True, ""
    return check


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


def have_python(version):
    return lambda: (True, "") if find_python(version) else (False, "no CPython %s here" % version)


# ---------------------------------------------------------------------------------------------
# Macro-benchmarks. A server's `cmd(port, root)` gives its command line (root: the directory
# the file points' files are in); `env` is added to its environment.

def rss_mb(runs):
    """The server's RSS at the end of the measured window (median over the runs), MB."""
    kb = med([r.get("server_rss_kb") for r in runs])
    return kb / 1024 if kb else None


def mb_per_s(runs):
    return med([r.get("mb_per_s") for r in runs])


KINDS = {
    # 64-byte lines, each echoed
    "echo": dict(loadgen_args=lambda point: [], last=("RSS MB", rss_mb)),
    # a path and a NUL, the file back
    "file": dict(loadgen_args=lambda point: ["--path", point["file"], "--size", str(point["size"])],
                 last=("MB/s", mb_per_s)),
}

SERVERS = [
    dict(name="epoll baseline (C)", kind="echo", baseline=True, check=always,
         cmd=lambda port, root: [os.path.join(BB, "epoll_echo"), "-p", str(port)]),
    # the example as written (a write(2) per log line), then the library's cost alone
    dict(name="greenhub C echo_server", kind="echo", check=always,
         cmd=lambda port, root: [os.path.join(BUILD, "echo_server"), "-p", str(port)]),
    dict(name="greenhub C, no log lines", kind="echo", check=always,
         cmd=lambda port, root: [os.path.join(BB, "gh_echo_quiet"), "-p", str(port)]),
    dict(name="greenhub Python shim (seed)", kind="echo", check=shim_ok,
         env={"PYTHONPATH": SHIM_DIR},
         cmd=lambda port, root: [python_for_shim(), SHIM_ECHO, str(port)]),
    # the seed's program on the standard socket module after monkey_patch() (issue #13)
    dict(name="greenhub shim, patched socket", kind="echo", check=shim_ok,
         env={"PYTHONPATH": SHIM_DIR},
         cmd=lambda port, root: [python_for_shim(), SHIM_ECHO_PATCHED, str(port)]),
    dict(name="Eventlet (seed)", kind="echo", check=venv_check("eventlet"),
         cmd=lambda port, root: [VPY, os.path.join(HERE, "servers", "eventlet_echo.py"), str(port)]),
    dict(name="gevent (seed)", kind="echo", check=venv_check("gevent"),
         cmd=lambda port, root: [VPY, os.path.join(HERE, "servers", "gevent_echo.py"), str(port)]),
    dict(name="asyncio streams", kind="echo", check=always,
         cmd=lambda port, root: [VPY if os.path.exists(VPY) else sys.executable,
                                 os.path.join(HERE, "servers", "asyncio_echo.py"), str(port)]),
    dict(name="uvloop streams", kind="echo", check=venv_check("uvloop"),
         cmd=lambda port, root: [VPY, os.path.join(HERE, "servers", "asyncio_echo.py"), str(port),
                                 "--uvloop"]),
    dict(name="epoll+sendfile baseline (C)", kind="file", baseline=True, check=always,
         cmd=lambda port, root: [os.path.join(BB, "epoll_file"), "-p", str(port), "-r", root]),
    dict(name="greenhub C file_server", kind="file", check=always,
         cmd=lambda port, root: [os.path.join(BUILD, "file_server"), "-p", str(port), "-r", root]),
    dict(name="greenhub C file, no log lines", kind="file", check=always,
         cmd=lambda port, root: [os.path.join(BB, "gh_file_quiet"), "-p", str(port), "-r", root]),
]

POINTS = [
    dict(name="echo, 100 connections", kind="echo", conns=100),
    dict(name="echo, 1000 connections", kind="echo", conns=1000),
    dict(name="file 4 KiB, 50 connections", kind="file", conns=50, file="f4k.bin", size=4096),
    dict(name="file 1 MiB, 50 connections", kind="file", conns=50, file="f1m.bin", size=1 << 20),
]


# ---------------------------------------------------------------------------------------------
# Micro-benchmarks, run in this order, on CPU 0 unless pin=False. kind "json": `cmd()` prints
# its result as a JSON object, within `timeout` s; `env` (if given) is added to the user's
# environment. kind "idle": idle_conns -m MODE with `conns` held connections (at most the fd
# limit allows) for `hold` s. `summary(result)` is the row's line in the table; `title` is
# logged before the first row that has it.

def switch_summary(m):
    return "%.1f ns per switch (median of %d runs of %d switches; min %.1f)" % (
        m["ns_per_switch_median"], len(m["ns_per_switch"]), m["switches"], m["ns_per_switch_min"])


def detector_summary(m):
    return ("detector on %.2f ns vs off %.2f ns per switch: %+.1f%% (medians of %d interleaved "
            "runs of %d switches)" % (m["ns_on_median"], m["ns_off_median"], m["on_cost_pct"],
                                     len(m["ns_on"]), m["switches"]))


def spawn_summary(m):
    return ("spawn_n + exit %.0f ns per thread (batches of %d, run by one yield); "
            "spawn + join one at a time %.0f ns" % (m["ns_spawn_n_batch_median"], m["batch"],
                                                    m["ns_spawn_join_median"]))


def py_switch_summary(m):
    return "%.0f ns per switch (median of %d runs of %d switches, Python %s)" % (
        m["ns_per_switch_median"], len(m["ns_per_switch"]), m["switches"], m["python"])


def py_threads_summary(m):
    rss = [kb / 1024 for kb in m["rss_kb"]]
    return ("CPython %s%s: 1,000 spawns %.3f s; RSS over %d rounds of %d threads x %d objects "
            "%.1f -> %.1f MB (min %.1f, max %.1f)" % (
                m["python"], "t" if m["free_threaded"] else "", m["spawn_1000_s"], m["rounds"],
                m["threads"], m["objects"], rss[0], rss[-1], min(rss), max(rss)))


def idle_mem_summary(m):
    return ("%d connections: %.1f KiB per idle connection (RSS %.1f -> %.1f MB); stack pages "
            "resident, low to high: %s" % (m["count"], m["bytes_per_thread"] / 1024,
                                            m["rss_before_kb"] / 1024, m["rss_after_kb"] / 1024,
                                            m.get("stack_pages_low_to_high", "?")))


def live_threads_summary(m):
    how = {"spawn": "spawn failed with %s" % m["spawn_errno"],
           "accept": "accept stopped (%s; fd limit %d)" % (m["stop_errno"], m["nofile_soft"]),
           "limit": "stopped at the bound %d%s, no spawn failure" % (
               m["requested"], ": " + m["bound_reason"] if m.get("bound_reason") else "")}[m["stopped_by"]]
    rec = {"true": "; spawn works again after one thread ended", "false": "; NOT recovered"}.get(
        str(m.get("recovered")).lower(), "")
    return "%d live threads (%s)%s; maps %d; RSS %.0f MB" % (
        m["count"], how, rec, m["maps_after"], m["rss_after_kb"] / 1024)


def slow_files_summary(m):
    return ("fetch %.2f s; the other clients: max %.1f ms, p99 %.1f ms over %d requests "
            "(%s)" % (m["fetch_s"], m["others_max_ms"], m["others_p99_ms"], m["pings"],
                      "target max < %d ms" % m["target_ms"] if m["target_ms"]
                      else "no slow fetch: this machine's floor"))


def micro_path(name):
    return os.path.join(HERE, "micro", name)


def py_switch(impl, py, check, env):
    return dict(name="py_switch " + impl, kind="json", title="Python green switch", check=check,
                cmd=lambda: [py(), micro_path("py_switch.py"), impl], timeout=120, env=env,
                summary=py_switch_summary)


def py_threads(version):
    # MIMALLOC_PURGE_DELAY=0: see py_threads.py (only the free-threaded build uses mimalloc)
    return dict(name="py_threads " + version, kind="json", check=have_python(version),
                title="Python green threads under every supported CPython (1,000 spawns; RSS over rounds)",
                cmd=lambda: [find_python(version), micro_path("py_threads.py")], timeout=900,
                env={"PYTHONPATH": SHIM_DIR, "MIMALLOC_PURGE_DELAY": "0"}, summary=py_threads_summary)


def slow_files(scenario):
    # file_server's other clients while one fetches a slow FUSE file or a 2 GiB cached one
    # (bench/slow_files.py; FUSE needs fusepy, which `make test` puts in .venv, and root)
    py = TESTS_PY if os.path.exists(TESTS_PY) else sys.executable
    return dict(name="slow files " + scenario, kind="json", pin=False,
                title="file_server's other clients during a slow fetch (%s)" % scenario,
                cmd=lambda: [py, os.path.join(HERE, "slow_files.py"), "--only", scenario, "--json"],
                timeout=300, summary=slow_files_summary)


MICRO = [
    dict(name="switch", kind="json", title="switch (green thread -> hub -> green thread)",
         cmd=lambda: [os.path.join(BB, "switch"), "-n", "2000000"], timeout=120,
         summary=switch_summary),
    dict(name="generator_pair", kind="json",
         title="the generator crate's bare resume + yield (what the switch is compared with)",
         cmd=lambda: [os.path.join(BB, "generator_pair")], timeout=120,
         summary=lambda m: "%.2f ns per resume + yield pair (min of 5 runs of %d)" % (
             m["ns_per_pair_min_of_5"], m["pairs"])),
    dict(name="switch detector", kind="json",
         title="switch with the block detector on vs off (same run, interleaved)",
         cmd=lambda: [os.path.join(BB, "switch"), "-n", "2000000", "-r", "9", "-d"], timeout=180,
         summary=detector_summary),
    dict(name="spawn", kind="json", title="spawn + exit",
         cmd=lambda: [os.path.join(BB, "spawn"), "-n", "1000000"], timeout=120,
         summary=spawn_summary),
    py_switch("greenhub", python_for_shim, shim_ok, {"PYTHONPATH": SHIM_DIR}),
    py_switch("eventlet", lambda: VPY, venv_check("eventlet"), {}),
    py_switch("gevent", lambda: VPY, venv_check("gevent"), {}),
    *[py_threads(v) for v in supported_pythons()],
    dict(name="idle_conns 10000", kind="idle", mode="mem", conns=10000, hold=20,
         title="memory per idle connection, 10,000 connections", summary=idle_mem_summary),
    dict(name="max threads with connections", kind="idle", mode="probe", conns=40000, hold=30,
         title="live green threads holding an idle connection, until spawn fails",
         summary=live_threads_summary),
    dict(name="max threads parked", kind="json",
         title="live green threads without connections, until spawn fails (bound 40000)",
         cmd=lambda: [os.path.join(BB, "idle_conns"), "-m", "threads", "-n", "40000"], timeout=120,
         summary=live_threads_summary),
    *[slow_files(s) for s in ("idle", "open", "read", "big")],
]


# ---------------------------------------------------------------------------------------------
# The issue #5 targets. The report also checks those that need code: the slow files' latency,
# 1,000 spawns under 3.14 vs 3.13, flat Python RSS, live threads.

# The C targets are the library's: they are measured on the servers without log lines (the
# examples write each log line as it comes, which the baselines do not).
SHIM, C_ECHO, C_FILE = ("greenhub Python shim (seed)", "greenhub C, no log lines",
                        "greenhub C file, no log lines")
SHIM_PATCHED = "greenhub shim, patched socket"
# (what, point, server, compared with, minimum ratio)
RATIO_TARGETS = [
    ("C echo >= 0.95x epoll", "echo, 100 connections", C_ECHO, "epoll baseline (C)", 0.95),
    ("C echo >= 0.95x epoll", "echo, 1000 connections", C_ECHO, "epoll baseline (C)", 0.95),
    ("Python shim >= 3x Eventlet", "echo, 100 connections", SHIM, "Eventlet (seed)", 3.0),
    ("Python shim >= 3x Eventlet", "echo, 1000 connections", SHIM, "Eventlet (seed)", 3.0),
    ("Python shim >= 1x uvloop", "echo, 100 connections", SHIM, "uvloop streams", 1.0),
    ("Python shim >= 1x uvloop", "echo, 1000 connections", SHIM, "uvloop streams", 1.0),
    ("patched socket >= 0.9x shim", "echo, 100 connections", SHIM_PATCHED, SHIM, 0.9),
    ("patched socket >= 0.9x shim", "echo, 1000 connections", SHIM_PATCHED, SHIM, 0.9),
    ("file >= 0.95x sendfile", "file 4 KiB, 50 connections", C_FILE, "epoll+sendfile baseline (C)",
     0.95),
    ("file >= 0.95x sendfile", "file 1 MiB, 50 connections", C_FILE, "epoll+sendfile baseline (C)",
     0.95),
]

# ---------------------------------------------------------------------------------------------
# HTTP (bench/http_bench.py, loaded by wrk): every server answers every point of its kind, and
# one server per kind is the baseline the others are compared with. `cmd(port, files, workdir)`
# gives its command line (files: the directory the file points' files are in; workdir: a fresh
# directory for the run); `env` is added to its environment.

def have_exe(path):
    return lambda: (True, "") if os.access(path, os.X_OK) else (False, "%s missing" % path)


def have_tool(tool):
    import shutil
    return lambda: (True, "") if shutil.which(tool) else (False, "%s not installed" % tool)


def granian_cmd(port, files, workdir):
    return [os.path.join(os.path.dirname(VPY), "granian"), "--interface", "wsgi", "--http", "1",
            "--workers", "1", "--runtime-threads", "1", "--host", "127.0.0.1",
            "--port", str(port), "wsgi_hello:app"]


def nginx(port, files, workdir):
    from suite.nginx import nginx_cmd
    return nginx_cmd(port, files, workdir)


WSGI_HELLO = os.path.join(HERE, "servers", "wsgi_hello.py")
GH_WSGI = "greenhub.wsgi"
HTTP_SERVERS = [
    dict(name="nginx (1 worker, sendfile)", kind="file", baseline=True, check=have_tool("nginx"),
         cmd=nginx),
    dict(name="greenhub C http_server", kind="file", check=have_exe(os.path.join(BUILD, "http_server")),
         cmd=lambda port, files, workdir: [os.path.join(BUILD, "http_server"), "-p", str(port),
                                           "-r", files, "-t", "60"]),
    # Hello-world WSGI (bench/servers/wsgi_hello.py), access logs off in all three
    dict(name="Granian WSGI (1 worker, 1 thread)", kind="wsgi", baseline=True,
         check=venv_check("granian"), env={"PYTHONPATH": os.path.join(HERE, "servers")},
         cmd=granian_cmd),
    dict(name=GH_WSGI, kind="wsgi", check=shim_ok, env={"PYTHONPATH": SHIM_DIR},
         cmd=lambda port, files, workdir: [python_for_shim(), WSGI_HELLO, "greenhub", str(port)]),
    dict(name="eventlet.wsgi", kind="wsgi", check=venv_check("eventlet"),
         cmd=lambda port, files, workdir: [VPY, WSGI_HELLO, "eventlet", str(port)]),
]
HTTP_POINTS = [
    dict(name="http 4 KiB, 100 keep-alive connections", kind="file", path="f4k.bin", size=4096,
         conns=100),
    dict(name="http 4 KiB, 1000 keep-alive connections", kind="file", path="f4k.bin", size=4096,
         conns=1000),
    dict(name="http 64 KiB, 100 keep-alive connections", kind="file", path="f64k.bin",
         size=64 << 10, conns=100),
    dict(name="wsgi hello, 100 keep-alive connections", kind="wsgi", path="", conns=100),
]
# (what, point, server, compared with, minimum ratio of req/s): issue 14
HTTP_TARGETS = [
    ("http_server >= 0.9x nginx", HTTP_POINTS[0]["name"], "greenhub C http_server",
     "nginx (1 worker, sendfile)", 0.9),
    ("greenhub.wsgi >= 5x eventlet.wsgi", HTTP_POINTS[3]["name"], GH_WSGI, "eventlet.wsgi", 5.0),
    ("greenhub.wsgi >= 1x Granian", HTTP_POINTS[3]["name"], GH_WSGI,
     "Granian WSGI (1 worker, 1 thread)", 1.0),
]
# (what, point, server, compared with): the server's p99 no worse than the other's
HTTP_P99_TARGETS = [
    ("greenhub.wsgi p99 <= Granian's", HTTP_POINTS[3]["name"], GH_WSGI,
     "Granian WSGI (1 worker, 1 thread)"),
]

# (what, point, server, compared with, maximum ratio of p99): issue 16
P99_TARGETS = [
    ("shim p99 <= 1.5x uvloop's", "echo, 100 connections", SHIM, "uvloop streams", 1.5),
]
# (what, micro-benchmark, its field, compared with, its field, maximum ratio): issue 16
MICRO_RATIO_TARGETS = [
    ("switch <= 2x generator pair", "switch", "ns_per_switch_min", "generator_pair",
     "ns_per_pair_min_of_5", 2.0),
    ("Python switch <= 0.1x gevent's", "py_switch greenhub", "ns_per_switch_median",
     "py_switch gevent", "ns_per_switch_median", 0.1),
]

# (what, server, maximum MB) at echo, 1000 connections
RSS_TARGETS = [("C echo RSS <= 12 MB", C_ECHO, 12.0), ("Python RSS <= 30 MB", SHIM, 30.0)]
# (what, micro-benchmark, field of its result, maximum: ns, or percent for a *_pct field)
MICRO_TARGETS = [
    ("switch <= 25 ns", "switch", "ns_per_switch_median", 25),
    ("block detector on: switch cost <= +5%", "switch detector", "on_cost_pct", 5),
    ("spawn + exit <= 100 ns", "spawn", "ns_spawn_n_batch_median", 100),
    ("Python green switch <= 150 ns", "py_switch greenhub", "ns_per_switch_median", 150),
]


def select(rows, only):
    """The rows whose name contains one of the comma-separated substrings of `only` (all rows
    if it is empty); a selected server brings the baseline of its kind along."""
    wanted = [o.lower() for o in only.split(",") if o]
    if not wanted:
        return list(rows)
    picked = [r for r in rows if any(o in r["name"].lower() for o in wanted)]
    kinds = {r["kind"] for r in picked if r in SERVERS}
    return [r for r in rows if r in picked or (r.get("baseline") and r["kind"] in kinds)]
