"""Fixtures of the end-to-end tests of the C example servers (helpers: e2e_support.py).

``start_server`` starts an example server for one test and, on teardown, fails the test if
the server died during it; ``_watchdog`` keeps any test from hanging the suite.
"""

from __future__ import annotations

import _thread
import faulthandler
import os
import sys
import threading
from typing import List

import pytest

import e2e_support as support

TEST_WATCHDOG = 120.0  # last resort: a test still running after this is aborted


@pytest.fixture
def start_server(tmp_path_factory):
    """Factory: start_server("echo_server", extra args...) -> ServerProcess, listening.

    Tests call it in their body (not from another fixture) so that a missing
    binary is reported as a FAILED test rather than a setup error.
    `-p PORT` is added by the factory. On teardown, a server that is no longer
    running fails the test (as a teardown error, also when the body failed: it
    tells why); it is then stopped with SIGTERM (SIGKILL after 5 s).
    """
    started: List[support.ServerProcess] = []
    workdir = tmp_path_factory.mktemp("server")

    def start(name: str, *args: str) -> support.ServerProcess:
        server = support.launch(name, list(args), workdir)
        started.append(server)
        return server

    yield start

    crashed = support.stop_all(started)
    if not support.WATCHDOG_FIRED.is_set():
        assert not crashed, "server died during the test:\n" + "\n".join(crashed)


@pytest.fixture(autouse=True)
def _watchdog():
    """No test may hang the suite.

    After TEST_WATCHDOG seconds the test's servers are killed (which unblocks
    its sockets) and KeyboardInterrupt is raised in the main thread, so pytest
    stops with a traceback of the stuck test. If even that does not end it
    within 30 s, the process exits.
    """

    def last_resort():
        faulthandler.dump_traceback(all_threads=True)
        os._exit(1)

    def fire():
        support.WATCHDOG_FIRED.set()
        support.kill_running()
        sys.stderr.write(f"\n*** e2e test exceeded {TEST_WATCHDOG}s, interrupting ***\n")
        backstop = threading.Timer(30.0, last_resort)
        backstop.daemon = True
        backstop.start()
        _thread.interrupt_main()

    timer = threading.Timer(TEST_WATCHDOG, fire)
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()
