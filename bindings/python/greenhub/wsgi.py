"""A WSGI server (Eventlet's ``eventlet.wsgi``, PEP 3333) on greenhub's native HTTP/1.1.

``server(sock, site, ...)`` accepts connections on a listening socket and serves each in a
green thread of a pool (``HttpProtocol``, in ``_wsgi_http``). Parsing, limits (414, 431, 400
for smuggling attempts), body framing, keep-alive and ``100 Continue`` are the library's
(``gh_http_*``); Python runs only the application and builds its environ.
"""

import os
import socket
import sys
import traceback
import warnings

from . import greenpool
from ._wsgi_http import (
    ACCEPT_ERRNO, BROKEN_SOCK, DEFAULT_LOG_FORMAT, DEFAULT_MAX_HTTP_VERSION,
    DEFAULT_MAX_SIMULTANEOUS_REQUESTS, MAX_HEADER_LINE, MAX_REQUEST_LINE,
    MAX_TOTAL_HEADER_SIZE, MINIMUM_CHUNK_SIZE, STATE_CLOSE, STATE_IDLE, STATE_REQUEST,
    HttpProtocol,
)
from ._wsgi_log import LoggerFileWrapper, LoggerNull, addr_to_host_port, format_date_time, \
    get_logger
from ._wsgi_body import ChunkReadError, FileWrapper, Input

__all__ = ["server", "format_date_time", "Server", "HttpProtocol", "Input", "FileWrapper",
           "ChunkReadError",
           "DEFAULT_MAX_SIMULTANEOUS_REQUESTS", "DEFAULT_MAX_HTTP_VERSION", "MAX_REQUEST_LINE",
           "MAX_HEADER_LINE", "MAX_TOTAL_HEADER_SIZE", "MINIMUM_CHUNK_SIZE",
           "DEFAULT_LOG_FORMAT", "STATE_IDLE", "STATE_REQUEST", "STATE_CLOSE",
           "LoggerNull", "LoggerFileWrapper", "get_logger", "addr_to_host_port"]

#: Set it false to make every server() stop accepting after its next connection (Eventlet).
is_accepting = True


class Server:
    """What the connections of one server() share: the application, the options, the log."""

    def __init__(self, socket, address, app, log=None, environ=None, max_http_version=None,
                 protocol=HttpProtocol, minimum_chunk_size=None, log_x_forwarded_for=True,
                 keepalive=True, log_output=True, log_format=DEFAULT_LOG_FORMAT,
                 url_length_limit=MAX_REQUEST_LINE, debug=True, socket_timeout=None,
                 capitalize_response_headers=True):
        self.outstanding_requests = 0
        self.socket = socket
        self.address = address
        self.log = get_logger(log, debug) if log_output else LoggerNull()
        self.app = app
        self.keepalive = keepalive
        self.environ = environ
        self.max_http_version = max_http_version
        self.protocol = protocol
        self.pid = os.getpid()
        self.minimum_chunk_size = minimum_chunk_size
        self.log_x_forwarded_for = log_x_forwarded_for
        self.log_output = log_output
        self.log_format = log_format
        self.url_length_limit = int(url_length_limit)
        if not 0 < self.url_length_limit <= (1 << 20) - 4096:
            raise ValueError("url_length_limit must be between 1 and %d" % ((1 << 20) - 4096))
        self.debug = debug
        self.socket_timeout = socket_timeout
        self.capitalize_response_headers = capitalize_response_headers
        if not capitalize_response_headers:
            warnings.warn("capitalize_response_headers is disabled. HTTP header names are "
                          "case-insensitive; most likely the client needs fixing.",
                          DeprecationWarning, stacklevel=3)

    def get_environ(self):
        d = {
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.url_scheme": "http",
        }
        if self.environ is not None:
            d.update(self.environ)
        return d

    def process_request(self, conn_state):
        try:
            self.protocol(conn_state, self)
        except socket.timeout:
            conn_state[1].close()
            self.log.debug("(%s) timed out %r" % (self.pid, conn_state[0]))


def socket_repr(sock):
    name = sock.getsockname()
    if sock.family == socket.AF_INET:
        hier = "//%s:%s" % name[:2]
    elif sock.family == socket.AF_INET6:
        hier = "//[%s]:%s" % name[:2]
    elif sock.family == getattr(socket, "AF_UNIX", None):
        hier = name
    else:
        hier = repr(name)
    return "http:" + hier


def server(sock, site, log=None, environ=None, max_size=None,
           max_http_version=DEFAULT_MAX_HTTP_VERSION, protocol=HttpProtocol, server_event=None,
           minimum_chunk_size=None, log_x_forwarded_for=True, custom_pool=None, keepalive=True,
           log_output=True, log_format=DEFAULT_LOG_FORMAT, url_length_limit=MAX_REQUEST_LINE,
           debug=True, socket_timeout=None, capitalize_response_headers=True):
    """Serves the WSGI application ``site`` on the listening socket ``sock`` until the calling
    green thread is killed (or KeyboardInterrupt, SystemExit): Eventlet's ``wsgi.server``.

    One green thread per connection, from ``custom_pool`` (a GreenPool) or a GreenPool of
    ``max_size`` (default 1024). ``log``: a logging.Logger or a file (default stderr), the
    access log in ``log_format`` unless ``log_output`` is false. ``environ``: added to every
    request's environ. ``keepalive``: False ends each connection after one response; a number
    is how long (s) to wait for the next request. ``url_length_limit``: longest request line
    (longer: 414). ``socket_timeout``: the connections' socket timeout. ``debug``: a 500's
    body is the traceback. ``server_event`` (deprecated): sent the Server object.
    ``minimum_chunk_size``: bytes of a streamed body to gather before sending them (default
    0: every block at once, as PEP 3333 says). On return every connection has ended and
    ``sock`` is closed.
    """
    serv = Server(sock, sock.getsockname(), site, log, environ=environ,
                  max_http_version=max_http_version, protocol=protocol,
                  minimum_chunk_size=minimum_chunk_size,
                  log_x_forwarded_for=log_x_forwarded_for, keepalive=keepalive,
                  log_output=log_output, log_format=log_format,
                  url_length_limit=url_length_limit, debug=debug,
                  socket_timeout=socket_timeout,
                  capitalize_response_headers=capitalize_response_headers)
    if server_event is not None:
        warnings.warn("greenhub.wsgi.server()'s server_event is deprecated", DeprecationWarning,
                      stacklevel=2)
        server_event.send(serv)
    if max_size is None:
        max_size = DEFAULT_MAX_SIMULTANEOUS_REQUESTS
    pool = custom_pool if custom_pool is not None else greenpool.GreenPool(max_size)
    if not (hasattr(pool, "spawn") and hasattr(pool, "waitall")):
        raise AttributeError("greenhub.wsgi.server's pool must provide spawn and waitall "
                             "(use greenhub.GreenPool)")
    connections = {}  # address -> [address, socket, state]

    def clean(_gt, conn):
        connections.pop(conn[0], None)
        conn[2] = STATE_CLOSE
        conn[1].close()

    try:
        serv.log.info("(%s) wsgi starting up on %s" % (serv.pid, socket_repr(sock)))
        while is_accepting:
            try:
                client, addr = sock.accept()
                client.settimeout(serv.socket_timeout)
                serv.log.debug("(%s) accepted %r" % (serv.pid, addr))
                connections[addr] = conn = [addr, client, STATE_IDLE]
                pool.spawn(serv.process_request, conn).link(clean, conn)
                client = conn = None
            except OSError as e:
                if e.errno not in ACCEPT_ERRNO:
                    raise
                break
            except (KeyboardInterrupt, SystemExit):
                serv.log.info("wsgi exiting")
                break
    finally:
        # Connections waiting for their next request end now; those serving one finish it.
        for conn in list(connections.values()):
            previous, conn[2] = conn[2], STATE_CLOSE
            if previous == STATE_IDLE:
                try:
                    conn[1].shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        pool.waitall()
        serv.log.info("(%s) wsgi exited, is_accepting=%s" % (serv.pid, is_accepting))
        try:
            sock.close()
        except OSError as e:
            if e.errno not in BROKEN_SOCK:
                traceback.print_exc()


