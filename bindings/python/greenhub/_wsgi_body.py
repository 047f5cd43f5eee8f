"""The request body of greenhub.wsgi: ``wsgi.input`` (Input) reading through gh_http_read_body,
and ``wsgi.file_wrapper`` (FileWrapper), which the server sends with gh_http_sendfile.

The body's framing (Content-Length or chunked), the ``100 Continue`` answer on the first read
and the skipping of what the application left unread are the native connection's: Input only
buffers for readline().
"""

import errno
from ctypes import c_char

from ._hub import IO, block
from ._lib import lib

__all__ = ["Input", "FileWrapper", "ChunkReadError"]

_READ = 65536  # how much one gh_http_read_body asks for when the caller names no size


class ChunkReadError(ValueError):
    """The client's chunked body is malformed (Eventlet's exception); the connection ends
    after the response."""


class Input:
    """``wsgi.input``: the current request's body as a stream (read, readline, readlines,
    iteration). It ends at the body's end, whatever the framing; a chunked body is decoded."""

    __slots__ = ("_conn", "_ms", "_buf", "_eof", "content_length", "chunked_input", "position",
                 "_sock")

    def __init__(self, conn, content_length, chunked, sock, timeout_ms):
        self._conn = conn
        self._ms = timeout_ms
        self._buf = b""  # read from the connection, not yet given to the application
        self._eof = False
        self.content_length = content_length
        self.chunked_input = chunked
        self.position = 0  # bytes given to the application (Eventlet's attribute)
        self._sock = sock

    def get_socket(self):
        """The connection's socket (Eventlet's API; WebSocketWSGI does not need it)."""
        return self._sock

    def _recv(self, size):
        """Up to ``size`` (> 0) bytes of the body from the connection; b"" at its end."""
        if self._eof:
            return b""
        buf = bytearray(size)
        c = (c_char * size).from_buffer(buf)
        try:
            n = block(lib.gh_http_read_body, (self._conn, c, size, self._ms), IO)
        except OSError as e:
            if e.errno == errno.EPROTO:
                raise ChunkReadError("malformed chunked body") from None
            raise
        finally:
            del c
        if n == 0:
            self._eof = True
            return b""
        del buf[n:]
        return bytes(buf)

    def _take(self, data):
        self.position += len(data)
        return data

    def read(self, size=-1):
        """Up to ``size`` bytes (all that is left when size is None or negative); b"" at the
        end: fewer than size only at the end of the body, as a file's read."""
        if size is None or size < 0:
            parts = [self._buf]
            self._buf = b""
            while True:
                data = self._recv(_READ)
                if not data:
                    return self._take(b"".join(parts))
                parts.append(data)
        if size == 0:
            return b""
        if len(self._buf) >= size:
            data, self._buf = self._buf[:size], self._buf[size:]
            return self._take(data)
        # As a file's read(size): short only at the end (frameworks count on it).
        parts = [self._buf]
        got = len(self._buf)
        self._buf = b""
        while got < size:
            data = self._recv(size - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return self._take(b"".join(parts))

    def readline(self, size=-1):
        """One line, its b"\\n" included (at most ``size`` bytes when size >= 0); b"" at the
        end."""
        if size is None:
            size = -1
        if size == 0:
            return b""
        while True:
            at = self._buf.find(b"\n")
            if at >= 0:
                end = at + 1
                if 0 <= size < end:
                    end = size
                break
            if 0 <= size <= len(self._buf):
                end = size
                break
            data = self._recv(_READ)
            if not data:
                end = len(self._buf)
                break
            self._buf += data
        line, self._buf = self._buf[:end], self._buf[end:]
        return self._take(line)

    def readlines(self, hint=None):
        """The remaining lines; with ``hint`` > 0, stops once that many bytes were read."""
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint and hint > 0 and total >= hint:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class FileWrapper:
    """``wsgi.file_wrapper`` (PEP 3333): iterates over a file in ``blksize`` blocks; the server
    sends a regular file's bytes with sendfile instead (no copy through Python)."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration
