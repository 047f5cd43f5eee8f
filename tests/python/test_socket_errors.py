"""Socket errors as Eventlet and the standard library report them: a name that does not resolve
is ``socket.gaierror`` with getaddrinfo's code and message; a connection reset by the peer reads
as end of file.

Every test runs over 127.0.0.1 (names under the reserved ``.invalid`` domain never resolve) with
an ``eventlet.Timeout`` on top of the conftest watchdog.
"""

import socket

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
