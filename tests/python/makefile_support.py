"""The harness of the makefile() conformance tests (test_makefile_conformance*.py): one scenario
runs twice, over a standard-library socket pair and over a GreenSocket pair, and records what it
observes; the test asserts the two records are equal.

Why differential: GreenSocket.makefile() must behave as ``socket.socket.makefile()`` does (the
standard library is the specification), whatever it is made of. Writing the expected values by
hand would test our reading of the io module, not the file object.

A scenario is ``scenario(reader, peer, ctx)``: *reader* is the socket whose makefile() is tested,
*peer* the other end of the TCP connection (127.0.0.1), *ctx* a ``Ctx`` with the parameters
(``ctx.open()`` calls ``reader.makefile`` with them), ``ctx.rec`` to record, and the helpers whose
meaning differs between the two worlds (``later``, ``sleep``, ``send_bg``): a standard socket
blocks the OS thread, so there a background sender is an OS thread; a green one blocks only its
green thread, so there it is a green thread.

Bounded: a scenario still running after ``HANG_LIMIT`` seconds fails (green: an
``eventlet.Timeout``; standard: a timer shuts both sockets down, which wakes a blocked recv).
"""

import io
import itertools
import os
import socket
import sys
import threading
import time

#: No socket gets a timeout of the harness's: a blocking socket without one is the main path
#: of a file object, and must be tested as such. This bounds a scenario instead.
HANG_LIMIT = 3.0


class Hung(BaseException):
    """Not an Exception: the recorder must not take it for an observation."""


def describe_exception(e):
    """What is observable of an exception: its exact type (by module and name: the standard
    library raises socket.timeout, io.UnsupportedOperation, ... themselves, not look-alikes),
    errno, message."""
    t = type(e)
    name = f"{t.__module__}.{t.__qualname__}"
    if isinstance(e, AttributeError):
        return ("raise", name)  # its message names the class, which is not the contract
    if isinstance(e, OSError):
        return ("raise", name, e.errno, str(e))
    return ("raise", name, str(e))


class Recorder:
    def __init__(self):
        self.items = []

    def __call__(self, label, fn, *args, **kwargs):
        """Calls fn(*args, **kwargs) and records its result or its exception under *label*;
        returns the result (None if it raised)."""
        try:
            value = fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - every exception is an observation
            self.items.append((label,) + describe_exception(e))
            return None
        self.items.append((label, "=", normalize(value)))
        return value

    def value(self, label, value):
        self.items.append((label, "=", normalize(value)))


def normalize(value):
    """Values compared as values: a memoryview or bytearray as bytes, a list as a list of them."""
    if isinstance(value, io.IOBase):
        return ("file object", category(value))
    if isinstance(value, (bytearray, memoryview)):
        return ("bytes-like", bytes(value))
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, tuple):
        return tuple(normalize(v) for v in value)
    return value


def category(f):
    """The io ABCs an object is an instance of (what code may test), not its class."""
    return tuple(
        name
        for name in ("IOBase", "RawIOBase", "BufferedIOBase", "TextIOBase")
        if isinstance(f, getattr(io, name))
    )


def available(peer, quiet=0.02):
    """What the peer can receive now: bytes until nothing more comes for *quiet* seconds, and
    "EOF" if the end of file came, else "open". The wait is the peer socket's own timeout, so
    it is a green wait in the green world (a writer may have to run meanwhile)."""
    return _receive(peer, quiet, 1.0)


def recv_to_eof(peer, limit=2.0):
    """Everything the peer receives until the end of file ("EOF"), or "no EOF" after *limit*
    seconds."""
    data, state = _receive(peer, limit, limit)
    return data, "EOF" if state == "EOF" else "no EOF"


def _receive(peer, quiet, limit):
    chunks = []
    old = peer.gettimeout()
    deadline = time.monotonic() + limit
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            peer.settimeout(min(quiet, left))
            try:
                data = peer.recv(65536)
            except socket.timeout:
                break
            if not data:
                return b"".join(chunks), "EOF"
            chunks.append(data)
    finally:
        peer.settimeout(old)
    return b"".join(chunks), "open"


class Ctx:
    def __init__(self, world, params):
        self.world = world
        self.params = dict(params)
        self.rec = Recorder()
        self.reader = None

    @property
    def mode(self):
        return self.params.get("mode", "r")

    @property
    def binary(self):
        return "b" in self.mode

    @property
    def encoding(self):
        return self.params.get("encoding") or "utf-8"

    def open(self, **override):
        kw = dict(self.params)
        kw.update(override)
        mode = kw.pop("mode", "r")
        return self.reader.makefile(mode, **kw)

    def data(self, text):
        """*text* as the peer sends it: encoded with the file's encoding (latin-1 bytes as
        they are for a binary file)."""
        if isinstance(text, bytes):
            return text
        return text.encode("latin-1" if self.binary else self.encoding)

    def later(self, delay, fn, *args):
        self.world.later(delay, fn, *args)

    def send_bg(self, sock, data):
        self.world.later(0, sock.sendall, data)

    def sleep(self, seconds):
        self.world.sleep(seconds)


class StdWorld:
    name = "std"

    def __init__(self):
        self.threads = []
        self.actions = []  # (due, fn, args) in time order, under cond
        self.cond = threading.Condition()
        self.closed = False

    def pair(self):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
        server.close()
        return conn, client

    def later(self, delay, fn, *args):
        """``fn(*args)`` *delay* s from now, after every action scheduled before it, as the
        green world's hub runs its timers. One thread runs them all, in order: a timer
        thread each could run them out of order on a loaded machine (the thread for 10 ms
        started late enough to send after the one for 30 ms)."""
        with self.cond:
            due = time.monotonic() + delay
            if self.actions and due < self.actions[-1][0]:
                raise ValueError("scenario bug: later() actions must be scheduled in time order")
            self.actions.append((due, fn, args))
            self.cond.notify()
        if not self.threads:
            t = threading.Thread(target=self._run_actions, daemon=True)
            self.threads.append(t)
            t.start()

    def _run_actions(self):
        for i in itertools.count():
            with self.cond:
                self.cond.wait_for(lambda: len(self.actions) > i or self.closed)
                if len(self.actions) <= i:
                    return
                due, fn, args = self.actions[i]
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                fn(*args)
            except Exception:  # reported as a timer thread's would be; the rest still run
                threading.excepthook(threading.ExceptHookArgs((*sys.exc_info(), None)))

    def sleep(self, seconds):
        time.sleep(seconds)

    def run(self, scenario, reader, peer, ctx):
        hung = []

        def expire():
            hung.append(True)
            for s in (reader, peer):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        guard = threading.Timer(HANG_LIMIT, expire)
        guard.daemon = True
        guard.start()
        try:
            scenario(reader, peer, ctx)
        finally:
            guard.cancel()
            with self.cond:
                self.closed = True
                self.cond.notify()
            for t in self.threads:
                t.join(HANG_LIMIT)
        if hung:
            raise Hung(f"{self.name}: the scenario still ran after {HANG_LIMIT}s")


class GreenWorld:
    name = "green"

    def __init__(self, eventlet):
        self.eventlet = eventlet
        self.threads = []

    def pair(self):
        ev = self.eventlet
        server = ev.listen(("127.0.0.1", 0))
        client = ev.connect(server.getsockname())
        conn, _ = server.accept()
        server.close()
        return conn, client

    def later(self, delay, fn, *args):
        self.threads.append(self.eventlet.spawn_after(delay, fn, *args))

    def sleep(self, seconds):
        self.eventlet.sleep(seconds)

    def run(self, scenario, reader, peer, ctx):
        ev = self.eventlet
        t = ev.Timeout(HANG_LIMIT, Hung(f"{self.name}: the scenario still ran after {HANG_LIMIT}s"))
        try:
            scenario(reader, peer, ctx)
            for g in self.threads:
                g.wait()
        finally:
            t.cancel()


#: "full" (the default): every configuration; "core": only those with the default buffering
#: (greenhub's own file), which `make test` runs under the interpreters
#: other than the default one, where the whole matrix would add a minute each.
MATRIX = os.environ.get("GREENHUB_MAKEFILE_MATRIX", "full")


def matrix(configs):
    """The configurations of *configs* this run covers (see MATRIX)."""
    if MATRIX == "core":
        return [c for c in configs if c.get("buffering") is None]
    return list(configs)


def run_in(world, scenario, params):
    reader, peer = world.pair()
    ctx = Ctx(world, params)
    ctx.reader = reader
    try:
        world.run(scenario, reader, peer, ctx)
    finally:
        for s in (reader, peer):
            try:
                s.close()
            except OSError:
                pass
        ctx.reader = None
    return ctx.rec.items


def compare(eventlet, scenario, **params):
    """Runs *scenario* in both worlds; asserts the records are equal; returns the record."""
    std = run_in(StdWorld(), scenario, params)
    green = run_in(GreenWorld(eventlet), scenario, params)
    if green != std:
        diffs = [(i, s, g) for i, (s, g) in enumerate(zip(std, green)) if s != g]
        if len(std) != len(green):
            diffs.append(("length", len(std), len(green)))
        lines = "\n".join("  %s:\n    std:   %r\n    green: %r" % d for d in diffs[:4])
        raise AssertionError("GreenSocket.makefile() differs from socket.makefile():\n" + lines)
    assert std, "the scenario recorded nothing"
    return std


def both(eventlet, scenario, **params):
    """The two records, for a scenario where greenhub differs by design (the test says how)."""
    return run_in(StdWorld(), scenario, params), run_in(GreenWorld(eventlet), scenario, params)

