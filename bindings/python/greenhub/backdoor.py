"""An interactive Python console over a socket (Eventlet's ``eventlet.backdoor``), to look
into a running program::

    greenhub.spawn(backdoor.backdoor_server, greenhub.listen(("127.0.0.1", 3000)),
                   {"app": app})

then ``nc 127.0.0.1 3000``. Each client gets its own console in its own green thread, with
``locals`` as its namespace; what it evaluates prints to the client. Listen on the loopback
address only: anyone who connects runs code in the process.

Output. ``sys.stdout``, ``sys.stderr`` and ``sys.stdin`` are the process's, shared by every
green thread; while a console is open they are replaced by objects that send a console's
green thread to its client and every other green thread to the original streams.
"""

import code
import errno
import socket
import sys

from _thread import _local

from . import greenthread

__all__ = ["backdoor_server", "backdoor", "SocketConsole"]


class _Current(_local):
    file = None  # the console's client (a _Client), in a console's green thread


_current = _Current()
_installed = {}  # stream name -> the original stream, while consoles are open
_open = [0]  # consoles open


class _Stream:
    """sys.stdout / stderr / stdin while consoles are open: the calling green thread's client
    if it is a console, else the original stream."""

    def __init__(self, original):
        self._original = original

    def _target(self):
        f = _current.file
        return self._original if f is None else f

    def write(self, data):
        f = _current.file
        if f is None:
            return self._original.write(data)
        try:
            n = f.write(data)
            f.flush()
            return n
        except OSError as e:
            if e.errno != errno.EPIPE:
                raise
            return len(data)

    def flush(self):
        f = _current.file
        if f is None:
            return self._original.flush()

    def readline(self, *args):
        return self._target().readline(*args).replace("\r\n", "\n")

    def isatty(self):
        return True if _current.file is not None else self._original.isatty()

    def close(self):
        # exit() in a console closes sys.stdin: that is the console's connection.
        if _current.file is None:
            return self._original.close()

    def __getattr__(self, name):
        return getattr(self._target(), name)


def _streams_in():
    if not _open[0]:
        for name in ("stdin", "stdout", "stderr"):
            _installed[name] = getattr(sys, name)
            setattr(sys, name, _Stream(_installed[name]))
    _open[0] += 1


def _streams_out():
    _open[0] -= 1
    if not _open[0]:
        for name, original in _installed.items():
            if isinstance(getattr(sys, name), _Stream):
                setattr(sys, name, original)
        _installed.clear()


class _Client:
    """A client's connection as one text file. Reads and writes go through two files of the
    socket: one text file in "rw" mode would drop the lines it has read ahead at each write."""

    def __init__(self, conn):
        self.reader = conn.makefile("r")
        self.writer = conn.makefile("w")

    def readline(self, *args):
        return self.reader.readline(*args)

    def write(self, data):
        return self.writer.write(data)

    def flush(self):
        self.writer.flush()

    def close(self):
        try:
            self.writer.close()
        finally:
            self.reader.close()

    def __getattr__(self, name):
        return getattr(self.writer, name)


class SocketConsole(code.InteractiveConsole):
    """The console of one client: reads lines from the client's file ``desc``, writes the
    prompts, results and tracebacks to it."""

    def __init__(self, desc, hostport, locals):
        code.InteractiveConsole.__init__(self, locals)
        self.desc = desc
        self.hostport = hostport

    def raw_input(self, prompt=""):
        self.write(prompt)
        line = self.desc.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    def write(self, data):
        try:
            self.desc.write(data)
            self.desc.flush()
        except OSError as e:
            if e.errno != errno.EPIPE:
                raise

    def run(self):
        _current.file = self.desc
        _streams_in()
        try:
            self.interact(exitmsg="")
        except (SystemExit, EOFError, OSError):
            pass  # exit(), the client went away
        finally:
            _current.file = None
            _streams_out()
            self.finalize()

    def finalize(self):
        try:
            self.desc.close()
        except OSError:
            pass
        self.desc = None
        if len(self.hostport) >= 2:
            print("backdoor closed to %s:%s" % tuple(self.hostport[:2]))
        else:
            print("backdoor closed")


def _describe(family, addr):
    if family in (socket.AF_INET, socket.AF_INET6):
        return "%s:%s" % tuple(addr[:2])
    return str(addr)


def backdoor_server(sock, locals=None):
    """Serves consoles on the listening socket ``sock`` (from ``greenhub.listen``) until it
    fails or is closed, one green thread each; ``locals`` is their namespace (one dict, shared).
    Blocks: run it with ``spawn``. Closes ``sock`` when it ends."""
    print("backdoor server listening on %s" % _describe(sock.family, sock.getsockname()))
    try:
        while True:
            try:
                backdoor(sock.accept(), locals)
            except OSError as e:
                if e.errno != errno.EPIPE:
                    raise
    finally:
        sock.close()


def backdoor(conn_info, locals=None):
    """Starts a console for one connected client (``(sock, addr)``, as ``accept()`` returns)
    in a new green thread, and returns at once."""
    conn, addr = conn_info
    print("backdoor to %s" % _describe(conn.family, addr))
    desc = _Client(conn)
    conn.close()  # the files keep the connection open until the console closes them
    console = SocketConsole(desc, addr if isinstance(addr, tuple) else (addr,), locals)
    greenthread.spawn_n(console.run)


if not hasattr(sys, "ps1"):
    sys.ps1 = ">>> "
if not hasattr(sys, "ps2"):
    sys.ps2 = "... "
