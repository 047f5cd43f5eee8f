"""The connections of greenhub.wsgi: HttpProtocol serves one, request after request, and the
names, statuses and log lines it needs.

The HTTP side is the library's (``gh_http_*``): request heads are
parsed, limits enforced (414, 431, 400 for smuggling attempts, answered by the library),
bodies framed and decoded, responses framed (Content-Length or chunked), keep-alive and
``Expect: 100-continue`` handled, all natively. Python runs the application: per request one
``gh_http_read_request``, the environ built from the head the library laid out, and one
``gh_http_respond`` for a response given as a list (more calls for a streamed one).
"""

import errno
import os
import socket
import stat
import struct
import time
import traceback
import urllib.parse
from ctypes import byref, c_char, sizeof

from ._hub import IO, block
from ._lib import GhHttpLimits, GhHttpRequest, lib
from ._wsgi_body import FileWrapper, Input
from ._wsgi_log import addr_to_host_port, log_date_time_string
from .timeout import Timeout

__all__ = ["HttpProtocol"]

DEFAULT_MAX_SIMULTANEOUS_REQUESTS = 1024
DEFAULT_MAX_HTTP_VERSION = "HTTP/1.1"
MAX_REQUEST_LINE = 8192
MAX_HEADER_LINE = 8192
MAX_TOTAL_HEADER_SIZE = 65536
#: Eventlet buffers what an iterable yields up to 4096 bytes; PEP 3333 forbids delaying a
#: block, so greenhub sends each block as it comes unless told otherwise (minimum_chunk_size
#: or environ["eventlet.minimum_write_chunk_size"]).
MINIMUM_CHUNK_SIZE = 0
DEFAULT_LOG_FORMAT = ('%(client_ip)s - - [%(date_time)s] "%(request_line)s"'
                      ' %(status_code)s %(body_length)s %(wall_seconds).6f')

STATE_IDLE = "idle"
STATE_REQUEST = "request"
STATE_CLOSE = "close"

BAD_SOCK = {errno.EBADF}
BROKEN_SOCK = {errno.EPIPE, errno.ECONNRESET, errno.ESHUTDOWN}
ACCEPT_ERRNO = {errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN}
#: gh_http_read_request's errnos for a head it refused and already answered (400, 414, 431,
#: 501, 505): the connection is over.
REFUSED = {errno.EPROTO, errno.ENAMETOOLONG, errno.EMSGSIZE, errno.EOPNOTSUPP,
           errno.EPROTONOSUPPORT}

_GH_HTTP_CHUNKED = 2  # gh_http_request.flags: the body is chunked
_MORE = 1
_INDEX_ENTRY = 16  # one gh_http_header in the buffer's index
_MAX_FIELDS = 100
_HEAD_MAX = 65536
# struct gh_http_request: three spans, nheaders, version, flags, padding, content_length.
_REQUEST = struct.Struct("=9I4xq")
if _REQUEST.size != sizeof(GhHttpRequest):  # the layout above must be _lib's
    raise ImportError("greenhub.wsgi: struct gh_http_request is not the expected layout")

_read_request = lib.gh_http_read_request
_respond = lib.gh_http_respond
_write = lib.gh_http_write

# -- names: what a header field's name is in the environ, what a response field's name is sent
# as. Both are cached (a bounded number of names: a hostile client sends new ones at will).

_CACHE_MAX = 1024
_env_keys = {}


def _env_key(name):
    """The environ key of request field ``name``: HTTP_X_Y; CONTENT_TYPE and CONTENT_LENGTH
    without the prefix; "" for a name with "_" (dropped, as Eventlet and others do: it would
    collide with the "-" spelling)."""
    key = _env_keys.get(name)
    if key is None:
        if "_" in name:
            key = ""
        else:
            key = name.replace("-", "_").upper()
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
        if len(_env_keys) < _CACHE_MAX:
            _env_keys[name] = key
    return key


_capitalized = {}


def _capitalize(name):
    """Content-TYPE -> Content-Type (Eventlet's capitalize_response_headers)."""
    out = _capitalized.get(name)
    if out is None:
        out = "-".join(p.encode("latin-1").capitalize().decode("latin-1")
                       for p in name.split("-"))
        if len(_capitalized) < _CACHE_MAX:
            _capitalized[name] = out
    return out


_statuses = {}
_fields_made = {}  # (close, *fields) -> what HttpProtocol._fields() makes of them


def _status(status):
    """(code, reason as bytes) of a status line such as "200 OK"."""
    st = _statuses.get(status)
    if st is None:
        if not isinstance(status, str):
            raise TypeError("status must be a str, not %s" % type(status).__name__)
        code, _, reason = status.partition(" ")
        if len(code) != 3 or not code.isdigit():
            raise ValueError("status %r does not start with a 3-digit code" % (status,))
        st = (int(code), reason.strip().encode("latin-1"))
        if len(_statuses) < _CACHE_MAX:
            _statuses[status] = st
    return st


class _ClientGone(Exception):
    """A write to the client failed (it went away, or its timeout passed): end quietly."""


class HttpProtocol:
    """One client connection: reads its requests and runs the application for each.

    ``HttpProtocol(conn_state, server)`` serves the connection ``conn_state`` (``[address,
    socket, state]``) to its end, as Eventlet's does. A subclass may override
    ``get_environ()``, ``handle_one_response()`` or ``finish()``.
    """

    minimum_chunk_size = MINIMUM_CHUNK_SIZE
    capitalize_response_headers = True

    def __init__(self, conn_state, server):
        self.request = self.connection = conn_state[1]
        self.client_address = conn_state[0]
        self.conn_state = conn_state
        self.server = server
        if server.minimum_chunk_size is not None:
            self.minimum_chunk_size = server.minimum_chunk_size
        self.capitalize_response_headers = server.capitalize_response_headers
        self.setup()
        try:
            self.handle()
        finally:
            self.finish()

    def setup(self):
        server = self.server
        self.conn = 0
        self._upgraded = False
        head_max = min(max(_HEAD_MAX, server.url_length_limit + 4096), 1 << 20)
        limits = GhHttpLimits(server.url_length_limit, head_max, _MAX_FIELDS)
        size = head_max + _MAX_FIELDS * _INDEX_ENTRY
        self._buf = bytearray(size)
        self._cbuf = (c_char * size).from_buffer(self._buf)
        self._reqbuf = bytearray(_REQUEST.size)
        self._req = GhHttpRequest.from_buffer(self._reqbuf)
        self._reqp = byref(self._req)
        self.conn = block(lib.gh_http_new, (self.request._h, byref(limits)), IO)
        keepalive = server.keepalive
        # A numeric keepalive bounds the wait for the next request, as Eventlet's.
        self._keep_ms = -1
        if keepalive and not isinstance(keepalive, bool):
            self._keep_ms = max(1, int(keepalive * 1000))
        # Fields every response of this connection carries (a server without keep-alive,
        # or one that only speaks HTTP/1.0, ends each connection after one response).
        self._close_all = not keepalive or server.max_http_version == "HTTP/1.0"
        self.base_environ = self.get_connection_environ()
        self._read_args = (self.conn, self._cbuf, size, self._reqp, self._keep_ms)
        self._last_fields, self._last_entries = None, None

    def get_connection_environ(self):
        """What every request's environ of this connection starts with."""
        env = self.server.get_environ()
        try:
            host, port = addr_to_host_port(self.request.getsockname())
        except OSError:
            host, port = "", ""
        env["SERVER_NAME"] = host
        env["SERVER_PORT"] = str(port)
        host, port = addr_to_host_port(self.client_address)
        env["REMOTE_ADDR"] = host
        env["REMOTE_PORT"] = str(port)
        env["GATEWAY_INTERFACE"] = "CGI/1.1"
        env["wsgi.file_wrapper"] = FileWrapper
        # wsgi.input ends at the body's end, chunked or not (Werkzeug reads a body without
        # Content-Length only when told so, as gunicorn and mod_wsgi do).
        env["wsgi.input_terminated"] = True
        env["SCRIPT_NAME"] = ""
        env["eventlet.set_idle"] = self.set_idle
        env["greenhub.switch_protocols"] = self.switch_protocols
        return env

    def handle(self):
        state = self.conn_state
        while self.handle_one_request():
            if state[2] == STATE_CLOSE:
                break
            state[2] = STATE_IDLE

    def finish(self):
        conn, self.conn = self.conn, 0
        if conn:
            lib.gh_http_free(conn)
        sock = self.request
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        sock.close()

    def _read_head(self):
        """Reads the next request head into the buffer; False once the connection is over."""
        try:
            n = block(_read_request, self._read_args, IO)
        except socket.timeout:
            raise
        except OSError as e:
            if e.errno in REFUSED:
                self.server.log.debug("(%s) refused a request from %r: %s" % (
                    self.server.pid, self.client_address, e))
            elif e.errno not in BROKEN_SOCK and e.errno not in BAD_SOCK:
                raise
            return False
        return n > 0

    def handle_one_request(self):
        """Serves one request; False once the connection carries no more."""
        if not self._read_head():
            return False
        self.conn_state[2] = STATE_REQUEST
        (mo, ml, to, tl, fo, fl, _nh, version, flags, clen) = _REQUEST.unpack_from(self._reqbuf)
        text = self._buf[mo:fo + fl].decode("latin-1")
        self.command = text[:ml]
        self.path = text[to - mo:to - mo + tl]
        self.request_version = "HTTP/1.1" if version == 11 else "HTTP/1.0"
        self.flags = flags
        self.environ = self.get_environ(text[fo - mo:], clen, flags)
        self.application = self.server.app
        self.server.outstanding_requests += 1
        try:
            self.handle_one_response()
        finally:
            self.server.outstanding_requests -= 1
        if self._upgraded:
            self.conn_state[2] = STATE_CLOSE
        return True

    @property
    def requestline(self):
        """The request line, as the access log shows it."""
        return "%s %s %s" % (self.command, self.path, self.request_version)

    def get_environ(self, fields, content_length, flags):
        """The request's environ (PEP 3333), from its head as the library laid it out:
        ``fields`` is its header lines ``name: value\\r\\n``."""
        env = self.base_environ.copy()
        env["REQUEST_METHOD"] = self.command
        target = self.path
        if target[:1] != "/" and "://" in target:  # absolute-form: the path is what counts
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path, _, query = target.partition("?")
        env["RAW_PATH_INFO"] = path
        env["PATH_INFO"] = urllib.parse.unquote(path, "latin-1") if "%" in path else path
        env["QUERY_STRING"] = query
        env["SERVER_PROTOCOL"] = self.request_version
        # A keep-alive client sends the same fields request after request: their environ
        # entries are made once per connection and reused while the fields stay the same.
        if fields == self._last_fields:
            env.update(self._last_entries)
        else:
            entries = self._entries_of(fields)
            self._last_fields, self._last_entries = fields, entries
            env.update(entries)
        chunked = bool(flags & _GH_HTTP_CHUNKED)
        env["wsgi.input"] = env["eventlet.input"] = Input(
            self.conn, None if chunked else content_length, chunked, self.request, -1)
        env["eventlet.posthooks"] = []
        return env

    @staticmethod
    def _entries_of(fields):
        """The environ entries of the header lines ``fields``."""
        entries = {}
        get_key = _env_keys.get
        for line in fields.split("\r\n"):
            if not line:
                continue
            name, _, value = line.partition(": ")
            key = get_key(name)
            if key is None:
                key = _env_key(name)
            if not key:
                continue
            if key in entries:
                if key[0] == "C":  # CONTENT_LENGTH (equal duplicates) or CONTENT_TYPE: first
                    continue
                entries[key] += "," + value
            else:
                entries[key] = value
        if "CONTENT_TYPE" not in entries:
            entries["CONTENT_TYPE"] = "text/plain"  # as Eventlet (the email module's default)
        return entries

    def set_idle(self):
        self.conn_state[2] = STATE_IDLE

    def switch_protocols(self, fields):
        """Answers ``101 Switching Protocols`` with header ``fields`` (bytes, lines ``name:
        value\\r\\n``) and gives the connection's socket over: HTTP is done with it (what the
        client sent after its head is the socket's to read). For WebSocketWSGI."""
        if self._status is not None:
            raise AssertionError("switch_protocols() after start_response()")
        self._status = "101 Switching Protocols"
        self._sent = True
        self.status_code = 101
        try:
            block(_respond, (self.conn, 101, None, fields, len(fields), None, 0, 0, -1), IO)
        except OSError as e:
            raise _ClientGone(e)
        conn, self.conn = self.conn, 0
        lib.gh_http_free(conn)
        self._upgraded = True
        return self.request

    # -- the response

    def start_response(self, status, response_headers, exc_info=None):
        if exc_info:
            try:
                if self._sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self._status is not None:
            raise AssertionError("start_response() called again without exc_info")
        code, self._reason = _status(status)
        self._status = status
        self.status_code = code
        self._headers = response_headers
        return self.write

    def _fields(self):
        """The response's header fields as bytes, and the Content-Length the application gave
        (None: none). Cached: most applications send the same few sets of fields."""
        try:
            key = (self._close, *self._headers)
            done = _fields_made.get(key)
        except TypeError:  # fields given as lists: unhashable
            key = done = None
        if done is None:
            done = self._make_fields()
            if key is not None and len(_fields_made) < _CACHE_MAX:
                _fields_made[key] = done
        return done

    def _make_fields(self):
        parts = []
        length = None
        cap = self.capitalize_response_headers
        for name, value in self._headers:
            if cap:
                name = _capitalized.get(name) or _capitalize(name)
            if len(name) == 14 and name.lower() == "content-length":
                length = int(value)
            parts.append("%s: %s\r\n" % (name, value))
        if self._close:
            parts.append("Connection: close\r\n")
        return "".join(parts).encode("latin-1"), length

    def _begin(self, more, body=b""):
        """Sends the head (with the whole ``body`` unless ``more``)."""
        if self._status is None:
            raise AssertionError("the application sent a body before start_response()")
        fields, length = self._fields()
        if not more and length is not None and length != len(body):
            more = True  # the connection checks a given length against what follows
        try:
            block(_respond, (self.conn, self.status_code, self._reason, fields, len(fields),
                             None if more else body, 0 if more else len(body),
                             _MORE if more else 0, -1), IO)
        except OSError as e:
            if e.errno == errno.EINVAL:  # nothing was sent: the application's error
                raise ValueError("the response's head was refused: %r" % fields) from None
            raise _ClientGone(e)
        self._sent = True
        if more and body:
            self.write(body)
        elif not more:
            self.body_length += len(body)
        return more

    def write(self, data):
        """The write() callable of start_response (PEP 3333): sends ``data`` now."""
        if not isinstance(data, bytes):
            data = data.encode("ascii") if isinstance(data, str) else bytes(data)
        if not self._sent:
            self._begin(True, data)
            return
        if data:
            try:
                block(_write, (self.conn, data, len(data), _MORE, -1), IO)
            except OSError as e:
                if e.errno == errno.EINVAL:
                    raise ValueError("more body than the response's Content-Length")
                raise _ClientGone(e)
            self.body_length += len(data)

    def _end(self):
        try:
            block(_write, (self.conn, None, 0, 0, -1), IO)
        except OSError as e:
            raise _ClientGone(e)

    def _send_file(self, wrapper):
        """Sends a FileWrapper of a regular file with sendfile; False if it is not one."""
        try:
            fd = wrapper.filelike.fileno()
            st = os.fstat(fd)
            offset = wrapper.filelike.tell()
        except (AttributeError, OSError, ValueError):
            return False
        if not stat.S_ISREG(st.st_mode):
            return False
        count = max(0, st.st_size - offset)
        if not any(n.lower() == "content-length" for n, _v in self._headers):
            self._headers = list(self._headers) + [("Content-Length", str(count))]
        else:
            count = min(count, self._fields()[1])
        self._begin(True)
        try:
            sent = block(lib.gh_http_sendfile, (self.conn, fd, offset, count, 0, -1), IO)
        except OSError as e:
            raise _ClientGone(e)
        self.body_length += sent
        return True

    def _send_result(self, result):
        if type(result) in (list, tuple) and not self._sent:
            # The common case: the whole body at hand, one call.
            if len(result) == 1:
                body = result[0]
            else:
                body = b"".join(
                    b.encode("ascii") if isinstance(b, str) else b for b in result)
            if not isinstance(body, bytes):
                body = body.encode("ascii") if isinstance(body, str) else bytes(body)
            if self._begin(False, body):
                self._end()
            return
        if type(result) is FileWrapper and not self._sent and self._send_file(result):
            return
        minimum = int(self.environ.get("eventlet.minimum_write_chunk_size",
                                       self.minimum_chunk_size))
        held = []
        held_size = 0
        write = self.write
        for data in result:
            if not data:
                continue
            if minimum:
                held.append(data)
                held_size += len(data)
                if held_size < minimum:
                    continue
                data = b"".join(held)
                held, held_size = [], 0
            write(data)
        if self._upgraded:
            return
        if held:
            write(b"".join(held))
        if not self._sent:
            self._begin(False)
        else:
            self._end()

    def handle_one_response(self):
        start = time.time() if self.server.log_output else 0.0
        self._status = None
        self._sent = False
        self._close = self._close_all
        self.status_code = 200
        self.body_length = 0
        result = None
        server = self.server
        try:
            try:
                result = self.application(self.environ, self.start_response)
                self._send_result(result)
            except _ClientGone:
                self.conn_state[2] = STATE_CLOSE
            except (Exception, Timeout):
                self.conn_state[2] = STATE_CLOSE
                tb = traceback.format_exc()
                server.log.info(tb)
                if not self._sent:
                    body = tb.encode("utf-8", "replace") if server.debug else b""
                    self._status = None
                    self._close = True
                    self.start_response("500 Internal Server Error", [
                        ("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
                    try:
                        self._begin(False, body)
                    except (_ClientGone, ValueError):
                        pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            hooks = self.environ["eventlet.posthooks"]
            for hook, args, kwargs in hooks:
                hook(self.environ, *args, **kwargs)
            if server.log_output:
                host, port = self.get_client_address()
                server.log.info(server.log_format % {
                    "client_ip": host,
                    "client_port": port,
                    "date_time": log_date_time_string(),
                    "request_line": self.requestline,
                    "status_code": self.status_code,
                    "body_length": self.body_length,
                    "wall_seconds": time.time() - start,
                })

    def get_client_address(self):
        host, port = addr_to_host_port(self.client_address)
        if self.server.log_x_forwarded_for:
            forward = self.environ.get("HTTP_X_FORWARDED_FOR", "").replace(" ", "")
            if forward:
                host = forward + "," + host
        return host, port
