"""GreenSocket.makefile() against socket.socket.makefile(), reading: each scenario runs over a
standard-library socket pair and over a GreenSocket pair, and the two records must be equal
(makefile_support explains the harness). Writing, lifetime, timeouts and attributes are in
test_makefile_conformance_io.py.

The peer's data is sent before the read whenever the scenario can: a standard socket blocks the
OS thread. Where the data must arrive while the file waits (a line split across sends), ``later``
sends it from an OS thread (standard) or a green thread (green).
"""

import io
import hashlib
import socket

import pytest

from makefile_support import both, category, compare, matrix

# The file configurations: binary ones (encoding and newline do not apply), text ones.
# The read-write files (BufferedRWPair under them) over fewer buffer sizes.
BINARY = [dict(mode="rb", buffering=b) for b in (None, -1, 0, 1, 7, 65536)] + [
    dict(mode="rwb", buffering=b) for b in (None, 0, 7)
]
TEXT = [
    dict(mode=m, buffering=b, newline=n, encoding="utf-8")
    for m, sizes in (("r", (None, -1, 1, 7)), ("rw", (None, 7)))
    for b in sizes
    for n in (None, "", "\n", "\r\n")
]
ALL = BINARY + TEXT


def cfg_id(c):
    return "-".join(f"{k}={v!r}" for k, v in c.items())


def params(configs):
    configs = matrix(configs)
    return pytest.mark.parametrize("cfg", configs, ids=[cfg_id(c) for c in configs])


def shut(peer):
    peer.shutdown(socket.SHUT_WR)  # end of file for the reader


def readlines_until_eof(f, rec, n=8):
    """readline() n times: past the end of file too (it must keep returning the empty line)."""
    for i in range(n):
        rec(f"readline#{i}", f.readline)


# --------------------------------------------------------------------------- line endings


def sc_lines_lf(reader, peer, ctx):
    peer.sendall(ctx.data("one\ntwo\n\nthree"))
    shut(peer)
    f = ctx.open()
    readlines_until_eof(f, ctx.rec, 6)
    ctx.rec("newlines", getattr, f, "newlines", None)
    f.close()


def sc_lines_crlf(reader, peer, ctx):
    peer.sendall(ctx.data("one\r\ntwo\r\n\r\nthree\r\n"))
    shut(peer)
    f = ctx.open()
    readlines_until_eof(f, ctx.rec, 6)
    ctx.rec("newlines", getattr, f, "newlines", None)
    f.close()


def sc_bare_cr_mixed(reader, peer, ctx):
    peer.sendall(ctx.data("one\rtwo\r\nthree\nfour\r\rfive"))
    shut(peer)
    f = ctx.open()
    ctx.rec("newlines before", getattr, f, "newlines", None)
    readlines_until_eof(f, ctx.rec, 8)
    ctx.rec("newlines after", getattr, f, "newlines", None)
    f.close()


def sc_bare_cr_then_data_no_lf(reader, peer, ctx):
    # No '\n' ever comes: a text file translating newlines returns the line at the '\r' once
    # the next byte shows it is not '\r\n'; the others wait and time out.
    peer.sendall(ctx.data("ab\rcd"))
    reader.settimeout(0.05)
    f = ctx.open()
    ctx.rec("readline 1", f.readline)
    ctx.rec("readline 2", f.readline)
    ctx.rec("readline 3", f.readline)


def sc_cr_last_byte_before_eof(reader, peer, ctx):
    peer.sendall(ctx.data("ab\r"))
    shut(peer)
    f = ctx.open()
    readlines_until_eof(f, ctx.rec, 3)
    ctx.rec("newlines", getattr, f, "newlines", None)


def sc_cr_at_chunk_boundary(reader, peer, ctx):
    # The '\r' ends the first chunk the file receives; whether it starts '\r\n' is known only
    # with the next one.
    peer.sendall(ctx.data("ab\r"))
    ctx.later(0.03, peer.sendall, ctx.data("\ncd\n"))
    ctx.later(0.06, shut, peer)
    f = ctx.open()
    readlines_until_eof(f, ctx.rec, 4)
    ctx.rec("newlines", getattr, f, "newlines", None)


def sc_cr_then_lf_in_next_send_after_wait(reader, peer, ctx):
    # As above, the file is already waiting in readline when the '\r' arrives.
    ctx.later(0.01, peer.sendall, ctx.data("x\r"))
    ctx.later(0.03, peer.sendall, ctx.data("\ny\r"))
    ctx.later(0.05, peer.sendall, ctx.data("z\n"))
    ctx.later(0.06, shut, peer)
    f = ctx.open()
    readlines_until_eof(f, ctx.rec, 4)


def sc_line_waits_for_the_rest(reader, peer, ctx):
    ctx.later(0.01, peer.sendall, ctx.data("hal"))
    ctx.later(0.03, peer.sendall, ctx.data("f line\nnext"))
    ctx.later(0.04, shut, peer)
    f = ctx.open()
    readlines_until_eof(f, ctx.rec, 3)


# --------------------------------------------------------------------------- sized reads


def sc_readline_size(reader, peer, ctx):
    peer.sendall(ctx.data("abcdef\nxyz\r\nq\rrs\n" + "k" * 20 + "\n"))
    shut(peer)
    f = ctx.open()
    rec = ctx.rec
    rec("readline(3)", f.readline, 3)
    rec("readline()", f.readline)
    rec("readline(0)", f.readline, 0)
    rec("readline(-1)", f.readline, -1)
    rec("readline(None)", f.readline, None)
    rec("readline(1)", f.readline, 1)
    rec("readline(100)", f.readline, 100)
    rec("readline(7)", f.readline, 7)
    rec("readline(7) again", f.readline, 7)
    rec("readline(7) at eof", f.readline, 7)
    rec("readline('x')", f.readline, "x")


def sc_read_sizes(reader, peer, ctx):
    peer.sendall(ctx.data("abcdefgh\r\nij\rkl\n"))
    shut(peer)
    f = ctx.open()
    rec = ctx.rec
    rec("read(3)", f.read, 3)
    rec("read(0)", f.read, 0)
    rec("read(5)", f.read, 5)
    rec("read(None)... part", f.read, 2)
    rec("read()", f.read)
    rec("read() at eof", f.read)
    rec("read(4) at eof", f.read, 4)
    rec("read(-1) at eof", f.read, -1)
    rec("read(0) at eof", f.read, 0)


def sc_read_n_waits_for_n(reader, peer, ctx):
    # A buffered read(n) returns n bytes (or characters) unless the end of file comes first;
    # read1() and an unbuffered read() take what one receive gives.
    peer.sendall(ctx.data("abc"))
    ctx.later(0.03, peer.sendall, ctx.data("defg"))
    ctx.later(0.06, peer.sendall, ctx.data("hij"))
    ctx.later(0.09, shut, peer)
    f = ctx.open()
    ctx.rec("read(5)", f.read, 5)
    ctx.rec("read(100)", f.read, 100)
    ctx.rec("read() at eof", f.read)


def sc_read_all_until_eof(reader, peer, ctx):
    peer.sendall(ctx.data("first\n"))
    ctx.later(0.02, peer.sendall, ctx.data("second"))
    ctx.later(0.03, shut, peer)
    f = ctx.open()
    ctx.rec("readline", f.readline)
    ctx.rec("read()", f.read)
    ctx.rec("readline at eof", f.readline)


def sc_readlines_and_iteration(reader, peer, ctx):
    peer.sendall(ctx.data("ab\ncd\nef\r\ngh\rij\nkl\nmn\nop"))
    shut(peer)
    f = ctx.open()
    rec = ctx.rec
    rec("readlines(5)", f.readlines, 5)
    rec("readlines(1)", f.readlines, 1)
    rec("next", next, f)
    rec("iter is self", lambda: iter(f) is f)
    rec("list", list, f)
    rec("next at eof", next, f)
    rec("readlines() at eof", f.readlines)
    rec("readlines(0) at eof", f.readlines, 0)


def sc_readlines_no_hint(reader, peer, ctx):
    peer.sendall(ctx.data("a\nbb\r\nccc\r" * 50))
    shut(peer)
    f = ctx.open()
    ctx.rec("readlines(0)", f.readlines, 0)


def sc_eof_repeated(reader, peer, ctx):
    shut(peer)
    f = ctx.open()
    rec = ctx.rec
    readlines_until_eof(f, rec, 3)
    rec("read()", f.read)
    rec("read(5)", f.read, 5)
    rec("readlines()", f.readlines)
    rec("list", list, f)
    rec("readline again", f.readline)


def sc_long_lines(reader, peer, ctx):
    # Longer than any buffer: 64 KiB + and 200 KiB, sent while the file reads (a sendall of
    # them before the read could fill both socket buffers).
    lines = ["a" * (64 * 1024 + 17) + "\n", "b" * (200 * 1024) + "\r\n", "c" * 70000]
    data = ctx.data("".join(lines))

    def send():
        peer.sendall(data)
        shut(peer)

    ctx.later(0, send)
    f = ctx.open()
    for i in range(4):
        line = f.readline()
        ctx.rec.value(f"line {i}", (len(line), hashlib.sha1(ctx.data(line)).hexdigest(), line[-3:]))


def sc_long_line_readline_size(reader, peer, ctx):
    # All of it arrives before the reads: how a sized readline of a read-write binary file
    # splits the line depends on how the data arrived (CPython's IOBase.readline, which
    # BufferedRWPair uses, may return more than the size then), which is not a contract.
    # Socket buffers of 1 MiB let the sendall finish first.
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    peer.sendall(ctx.data("x" * 70000 + "\n" + "y" * 10))
    shut(peer)
    f = ctx.open()
    for n in (65536, 65536, 100000, 5, 100):
        line = f.readline(n)
        ctx.rec.value(f"readline({n})", (len(line), line[:2], line[-2:]))


# --------------------------------------------------------------------------- binary-only calls


def sc_binary_read1_readinto_peek(reader, peer, ctx):
    peer.sendall(b"abcdefghijklmnop")
    shut(peer)
    f = ctx.open()
    rec = ctx.rec
    for name in ("read1", "readinto", "readinto1", "peek", "readall"):
        rec.value(f"has {name}", hasattr(f, name))
    if hasattr(f, "peek"):
        p = f.peek(1)
        rec.value("peek(1) starts with", p[:1])
        rec.value("peek(1) non-empty", len(p) >= 1)
        rec("read(1) after peek", f.read, 1)
    if hasattr(f, "read1"):
        rec("read1(3)", f.read1, 3)
        rec("read1(0)", f.read1, 0)
    buf = bytearray(4)
    rec("readinto(4)", f.readinto, buf)
    rec.value("buffer", buf)
    mv = memoryview(bytearray(3))
    rec("readinto(memoryview)", f.readinto, mv)
    rec.value("memoryview", mv)
    if hasattr(f, "readinto1"):
        b1 = bytearray(2)
        rec("readinto1(2)", f.readinto1, b1)
        rec.value("buffer1", b1)
    rec("read()", f.read)
    end = bytearray(5)
    rec("readinto at eof", f.readinto, end)
    if hasattr(f, "read1"):
        rec("read1 at eof", f.read1, 5)
    if hasattr(f, "peek"):
        rec("peek at eof", f.peek, 1)


def sc_binary_readinto_readonly(reader, peer, ctx):
    # Apart from the above: with buffering=0 the message is the socket's recv_into()'s.
    peer.sendall(b"abc")
    f = ctx.open()
    ctx.rec("readinto(bytes)", f.readinto, b"xx")
    ctx.rec("readinto(memoryview of bytes)", f.readinto, memoryview(b"xx"))
    ctx.rec("read after", f.read, 3)


def sc_binary_read1_takes_one_receive(reader, peer, ctx):
    peer.sendall(b"abc")
    ctx.later(0.03, peer.sendall, b"defg")
    ctx.later(0.06, shut, peer)
    f = ctx.open()
    reader_read1 = getattr(f, "read1", None) or f.read  # the raw file: read() is one receive
    ctx.rec("read1(100)", reader_read1, 100)
    ctx.rec("read1(100) next", reader_read1, 100)
    ctx.rec("read1(100) at eof", reader_read1, 100)


# --------------------------------------------------------------------------- mixing with recv


def sc_file_then_recv(reader, peer, ctx):
    # Defined only where the file has read ahead nothing: each line is all that has arrived
    # when the file reads it.
    eol = "\r\n" if ctx.params.get("newline") == "\r\n" else "\n"
    peer.sendall(ctx.data("line" + eol))
    f = ctx.open()
    ctx.rec("readline", f.readline)
    peer.sendall(b"raw")
    ctx.rec("sock.recv", reader.recv, 10)
    peer.sendall(ctx.data("next" + eol))
    ctx.rec("readline after recv", f.readline)
    peer.sendall(b"more")
    ctx.rec("sock.recv again", reader.recv, 10)
    shut(peer)
    ctx.rec("readline at eof", f.readline)
    ctx.rec("sock.recv at eof", reader.recv, 10)


# --------------------------------------------------------------------------- the tests

READ_SCENARIOS = [
    sc_lines_lf, sc_lines_crlf, sc_bare_cr_mixed, sc_bare_cr_then_data_no_lf,
    sc_cr_last_byte_before_eof, sc_cr_at_chunk_boundary, sc_cr_then_lf_in_next_send_after_wait,
    sc_line_waits_for_the_rest, sc_readline_size, sc_read_sizes, sc_read_n_waits_for_n,
    sc_read_all_until_eof, sc_readlines_and_iteration, sc_readlines_no_hint, sc_eof_repeated,
    sc_file_then_recv,
]
# Not over the files that read a byte per receive (buffering 0 or 1 in binary mode): 270 000
# receives would take seconds.
LONG_SCENARIOS = [sc_long_lines, sc_long_line_readline_size]
NOT_BYTEWISE = [c for c in ALL if not ("b" in c["mode"] and c["buffering"] in (0, 1))]


@pytest.mark.parametrize("scenario", READ_SCENARIOS, ids=lambda s: s.__name__[3:])
@params(ALL)
def test_read(eventlet, scenario, cfg):
    compare(eventlet, scenario, **cfg)


@pytest.mark.parametrize("scenario", LONG_SCENARIOS, ids=lambda s: s.__name__[3:])
@params(NOT_BYTEWISE)
def test_read_long(eventlet, scenario, cfg):
    compare(eventlet, scenario, **cfg)


@pytest.mark.parametrize(
    "scenario",
    [sc_binary_read1_readinto_peek, sc_binary_read1_takes_one_receive, sc_binary_readinto_readonly],
    ids=lambda s: s.__name__[3:],
)
@params(BINARY)
def test_binary_read(eventlet, scenario, cfg):
    compare(eventlet, scenario, **cfg)


# --------------------------------------------------------------------------- text decoding

ENCODINGS = ["utf-8", "latin-1", "ascii", "utf-16"]
TEXT_SMALL = [
    dict(mode="r", buffering=b, newline=n) for b in (None, 1) for n in (None, "")
] + [dict(mode="rw", buffering=None, newline=None)]


def text_params():
    out = []
    for enc in ENCODINGS:
        for errors in ("strict", "replace"):
            for c in TEXT_SMALL:
                out.append(dict(c, encoding=enc, errors=errors))
    return params(out)


def sc_decode_lines(reader, peer, ctx):
    text = "naïve\r\ncafé\rend €\n" if ctx.encoding in ("utf-8", "utf-16") else "naive\ncafe\rend\n"
    peer.sendall(text.encode(ctx.encoding))
    shut(peer)
    f = ctx.open()
    ctx.rec("encoding", getattr, f, "encoding")
    ctx.rec("errors", getattr, f, "errors")
    readlines_until_eof(f, ctx.rec, 5)
    ctx.rec("newlines", getattr, f, "newlines")


def sc_decode_invalid(reader, peer, ctx):
    # Bytes the codec refuses (utf-8: \xff; ascii: anything above 127; utf-16: an odd byte at
    # the end, a lone surrogate), after a valid first line of the same chunk and before a
    # valid last one. What the standard library raises, and where, is the contract.
    bad = {
        "utf-8": b"ok\nbad\xff\xfe\nafter\n",
        "latin-1": b"ok\nbad\xff\nafter\n",
        "ascii": b"ok\nbad\xe9\nafter\n",
        "utf-16": "ok\n".encode("utf-16-le").join([b"\xff\xfe", b"\x00\xd8b\x00\n\x00"]) + b"z",
    }[ctx.encoding]
    peer.sendall(bad)
    shut(peer)
    f = ctx.open()
    readlines_until_eof(f, ctx.rec, 5)


def sc_decode_split_across_sends(reader, peer, ctx):
    # A character's bytes split between two sends (and so two receives).
    data = "hé€\n𝄞x\n".encode(ctx.encoding, "replace")
    pieces = [data[:2], data[2:3], data[3:7], data[7:]]
    ctx.later(0.0, peer.sendall, pieces[0])
    for i, piece in enumerate(pieces[1:], 1):
        ctx.later(0.015 * i, peer.sendall, piece)
    ctx.later(0.015 * len(pieces), shut, peer)
    f = ctx.open()
    readlines_until_eof(f, ctx.rec, 4)


@pytest.mark.parametrize(
    "scenario", [sc_decode_lines, sc_decode_invalid, sc_decode_split_across_sends],
    ids=lambda s: s.__name__[3:],
)
@text_params()
def test_decode(eventlet, scenario, cfg):
    refusing = cfg["encoding"] in ("utf-8", "ascii")  # (Latin-1 decodes every byte)
    if scenario is sc_decode_invalid and cfg["errors"] == "strict" and refusing and (
        decodes_by_line(cfg)
    ):
        # By design (greenhub/_greenfile.py): greenhub's text file decodes each line by
        # itself, so an undecodable byte fails its own line only; the standard library
        # decodes what it received at once and loses the whole chunk, good lines included.
        std, green = both(eventlet, scenario, **cfg)
        assert std[0][:3] == ("readline#0", "raise", "builtins.UnicodeDecodeError"), std
        assert [r[:3] for r in green[:3]] == [
            ("readline#0", "=", "ok\n"),
            ("readline#1", "raise", "builtins.UnicodeDecodeError"),
            ("readline#2", "=", "after\n"),
        ], green
        assert [r[1:] for r in green[3:]] == [("=", "")] * (len(green) - 3), green
        return
    compare(eventlet, scenario, **cfg)


def decodes_by_line(cfg):
    """Whether greenhub makes its own text file for *cfg* (not the standard library's stack):
    a buffer of the default size or more, newline None, '' or '\\n', a codec in which '\\n'
    is a byte of its own."""
    buffering = cfg["buffering"]
    return (
        (buffering is None or buffering < 0 or buffering >= io.DEFAULT_BUFFER_SIZE)
        and cfg.get("newline") in (None, "", "\n")
        and cfg["encoding"] in ("utf-8", "ascii", "latin-1")
    )


def sc_default_encoding(reader, peer, ctx):
    peer.sendall("é\n".encode("utf-8"))
    shut(peer)
    f = reader.makefile()
    ctx.rec("mode", getattr, f, "mode")
    ctx.rec("encoding", getattr, f, "encoding")
    ctx.rec("errors", getattr, f, "errors")
    ctx.rec.value("category", category(f))
    ctx.rec("readline", f.readline)
    f.close()


def test_default_encoding(eventlet):
    compare(eventlet, sc_default_encoding)
