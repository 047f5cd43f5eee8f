"""Fair service from Python: a green thread's second read that finds data in one poll round
yields to I/O first. That holds for a native call made with the GIL held (ctypes.PyDLL, as the
shim's hot calls and C extensions call): the yield releases the GIL for the switch. (It used to
refuse to switch with the GIL held; the read was then served at once, after a fix for its
asking to yield again and again, spinning forever.)"""

import pytest

import ghsupport as support

pytestmark = pytest.mark.greenhub_only("calls greenhub's C API through ctypes")


def test_reads_with_the_gil_held_take_their_turns(tmp_path):
    proc = support.run_script(
        """
        import ctypes, socket
        from greenhub import _lib

        recv = _lib.pylib.gh_recv  # PyDLL: the GIL stays held unless the call switches
        recv.restype = ctypes.c_ssize_t
        recv.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_size_t]
        order = []

        def reader(name, sock):
            h = _lib.lib.gh_adopt(os.dup(sock.fileno()))
            buf = ctypes.create_string_buffer(10)
            for _ in range(3):
                order.append((name, recv(h, buf, 10)))
            _lib.lib.gh_close(h)

        pairs = [socket.socketpair() for _ in range(2)]
        for a, b in pairs:
            b.sendall(b"x" * 100)
        threads = [eventlet.spawn(reader, name, a) for name, (a, b) in zip("AB", pairs)]
        for t in threads:
            t.wait()
        print("ORDER", "".join(name for name, n in order), [n for name, n in order])
        """,
        timeout=20,
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, support.describe(proc)
    assert "ORDER ABABAB [10, 10, 10, 10, 10, 10]" in proc.stdout, support.describe(proc)
