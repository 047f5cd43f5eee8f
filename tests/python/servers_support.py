"""Real servers for the tests of database drivers after monkey_patch(): ``redis_server`` and
``mariadb_server`` start Debian's ``redis-server`` and ``mariadbd`` on a free 127.0.0.1 port
with their files in a temporary directory, wait (bounded) until they accept connections,
yield the port, and stop them. Nothing is left running; a server that cannot start fails the
test, saying why (``.ci/run`` installs both packages)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time

import ghsupport as support

START_TIMEOUT = 20.0


def _find(*names):
    for name in names:
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
        if path:
            return path
    raise AssertionError(f"{names[0]} is not installed (Debian: apt-get install the package "
                         "that .ci/run installs)")


def _accepting(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _running(argv, port, log_path):
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _accepting(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{argv[0]} did not start (exit status {proc.poll()}):\n"
                                     + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def redis_server(tmp_path):
    port = support.free_port()
    argv = [_find("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(tmp_path), "--daemonize", "no"]
    with _running(argv, port, tmp_path / "redis.log") as p:
        yield p


@contextlib.contextmanager
def mariadb_server(tmp_path):
    """mariadbd on an empty data directory with --skip-grant-tables: any user, no password."""
    port = support.free_port()
    data = tmp_path / "mariadb-data"
    data.mkdir()
    argv = [_find("mariadbd", "mysqld"), "--no-defaults", f"--datadir={data}",
            f"--socket={tmp_path / 'mariadb.sock'}", f"--port={port}",
            "--bind-address=127.0.0.1", "--skip-grant-tables", "--skip-name-resolve",
            "--user=root",
            "--innodb-buffer-pool-size=16M", "--skip-log-bin",
            f"--pid-file={tmp_path / 'mariadb.pid'}"]
    with _running(argv, port, tmp_path / "mariadb.log") as p:
        yield p
