"""Mounting slowfs and measuring how a file server treats other clients while one client
fetches a slow (or huge) file. Used by tests/e2e/test_slow_files.py and bench/slow_files.py.

Clients run in processes of their own (this file's command line), so one client's Python
work never delays another's measurement:

    python slowfiles.py fetch PORT PATH        one request; prints {"bytes", "sha256", "seconds"}
    python slowfiles.py zeros PORT PATH        one request for a file of zeros, read as fast as
                                               it comes into a 256 MiB receive buffer; prints
                                               {"bytes", "zeros" (all were), "seconds"}
    python slowfiles.py ping PORT PATH SECONDS requests PATH again and again (a new connection
                                               each), 2 ms apart; prints {"count", "max_ms",
                                               "p50_ms", "p99_ms", "errors"}
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SLOWFS = HERE / "slowfs.py"
MOUNT_TIMEOUT = 10.0


class MountError(RuntimeError):
    pass


class SlowFsMount:
    """slowfs mounted at `mountpoint` until `close()`. Raises MountError saying why it could not."""

    def __init__(self, mountpoint: Path, python: str = sys.executable, log_dir: Path = None):
        self.mountpoint = Path(mountpoint)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        log_dir = Path(log_dir or self.mountpoint.parent)
        self._log_path = log_dir / "slowfs.log"
        self._log = open(self._log_path, "wb")
        self.proc = subprocess.Popen([python, str(SLOWFS), str(self.mountpoint)],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not os.path.ismount(self.mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise MountError(
                    f"slowfs did not mount at {self.mountpoint} within {MOUNT_TIMEOUT}s "
                    f"(exit {self.proc.returncode}); needs fusepy (tests/requirements.txt), "
                    f"libfuse.so.2 (Debian: libfuse2; .ci/run installs it), /dev/fuse and root. "
                    f"Its output:\n{self._log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)

    def close(self) -> None:
        if os.path.ismount(self.mountpoint):
            # lazy: a server still holding a file must not make the unmount fail
            subprocess.run(["umount", "-l", str(self.mountpoint)], capture_output=True)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def request(port: int, path: bytes, timeout: float = 30.0) -> bytes:
    """Sends PATH and a NUL; everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(path + b"\0")
        chunks = []
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def fetch(port: int, path: bytes) -> dict:
    """One request, hashed as it arrives (a 2 GiB file is never held in memory)."""
    t0 = time.monotonic()
    h = hashlib.sha256()
    n = 0
    buf = bytearray(4 << 20)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.sendall(path + b"\0")
        view = memoryview(buf)
        while True:
            got = sock.recv_into(buf)
            if not got:
                break
            h.update(view[:got])
            n += got
    return dict(bytes=n, sha256=h.hexdigest(), seconds=time.monotonic() - t0)


SO_RCVBUFFORCE = 33  # root may exceed net.core.rmem_max


def zeros(port: int, path: bytes) -> dict:
    """One request, as fast as the kernel delivers: a huge receive buffer and no per-byte
    work but a memcmp, so the server's socket never fills and says EAGAIN."""
    t0 = time.monotonic()
    n = 0
    all_zero = True
    buf = bytearray(8 << 20)
    zero = bytes(len(buf))
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 256 << 20)
        sock.sendall(path + b"\0")
        while True:
            got = sock.recv_into(buf)
            if not got:
                break
            # slices compare with memcmp (a memoryview compares byte by byte)
            all_zero = all_zero and (buf == zero if got == len(buf) else buf[:got] == zero[:got])
            n += got
    return dict(bytes=n, zeros=all_zero, seconds=time.monotonic() - t0)


def ping(port: int, path: bytes, seconds: float) -> dict:
    lat = []
    errors = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            request(port, path, timeout=10)
            lat.append(time.monotonic() - t0)
        except OSError as e:
            errors.append(repr(e))
        time.sleep(0.002)
    lat.sort()
    ms = lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 2) if lat else None
    return dict(count=len(lat), max_ms=ms(1.0), p50_ms=ms(0.5), p99_ms=ms(0.99),
                errors=errors[:5])


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def result(proc: subprocess.Popen, timeout: float) -> dict:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"client {proc.args[2:]} failed: {err.decode(errors='replace')[-2000:]}")
    return json.loads(out)


def heavy_with_pingers(port: int, heavy_path: bytes, ping_path: bytes, pingers: int = 2,
                       settle: float = 0.3, timeout: float = 60.0, mode: str = "fetch") -> tuple:
    """One client fetches heavy_path (`mode` "fetch" or "zeros") while `pingers` clients ping
    ping_path from `settle` seconds before it starts until it ends. Returns (fetch result,
    [ping results])."""
    # The pingers run for a fixed time; long enough to cover the fetch is found by a first
    # fetch-free guess: they are restarted in rounds until the fetch is done.
    heavy = None
    rounds = []
    start = time.monotonic()
    while True:
        procs = [spawn("ping", str(port), ping_path.decode(), "1.0") for _ in range(pingers)]
        if heavy is None:
            time.sleep(settle)
            heavy = spawn(mode, str(port), heavy_path.decode())
        rounds.append([result(p, timeout) for p in procs])
        if heavy.poll() is not None or time.monotonic() - start > timeout:
            break
    fetched = result(heavy, timeout)
    merged = []
    for i in range(pingers):
        runs = [r[i] for r in rounds]
        merged.append(dict(count=sum(r["count"] for r in runs),
                           max_ms=max((r["max_ms"] or 0) for r in runs),
                           p99_ms=max((r["p99_ms"] or 0) for r in runs),
                           errors=sum((r["errors"] for r in runs), [])))
    return fetched, merged


if __name__ == "__main__":
    mode, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    if mode == "fetch":
        print(json.dumps(fetch(port, path)))
    elif mode == "zeros":
        print(json.dumps(zeros(port, path)))
    elif mode == "ping":
        print(json.dumps(ping(port, path, float(sys.argv[4]))))
    else:
        sys.exit(f"unknown mode {mode}")
