"""Green sockets: GreenSocket has the standard library's socket interface (what servers and
clients use) over a greenhub socket; a call that would block suspends only the calling green
thread.

Every socket the shim makes belongs to the root (``gh_sock_give(s, 0)``): only ``close()`` or
Python's garbage collection closes it, whichever green thread made it, as in Eventlet.
"""

import _socket
import ctypes
import errno
import io
import math
import os
import socket
from _thread import get_ident as _get_ident  # the OS thread's, whatever monkey_patch does
from ctypes import byref, c_char, c_int, c_int64, c_size_t, c_void_p

from ._errors import error_from_errno
from ._hub import IO, block, hub
from ._lib import GhAddr, lib, get_errno
from ._sockcalls import SocketCalls, View as _View
from ._fdwait import GreenPipe, shutdown_safe, trampoline
from . import _greenfile
# The hub's scratch buffer and the hot calls with pre-converted arguments (_lib.unconverted).
from ._greenfile import NO_HANDLE, SCRATCH as _SCRATCH, SCRATCH_SIZE as _SCRATCH_SIZE
from ._greenfile import scratch_mv as _scratch_mv, _recv, _send

__all__ = ["GreenSocket", "GreenPipe", "shutdown_safe", "trampoline", "socket_from_fd"]

#: The standard library's socket class, as it was before any monkey_patch() (greenhub is
#: imported first): GreenSocket borrows its sendfile() helpers and makefile()'s bookkeeping.
_StdSocket = socket.socket
_AddressFamily = socket.AddressFamily
_SocketKind = socket.SocketKind

_INET = (socket.AF_INET, socket.AF_INET6)
_INPROGRESS = (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK)

_gai_strerror = ctypes.CDLL(None).gai_strerror  # the C library's, as the socket module uses
_gai_strerror.restype = ctypes.c_char_p
_gai_strerror.argtypes = [c_int]

#: What a read of a connection the peer reset or shut down fails with; Eventlet's readers return
#: end of file instead (its SOCKET_CLOSED on Linux), unless the socket is non-blocking.
_CLOSED_ERRNOS = frozenset((errno.ECONNRESET, errno.ESHUTDOWN, errno.EPIPE))

#: The getaddrinfo error a name-resolution errno of gh_connect/gh_listen stands for.
GAI_ERROR_OF_ERRNO = {errno.ENXIO: socket.EAI_NONAME, errno.EAGAIN: socket.EAI_AGAIN}


def gaierror(code):
    """``socket.gaierror`` for getaddrinfo error *code*, as the standard library raises it."""
    return socket.gaierror(code, _gai_strerror(code).decode("utf-8", "replace"))


def _raise_errno(err=None):
    raise error_from_errno(get_errno() if err is None else err)


def _check(r):
    if r == -1:
        _raise_errno()
    return r


def _ms(timeout):
    if timeout is None:
        return -1
    if timeout == 0:
        return 0
    return min(max(1, math.ceil(timeout * 1000.0)), 2**62)


def _address(a, family):
    host = a.host.decode("ascii")
    if family == socket.AF_INET6 or a.family == socket.AF_INET6:
        return (host, a.port, 0, 0)
    return (host, a.port)


def _readable_pointer(data):
    """(keepalive, address, length) of a bytes-like object, without copying it if possible."""
    if isinstance(data, bytes):
        return data, ctypes.cast(ctypes.c_char_p(data), c_void_p).value or 0, len(data)
    try:
        mv = memoryview(data)
    except TypeError:  # the socket module's message, without memoryview's prefix
        raise TypeError(
            "a bytes-like object is required, not '%s'" % type(data).__name__
        ) from None
    if mv.ndim != 1 or mv.itemsize != 1:
        mv = mv.cast("B")
    n = mv.nbytes
    if n == 0:
        return None, None, 0
    if mv.readonly:
        b = mv.tobytes()
        return b, ctypes.cast(ctypes.c_char_p(b), c_void_p).value, n
    c = (c_char * n).from_buffer(mv)
    return c, ctypes.addressof(c), n


def _enum(value, enum_class):
    """The standard library's enum member for *value* (socket.family, socket.type), or the
    int itself if it has none."""
    try:
        return enum_class(value)
    except ValueError:
        return value


class GreenSocket(SocketCalls):
    """A socket of any family and type (TCP, UDP, Unix, ...) whose blocking calls suspend only
    the calling green thread: the standard library's socket interface, timeouts included.

    ``GreenSocket(family=-1, type=-1, proto=-1, fileno=None)`` makes a new socket like
    ``socket.socket`` (the defaults: AF_INET, SOCK_STREAM, or what *fileno* is);
    ``GreenSocket(sock)`` takes over a standard-library socket object (it is detached), or a
    duplicate of another GreenSocket's fd. ``monkey_patch()`` makes it ``socket.socket``.
    """

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None, _handle=None):
        self._h = 0
        self._hc = NO_HANDLE  # _h as a ctypes object, for the unconverted hot calls
        self._closed = False
        self._io_refs = 0
        self._timeout = None
        if _handle is not None:
            self.family, self.type, self.proto = family, type, proto
            self._attach(_handle)
            return
        if isinstance(family, _socket.socket):
            sock = family
        elif isinstance(family, GreenSocket):
            sock = _socket.socket(family.family, family.type, family.proto,
                                  os.dup(family.fileno()))
        else:
            sock = _socket.socket(family, type, proto, fileno)
        self.family = _enum(sock.family, _AddressFamily)
        self.type = _enum(sock.type, _SocketKind)
        self.proto = sock.proto
        timeout = sock.gettimeout()
        hub.use()  # the socket will belong to the hub of this thread: start it on first use
        fd = sock.detach()
        h = lib.gh_adopt(fd)
        if h == -1:
            err = get_errno()
            os.close(fd)
            _raise_errno(err)
        self._attach(h)
        if timeout is not None:
            self.settimeout(timeout)

    def _attach(self, h):
        self._h = h
        self._hc = c_int64(h)
        lib.gh_sock_give(h, 0)  # the root never closes it on its own: close() or gc does
        default = socket.getdefaulttimeout()
        if default is not None:
            self.settimeout(default)

    # -- lifetime ---------------------------------------------------------------------------

    def _real_close(self):
        h = self._h
        if h:
            self._h = 0
            self._hc = NO_HANDLE
            if _get_ident() == hub.thread:
                lib.gh_close(h)  # select()/poll() waits on its fd end too (EBADF)
            else:
                hub.defer_close(h)

    def close(self):
        """Closes the socket (once no file made by makefile() is open any more)."""
        self._closed = True
        if self._io_refs <= 0:
            self._real_close()

    # the standard library's makefile() bookkeeping: SocketIO calls this when it closes
    _decref_socketios = _StdSocket._decref_socketios

    def __del__(self):
        try:
            self._real_close()
        except Exception:
            pass

    def detach(self):
        """Closes the green socket and returns a duplicate of its file descriptor."""
        fd = self.fileno()
        if fd < 0:
            return -1
        dup = os.dup(fd)
        self._closed = True
        self._real_close()
        return dup

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def __repr__(self):
        closed = " [closed]" if not self._h else ""
        s = "<%s.%s%s fd=%i, family=%s, type=%s, proto=%i" % (
            type(self).__module__,
            type(self).__qualname__,
            closed,
            self.fileno(),
            self.family,
            self.type,
            self.proto,
        )
        if self._h:
            try:
                s += ", laddr=%s" % (self.getsockname(),)
            except OSError:
                pass
            try:
                s += ", raddr=%s" % (self.getpeername(),)
            except OSError:
                pass
        return s + ">"

    def fileno(self):
        """The file descriptor (greenhub keeps owning it), -1 once closed."""
        if not self._h:
            return -1
        fd = lib.gh_fileno(self._h)
        return fd

    @property
    def closed(self):
        return not self._h

    def dup(self):
        """A new GreenSocket on a duplicate of the file descriptor."""
        fd = self.fileno()
        if fd < 0:
            _raise_errno(errno.EBADF)
        return GreenSocket(self.family, self.type, self.proto, os.dup(fd))

    # -- timeouts ---------------------------------------------------------------------------

    def settimeout(self, timeout):
        """None: calls wait as long as needed; 0: never wait (BlockingIOError); seconds: a
        call waiting longer raises socket.timeout (TimeoutError)."""
        if timeout is not None:
            try:
                timeout = float(timeout)
            except (TypeError, ValueError):
                raise TypeError("Timeout value must be int, float or None")
            if timeout < 0.0:
                raise ValueError("Timeout value out of range")
            if math.isnan(timeout):
                raise ValueError("Invalid value NaN (not a number)")
        _check(lib.gh_settimeout(self._h, _ms(timeout)))
        self._timeout = timeout

    def gettimeout(self):
        return self._timeout

    @property
    def timeout(self):
        return self._timeout

    def setblocking(self, flag):
        self.settimeout(None if flag else 0.0)

    def getblocking(self):
        return self._timeout != 0.0

    # -- connections ------------------------------------------------------------------------

    def bind(self, address):
        with _View(self) as s:
            s.bind(address)

    def listen(self, backlog=None):
        with _View(self) as s:
            if backlog is None:
                s.listen()
            else:
                s.listen(backlog)

    def accept(self):
        """Waits for a connection; returns ``(GreenSocket, address)``."""
        peer = GhAddr()
        h = block(lib.gh_accept, (self._h, byref(peer)), IO)
        conn = GreenSocket(self.family, self.type, self.proto, _handle=h)
        if peer.family == socket.AF_INET:
            addr = (peer.host.decode("ascii"), peer.port)
        else:
            try:
                addr = conn.getpeername()
            except OSError:
                addr = _address(peer, self.family)
        return conn, addr

    def _resolve(self, address):
        """Resolves a host name of an INET address on the thread pool (never blocks the hub)."""
        if self.family not in _INET or not isinstance(address, tuple) or not address:
            return address
        host = address[0]
        if isinstance(host, bytes):
            host = host.decode("idna")
        if host in ("", "<broadcast>"):
            return address
        try:
            socket.inet_pton(self.family, host.split("%")[0])
            return address
        except (OSError, ValueError):
            pass
        from . import tpool

        infos = tpool.execute(
            _socket.getaddrinfo, host, address[1], self.family, socket.SOCK_STREAM
        )
        if not infos:
            raise gaierror(socket.EAI_NONAME)
        resolved = infos[0][4]
        return resolved[:2] + tuple(address[2:]) if self.family == socket.AF_INET6 else resolved

    def connect_ex(self, address):
        """Like connect(), returning an errno value (0 on success) instead of raising
        OSError."""
        try:
            self.connect(address)
        except socket.timeout:
            return errno.ETIMEDOUT if self._timeout else errno.EAGAIN
        except OSError as e:
            if e.errno is None:
                raise
            return e.errno
        return 0

    def connect(self, address):
        """Connects to *address*; waits (green) until connected. socket.timeout after the
        socket's timeout."""
        address = self._resolve(address)
        with _View(self) as s:
            s.setblocking(False)
            err = s.connect_ex(address)
        if err == 0:
            return
        if err not in _INPROGRESS:
            _raise_errno(err)
        if self._timeout == 0.0:
            raise BlockingIOError(err, os.strerror(err))
        block(lib.gh_wait_writable, (self._h,), IO)
        err = self.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            _raise_errno(err)

    def shutdown(self, how):
        _check(lib.gh_shutdown(self._h, how))

    def getsockname(self):
        if self.family in _INET:
            a = GhAddr()
            if lib.gh_local_addr(self._h, byref(a)) == 0 and self.family == socket.AF_INET:
                return _address(a, self.family)
        with _View(self) as s:
            return s.getsockname()

    def getpeername(self):
        if self.family == socket.AF_INET:
            a = GhAddr()
            _check(lib.gh_peer_addr(self._h, byref(a)))
            return _address(a, self.family)
        with _View(self) as s:
            return s.getpeername()

    def setsockopt(self, level, optname, value, optlen=None):
        if value is None:
            with _View(self) as s:
                return s.setsockopt(level, optname, None, optlen)
        if isinstance(value, int):
            v = c_int(value)
            _check(lib.gh_setsockopt(self._h, level, optname, byref(v), ctypes.sizeof(v)))
            return None
        b = bytes(value)
        _check(lib.gh_setsockopt(self._h, level, optname, b, len(b)))
        return None

    def getsockopt(self, level, optname, buflen=0):
        if buflen == 0:
            v = c_int()
            size = c_size_t(ctypes.sizeof(v))
            _check(lib.gh_getsockopt(self._h, level, optname, byref(v), byref(size)))
            return v.value
        if buflen < 0 or buflen > 1024:
            raise OSError("getsockopt buflen out of range")
        buf = ctypes.create_string_buffer(buflen)
        size = c_size_t(buflen)
        _check(lib.gh_getsockopt(self._h, level, optname, buf, byref(size)))
        return buf.raw[: size.value]

    # -- data -------------------------------------------------------------------------------

    def _reads_as_eof(self, err):
        """True if a read that failed with *err* returns end of file instead (Eventlet)."""
        return err.errno in _CLOSED_ERRNOS and self._timeout != 0.0

    def recv(self, bufsize, flags=0):
        """Receives up to *bufsize* bytes; b"" at end of stream, and (as in Eventlet) when the
        peer reset the connection, unless the socket is non-blocking."""
        if flags:
            return self._recv_flags(bufsize, flags)
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        if bufsize <= _SCRATCH_SIZE and _get_ident() == hub.thread:
            # The hub writes into the buffer just before the call returns, with no switch in
            # between, so one buffer serves every green thread of this hub.
            try:
                n = block(_recv, (self._hc, _SCRATCH, c_size_t(bufsize)), IO)
            except OSError as e:
                if self._reads_as_eof(e):
                    return b""
                raise
            return _scratch_mv[:n].tobytes()
        buf = bytearray(bufsize)
        c = (c_char * bufsize).from_buffer(buf) if bufsize else None
        try:
            n = block(lib.gh_recv, (self._h, c, bufsize), IO)
        except OSError as e:
            if not self._reads_as_eof(e):
                raise
            n = 0
        finally:
            del c
        del buf[n:]
        return bytes(buf)

    def recv_into(self, buffer, nbytes=0, flags=0):
        """Receives up to *nbytes* (default: the buffer's size) into *buffer*; returns the
        count: 0 at end of stream, or when the peer reset the connection (as recv())."""
        if (
            not flags
            and type(buffer) is memoryview  # what the io stack (makefile) passes
            and 0 <= nbytes <= len(buffer)  # anything else is refused below, before a read
            and 0 < (nbytes or len(buffer)) <= _SCRATCH_SIZE
            and buffer.format == "B"  # bytes, one dimension: the slice copy below fits
            and buffer.ndim == 1
            and buffer.contiguous
            and not buffer.readonly
            and _get_ident() == hub.thread
        ):
            # Receive into the hub's scratch buffer and copy: cheaper than wrapping the
            # caller's buffer in a ctypes array on every call (see recv for why one buffer
            # serves every green thread).
            try:
                n = block(_recv, (self._hc, _SCRATCH, c_size_t(nbytes or len(buffer))), IO)
            except OSError as e:
                if self._reads_as_eof(e):
                    return 0
                raise
            buffer[:n] = _scratch_mv[:n]
            return n
        mv = memoryview(buffer)
        if mv.readonly:
            raise TypeError(
                "recv_into() argument 1 must be read-write bytes-like object, not %s"
                % type(buffer).__name__
            )
        if mv.ndim != 1 or mv.itemsize != 1:
            mv = mv.cast("B")
        size = mv.nbytes
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        if nbytes == 0:
            nbytes = size
        if size < nbytes:
            raise ValueError("buffer too small for requested bytes")
        if flags:
            data = self._recv_flags(nbytes, flags)
            mv[: len(data)] = data
            return len(data)
        if nbytes == 0:
            return 0
        c = (c_char * size).from_buffer(mv)
        try:
            return block(lib.gh_recv, (self._h, c, nbytes), IO)
        except OSError as e:
            if self._reads_as_eof(e):
                return 0
            raise
        finally:
            del c
            mv.release()

    def send(self, data, flags=0):
        """Sends part of *data* (at least one byte); returns the count sent."""
        if flags:
            return self._send_flags(data, flags)
        if isinstance(data, bytes):
            return block(_send, (self._hc, data, c_size_t(len(data))), IO)
        keep, addr, n = _readable_pointer(data)
        if n == 0:
            return block(lib.gh_send, (self._h, None, 0), IO)
        try:
            return block(lib.gh_send, (self._h, addr, n), IO)
        finally:
            del keep

    def sendall(self, data, flags=0):
        """Sends all of *data*, waiting (green) as long as needed; returns None."""
        if flags:
            view = memoryview(data).cast("B")
            while view:
                view = view[self._send_flags(view, flags):]
            return None
        keep, addr, n = _readable_pointer(data)
        h = self._h
        if n == 0:
            block(lib.gh_send, (h, None, 0), IO)
            return None
        sent = 0
        hc = self._hc
        try:
            while sent < n:
                sent += block(_send, (hc, c_void_p(addr + sent), c_size_t(n - sent)), IO)
        finally:
            del keep
        return None

    def sendfile(self, file, offset=0, count=None):
        """Sends the file (a regular file opened in binary mode) from *offset*, *count* bytes
        or until its end, without copying it through Python (gh_sendfile). Returns the bytes
        sent; the file's position is moved past them."""
        try:
            fileno = file.fileno()
        except (AttributeError, io.UnsupportedOperation):
            return self._sendfile_use_send(file, offset, count)
        self._check_sendfile_params(file, offset, count)
        if self.gettimeout() == 0:
            raise ValueError("non-blocking sockets are not supported")
        try:
            fsize = os.fstat(fileno).st_size
        except OSError:
            return self._sendfile_use_send(file, offset, count)
        if not fsize:
            return 0
        total = count if count else fsize - offset
        if total <= 0:
            return 0
        try:
            sent = block(lib.gh_sendfile, (self._h, fileno, offset, total), IO)
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.ESPIPE):
                return self._sendfile_use_send(file, offset, count)
            raise
        if sent > 0 and hasattr(file, "seek"):
            file.seek(offset + sent)
        return sent

    _check_sendfile_params = _StdSocket._check_sendfile_params
    _sendfile_use_send = _StdSocket._sendfile_use_send

    # The standard library's makefile() arguments and semantics; readline() and write() +
    # flush() one native call each (_greenfile).
    makefile = _greenfile.makefile


def socket_from_fd(fd, family=-1, type=-1, proto=-1):
    """A GreenSocket taking over file descriptor *fd* (a socket of any kind)."""
    return GreenSocket(family, type, proto, fd)
