"""GreenSocket.makefile(): file objects whose readline() is one native call (gh_readline,
gh_read_until_any) and whose write() + flush() is one more (gh_send), where the standard
library's stack (TextIOWrapper over a buffered pair over SocketIO over recv_into) costs several
Python layers per line. The seed's echo server is that loop.

The standard library's semantics are kept by handing everything but the hot calls to the
standard library's own stack (``_slow()``), built over the same socket the first time such a
call comes: its reads then go through GreenSocket.recv_into, which returns what the native
buffer holds first, so no byte is lost or reordered by the hand-over. Pending writes go to it
too. From then on the file is that stack. What hands over: a closed file (the error messages
are then the standard library's), a read after a timeout ("cannot read from timed out
object"), a non-blocking socket, a reset connection (read as end of file, as GreenSocket's reads
do), and every call the fast file does not make itself (read1, peek, seek, text read(n),
readline(size) in text mode, buffer, ...).

The native socket buffer plays BufferedReader's part: bytes received past a line wait there
for the next read (recv() included, which the standard library's read-ahead would skip).
Differences that remain: ``isinstance(f, io.TextIOWrapper)`` is false (``io.TextIOBase`` and
``io.BufferedIOBase`` hold); ``newlines`` counts the line ends of the lines returned, not of
read-ahead; an undecodable byte raises at the line it is in (the standard library raises when
it decodes the chunk it arrived in, maybe at an earlier line).
"""

import codecs
import errno
import io
import socket
from _thread import get_ident as _get_ident
from ctypes import addressof, c_char, c_int64, c_size_t, c_void_p

from ._hub import IO, block, hub, io_failed
from ._lib import lib, unconverted

#: The hub's scratch buffer for reads: the native call writes into it just before it returns,
#: with no switch in between, so one buffer serves every green thread of the hub's OS thread.
SCRATCH_SIZE = 65536
scratch = bytearray(SCRATCH_SIZE)
scratch_c = (c_char * SCRATCH_SIZE).from_buffer(scratch)
scratch_mv = memoryview(scratch)

# The reads and the send, called with ctypes objects made here once (see _lib.unconverted).
_readline = unconverted("gh_readline")
_read_until_any = unconverted("gh_read_until_any")
_recv = unconverted("gh_recv")
_send = unconverted("gh_send")
_peek = unconverted("gh_peek")
SCRATCH = c_void_p(addressof(scratch_c))  # its address, for the unconverted calls
_SCRATCH_LEN = c_size_t(SCRATCH_SIZE)
_LINE_ENDS = (b"\r\n", c_size_t(2))  # gh_read_until_any's set: either ends a text line
_ONE_LEN = c_size_t(1)
#: A GreenSocket's handle once it is closed (0 is never a socket's).
NO_HANDLE = c_int64(0)

_CR, _LF = 13, 10
_UNIVERSAL_ENDS = (_LF, _CR)
_LF_ONLY = (_LF,)
_one = bytearray(1)  # the byte after a '\r', looked at with gh_peek
_ONE = c_void_p(addressof((c_char * 1).from_buffer(_one)))

#: Codecs in which b"\n" and b"\r" are always characters of their own, never part of another
#: character: a line can be cut in bytes before it is decoded.
_BYTE_LINE_CODECS = frozenset(("utf-8", "ascii", "iso8859-1"))

#: The standard library's newlines values by the line ends seen (its decoder's bits).
_SEEN_LF, _SEEN_CR, _SEEN_CRLF = 1, 2, 4
_NEWLINES = (None, "\n", "\r", ("\r", "\n"), "\r\n", ("\n", "\r\n"), ("\r", "\r\n"),
             ("\r", "\n", "\r\n"))

_text_encoding = getattr(io, "text_encoding", lambda encoding: encoding)


def makefile(sock, mode="r", buffering=None, *, encoding=None, errors=None, newline=None):
    """``socket.makefile()`` for a GreenSocket (its arguments and what it returns)."""
    if not set(mode) <= {"r", "w", "b"}:
        raise ValueError("invalid mode %r (only r, w, b allowed)" % (mode,))
    writing = "w" in mode
    reading = "r" in mode or not writing
    binary = "b" in mode
    if buffering is None:
        buffering = -1
    if buffering < 0:
        buffering = io.DEFAULT_BUFFER_SIZE
    args = (mode, buffering, encoding, errors, newline)
    if buffering < io.DEFAULT_BUFFER_SIZE or sock._timeout == 0.0:
        # Unbuffered (0), small buffers (whose splitting of long lines differs between the
        # standard library's classes) and non-blocking sockets: the standard library's.
        return _std_makefile(sock, *args)[0]
    if binary:
        return GreenBinaryFile(sock, args, reading, writing)
    # What the standard library's TextIOWrapper makes of the arguments, errors included.
    probe = io.TextIOWrapper(io.BytesIO(), _text_encoding(encoding), errors, newline)
    if newline not in (None, "", "\n") or codecs.lookup(probe.encoding).name not in (
        _BYTE_LINE_CODECS
    ):
        return _std_makefile(sock, *args)[0]
    return GreenTextFile(sock, args, reading, writing, probe.encoding, probe.errors)


def _std_makefile(sock, mode, buffering, encoding, errors, newline):
    """The standard library's makefile(), over GreenSocket; also returns its SocketIO."""
    writing = "w" in mode
    reading = "r" in mode or not writing
    raw = socket.SocketIO(sock, ("r" if reading else "") + ("w" if writing else ""))
    sock._io_refs += 1
    if buffering == 0:
        if "b" not in mode:
            raise ValueError("unbuffered streams must be binary")
        return raw, raw
    if reading and writing:
        buffer = io.BufferedRWPair(raw, raw, buffering)
    elif reading:
        buffer = io.BufferedReader(raw, buffering)
    else:
        buffer = io.BufferedWriter(raw, buffering)
    if "b" in mode:
        return buffer, raw
    text = io.TextIOWrapper(buffer, _text_encoding(encoding), errors, newline)
    text.mode = mode
    return text, raw


def _delegate(name):
    def call(self, *args, **kwargs):
        return getattr(self._slow(), name)(*args, **kwargs)

    call.__name__ = name
    call.__doc__ = "As the standard library's file (this file becomes it from now on)."
    return call


class _GreenFile:
    """What the text and the binary file share: the write side, closing, the hand-over."""

    #: Calls the fast file never makes itself (those of every file; each class adds its own).
    _HANDED_OVER = ("detach", "fileno", "isatty", "seek", "seekable", "tell", "truncate")
    _HANDED_OVER_ATTRIBUTES = ("name",)

    def __init__(self, sock, args, reading, writing):
        self._sock = sock
        self._args = args
        self._std = None  # the standard library's stack, once handed over
        self._closed = False
        self._timed_out = False
        self._ready = True  # none of the three above: the native paths may run
        self._reading = reading
        self._writing = writing
        self._parts = []  # pending writes
        self._pending = 0
        self._sending = False
        self._limit = args[1]
        sock._io_refs += 1

    def _fast(self):
        """True if this call may take the native path; else it goes to _slow(). (The hot
        calls test the same inline.)"""
        return self._ready and self._sock._timeout != 0.0 and _get_ident() == hub.thread

    def _slow(self):
        """The standard library's stack over the same socket: every call from now on."""
        std = self._std
        if std is None:
            std, raw = _std_makefile(self._sock, *self._args)
            if self._closed:
                std.close()  # its calls now fail as a closed file's
            else:
                self._sock._io_refs -= 1  # this file's reference is now the stack's
                if self._timed_out:
                    raw._timeout_occurred = True
                if self._parts:
                    data = b"".join(self._parts)
                    self._parts, self._pending = [], 0
                    getattr(std, "buffer", std).write(data)
            self._std = std
            self._ready = False
        return std

    @property
    def closed(self):
        std = self._std
        return std.closed if std is not None else self._closed

    def readable(self):
        if not self._fast():
            return self._slow().readable()
        return self._reading

    def writable(self):
        if not self._fast():
            return self._slow().writable()
        return self._writing

    def flush(self):
        if not self._ready and (self._std is not None or self._closed):
            return self._slow().flush()
        if self._parts:
            self._send_pending()
        return None

    def _send_pending(self):
        """Sends the pending writes, usually in one gh_send. Writes made meanwhile (by other
        green threads, while it waits) queue behind them; what could not go (a timeout, a
        kill) stays first. A second flush meanwhile raises, as the io module's does."""
        if self._sending:
            raise RuntimeError("reentrant call inside %r" % (self,))
        parts = self._parts
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self._parts = []
        self._pending = 0
        n = len(data)
        sock = self._sock._hc
        sent = 0
        self._sending = True
        try:
            while sent < n:
                args = (sock, data[sent:] if sent else data, c_size_t(n - sent))
                h = hub  # block(_send, args, IO), its hot path written out (see io_failed)
                if h.attention or h.aside:
                    sent += block(_send, args, IO)
                    continue
                h.busy += 1
                try:
                    r = _send(*args)
                finally:
                    h.busy -= 1
                sent += io_failed(_send, args) if r == -1 else r
        finally:
            self._sending = False
            if sent < n:
                self._parts.insert(0, data[sent:])
                self._pending += n - sent

    def close(self):
        std = self._std
        if std is not None:
            return std.close()
        if self._closed:
            return None
        try:
            if self._parts:
                self._send_pending()
        finally:
            self._closed = True
            self._ready = False
            self._parts, self._pending = [], 0
            self._sock._decref_socketios()
        return None

    def _read_failed(self, exc):
        """A native read failed with *exc*: the standard library's handling of it, or raise."""
        if isinstance(exc, socket.timeout):
            self._timed_out = True  # as SocketIO: later reads refuse
            self._ready = False
            raise exc
        if self._sock._reads_as_eof(exc):
            return True  # end of file, by the standard library's path
        if exc.errno == errno.EBUSY:
            # Another green thread reads this socket: the io module's error for a file two
            # green threads use at once.
            raise RuntimeError("reentrant call inside %r" % (self,)) from None
        raise exc

    def _unread(self, parts):
        """Puts bytes taken by an interrupted read back in front of the socket's buffer."""
        data = b"".join(parts)
        if data:
            lib.gh_unread(self._sock._h, data, len(data))

    def _take_pieces(self, fn, args, first, ends, limit=None):
        """The rest of a line whose first piece came back without its end (longer than the
        scratch buffer, or the last one before end of stream): more calls of ``fn(h, *args,
        buf, max)`` until a piece ends with one of the bytes ``ends`` (for a text line with
        universal newlines '\\r' too: the caller looks at what follows it), end of stream or
        ``limit`` bytes. Returns bytes."""
        parts = [first]
        got = len(first)
        h = self._sock._hc
        try:
            while limit is None or got < limit:
                want = SCRATCH_SIZE if limit is None else min(SCRATCH_SIZE, limit - got)
                n = block(fn, (h, *args, SCRATCH, c_size_t(want)), IO)
                if not n:
                    break
                parts.append(scratch_mv[:n].tobytes())
                got += n
                if scratch[n - 1] in ends:
                    break
        except BaseException:
            self._unread(parts)
            raise
        return b"".join(parts)


def _delegated_property(name):
    return property(lambda self: getattr(self._slow(), name),
                    doc="The standard library's (this file becomes it from now on).")


def _hand_over(cls):
    """Gives *cls* the standard library's methods (``_HANDED_OVER``) and attributes
    (``_HANDED_OVER_ATTRIBUTES``) it declares."""
    for name in cls.__dict__.get("_HANDED_OVER", ()):
        setattr(cls, name, _delegate(name))
    for name in cls.__dict__.get("_HANDED_OVER_ATTRIBUTES", ()):
        setattr(cls, name, _delegated_property(name))


_hand_over(_GreenFile)


class GreenTextFile(_GreenFile, io.TextIOBase):
    """makefile() in text mode, for a blocking socket and a codec in which '\\n' and '\\r'
    are bytes of their own (UTF-8, ASCII, Latin-1); newline None, '' or '\\n'."""

    _HANDED_OVER = ("read", "reconfigure")
    _HANDED_OVER_ATTRIBUTES = ("buffer", "line_buffering", "write_through")

    def __init__(self, sock, args, reading, writing, encoding, errors):
        _GreenFile.__init__(self, sock, args, reading, writing)
        self.mode = args[0]
        self._encoding = encoding
        self._errors = errors
        newline = args[4]
        self._universal = newline is None or newline == ""
        self._translate = newline is None
        self._seen = 0 if self._universal else None
        # The one native call of a line: up to '\r' or '\n' (universal newlines) or '\n'.
        # (A handle is never reused, so a socket closed meanwhile makes it fail with EBADF.)
        if self._universal:
            self._line = _read_until_any, (sock._hc, *_LINE_ENDS, SCRATCH, _SCRATCH_LEN)
        else:
            self._line = _readline, (sock._hc, SCRATCH, _SCRATCH_LEN)

    encoding = property(lambda self: self._encoding)
    errors = property(lambda self: self._errors)

    @property
    def newlines(self):
        std = self._std
        if std is not None:
            return std.newlines
        return None if not self._seen else _NEWLINES[self._seen]

    def readline(self, size=-1):
        """A line, its end translated as the standard library's newline setting says."""
        if not (self._ready and self._reading and self._sock._timeout != 0.0
                and (size == -1 or size is None) and _get_ident() == hub.thread):
            return self._slow().readline(size)
        fn, args = self._line
        try:
            h = hub  # block(fn, args, IO), its hot path written out (see io_failed)
            if h.attention or h.aside:
                n = block(fn, args, IO)
            else:
                h.busy += 1
                try:
                    n = fn(*args)
                finally:
                    h.busy -= 1
                if n == -1:
                    n = io_failed(fn, args)
        except OSError as e:
            self._read_failed(e)
            return self._slow().readline(size)
        if n and scratch[n - 1] == _LF:  # the hot path: one whole line
            if self._universal:
                self._seen |= _SEEN_LF
            return str(scratch_mv[:n], self._encoding, self._errors)
        if not n:
            return ""
        line = scratch_mv[:n].tobytes()
        ends = _UNIVERSAL_ENDS if self._universal else _LF_ONLY
        try:
            if line[-1] not in ends:
                line = self._take_pieces(fn, args[1:-2], line, ends)
            if self._universal and line[-1:] == b"\r":
                return self._after_cr(args[0], line).decode(self._encoding, self._errors)
        except OSError as e:
            # (What the line had taken is back in the socket's buffer.)
            self._read_failed(e)
            return self._slow().readline(size)
        if self._universal and line[-1:] == b"\n":
            self._seen |= _SEEN_LF
        return line.decode(self._encoding, self._errors)

    def _after_cr(self, h, line):
        """A line that ends with '\\r': a '\\n' right after it belongs to it. Waits for the
        next byte (or end of stream), as the standard library's reader does."""
        try:
            n = block(_peek, (h, _ONE, _ONE_LEN), IO)
            crlf = n == 1 and _one[0] == _LF
            if crlf:
                block(_recv, (h, _ONE, _ONE_LEN), IO)  # the peeked '\n', from the buffer
        except BaseException:
            self._unread([line])
            raise
        self._seen |= _SEEN_CRLF if crlf else _SEEN_CR
        if self._translate:
            return line[:-1] + b"\n"
        return line + b"\n" if crlf else line

    def write(self, s):
        if not (self._ready and self._writing and self._sock._timeout != 0.0
                and _get_ident() == hub.thread):
            return self._slow().write(s)
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s"
                            % ("None" if s is None else type(s).__name__))
        data = s.encode(self._encoding, self._errors)
        # (Written out here and in the binary write: a shared method would be one more
        # Python call per line.)
        self._parts.append(data)
        self._pending += len(data)
        if self._pending > self._limit:
            self._send_pending()  # as a full buffer is written out
        return len(s)


_hand_over(GreenTextFile)


class GreenBinaryFile(_GreenFile, io.BufferedIOBase):
    """makefile() in binary mode with a buffer, for a blocking socket."""

    _HANDED_OVER = ("read1", "readinto", "readinto1")
    _HANDED_OVER_ATTRIBUTES = ("raw", "mode")

    @property
    def peek(self):
        """A reader's (BufferedReader, BufferedRWPair): BufferedWriter has none."""
        if not self._reading:
            raise AttributeError("peek")
        return _delegate("peek").__get__(self)

    def readline(self, size=-1):
        """A line up to and including b'\\n', at most *size* bytes if it is given."""
        if not self._fast() or not self._reading or (size is not None and type(size) is not int):
            return self._slow().readline(size)
        if size is None or size < 0:
            limit = None
        elif size == 0:
            return b""
        else:
            limit = size
        args = (self._sock._hc, SCRATCH,
                _SCRATCH_LEN if limit is None or limit >= SCRATCH_SIZE else c_size_t(limit))
        try:
            h = hub  # block(_readline, args, IO), its hot path written out (see io_failed)
            if h.attention or h.aside:
                n = block(_readline, args, IO)
            else:
                h.busy += 1
                try:
                    n = _readline(*args)
                finally:
                    h.busy -= 1
                if n == -1:
                    n = io_failed(_readline, args)
        except OSError as e:
            self._read_failed(e)
            return self._slow().readline(size)
        line = scratch_mv[:n].tobytes()
        if n and scratch[n - 1] != _LF and n != limit:
            try:
                line = self._take_pieces(_readline, (), line, _LF_ONLY, limit)
            except OSError as e:
                # (What the line had taken is back in the socket's buffer.)
                self._read_failed(e)
                return self._slow().readline(size)
        return line

    def read(self, size=-1):
        """*size* bytes, fewer only at end of stream; everything to end of stream if *size*
        is negative or None."""
        if not self._fast() or not self._reading or (size is not None and type(size) is not int):
            return self._slow().read(size)
        if size == 0:
            return b""
        want = None if size is None or size < 0 else size
        h = self._sock._hc
        parts = []
        got = 0
        try:
            while want is None or got < want:
                ask = SCRATCH_SIZE if want is None else min(SCRATCH_SIZE, want - got)
                n = block(_recv, (h, SCRATCH, c_size_t(ask)), IO)
                if not n:
                    break
                parts.append(scratch_mv[:n].tobytes())
                got += n
        except OSError as e:
            self._unread(parts)
            self._read_failed(e)
            return self._slow().read(size)
        except BaseException:
            self._unread(parts)
            raise
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def write(self, b):
        if not self._fast() or not self._writing:
            return self._slow().write(b)
        if type(b) is not bytes:
            if isinstance(b, str):
                raise TypeError("a bytes-like object is required, not 'str'")
            try:
                view = memoryview(b)
            except TypeError:
                raise TypeError(
                    "a bytes-like object is required, not '%s'" % type(b).__name__
                ) from None
            b = view.tobytes()
        self._parts.append(b)
        self._pending += len(b)
        if self._pending > self._limit:
            self._send_pending()  # as a full buffer is written out
        return len(b)


_hand_over(GreenBinaryFile)
