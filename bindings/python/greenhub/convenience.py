"""listen, connect and serve (Eventlet's ``eventlet.convenience``)."""

import _socket
import errno
import socket
import sys
import warnings
from ctypes import byref

from . import greenpool
from . import greenthread
from ._errors import GreenletExit
from ._hub import IO, block
from ._lib import GhAddr, lib
from .greenio import GAI_ERROR_OF_ERRNO, GreenSocket, gaierror

__all__ = ["listen", "connect", "serve", "StopServe", "ReuseRandomPortWarning",
           "ReusePortUnavailableWarning"]


class ReuseRandomPortWarning(Warning):
    pass


class ReusePortUnavailableWarning(Warning):
    pass


def listen(addr, family=socket.AF_INET, backlog=50, reuse_addr=True, reuse_port=None):
    """Opens a listening TCP socket on *addr* (``(host, port)``; ``''`` is every address) and
    returns it as a GreenSocket, for serve() or an accept() loop.

    SO_REUSEADDR is set unless *reuse_addr* is false; SO_REUSEPORT when *reuse_port* is true,
    or when it is None and the port is not 0 (as Eventlet does).
    """
    sock = _socket.socket(family, socket.SOCK_STREAM)  # never a green one (monkey_patch)
    try:
        if reuse_addr and sys.platform[:3] != "win":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family in (socket.AF_INET, socket.AF_INET6) and addr[1] == 0:
            if reuse_port:
                warnings.warn(
                    "listen on random port (0) with SO_REUSEPORT is dangerous. "
                    "Double check your intent.",
                    ReuseRandomPortWarning,
                    stacklevel=2,
                )
        elif reuse_port is None:
            reuse_port = True
        if reuse_port and hasattr(socket, "SO_REUSEPORT"):
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            except OSError as ex:
                if ex.errno in (errno.EINVAL, errno.ENOPROTOOPT):
                    warnings.warn(
                        "socket.SO_REUSEPORT is defined but not supported.",
                        ReusePortUnavailableWarning,
                        stacklevel=2,
                    )
                else:
                    raise
        sock.bind(addr)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return GreenSocket(sock)


def _numeric(host, family):
    try:
        socket.inet_pton(family, host.split("%")[0])
        return True
    except (OSError, ValueError):
        return False


def connect(addr, family=socket.AF_INET, bind=None):
    """Opens a TCP connection to *addr* (``(host, port)``) and returns it as a GreenSocket;
    only the calling green thread waits (name resolution runs on the thread pool). *bind*: a
    local address to bind to first."""
    if bind is None and family in (socket.AF_INET, socket.AF_INET6) and isinstance(addr, tuple):
        host, port = addr[0], addr[1]
        if isinstance(host, bytes):
            host = host.decode("idna")
        if host == "":
            host = "127.0.0.1" if family == socket.AF_INET else "::1"
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise OverflowError("connect(): port must be 0-65535.")
        try:
            h = block(lib.gh_connect, (host.encode("idna"), port), IO)
        except OSError as e:
            # gh_connect's errno for a name that does not resolve (ENXIO) or cannot be resolved
            # now (EAGAIN) is the standard library's gaierror here.
            code = GAI_ERROR_OF_ERRNO.get(e.errno)
            if code is not None and not _numeric(host, family):
                raise gaierror(code) from None
            raise
        local = GhAddr()
        if lib.gh_local_addr(h, byref(local)) == 0 and local.family != family:
            family = socket.AddressFamily(local.family)  # the name resolved to the other one
        return GreenSocket(family, socket.SOCK_STREAM, 0, _handle=h)
    sock = GreenSocket(family, socket.SOCK_STREAM)
    try:
        if bind is not None:
            sock.bind(bind)
        sock.connect(addr)
    except BaseException:
        sock.close()
        raise
    return sock


class StopServe(Exception):
    """Raise it in a serve() handler to make serve() return."""


def _stop_checker(t, server_gt, conn):
    try:
        try:
            t.wait()
        finally:
            conn.close()
    except GreenletExit:
        pass
    except Exception:
        greenthread.kill(server_gt, *sys.exc_info())


def serve(sock, handle, concurrency=1000):
    """Accepts connections on *sock* forever, calling ``handle(client_sock, client_addr)`` in
    a green thread for each (at most *concurrency* at once; accepting waits meanwhile).
    Returning from *handle* closes the client socket.

    serve() blocks the calling green thread. A handler raising StopServe makes it return;
    any other exception escaping a handler is raised by serve(), stopping the server (as in
    Eventlet).
    """
    pool = greenpool.GreenPool(concurrency)
    server_gt = greenthread.getcurrent()
    while True:
        try:
            conn, addr = sock.accept()
            gt = pool.spawn(handle, conn, addr)
            gt.link(_stop_checker, server_gt, conn)
            conn, addr, gt = None, None, None
        except StopServe:
            return
