"""The standard ``ssl`` module on green sockets (Eventlet's ``eventlet.green.ssl``): the
standard library's TLS over a non-blocking socket, whose want-read / want-write waits are
green (``gh_poll`` on the fd, through ``block()``), so a handshake, a read or a write waits
only the calling green thread.

``SSLContext`` here makes ``SSLSocket``s of this module; ``wrap_socket`` takes a green socket
(or a standard one), ``create_default_context`` and friends make green contexts. A green
SSLSocket keeps its fd non-blocking and its timeout (``settimeout``) to itself: a wait longer
than it raises socket.timeout, as the standard library's does; a timeout of 0 raises
SSLWantReadError / SSLWantWriteError, as a non-blocking standard SSLSocket does.
"""

import _socket
import errno as _errno
import os as _os
import socket as _socket_mod
import ssl as _std
from time import monotonic as _monotonic

from .._fdwait import POLLIN as _POLLIN, POLLOUT as _POLLOUT, wait_fd as _wait_fd
from ..greenio import GreenSocket as _GreenSocket, _StdSocket
from ..patcher import copy_names as _copy_names, rebind as _rebind
from . import socket as _green_socket

# monkey_patch() changes no name of the standard module: its SSLContext and SSLSocket name
# themselves (super(SSLContext, SSLContext), super(SSLSocket, self)), so a replacement under
# either name recurses. It makes every standard context wrap into the green SSLSocket
# instead (after_monkey_patch): contexts made before and after the patch, by any code.
__patched__ = []


def after_monkey_patch(std):
    std.SSLContext.sslsocket_class = SSLSocket


_GREEN_NAMES = ("SSLSocket", "SSLContext", "create_default_context",
                "_create_unverified_context", "_create_default_https_context",
                "_create_stdlib_context", "wrap_socket")

_copy_names(_std, globals(), skip=_GREEN_NAMES)

_StdSSLSocket = _std.SSLSocket
_StdSSLContext = _std.SSLContext
_INPROGRESS = (_errno.EINPROGRESS, _errno.EALREADY, _errno.EWOULDBLOCK)


def _plain(sock):
    """A standard socket object for *sock*: a green socket hands its fd over."""
    if isinstance(sock, _GreenSocket):
        timeout = sock.gettimeout()
        plain = _StdSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        plain.settimeout(timeout)
        return plain
    return sock


class SSLSocket(_StdSSLSocket):
    """The standard SSLSocket, its waits green (see the module's doc)."""

    _green_timeout = None

    @classmethod
    def _create(cls, sock, *args, **kwargs):
        return super()._create(_plain(sock), *args, **kwargs)

    # -- timeouts: the fd stays non-blocking; the user's timeout is the green waits' --------

    def settimeout(self, timeout):
        if timeout is not None:
            timeout = float(timeout)
            if timeout < 0:
                raise ValueError("Timeout value out of range")
        self._green_timeout = timeout
        super().settimeout(0.0)

    def gettimeout(self):
        return self._green_timeout

    @property
    def timeout(self):
        return self._green_timeout

    def setblocking(self, flag):
        self.settimeout(None if flag else 0.0)

    def getblocking(self):
        return self._green_timeout != 0.0

    def _call(self, fn, args=(), writing=False, what="read"):
        """``fn(*args)`` until it neither wants to read nor write, waiting green for that."""
        timeout = self._green_timeout
        deadline = None if not timeout else _monotonic() + timeout
        while True:
            try:
                return fn(*args)
            except _std.SSLWantReadError:
                if timeout == 0.0:
                    raise
                events = _POLLIN
            except _std.SSLWantWriteError:
                if timeout == 0.0:
                    raise
                events = _POLLOUT
            except BlockingIOError:
                if timeout == 0.0:
                    raise
                events = _POLLOUT if writing else _POLLIN
            left = None if deadline is None else max(deadline - _monotonic(), 0.0)
            if (left is not None and left <= 0.0) or not _wait_fd(self.fileno(), events, left):
                raise _socket_mod.timeout("The %s operation timed out" % what)

    # -- TLS -------------------------------------------------------------------------------

    def do_handshake(self, block=False):
        self._check_connected()
        return self._call(self._sslobj.do_handshake, what="handshake")

    def read(self, len=1024, buffer=None):
        return self._call(super().read, (len, buffer))

    def write(self, data):
        return self._call(super().write, (data,), True, "write")

    def unwrap(self):
        return self._call(super().unwrap)

    # -- the socket calls, green whether TLS runs or not -------------------------------------

    def recv(self, buflen=1024, flags=0):
        return self._call(super().recv, (buflen, flags))

    def recv_into(self, buffer, nbytes=None, flags=0):
        return self._call(super().recv_into, (buffer, nbytes, flags))

    def recvfrom(self, buflen=1024, flags=0):
        return self._call(super().recvfrom, (buflen, flags))

    def recvfrom_into(self, buffer, nbytes=None, flags=0):
        return self._call(super().recvfrom_into, (buffer, nbytes, flags))

    def send(self, data, flags=0):
        return self._call(super().send, (data, flags), True, "write")

    def sendto(self, data, flags_or_addr, addr=None):
        args = (data, flags_or_addr) if addr is None else (data, flags_or_addr, addr)
        return self._call(super().sendto, args, True, "write")

    def sendall(self, data, flags=0):
        with memoryview(data) as view, view.cast("B") as left:
            while left:
                left = left[self.send(left, flags):]

    def _real_connect(self, addr, connect_ex):
        """The standard library's, with the TCP connect made green first."""
        if self.server_side:
            raise ValueError("can't connect in server-side mode")
        if self._connected or self._sslobj is not None:
            raise ValueError("attempt to connect already-connected SSLSocket!")
        err = self._tcp_connect(addr)
        if err:
            if connect_ex:
                return err
            raise OSError(err, _os.strerror(err))
        self._sslobj = self.context._wrap_socket(
            self, False, self.server_hostname, owner=self, session=self._session)
        try:
            self._connected = True
            if self.do_handshake_on_connect:
                self.do_handshake()
        except (OSError, ValueError):
            self._sslobj = None
            self._connected = False
            raise
        return 0 if connect_ex else None

    def _tcp_connect(self, addr):
        if self.family in (_socket.AF_INET, _socket.AF_INET6) and isinstance(addr, tuple):
            host, port = addr[0], addr[1]
            if not _green_socket._numeric(host):
                infos = _green_socket.getaddrinfo(host, port, self.family, _socket.SOCK_STREAM)
                addr = infos[0][4]
        err = _StdSocket.connect_ex(self, addr)
        if err not in _INPROGRESS:
            return err
        if self._green_timeout == 0.0:
            raise BlockingIOError(err, _os.strerror(err))
        if not _wait_fd(self.fileno(), _POLLOUT, self._green_timeout):
            raise _socket_mod.timeout("timed out")
        return self.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)

    def accept(self):
        """Waits (green) for a connection; returns ``(SSLSocket, address)``, its handshake
        made if the socket does it on connect."""
        fd, addr = self._call(self._accept)
        sock = _StdSocket(self.family, self.type, self.proto, fileno=fd)
        sock.settimeout(self._green_timeout)
        conn = self.context.wrap_socket(
            sock, do_handshake_on_connect=self.do_handshake_on_connect,
            suppress_ragged_eofs=self.suppress_ragged_eofs, server_side=True)
        return conn, addr


class SSLContext(_StdSSLContext):
    """The standard SSLContext whose sockets are green (without monkey_patch)."""

    sslsocket_class = SSLSocket


create_default_context = _rebind(_std.create_default_context, globals())
_create_unverified_context = _rebind(_std._create_unverified_context, globals())
_create_stdlib_context = _create_unverified_context
_create_default_https_context = create_default_context
# The module-level wrap_socket (gone in 3.12) makes a green context, then wraps.
wrap_socket = _rebind(_std.wrap_socket, globals()) if hasattr(_std, "wrap_socket") else None
