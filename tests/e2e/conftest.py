"""Shared fixtures for the end-to-end tests of the C example servers.

The binaries are looked up in ``<repo>/build`` (override with the environment
variable ``GREENHUB_BUILD_DIR``).  A missing binary is a test *failure*, not a
skip: build them with ``make examples``.

Every server runs in its own process for a single test.  Its stdout and stderr
go to temporary files (so a chatty server can never block on a full pipe), and
on teardown the fixture fails the test if the server died during it.
"""

from __future__ import annotations

import _thread
import faulthandler
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, List, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

STARTUP_TIMEOUT = 5.0  # seconds until the server must be accepting connections
SOCKET_TIMEOUT = 10.0  # default timeout of every client socket
TEST_WATCHDOG = 120.0  # last resort: a test still running after this is aborted


def build_dir() -> Path:
    override = os.environ.get("GREENHUB_BUILD_DIR")
    return Path(override) if override else REPO_ROOT / "build"


def binary_path(name: str) -> Path:
    path = build_dir() / name
    if not path.is_file() or not os.access(str(path), os.X_OK):
        pytest.fail(
            f"{path} is missing or not executable: run `make examples` first "
            f"(or point GREENHUB_BUILD_DIR at the directory holding {name})",
            pytrace=False,
        )
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port: int, timeout: float = SOCKET_TIMEOUT) -> socket.socket:
    """A client socket connected to 127.0.0.1:port with a timeout on every operation."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def recv_exact(sock: socket.socket, n: int, timeout: float = SOCKET_TIMEOUT) -> bytes:
    """Exactly n bytes, or an AssertionError saying how many came before EOF / the deadline."""
    deadline = time.monotonic() + timeout
    chunks = []
    got = 0
    while got < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out after {timeout}s: got {got} of {n} bytes")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(min(n - got, 1 << 16))
        except socket.timeout:
            raise AssertionError(f"timed out after {timeout}s: got {got} of {n} bytes") from None
        if not chunk:
            raise AssertionError(f"connection closed after {got} of {n} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_until_eof(
    sock: socket.socket, timeout: float = SOCKET_TIMEOUT, limit: int = 64 << 20
) -> bytes:
    """Everything until the peer closes. A reset counts as a close. Fails on timeout or > limit."""
    deadline = time.monotonic() + timeout
    chunks = []
    got = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no EOF within {timeout}s ({got} bytes received)")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:
            raise AssertionError(f"no EOF within {timeout}s ({got} bytes received)") from None
        except ConnectionResetError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        got += len(chunk)
        if got > limit:
            raise AssertionError(f"received more than {limit} bytes without EOF")


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# --------------------------------------------------------------------------- servers


def _listening_inodes(port: int) -> Optional[set]:
    """Inodes of TCP sockets in LISTEN state on `port` (IPv4 and IPv6), None if /proc is unusable."""
    found = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.readlines()[1:]
        except OSError:
            continue
        readable = True
        for row in rows:
            fields = row.split()
            if len(fields) < 10:
                continue
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                found.add(inode)
    return found if readable else None


def _socket_inodes(pid: int) -> Optional[set]:
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return None
    inodes = set()
    for name in names:
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def listen_addresses(port: int) -> List[str]:
    """Local addresses (hex, as in /proc/net/tcp) of IPv4 sockets listening on `port`."""
    out = []
    with open("/proc/net/tcp") as f:
        for row in f.readlines()[1:]:
            fields = row.split()
            addr, hexport = fields[1].split(":")
            if fields[3] == "0A" and int(hexport, 16) == port:
                out.append(addr)
    return out


class ServerProcess:
    """A running example server. Output goes to files so the server never blocks on it."""

    def __init__(self, name: str, argv: List[str], port: int, workdir: Path):
        self.name = name
        self.argv = argv
        self.port = port
        self._stdout_path = workdir / f"{name}.{port}.stdout"
        self._stderr_path = workdir / f"{name}.{port}.stderr"
        self._stdout_file = open(self._stdout_path, "wb")
        self._stderr_file = open(self._stderr_path, "wb")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout_file,
            stderr=self._stderr_file,
            cwd=str(workdir),
        )
        self.pid = self.proc.pid

    # ---- output
    def stdout_bytes(self) -> bytes:
        return self._stdout_path.read_bytes()

    def stdout_lines(self) -> List[str]:
        """Complete lines written so far (a trailing partial line is left out)."""
        data = self.stdout_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        return [line.decode("utf-8", "replace") for line in complete.split(b"\n")[:-1]]

    def stderr_text(self) -> str:
        return self._stderr_path.read_bytes().decode("utf-8", "replace")

    # ---- state
    def alive(self) -> bool:
        return self.proc.poll() is None

    def describe_exit(self) -> str:
        rc = self.proc.poll()
        if rc is None:
            return "still running"
        how = f"killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
        tail = self.stderr_text()[-2000:]
        return f"{self.name} (pid {self.pid}) {how}; stderr tail:\n{tail}"

    def assert_alive(self) -> None:
        assert self.alive(), f"server died: {self.describe_exit()}"

    def _status_kib(self, field: str) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError(f"{field} not found in /proc/{self.pid}/status")

    def rss_kib(self) -> int:
        """Current resident set size (VmRSS)."""
        return self._status_kib("VmRSS")

    def peak_rss_kib(self) -> int:
        """Highest resident set size since the process started (VmHWM)."""
        return self._status_kib("VmHWM")

    def _ready(self) -> bool:
        listening = _listening_inodes(self.port)
        owned = _socket_inodes(self.pid)
        if listening is not None and owned is not None:
            # Checking the kernel's table instead of connecting keeps a probe
            # connection out of the server's log. A process holding no socket
            # at all is a wrapper whose child listens: any listener will do.
            return bool(listening & owned) if owned else bool(listening)
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            if self._ready():
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._stdout_file.close()
        self._stderr_file.close()


_RUNNING: List[ServerProcess] = []
_WATCHDOG_FIRED = threading.Event()


@pytest.fixture
def start_server(tmp_path_factory):
    """Factory: start_server("echo_server", extra args...) -> ServerProcess, listening.

    Tests call it in their body (not from another fixture) so that a missing
    binary is reported as a FAILED test rather than a setup error.
    `-p PORT` is added by the factory. On teardown, a server that is no longer
    running fails the test (as a teardown error, also when the body failed: it
    tells why); it is then stopped with SIGTERM (SIGKILL after 5 s).
    """
    started: List[ServerProcess] = []
    workdir = tmp_path_factory.mktemp("server")

    def start(name: str, *args: str) -> ServerProcess:
        exe = binary_path(name)
        last = None
        for _attempt in range(3):  # a new port if another process grabbed ours
            port = free_port()
            server = ServerProcess(name, [str(exe), "-p", str(port), *args], port, workdir)
            _RUNNING.append(server)
            if server.wait_ready(STARTUP_TIMEOUT):
                started.append(server)
                return server
            last = server
            died = not server.alive()
            server.stop()
            _RUNNING.remove(server)
            if not died:
                break
        pytest.fail(
            f"{name} did not listen on its port within {STARTUP_TIMEOUT}s: "
            f"{last.describe_exit()}\nstdout:\n{last.stdout_bytes()[-2000:]!r}",
            pytrace=False,
        )

    yield start

    crashed = [s.describe_exit() for s in started if not s.alive()]
    for s in started:
        s.stop()
        if s in _RUNNING:
            _RUNNING.remove(s)
    if not _WATCHDOG_FIRED.is_set():
        assert not crashed, "server died during the test:\n" + "\n".join(crashed)


@pytest.fixture(autouse=True)
def _watchdog():
    """No test may hang the suite.

    After TEST_WATCHDOG seconds the test's servers are killed (which unblocks
    its sockets) and KeyboardInterrupt is raised in the main thread, so pytest
    stops with a traceback of the stuck test. If even that does not end it
    within 30 s, the process exits.
    """

    def last_resort():
        faulthandler.dump_traceback(all_threads=True)
        os._exit(1)

    def fire():
        _WATCHDOG_FIRED.set()
        for s in list(_RUNNING):
            try:
                s.proc.kill()
            except OSError:
                pass
        sys.stderr.write(f"\n*** e2e test exceeded {TEST_WATCHDOG}s, interrupting ***\n")
        backstop = threading.Timer(30.0, last_resort)
        backstop.daemon = True
        backstop.start()
        _thread.interrupt_main()

    timer = threading.Timer(TEST_WATCHDOG, fire)
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()
