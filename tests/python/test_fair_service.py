"""Fair service from Python: a green thread's second read that finds data in one poll round
yields to I/O, unless it cannot switch. A native call made with the GIL held (ctypes.PyDLL,
as C extensions call) refuses to switch; the read must then be served at once. It used to
ask to yield again and again, spinning forever."""

import pytest

import ghsupport as support

pytestmark = pytest.mark.greenhub_only("calls greenhub's C API through ctypes")


def test_reads_with_the_gil_held_are_served_without_their_turn(tmp_path):
    proc = support.run_script(
        """
        import ctypes, socket
        from greenhub import _lib

        a, b = socket.socketpair()
        b.sendall(b"x" * 100)
        got = []

        def body():
            h = _lib.lib.gh_adopt(os.dup(a.fileno()))
            buf = ctypes.create_string_buffer(10)
            recv = _lib.pylib.gh_recv  # PyDLL: the GIL stays held, so no switch is allowed
            recv.restype = ctypes.c_ssize_t
            recv.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_size_t]
            got.append(recv(h, buf, 10))
            got.append(recv(h, buf, 10))  # the second read of this round

        eventlet.spawn(body).wait()
        print("GOT", got)
        """,
        timeout=20,
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, support.describe(proc)
    assert "GOT [10, 10]" in proc.stdout, support.describe(proc)
