"""Socket errors as Eventlet and the standard library report them: a name that does not resolve
is ``socket.gaierror`` with getaddrinfo's code and message; a connection reset by the peer reads
as end of file.

Every test runs over 127.0.0.1 (names under the reserved ``.invalid`` domain never resolve) with
an ``eventlet.Timeout`` on top of the conftest watchdog.
"""

import socket
import struct

import pytest

UNRESOLVABLE = "no-such-host.invalid"  # RFC 2606


@pytest.fixture(autouse=True)
def _deadline(eventlet):
    t = eventlet.Timeout(8)
    try:
        yield
    finally:
        t.cancel()


def stdlib_gaierror(family):
    """What the standard library raises for the name (the resolver's own answer)."""
    try:
        socket.getaddrinfo(UNRESOLVABLE, 1, family, socket.SOCK_STREAM)
    except socket.gaierror as e:
        return e
    pytest.fail(f"{UNRESOLVABLE} resolved")


def test_connect_raises_the_standard_librarys_gaierror(eventlet):
    want = stdlib_gaierror(socket.AF_UNSPEC)
    with pytest.raises(socket.gaierror) as info:
        eventlet.connect((UNRESOLVABLE, 1))
    assert (info.value.errno, info.value.strerror) == (want.errno, want.strerror)


def test_greensocket_connect_raises_the_standard_librarys_gaierror(eventlet):
    want = stdlib_gaierror(socket.AF_INET)
    sock = eventlet.greenio.GreenSocket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(socket.gaierror) as info:
            sock.connect((UNRESOLVABLE, 1))
        assert (info.value.errno, info.value.strerror) == (want.errno, want.strerror)
    finally:
        sock.close()


def test_an_unreachable_address_is_not_a_gaierror(eventlet):
    """A refused connection stays an OSError of its own kind, not a resolution failure."""
    server = eventlet.listen(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.close()
    with pytest.raises(ConnectionRefusedError):
        eventlet.connect(("127.0.0.1", port))
    with pytest.raises(ConnectionRefusedError):
        eventlet.connect(("localhost", port))


# --------------------------------------------------------------------------- reset by the peer


def reset_pair(eventlet):
    """(server side, listener) of a connection its client has reset (RST, not FIN)."""
    server = eventlet.listen(("127.0.0.1", 0))
    client = eventlet.connect(("127.0.0.1", server.getsockname()[1]))
    conn, _ = server.accept()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # linger 0: the close sends RST
    eventlet.sleep(0.01)
    return conn, server


@pytest.mark.parametrize(
    "how",
    [
        "recv",
        "recv_flags",
        "recv_into",
        pytest.param(
            "recvfrom",
            marks=pytest.mark.greenhub_only(
                reason="Eventlet's recvfrom returns b'' there, not a (data, address) tuple"
            ),
        ),
        "makefile",
    ],
)
def test_reading_a_reset_connection_is_end_of_file(eventlet, how):
    """Eventlet reads ECONNRESET (and ESHUTDOWN, EPIPE) as end of file, for every reader."""
    conn, server = reset_pair(eventlet)
    try:
        if how == "recv":
            assert conn.recv(16) == b""
        elif how == "recv_flags":
            assert conn.recv(16, socket.MSG_PEEK) == b""
        elif how == "recv_into":
            assert conn.recv_into(bytearray(16)) == 0
        elif how == "recvfrom":
            assert conn.recvfrom(16)[0] == b""
        else:
            f = conn.makefile("rb")
            assert f.readline() == b""
            f.close()
    finally:
        conn.close()
        server.close()


def test_a_non_blocking_socket_still_raises_on_reset(eventlet):
    """Eventlet hands a non-blocking socket's recv straight to the system: the reset raises."""
    conn, server = reset_pair(eventlet)
    try:
        conn.setblocking(False)
        with pytest.raises(ConnectionResetError):
            conn.recv(16)
    finally:
        conn.close()
        server.close()
