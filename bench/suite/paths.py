"""Where everything is, and the process helpers every part of the suite uses."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/
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
PY_PACKAGES = ["eventlet", "gevent", "uvloop", "granian"]
SHIM_ECHO = os.path.join(ROOT, "bindings", "python", "examples", "echo_server.py")
# The same program on the standard socket module after monkey_patch() (issue #13).
SHIM_ECHO_PATCHED = os.path.join(ROOT, "bindings", "python", "examples", "echo_server_patched.py")
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


def run_checked(cmd, timeout, **kw):
    log("+ " + " ".join(cmd))
    subprocess.run(cmd, check=True, timeout=timeout, cwd=ROOT, **kw)


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None


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
