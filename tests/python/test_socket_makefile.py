"""Green sockets: makefile() in every mode, and sendfile.

Everything runs over 127.0.0.1 with bounded waits: an autouse fixture (socket_support) arms an
``eventlet.Timeout`` around each test, on top of the conftest watchdog.
"""

import os
import socket
import tempfile

import pytest

from socket_support import _deadline, pair, recv_all, recv_exact  # noqa: F401 (fixtures)


# --------------------------------------------------------------------------- makefile


def test_makefile_rb_readline_and_iteration(pair):
    f = pair.conn.makefile("rb")
    pair.client.sendall(b"line1\nline2\nline3\npartial")
    pair.client.shutdown(socket.SHUT_WR)
    assert f.readline() == b"line1\n"
    assert list(f) == [b"line2\n", b"line3\n", b"partial"]
    assert f.readline() == b""
    f.close()


def test_makefile_rb_read_n(pair):
    f = pair.conn.makefile("rb")
    pair.client.sendall(b"abcdefgh")
    assert f.read(3) == b"abc"
    pair.client.close()
    assert f.read() == b"defgh"
    f.close()


def test_makefile_r_text(pair):
    f = pair.conn.makefile("r", encoding="utf-8")
    pair.client.sendall("héllo wörld\nzwei\n".encode("utf-8"))
    pair.client.shutdown(socket.SHUT_WR)
    assert f.readline() == "héllo wörld\n"
    assert [line for line in f] == ["zwei\n"]
    assert f.readline() == ""
    f.close()


def test_makefile_readline_with_size(pair):
    f = pair.conn.makefile("rb")
    pair.client.sendall(b"abcdef\nxyz\n")
    assert f.readline(3) == b"abc"
    assert f.readline() == b"def\n"
    assert f.readline(100) == b"xyz\n"
    f.close()


def test_makefile_r_readline_waits_for_the_rest(eventlet, pair):
    f = pair.conn.makefile("r")
    reader = eventlet.spawn(f.readline)
    pair.client.sendall(b"hal")
    eventlet.sleep(0.02)
    assert not reader.dead, "readline returned before the newline arrived"
    pair.client.sendall(b"f line\nnext")
    assert reader.wait() == "half line\n"
    f.close()


def test_makefile_w_text_write_flush(pair):
    f = pair.conn.makefile("w", encoding="utf-8")
    f.write("grüße\n")
    f.write("two\n")
    f.flush()
    assert recv_exact(pair.client, len("grüße\ntwo\n".encode("utf-8"))) == "grüße\ntwo\n".encode("utf-8")
    f.close()


def test_makefile_wb(pair):
    f = pair.conn.makefile("wb")
    assert f.write(b"\x00\x01binary\xff") == 9
    f.flush()
    assert recv_exact(pair.client, 9) == b"\x00\x01binary\xff"
    f.close()


def test_makefile_rw_echo_like_the_seed(pair):
    # Lines are sent one at a time, as typed into nc: in the standard library a text
    # file's write() drops what its read side had buffered, so lines are echoed one by one.
    fd = pair.conn.makefile("rw")
    for line in (b"foo\n", b"bar\n", b"qux\n"):
        pair.client.sendall(line)
        x = fd.readline()
        assert x == line.decode()
        fd.write(x)
        fd.flush()
        assert recv_exact(pair.client, len(line)) == line
    pair.client.shutdown(socket.SHUT_WR)
    assert fd.readline() == ""
    fd.close()


def test_makefile_rwb(pair):
    f = pair.conn.makefile("rwb")
    pair.client.sendall(b"ping\n")
    assert f.readline() == b"ping\n"
    f.write(b"pong\n")
    f.flush()
    assert recv_exact(pair.client, 5) == b"pong\n"
    f.close()


def test_makefile_close_keeps_the_socket_open(pair):
    f = pair.conn.makefile("rb")
    f.close()
    pair.conn.sendall(b"still open")
    assert recv_exact(pair.client, 10) == b"still open"
    pair.conn.close()
    assert recv_all(pair.client) == b""


def test_socket_close_with_a_makefile_open_closes_when_file_closes(pair):
    f = pair.conn.makefile("wb")
    pair.conn.close()  # the file still references it
    f.write(b"via file")
    f.flush()
    assert recv_exact(pair.client, 8) == b"via file"
    f.close()
    assert recv_all(pair.client) == b"", "closing the last file closes the socket"


# --------------------------------------------------------------------------- sendfile


@pytest.mark.greenhub_only(reason="Eventlet's GreenSocket.sendfile raises ValueError on its non-blocking socket")
def test_sendfile(eventlet, pair):
    data = os.urandom(300_000)
    with tempfile.TemporaryFile() as tf:
        tf.write(data)
        tf.seek(0)
        reader = eventlet.spawn(recv_exact, pair.client, len(data))
        assert pair.conn.sendfile(tf) == len(data)
        assert reader.wait() == data
        assert tf.tell() == len(data), "sendfile leaves the file position after the data sent"
        reader = eventlet.spawn(recv_exact, pair.client, 1000)
        assert pair.conn.sendfile(tf, 5000, 1000) == 1000
        assert reader.wait() == data[5000:6000]
