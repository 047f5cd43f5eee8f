"""Helpers of the end-to-end tests of the C example servers (the fixtures are in conftest.py).

The binaries are looked up in ``<repo>/build`` (override with the environment
variable ``GREENHUB_BUILD_DIR``).  A missing binary is a test *failure*, not a
skip: build them with ``make examples``.

Every server runs in its own process for a single test.  Its stdout and stderr
go to temporary files (so a chatty server can never block on a full pipe).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, List, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

STARTUP_TIMEOUT = 5.0  # seconds until the server must be accepting connections
SOCKET_TIMEOUT = 10.0  # default timeout of every client socket


def build_dir() -> Path:
    """Where the example binaries are: $GREENHUB_BUILD_DIR, else <repo>/build."""
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
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel chose it)."""
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
    """Polls predicate until it holds (True) or timeout seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# --------------------------------------------------------------------------- servers


def listening_inodes(port: int) -> Optional[set]:
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


def socket_inodes(pid: int) -> Optional[set]:
    """Inodes of the sockets process `pid` holds, None if /proc is unusable."""
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
        listening = listening_inodes(self.port)
        owned = socket_inodes(self.pid)
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


# Every server started and not yet stopped: the watchdog kills them to unblock a stuck test.
RUNNING: List[ServerProcess] = []
# Set once the watchdog fired: the servers it killed are not "crashes" of the test.
WATCHDOG_FIRED = threading.Event()


def launch(name: str, args: List[str], workdir: Path) -> ServerProcess:
    """Starts ``build/NAME -p PORT ARGS`` on a free port and waits until it listens.

    Fails the test (not an error) if the binary is missing or the server never listens; a new
    port is tried if the server died because another process took its port."""
    exe = binary_path(name)
    last = None
    for _attempt in range(3):  # a new port if another process grabbed ours
        port = free_port()
        server = ServerProcess(name, [str(exe), "-p", str(port), *args], port, workdir)
        RUNNING.append(server)
        if server.wait_ready(STARTUP_TIMEOUT):
            return server
        last = server
        died = not server.alive()
        server.stop()
        RUNNING.remove(server)
        if not died:
            break
    pytest.fail(
        f"{name} did not listen on its port within {STARTUP_TIMEOUT}s: "
        f"{last.describe_exit()}\nstdout:\n{last.stdout_bytes()[-2000:]!r}",
        pytrace=False,
    )


def stop_all(servers: List[ServerProcess]) -> List[str]:
    """Stops the servers (SIGTERM, SIGKILL after 5 s); says how each one that had died ended."""
    crashed = [s.describe_exit() for s in servers if not s.alive()]
    for s in servers:
        s.stop()
        if s in RUNNING:
            RUNNING.remove(s)
    return crashed


def kill_running() -> None:
    """Kills every running server at once (the watchdog: it unblocks the test's sockets)."""
    for s in list(RUNNING):
        try:
            s.proc.kill()
        except OSError:
            pass
