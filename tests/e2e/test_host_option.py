"""`-h HOST` on the C example servers: they listen on that address only (the default, no -h,
is every IPv4 address: test_echo_server.py checks it)."""

from __future__ import annotations

import pytest

from e2e_support import connect, listen_addresses, recv_exact

LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


@pytest.mark.parametrize("name", ["echo_server", "file_server", "chat_server"])
def test_h_host_listens_on_that_address_only(start_server, name):
    srv = start_server(name, "-h", "127.0.0.1")
    assert listen_addresses(srv.port) == [LOOPBACK_HEX], (
        f"{name} -h 127.0.0.1 listens on {listen_addresses(srv.port)!r} (hex, /proc/net/tcp)"
    )
    with connect(srv.port):
        pass
    srv.assert_alive()


def test_echo_server_on_a_named_host(start_server):
    srv = start_server("echo_server", "-h", "localhost")
    with connect(srv.port) as sock:
        sock.sendall(b"foo\n")
        assert recv_exact(sock, 4) == b"foo\n"
    srv.assert_alive()
