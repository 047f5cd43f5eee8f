"""pytest configuration for the tests of the Python shim (issue #4).

* ``GREENHUB_TESTS_IMPL=greenhub`` (default) tests ``bindings/python/greenhub`` imported as
  ``import greenhub as eventlet``; ``GREENHUB_TESTS_IMPL=eventlet`` runs the very same tests
  against the real Eventlet, which is how the tests themselves are validated.
* Tests marked ``greenhub_only`` check greenhub's own promises (the C header, native stacks,
  the GIL rule, ...): they are skipped under the eventlet implementation only. Under greenhub
  nothing is skipped.
* If the implementation cannot be imported every test FAILS with the reason.
* Each test has a watchdog (``budget`` marker, default 20 s): a test still running then dumps
  every thread's traceback and ends the process, so the suite can never hang.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading

import pytest

import ghsupport as support

DEFAULT_BUDGET = 20.0


def pytest_configure(config):
    # The Ctrl-C tests send SIGINT to programs they start. A program started with SIGINT
    # ignored (as a shell does to a background job without job control: `(make test &)`)
    # keeps it ignored, and Python then installs no KeyboardInterrupt handler: give the
    # programs a default SIGINT, whatever this process was started with.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    config.addinivalue_line(
        "markers", "greenhub_only: greenhub's own promises; skipped under GREENHUB_TESTS_IMPL=eventlet"
    )
    config.addinivalue_line("markers", "budget(seconds): watchdog limit of the test (default 20)")


def pytest_report_header(config):
    return f"greenhub shim tests: implementation = {support.IMPL}"


def pytest_collection_modifyitems(config, items):
    if support.IMPORT_ERROR:
        # Report every test as FAILED (in its call phase, not as a setup error), with the reason.
        message = f"cannot import the {support.IMPL} implementation:\n{support.IMPORT_ERROR}"

        def fail(message=message):
            pytest.fail(message, pytrace=False)

        for item in items:
            item.fixturenames.clear()  # nothing that needs the implementation is set up
            item.runtest = fail
        return
    if support.IMPL != "eventlet":
        return
    for item in items:
        mark = item.get_closest_marker("greenhub_only")
        if mark is not None:
            reason = mark.kwargs.get("reason") or (mark.args[0] if mark.args else "greenhub-specific")
            item.add_marker(pytest.mark.skip(reason=f"greenhub only: {reason}"))


@pytest.fixture(autouse=True)
def _watchdog(request):
    """A test still running after its budget ends the run with every thread's traceback on the
    real stderr (pytest's capture suspended), rather than hanging the suite. faulthandler is
    the last resort if even that cannot run (e.g. the GIL is never released)."""
    mark = request.node.get_closest_marker("budget")
    budget = float(mark.args[0]) if mark else DEFAULT_BUDGET
    nodeid = request.node.nodeid

    def expire():
        capman = request.config.pluginmanager.getplugin("capturemanager")
        try:
            if capman is not None:
                (getattr(capman, "suspend", None) or capman.suspend_global_capture)(in_=True)
        except Exception:  # noqa: BLE001 - best effort: report anyway
            pass
        err = sys.__stderr__
        err.write(f"\n*** watchdog: {nodeid} still running after {budget:g}s; ending the test run ***\n")
        err.flush()
        faulthandler.dump_traceback(file=err, all_threads=True)
        err.flush()
        os._exit(70)

    timer = threading.Timer(budget, expire)
    timer.daemon = True
    timer.start()
    faulthandler.dump_traceback_later(budget + 15, exit=True)
    try:
        yield
    finally:
        timer.cancel()
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def eventlet():
    """The implementation under test, as ``eventlet``."""
    return support.eventlet


@pytest.fixture
def GreenletExit():
    return support.greenlet_exit_class()


@pytest.fixture
def impl():
    return support.IMPL
