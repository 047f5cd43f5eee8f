"""WebSocket servers (Eventlet's ``eventlet.websocket``, RFC 6455) under greenhub.wsgi.

``WebSocketWSGI(handler)`` is a WSGI application: it answers a WebSocket handshake with ``101
Switching Protocols`` (through the connection's ``greenhub.switch_protocols``: the native HTTP
side lets go of the socket) and calls ``handler(ws)`` with a :class:`WebSocket` in the
connection's green thread; returning from the handler closes the WebSocket. Frames go over the
green socket: text, binary, fragmented messages, ping/pong, the close handshake; frames from
the client must be masked; a frame or message longer than ``max_frame_length`` fails the
connection (1009).

Not supported (Eventlet has them): the pre-RFC protocols (hixie-75/76) and permessage-deflate
(the extension is never negotiated, so clients send uncompressed frames).
"""

import base64
import errno
import hashlib
import socket
import struct
import sys

from .semaphore import Semaphore

__all__ = ["WebSocketWSGI", "WebSocket", "RFC6455WebSocket", "ConnectionClosedError",
           "FailedConnectionError", "ProtocolError"]

ACCEPTABLE_CLIENT_ERRORS = {errno.ECONNRESET, errno.EPIPE, errno.ESHUTDOWN}
DEFAULT_MAX_FRAME_LENGTH = 8 << 20
PROTOCOL_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: Close codes a peer may send (RFC 6455 7.4): 1000-1003, 1007-1011, 3000-4999.
VALID_CLOSE_STATUS = frozenset(list(range(1000, 1004)) + list(range(1007, 1012))
                               + list(range(3000, 5000)))
_TEXT, _BINARY, _CLOSE, _PING, _PONG = 1, 2, 8, 9, 10
_CLOSE_WAIT = 1.0  # how long the server waits for the client's close frame after its own


class BadRequest(Exception):
    def __init__(self, status="400 Bad Request", body=None, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers


class ConnectionClosedError(Exception):
    """The connection ended (the peer closed it, or the close handshake is done)."""


class FailedConnectionError(Exception):
    """The peer broke the protocol: the connection is failed with close code ``status``."""

    def __init__(self, status, message):
        super().__init__(status, message)
        self.status = status
        self.message = message


class ProtocolError(ValueError):
    """What the application asked to send is not a valid frame."""


class WebSocketWSGI:
    """Wraps a WebSocket handler ``handler(ws)`` in a WSGI application::

        @websocket.WebSocketWSGI
        def handle(ws):
            ws.send(ws.wait())

    ``max_frame_length``: the longest frame (and message) accepted from the client.
    """

    def __init__(self, handler, max_frame_length=DEFAULT_MAX_FRAME_LENGTH):
        self.handler = handler
        self.protocol_version = None
        self.support_legacy_versions = False
        self.supported_protocols = []
        self.origin_checker = None
        self.max_frame_length = max_frame_length

    @classmethod
    def configured(cls, handler=None, supported_protocols=None, origin_checker=None,
                   support_legacy_versions=False):
        """A decorator with options: ``origin_checker(host, origin)`` returning false answers
        403; ``supported_protocols``: the subprotocols to pick from the client's list."""
        def decorator(handler):
            inst = cls(handler)
            inst.support_legacy_versions = support_legacy_versions
            inst.origin_checker = origin_checker
            if supported_protocols:
                inst.supported_protocols = supported_protocols
            return inst
        if handler is None:
            return decorator
        return decorator(handler)

    def __call__(self, environ, start_response):
        connection = [p.strip() for p in environ.get("HTTP_CONNECTION", "").lower().split(",")]
        if not ("upgrade" in connection
                and environ.get("HTTP_UPGRADE", "").lower() == "websocket"):
            start_response("400 Bad Request", [("Connection", "close")])
            return []
        try:
            fields, protocol = self._handshake(environ)
            switch = environ.get("greenhub.switch_protocols")
            if switch is None:
                raise BadRequest("500 Internal Server Error",
                                 b"WebSocketWSGI needs greenhub.wsgi's server\n")
        except BadRequest as e:
            start_response(e.status, [("Connection", "close")] + (e.headers or []))
            return [e.body or b""]
        sock = switch(fields)
        ws = RFC6455WebSocket(sock, environ, self.protocol_version, protocol=protocol,
                              max_frame_length=self.max_frame_length)
        try:
            self.handler(ws)
        except OSError as e:
            if e.errno not in ACCEPTABLE_CLIENT_ERRORS:
                raise
        finally:
            ws._finish()
        return []

    def _handshake(self, environ):
        """The 101 response's fields and the negotiated subprotocol; BadRequest if refused."""
        version = environ.get("HTTP_SEC_WEBSOCKET_VERSION")
        if version is None:
            raise BadRequest()  # a pre-RFC 6455 client: not supported
        if version not in ("8", "13"):
            raise BadRequest("426 Upgrade Required",
                             headers=[("Sec-WebSocket-Version", "8, 13")])
        self.protocol_version = int(version)
        key = environ.get("HTTP_SEC_WEBSOCKET_KEY")
        if not key:
            raise BadRequest()
        origin = environ.get("HTTP_ORIGIN", environ.get("HTTP_SEC_WEBSOCKET_ORIGIN", "")
                             if self.protocol_version <= 8 else "")
        if self.origin_checker is not None:
            if not self.origin_checker(environ.get("HTTP_HOST"), origin):
                raise BadRequest("403 Forbidden")
        negotiated = None
        for p in environ.get("HTTP_SEC_WEBSOCKET_PROTOCOL", "").split(","):
            if p.strip() and p.strip() in self.supported_protocols:
                negotiated = p.strip()
                break
        accept = base64.b64encode(hashlib.sha1(key.encode("latin-1") + PROTOCOL_GUID).digest())
        fields = b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n" % (
            accept)
        if negotiated:
            fields += b"Sec-WebSocket-Protocol: %s\r\n" % negotiated.encode("latin-1")
        return fields, negotiated


def _unmask(data, mask):
    """``data`` XOR the repeated 4-byte ``mask`` (RFC 6455 5.3), as one big-integer XOR."""
    n = len(data)
    if not n:
        return data
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class RFC6455WebSocket:
    """One WebSocket connection, the server's side: ``send(message)`` (str: a text message,
    bytes: binary), ``wait()`` (the next message, None once closed), ``close()``; ``path``,
    ``origin``, ``protocol``, ``environ``, ``version``."""

    def __init__(self, sock, environ, version=13, protocol=None,
                 max_frame_length=DEFAULT_MAX_FRAME_LENGTH):
        self.socket = sock
        self.environ = environ
        self.version = version
        self.protocol = protocol
        self.origin = environ.get("HTTP_ORIGIN")
        self.path = environ.get("PATH_INFO")
        self.log = environ.get("wsgi.errors", sys.stderr)
        self.max_frame_length = max_frame_length
        self.websocket_closed = False  # our close frame is sent
        self._peer_closed = False  # theirs arrived, or the connection ended
        self._buf = b""
        self._sendlock = Semaphore()

    # -- receiving

    def _read(self, n):
        """Exactly ``n`` bytes from the socket; ConnectionClosedError at its end."""
        buf = self._buf
        while len(buf) < n:
            data = self.socket.recv(max(65536, n - len(buf)))
            if not data:
                self._buf = b""
                raise ConnectionClosedError()
            buf += data
        self._buf = buf[n:]
        return buf[:n]

    def _frame(self):
        """(fin, opcode, payload) of the next frame, checked and unmasked."""
        a, b = self._read(2)
        fin, opcode, length = a & 0x80, a & 0x0F, b & 0x7F
        if a & 0x70:
            raise FailedConnectionError(1002, "RSV bits set without a negotiated extension")
        if opcode not in (0, _TEXT, _BINARY, _CLOSE, _PING, _PONG):
            raise FailedConnectionError(1002, "unknown opcode %d" % opcode)
        if not b & 0x80:
            raise FailedConnectionError(1002, "a client must mask every frame it sends")
        if opcode & 8 and (not fin or length > 125):
            raise FailedConnectionError(1002, "control frames are unfragmented, <= 125 bytes")
        if length == 126:
            length = struct.unpack("!H", self._read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read(8))[0]
        if length > self.max_frame_length:
            raise FailedConnectionError(1009, "frame of %d bytes is above the limit of %d" % (
                length, self.max_frame_length))
        mask = self._read(4)
        return fin, opcode, _unmask(self._read(length), mask)

    def _control(self, opcode, data):
        if opcode == _PING:
            self._send_frame(_PONG, data)
        elif opcode == _CLOSE:
            self._peer_closed = True
            if len(data) == 1:
                raise FailedConnectionError(1002, "a close frame's payload is 0 or >= 2 bytes")
            status = struct.unpack("!H", data[:2])[0] if data else 1000
            if status not in VALID_CLOSE_STATUS:
                raise FailedConnectionError(1002, "invalid close code %d" % status)
            try:
                data[2:].decode("utf-8")
            except UnicodeDecodeError:
                raise FailedConnectionError(1007, "a close reason must be UTF-8") from None
            self._send_closing_frame(True, (status, ""))
            raise ConnectionClosedError()

    def wait(self):
        """The next message: str (text) or bytes (binary); None once the WebSocket is closed
        (the client closed it, it failed, or the connection ended). Pings are answered."""
        if self._peer_closed:
            return None
        parts, kind, size = [], None, 0
        try:
            while True:
                fin, opcode, data = self._frame()
                if opcode & 8:
                    self._control(opcode, data)
                    continue
                if (opcode == 0) != (kind is not None):
                    raise FailedConnectionError(1002, "unexpected continuation frame" if opcode
                                                == 0 else "a new message inside a fragmented one")
                if kind is None:
                    kind = opcode
                size += len(data)
                if size > self.max_frame_length:
                    raise FailedConnectionError(1009, "message above the limit of %d bytes" % (
                        self.max_frame_length))
                parts.append(data)
                if fin:
                    break
        except FailedConnectionError as e:
            self._peer_closed = True
            self.close((e.status, e.message))
            return None
        except ConnectionClosedError:
            self._peer_closed = True
            return None
        except OSError as e:
            if e.errno not in ACCEPTABLE_CLIENT_ERRORS:
                raise
            self._peer_closed = True
            return None
        message = b"".join(parts)
        if kind == _TEXT:
            try:
                return message.decode("utf-8")
            except UnicodeDecodeError:
                self._peer_closed = True
                self.close((1007, "text data must be valid UTF-8"))
                return None
        return message

    # -- sending

    def _send_frame(self, opcode, payload, fin=True):
        n = len(payload)
        first = (0x80 if fin else 0) | opcode
        if n < 126:
            head = struct.pack("!BB", first, n)
        elif n < 65536:
            head = struct.pack("!BBH", first, 126, n)
        else:
            head = struct.pack("!BBQ", first, 127, n)
        with self._sendlock:
            self.socket.sendall(head + payload if n < 65536 else head)
            if n >= 65536:
                self.socket.sendall(payload)

    def send(self, message, control_code=None, final=True, continuation=False):
        """Sends ``message``: str as a text message, bytes-like as binary. ``final=False``
        and ``continuation=True`` send it as fragments; ``control_code`` a control frame."""
        if isinstance(message, str):
            opcode, payload = _TEXT, message.encode("utf-8")
        else:
            opcode, payload = _BINARY, bytes(message)
        if control_code is not None:
            if control_code not in (_CLOSE, _PING, _PONG):
                raise ProtocolError("unknown control opcode %r" % (control_code,))
            if continuation or not final or len(payload) > 125:
                raise ProtocolError("a control frame is unfragmented, <= 125 bytes")
            opcode = control_code
        elif continuation:
            opcode = 0
        self._send_frame(opcode, payload, final)

    def _send_closing_frame(self, ignore_send_errors=False, close_data=None):
        if self.websocket_closed:
            return
        self.websocket_closed = True
        data = b""
        if close_data is not None:
            status, reason = close_data
            data = struct.pack("!H", status) + reason.encode("utf-8")[:123]
        try:
            self._send_frame(_CLOSE, data)
        except OSError:
            if not ignore_send_errors:
                raise

    def close(self, close_data=None):
        """Sends the close frame (``close_data``: (code, reason)) and ends the connection;
        returning from the handler is the usual way."""
        try:
            self._send_closing_frame(True, close_data)
            self.socket.shutdown(socket.SHUT_WR)
        except OSError as e:
            if e.errno != errno.ENOTCONN:
                self.log.write("websocket shutdown error: %s\n" % e)
        finally:
            self._peer_closed = True
            self.socket.close()

    def _finish(self):
        """After the handler: our close frame, then (briefly) the client's, so that closing
        the socket does not reset a connection the client is still closing cleanly."""
        if self.socket.fileno() < 0:
            return
        self._send_closing_frame(True)
        try:
            self.socket.settimeout(_CLOSE_WAIT)
            while not self._peer_closed:
                fin, opcode, data = self._frame()
                if opcode == _CLOSE:
                    break
        except (OSError, ConnectionClosedError, FailedConnectionError):
            pass


WebSocket = RFC6455WebSocket
