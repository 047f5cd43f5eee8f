"""What the library reports (``gh_set_log``, installed on the hub's first use): every report
is printed on stderr, as the library itself would print it; a stack overflow also finishes the
stopped thread. The hub stops a thread that overflows its C stack (its frames are abandoned,
never unwound) and reports it (``GH_REPORT_STACK_OVERFLOW``, naming the thread): its
GreenThread is finished from a fresh green thread, so that its waiters get
StackOverflowError."""

import sys

from ._errors import StackOverflowError
from ._lib import GH_LOG_FN, GH_REPORT_STACK_OVERFLOW

__all__ = ["ReportSink"]


class ReportSink:
    """The log callback of ``hub`` (``c_function``, kept alive as long as the sink)."""

    __slots__ = ("hub", "c_function")

    def __init__(self, hub):
        self.hub = hub
        self.c_function = GH_LOG_FN(self._on_report)

    def _on_report(self, ctx, report):
        try:
            r = report.contents
            sys.stderr.write(r.text.decode("utf-8", "replace") + "\n")
            sys.stderr.flush()
            if r.kind == GH_REPORT_STACK_OVERFLOW:
                glet = self.hub.live.pop(r.thread, None)
                if glet is not None and not glet._dead:
                    self.hub.spawn_helper(self._finish_overflowed, (glet,))
        except BaseException:
            pass

    def _finish_overflowed(self, glet):
        glet._dead = True
        self.hub.thread_ended(glet)
        glet._finish(
            None,
            StackOverflowError("green thread %d overflowed its C stack and was stopped" % glet._gid),
        )
