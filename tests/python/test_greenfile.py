"""greenhub's own makefile() file (greenhub/_greenfile.py) where the differential tests
(test_makefile_conformance*.py) cannot reach: interrupted reads lose nothing, two green threads
on one file, the socket and its file sharing one buffer.
"""

import socket

import pytest

from socket_support import _deadline, pair  # noqa: F401 (fixtures)


def test_it_is_greenhubs_own_file(pair):
    from greenhub import _greenfile

    assert isinstance(pair.conn.makefile("rw"), _greenfile.GreenTextFile)
    assert isinstance(pair.conn.makefile("rb"), _greenfile.GreenBinaryFile)
    # The standard library's stack where greenhub keeps none of its own.
    assert not isinstance(pair.conn.makefile("rb", 0), _greenfile.GreenBinaryFile)
    assert not isinstance(pair.conn.makefile("r", encoding="utf-16"), _greenfile.GreenTextFile)


@pytest.mark.parametrize("mode", ["r", "rb"])
def test_long_line_interrupted_by_a_timeout_loses_nothing(eventlet, pair, mode):
    # 200 KiB without its end: readline has taken several 64 KiB pieces when the Timeout
    # fires; they go back in front of the socket's buffer.
    f = pair.conn.makefile(mode)
    head = b"a" * (200 * 1024)
    sender = eventlet.spawn(pair.client.sendall, head)
    with pytest.raises(eventlet.Timeout):
        with eventlet.Timeout(0.3):
            f.readline()
    sender.wait()
    pair.client.sendall(b"\nnext\n")
    line = f.readline()
    assert len(line) == len(head) + 1 and line.startswith("a" if mode == "r" else b"a")
    assert f.readline() == ("next\n" if mode == "r" else b"next\n")


def test_cr_waiting_for_its_next_byte_interrupted_loses_nothing(eventlet, pair):
    # A text line ending in '\r' waits for the next byte ('\n' would join it); a Timeout then
    # leaves the line where it was.
    f = pair.conn.makefile("r")
    pair.client.sendall(b"abc\r")
    with pytest.raises(eventlet.Timeout):
        with eventlet.Timeout(0.1):
            f.readline()
    pair.client.sendall(b"\ndef\rg\n")
    assert [f.readline(), f.readline(), f.readline()] == ["abc\n", "def\n", "g\n"]
    assert f.newlines == ("\r", "\n", "\r\n")


def test_two_green_threads_reading_one_file(eventlet, pair):
    f = pair.conn.makefile("r")
    first = eventlet.spawn(f.readline)
    eventlet.sleep(0.02)  # first waits in readline
    with pytest.raises(RuntimeError, match="reentrant call"):
        f.readline()
    pair.client.sendall(b"line\n")
    assert first.wait() == "line\n"


def test_a_second_flush_while_one_waits_raises_and_loses_nothing(eventlet, pair):
    # The peer reads nothing at first, so the first flush waits with most of 900 KiB unsent
    # (small socket buffers; a 1 MiB file buffer keeps the write itself pending); a write
    # meanwhile queues behind it, a flush meanwhile raises.
    pair.conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    pair.client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    f = pair.conn.makefile("wb", 1 << 20)
    big = bytes(range(256)) * (900 * 4)
    f.write(big)
    flusher = eventlet.spawn(f.flush)
    eventlet.sleep(0.05)
    assert not flusher.dead
    f.write(b"after")
    with pytest.raises(RuntimeError, match="reentrant call"):
        f.flush()
    reader = eventlet.spawn(
        lambda: b"".join(iter(lambda: pair.client.recv(1 << 20), b""))
    )
    flusher.wait()
    f.flush()
    f.close()
    pair.conn.close()
    got = reader.wait()
    assert got == big + b"after"


def test_recv_after_readline_gets_what_the_line_left(pair):
    # One buffer for the socket and its files: the standard library's read-ahead would keep
    # "rest" in the file, out of recv's reach.
    f = pair.conn.makefile("rb")
    pair.client.sendall(b"line\nrest")
    assert f.readline() == b"line\n"
    assert pair.conn.recv(100) == b"rest"


def test_reset_mid_line_reads_as_end_of_file(pair):
    f = pair.conn.makefile("r")
    pair.client.sendall(b"whole\npart")
    pair.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    assert f.readline() == "whole\n"
    pair.client.close()  # linger 0: a reset
    assert f.readline() == "part"  # received with the line, before the reset
    assert f.readline() == ""


@pytest.mark.parametrize("mode", ["r", "rb", "w", "wb", "rw", "rwb"])
def test_a_dropped_file_is_freed_at_once(pair, mode):
    # No reference cycle in the file: dropping the last reference closes the socket (closed
    # meanwhile by its owner) right away, as the standard library's file does, not at the
    # next garbage collection.
    import gc

    f = pair.conn.makefile(mode)
    pair.conn.close()
    gc.disable()
    try:
        del f
        pair.client.settimeout(2)
        assert pair.client.recv(10) == b""  # end of file: the socket was closed
    finally:
        gc.enable()


def test_reset_during_a_long_line_reads_as_end_of_file(eventlet, pair):
    # A reset after the first 64 KiB piece of a line: the pieces go back and the standard
    # library's path reads them, then end of file.
    f = pair.conn.makefile("rb")
    pair.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    pair.client.sendall(b"a" * 70000)
    eventlet.sleep(0.05)
    reader = eventlet.spawn(f.readline)
    eventlet.sleep(0.05)
    pair.client.close()  # linger 0: a reset
    assert reader.wait() == b"a" * 70000
    assert f.readline() == b""
