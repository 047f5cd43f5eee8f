"""greenhub.websocket.WebSocketWSGI under greenhub.wsgi, with the websockets library as the
client (RFC 6455: text, binary, fragmented messages, ping/pong, the close handshake) and raw
frames for what a conforming client never sends (unmasked frames)."""

import base64
import os
import socket
import struct

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect

from wsgi_support import served

pytestmark = pytest.mark.greenhub_only("greenhub.websocket runs the server process")


@pytest.fixture(scope="module")
def echo():
    with served("ws-echo") as s:
        yield s


def url(server, path="/ws"):
    return "ws://127.0.0.1:%d%s" % (server.port, path)


def test_echo_text_binary_and_fragmented(echo):
    with connect(url(echo), open_timeout=5, close_timeout=5) as ws:
        ws.send("héllo")
        assert ws.recv(timeout=5) == "héllo"
        data = os.urandom(100000)  # a 64-bit length
        ws.send(data)
        assert ws.recv(timeout=5) == data
        ws.send(["frag", "men", "ted"])  # one text message in three frames
        assert ws.recv(timeout=5) == "fragmented"
        ws.send([b"\x00", b"\x01\x02"])
        assert ws.recv(timeout=5) == b"\x00\x01\x02"
        ws.send("")
        assert ws.recv(timeout=5) == ""


def test_ping_is_answered_and_close_handshake_completes(echo):
    ws = connect(url(echo), open_timeout=5, close_timeout=5)
    assert ws.ping(b"are you there").wait(5)
    ws.send("after the ping")
    assert ws.recv(timeout=5) == "after the ping"
    ws.close()
    assert ws.close_code == 1000  # the server echoed our close frame
    assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1000


def test_handler_returning_closes_the_websocket():
    with served("ws-bye") as s:
        with connect(url(s, "/room/1"), open_timeout=5, close_timeout=5) as ws:
            assert ws.recv(timeout=5) == "bye /room/1"
            with pytest.raises(ConnectionClosedOK):
                ws.recv(timeout=5)
        assert "Traceback" not in s.log()


def test_frame_above_max_frame_length_fails_with_1009():
    with served("ws-small") as s:
        with connect(url(s), open_timeout=5, close_timeout=5) as ws:
            ws.send("x" * 100)
            assert ws.recv(timeout=5) == "x" * 100
            ws.send("x" * 2000)
            with pytest.raises(ConnectionClosed) as e:
                ws.recv(timeout=5)
            assert e.value.rcvd.code == 1009
        # the whole fragmented message counts too
        with connect(url(s), open_timeout=5, close_timeout=5) as ws:
            with pytest.raises(ConnectionClosed) as e:
                # (send() ends a fragmented message with an empty final frame: the server's
                # close may come back before that frame goes, and send() raises instead.)
                ws.send(["y" * 600, "y" * 600])
                ws.recv(timeout=5)
            assert e.value.rcvd.code == 1009


def handshake(port, path="/ws", extra=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n" % (
                  path.encode(), key, extra))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, head
        head += chunk
    return s, head


def read_frame(s):
    a, b = s.recv(1)[0], s.recv(1)[0]
    n = b & 0x7F
    data = b""
    while len(data) < n:
        data += s.recv(n - len(data))
    return a & 0x0F, data


def test_unmasked_client_frame_fails_with_1002(echo):
    s, head = handshake(echo.port)
    assert head.startswith(b"HTTP/1.1 101")
    s.sendall(b"\x81\x05hello")  # FIN, text, unmasked
    opcode, data = read_frame(s)
    assert opcode == 8 and struct.unpack("!H", data[:2])[0] == 1002
    s.close()


def test_bytes_sent_with_the_handshake_are_the_first_frame(echo):
    mask = b"\x01\x02\x03\x04"
    payload = bytes(c ^ mask[i % 4] for i, c in enumerate(b"early"))
    s, head = handshake(echo.port, extra=b"")
    s.sendall(b"\x81\x85" + mask + payload)
    assert read_frame(s) == (1, b"early")
    s.close()


def test_not_an_upgrade_is_400_and_a_bad_version_426(echo):
    import requests
    assert requests.get(echo.url + "/ws").status_code == 400
    r = requests.get(echo.url + "/ws", headers={
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "x",
        "Sec-WebSocket-Version": "7"})
    assert r.status_code == 426 and r.headers["Sec-WebSocket-Version"] == "8, 13"


def test_origin_checker_and_subprotocol():
    with served("ws-checked") as s:
        with pytest.raises(InvalidStatus) as e:
            connect(url(s), origin="http://evil.example", open_timeout=5)
        assert e.value.response.status_code == 403
        with connect(url(s, "/p"), origin="http://good.example", subprotocols=["x", "chat"],
                     open_timeout=5, close_timeout=5) as ws:
            assert ws.subprotocol == "chat"
            assert ws.recv(timeout=5) == "/p|http://good.example|chat"
