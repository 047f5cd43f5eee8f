"""The standard ``subprocess`` module with a green ``Popen`` (Eventlet's
``eventlet.green.subprocess``): its pipes are green files, ``wait(timeout)`` and
``communicate(input, timeout)`` wait only the calling green thread, and ``run``, ``call``,
``check_call``, ``check_output``, ``getoutput`` and ``getstatusoutput`` use it. The
exceptions (``TimeoutExpired``, ``CalledProcessError``) are the standard ones.

``communicate`` feeds and drains the pipes in green threads of their own; after a
TimeoutExpired, calling it again goes on with them (the output so far is kept).
"""

import subprocess as _real

from ..patcher import copy_names as _copy_names, rebind as _rebind

__patched__ = ["Popen", "call", "check_call", "check_output", "run", "getoutput",
               "getstatusoutput"]

# The standard module's names first: this module's own (below) must not be shadowed by them.
_copy_names(_real, globals(), skip=__patched__)
__all__ = list(_real.__all__)

import io  # noqa: E402
import os as _os  # noqa: E402
import time as _time  # noqa: E402

from .. import greenthread  # noqa: E402
from .._fdwait import GreenPipe  # noqa: E402
from ..timeout import Timeout  # noqa: E402
from . import os as _green_os  # noqa: E402
_Popen = _real.Popen  # the standard class (monkey_patch puts the green one in its place)


def _read_all(f):
    try:
        return f.read()
    finally:
        f.close()


class Popen(_Popen):
    """subprocess.Popen whose pipes and waits are green."""

    def __init__(self, args, bufsize=-1, *more, **kwargs):
        _Popen.__init__(self, args, bufsize, *more, **kwargs)
        self._green_io = None  # communicate()'s green threads, once started
        for name in ("stdin", "stdout", "stderr"):
            f = getattr(self, name)
            if f is not None:
                setattr(self, name, self._green_file(f, name == "stdin", bufsize))

    def _green_file(self, f, writing, bufsize):
        """The green equivalent of the standard library's pipe file ``f``, built the way it
        builds it (buffer size, text mode, line buffering)."""
        raw = GreenPipe(_os.dup(f.fileno()), "wb" if writing else "rb", 0)
        f.close()
        if bufsize == 0 and not self.text_mode:
            return raw
        size = io.DEFAULT_BUFFER_SIZE if bufsize in (-1, 1) else bufsize
        buf = io.BufferedWriter(raw, size) if writing else io.BufferedReader(raw, size)
        if not self.text_mode:
            return buf
        if writing:
            return io.TextIOWrapper(buf, write_through=True, line_buffering=bufsize == 1,
                                    encoding=self.encoding, errors=self.errors)
        return io.TextIOWrapper(buf, encoding=self.encoding, errors=self.errors)

    def _wait(self, timeout):
        """Waits (green) for the child's exit; TimeoutExpired after ``timeout`` seconds."""
        if self.returncode is not None:
            return self.returncode
        deadline = None if timeout is None else _time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - _time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutExpired(self.args, timeout)
            _green_os.wait_for_exit(self.pid, left)
        return self.returncode

    def _communicate(self, input, endtime, orig_timeout):
        jobs = self._green_io
        if jobs is None:
            jobs = self._green_io = []
            if self.stdin and not self._communication_started:
                jobs.append(("stdin", greenthread.spawn(self._stdin_write, input)))
            for name in ("stdout", "stderr"):
                f = getattr(self, name)
                if f is not None:
                    jobs.append((name, greenthread.spawn(_read_all, f)))
        results = {}
        for name, gt in jobs:
            timer = Timeout(self._remaining_time(endtime))
            try:
                results[name] = gt.wait()
            except Timeout as t:
                if t is not timer:
                    raise
                raise TimeoutExpired(self.args, orig_timeout) from None
            finally:
                timer.cancel()
        return results.get("stdout"), results.get("stderr")


# The standard library's own functions, looking up this module's Popen.
call = _rebind(_real.call, globals())
check_call = _rebind(_real.check_call, globals())
check_output = _rebind(_real.check_output, globals())
run = _rebind(_real.run, globals())
getoutput = _rebind(_real.getoutput, globals())
getstatusoutput = _rebind(_real.getstatusoutput, globals())
