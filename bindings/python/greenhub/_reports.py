"""What the library reports (``gh_set_log``, installed on the hub's first use): every report
is printed on stderr, as the library itself would print it; a stack overflow also finishes the
stopped thread, and a report of a thread holding the hub (from the library's monitor thread) is
handed to ``on_blocked`` when ``debug.hub_blocking_detection`` set it. The hub stops a thread that overflows its C stack (its frames are abandoned,
never unwound) and reports it (``GH_REPORT_STACK_OVERFLOW``, naming the thread): its
GreenThread is finished from a fresh green thread, so that its waiters get
StackOverflowError."""

import re
import sys

from ._errors import StackOverflowError
from ._lib import GH_LOG_FN, GH_REPORT_BLOCKED, GH_REPORT_STACK_OVERFLOW

#: How a report names a thread: "green thread 5 (name)" (its short id, gh_thread_id).
_LABEL = re.compile(r"greenhub: (green thread \d+(?: \([^)]*\))?)")

__all__ = ["ReportSink"]


class ReportSink:
    """The log callback of ``hub`` (``c_function``, kept alive as long as the sink)."""

    __slots__ = ("hub", "c_function", "on_blocked")

    def __init__(self, hub):
        self.hub = hub
        self.c_function = GH_LOG_FN(self._on_report)
        #: called with a GH_REPORT_BLOCKED report (on the library's monitor thread), or None
        self.on_blocked = None

    def _on_report(self, ctx, report):
        try:
            r = report.contents
            sys.stderr.write(r.text.decode("utf-8", "replace") + "\n")
            sys.stderr.flush()
            if r.kind == GH_REPORT_STACK_OVERFLOW:
                glet = self.hub.live.pop(r.thread, None)
                if glet is not None and not glet._dead:
                    label = _LABEL.match(r.text.decode("utf-8", "replace"))
                    label = label.group(1) if label else "green thread"
                    self.hub.spawn_helper(self._finish_overflowed, (glet, label))
            elif r.kind == GH_REPORT_BLOCKED and self.on_blocked is not None:
                self.on_blocked(r)
        except BaseException:
            pass

    def _finish_overflowed(self, glet, label):
        glet._dead = True
        self.hub.thread_ended(glet)
        glet._finish(None, StackOverflowError("%s overflowed its C stack and was stopped" % label))
