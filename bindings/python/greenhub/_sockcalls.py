"""The socket calls GreenSocket makes through the standard library's own socket object on its
file descriptor (sendto, recvfrom, recvmsg, sendmsg, calls with flags...): one non-blocking
try, and on EAGAIN a green wait on the socket (``gh_wait_readable``/``gh_wait_writable``
through ``block()``, honouring the socket's timeout), then the next try. Every family and type
gets the standard library's argument and address handling this way."""

import _socket
import errno
import os

from ._hub import IO, block
from ._lib import lib

__all__ = ["SocketCalls", "View"]

_EAGAIN = os.strerror(errno.EAGAIN)


class View:
    """A standard-library socket object on a GreenSocket's fd, for one call; it never closes
    the fd. Never blocking: the fd is non-blocking, and the view's own timeout is made 0 if a
    default timeout gave it one (it would otherwise poll, and block the hub)."""

    __slots__ = ("sock",)

    def __init__(self, gs):
        fd = gs.fileno()
        if fd < 0:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        self.sock = _socket.socket(gs.family, gs.type, gs.proto, fileno=fd)
        if self.sock.gettimeout():
            self.sock.settimeout(0.0)

    def __enter__(self):
        return self.sock

    def __exit__(self, *exc):
        self.sock.detach()


class SocketCalls:
    """Mixed into GreenSocket: the calls made with the standard library's socket object."""

    __slots__ = ()

    def _nonblocking(self, call, args, writing=False):
        """``call(view, *args)`` until it does not say EAGAIN, waiting (green) in between."""
        wait = lib.gh_wait_writable if writing else lib.gh_wait_readable
        while True:
            with View(self) as s:
                try:
                    return call(s, *args)
                except BlockingIOError:
                    pass
            if self._timeout == 0.0:
                raise BlockingIOError(errno.EAGAIN, _EAGAIN)
            block(wait, (self._h,), IO)

    def _recv_flags(self, bufsize, flags):
        """recv with flags (MSG_PEEK, ...)."""
        try:
            return self._nonblocking(_socket.socket.recv, (bufsize, flags))
        except OSError as e:
            if self._reads_as_eof(e):
                return b""
            raise

    def recvfrom(self, bufsize, flags=0):
        """Receives up to *bufsize* bytes (one datagram on a datagram socket); returns
        ``(data, address)``; ``(b"", None)`` where recv() reads a reset as end of file."""
        try:
            return self._nonblocking(_socket.socket.recvfrom, (bufsize, flags))
        except OSError as e:
            if self._reads_as_eof(e):
                return b"", None
            raise

    def recvfrom_into(self, buffer, nbytes=0, flags=0):
        try:
            return self._nonblocking(_socket.socket.recvfrom_into, (buffer, nbytes, flags))
        except OSError as e:
            if self._reads_as_eof(e):
                return 0, None
            raise

    def sendto(self, data, flags_or_addr, addr=None):
        """``sendto(data, address)`` or ``sendto(data, flags, address)``."""
        args = (data, flags_or_addr) if addr is None else (data, flags_or_addr, addr)
        return self._nonblocking(_socket.socket.sendto, args, writing=True)

    def _send_flags(self, data, flags):
        return self._nonblocking(_socket.socket.send, (data, flags), writing=True)

    if hasattr(_socket.socket, "recvmsg"):

        def recvmsg(self, *args):
            return self._nonblocking(_socket.socket.recvmsg, args)

        def recvmsg_into(self, *args):
            return self._nonblocking(_socket.socket.recvmsg_into, args)

        def sendmsg(self, *args):
            return self._nonblocking(_socket.socket.sendmsg, args, writing=True)

    def set_inheritable(self, inheritable):
        os.set_inheritable(self.fileno(), inheritable)

    def get_inheritable(self):
        return os.get_inheritable(self.fileno())
