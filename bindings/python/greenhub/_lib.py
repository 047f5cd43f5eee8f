"""Loading libgreenhub and declaring its C API for ctypes.

Every function of ``include/greenhub.h`` is declared here, in :data:`FUNCTIONS` (name ->
(restype, argtypes)), so a test can compare this table with the header.

The library is opened three times:

* ``lib`` (``ctypes.CDLL``, errno kept) for every call. ctypes releases the GIL around a CDLL
  call; that is what lets a blocking call switch green threads: each Python green thread has
  its own interpreter thread state, saved and restored on its own C stack around the call.
* ``pylib`` (``ctypes.PyDLL``, GIL held) for ``gh_py_init`` and ``gh_py_spawn``: they take
  Python objects.
* once more for the hot calls (:func:`unconverted`): PyDLL, no argtypes. Any call may be made
  with the GIL held: one that switches green threads releases it for the switch.

Where the library comes from (:func:`_candidates`): the ``GREENHUB_LIBRARY`` environment
variable (a path; then nothing else is tried), else the library bundled in this package
(``greenhub/libgreenhub.so``, put there by ``pip install`` or a wheel), else the build of the
repository this package sits in (``build/libgreenhub.so``, then
``target/release/libgreenhub_capi.so``), else the system's (``ctypes.util.find_library``).
"""

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_int,
    c_int64,
    c_int16,
    c_size_t,
    c_ssize_t,
    c_uint16,
    c_void_p,
    py_object,
)
from pathlib import Path

__all__ = [
    "lib", "pylib", "path", "FUNCTIONS", "PY_FUNCTIONS", "GhAddr", "GhFileInfo", "GhSpawnOpts",
    "GhHttpSpan", "GhHttpRequest", "GhHttpLimits",
    "GhReport", "GhHubStats", "GhPollFd",
]

GH_HOST_MAX = 46
GH_CHAN_UNBOUNDED = -1
GH_SERVE_STOP = -2147483646
GH_STATUS_STACK_OVERFLOW = -(2**31)
GH_REPORT_MESSAGE = 0
GH_REPORT_FAILED = 1
GH_REPORT_STACK_OVERFLOW = 2
GH_REPORT_PANIC = 3
GH_REPORT_BLOCKED = 4


class GhAddr(Structure):
    """struct gh_addr: a socket address in printable form."""

    _fields_ = [("family", c_int), ("port", c_uint16), ("host", c_char * GH_HOST_MAX)]


class GhFileInfo(Structure):
    """struct gh_file_info: what gh_open_beneath found (st_mode, st_size)."""

    _fields_ = [("mode", ctypes.c_uint32), ("size", c_int64)]


class GhHttpSpan(Structure):
    """struct gh_http_span: offset and length in gh_http_read_request's buffer."""

    _fields_ = [("off", ctypes.c_uint32), ("len", ctypes.c_uint32)]


class GhHttpRequest(Structure):
    """struct gh_http_request: a request head as gh_http_read_request laid it out."""

    _fields_ = [
        ("method", GhHttpSpan),
        ("target", GhHttpSpan),
        ("fields", GhHttpSpan),
        ("nheaders", ctypes.c_uint32),
        ("version", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("content_length", c_int64),
    ]


class GhHttpLimits(Structure):
    """struct gh_http_limits (0: the default)."""

    _fields_ = [
        ("request_line_max", ctypes.c_uint32),
        ("head_max", ctypes.c_uint32),
        ("headers_max", ctypes.c_uint32),
    ]


class GhSpawnOpts(Structure):
    """struct gh_spawn_opts (zero-initialised by ctypes)."""

    _fields_ = [
        ("stack_size", c_size_t),
        ("name", c_char_p),
        ("sock", c_int64),
        ("detached", c_bool),
    ]


class GhReport(Structure):
    """struct gh_report: one report, as the log callback receives it."""

    _fields_ = [
        ("kind", c_int),
        ("status", c_int),
        ("thread", c_int64),
        ("text", c_char_p),
    ]


class GhHubStats(Structure):
    """gh_hub_stats: a hub's counters (gh_stats); set ``size`` to its size first."""

    _fields_ = [
        ("size", c_size_t),
        ("threads", ctypes.c_uint64),
        ("objects", ctypes.c_uint64),
        ("sockets", ctypes.c_uint64),
        ("switches", ctypes.c_uint64),
        ("polls", ctypes.c_uint64),
        ("stacks_pooled", ctypes.c_uint64),
    ]


# Function pointer types of the header.
GH_FN = CFUNCTYPE(c_int, c_void_p)  # gh_fn: int (*)(void *arg)
GH_SERVE_FN = CFUNCTYPE(c_int, c_int64, c_void_p)  # gh_serve_fn: int (*)(gh_sock, void *)
GH_LOG_FN = CFUNCTYPE(None, c_void_p, POINTER(GhReport))  # void (*)(void *, const gh_report *)
GH_TPOOL_FN = CFUNCTYPE(c_void_p, c_void_p)  # gh_tpool_fn: void *(*)(void *arg)

# Handles: gh_sock, gh_thread, gh_pool, gh_sem, gh_event, gh_chan are all int64_t.
_h = c_int64
_addr_p = POINTER(GhAddr)


class GhPollFd(Structure):
    """gh_pollfd: poll(2)'s struct pollfd."""

    _fields_ = [("fd", c_int), ("events", c_int16), ("revents", c_int16)]

_opts_p = POINTER(GhSpawnOpts)

#: name -> (restype, argtypes), for every function of include/greenhub.h, called through ``lib``.
FUNCTIONS = {
    # sockets
    "gh_listen": (_h, [c_char_p, c_uint16, c_int]),
    "gh_accept": (_h, [_h, _addr_p]),
    "gh_connect": (_h, [c_char_p, c_uint16]),
    "gh_recv": (c_ssize_t, [_h, c_void_p, c_size_t]),
    "gh_send": (c_ssize_t, [_h, c_void_p, c_size_t]),
    "gh_sendall": (c_int, [_h, c_void_p, c_size_t]),
    "gh_readline": (c_ssize_t, [_h, c_void_p, c_size_t]),
    "gh_read_until": (c_ssize_t, [_h, c_void_p, c_size_t, c_void_p, c_size_t]),
    "gh_read_until_any": (c_ssize_t, [_h, c_void_p, c_size_t, c_void_p, c_size_t]),
    "gh_peek": (c_ssize_t, [_h, c_void_p, c_size_t]),
    "gh_unread": (c_int, [_h, c_void_p, c_size_t]),
    "gh_sendfile": (c_ssize_t, [_h, c_int, c_int64, c_size_t]),
    "gh_shutdown": (c_int, [_h, c_int]),
    "gh_close": (c_int, [_h]),
    "gh_fileno": (c_int, [_h]),
    "gh_local_addr": (c_int, [_h, _addr_p]),
    "gh_peer_addr": (c_int, [_h, _addr_p]),
    "gh_setsockopt": (c_int, [_h, c_int, c_int, c_void_p, c_size_t]),
    "gh_getsockopt": (c_int, [_h, c_int, c_int, c_void_p, POINTER(c_size_t)]),
    "gh_settimeout": (c_int, [_h, c_int64]),
    "gh_gettimeout": (c_int, [_h, POINTER(c_int64)]),
    "gh_adopt": (_h, [c_int]),
    "gh_wait_readable": (c_int, [_h]),
    "gh_wait_writable": (c_int, [_h]),
    "gh_sock_give": (c_int, [_h, _h]),
    "gh_udp_bind": (_h, [c_char_p, c_uint16]),
    "gh_sendto": (c_ssize_t, [_h, c_void_p, c_size_t, _addr_p]),
    "gh_recvfrom": (c_ssize_t, [_h, c_void_p, c_size_t, _addr_p]),
    # waits on any file descriptor
    "gh_poll": (c_int, [POINTER(GhPollFd), c_size_t, c_int64]),
    "gh_wait_fd": (c_int, [c_int, c_int, c_int64]),
    "gh_notify_close": (c_int, [c_int]),
    # files
    "gh_open_beneath": (c_int, [c_int, c_char_p, c_int, POINTER(GhFileInfo)]),
    "gh_file_read": (c_ssize_t, [c_int, c_void_p, c_size_t]),
    "gh_file_pread": (c_ssize_t, [c_int, c_void_p, c_size_t, c_int64]),
    # HTTP connections
    "gh_http_new": (_h, [_h, POINTER(GhHttpLimits)]),
    "gh_http_free": (c_int, [_h]),
    "gh_http_read_request": (c_ssize_t, [_h, c_void_p, c_size_t, POINTER(GhHttpRequest), c_int64]),
    "gh_http_read_body": (c_ssize_t, [_h, c_void_p, c_size_t, c_int64]),
    "gh_http_respond": (
        c_int,
        [_h, c_int, c_char_p, c_void_p, c_size_t, c_void_p, c_size_t, c_int, c_int64],
    ),
    "gh_http_write": (c_int, [_h, c_void_p, c_size_t, c_int, c_int64]),
    "gh_http_sendfile": (c_ssize_t, [_h, c_int, c_int64, c_size_t, c_int, c_int64]),
    "gh_http_error_status": (c_int, [c_int]),
    # green pools and serve
    "gh_pool_new": (_h, [c_int64]),
    "gh_pool_spawn": (_h, [_h, GH_FN, c_void_p, _opts_p]),
    "gh_pool_wait": (c_int, [_h]),
    "gh_pool_resize": (c_int, [_h, c_int64]),
    "gh_pool_stat": (c_int, [_h, POINTER(c_int64), POINTER(c_int64), POINTER(c_int64)]),
    "gh_pool_free": (c_int, [_h]),
    "gh_serve": (c_int, [_h, GH_SERVE_FN, c_void_p, c_int64]),
    # runtime
    "gh_version": (c_char_p, []),
    "gh_set_log": (None, [GH_LOG_FN, c_void_p]),
    "gh_set_stack_size": (c_int, [c_size_t]),
    "gh_get_stack_size": (c_size_t, []),
    # seeing inside the hub
    "gh_thread_id": (c_int64, [_h]),
    "gh_dump": (c_int, [c_int]),
    "gh_stats": (c_int, [POINTER(GhHubStats)]),
    "gh_set_block_warn": (c_int, [c_int64]),
    # semaphores, events, channels, park
    "gh_sem_new": (_h, [c_int64]),
    "gh_sem_new_bounded": (_h, [c_int64]),
    "gh_sem_acquire": (c_int, [_h, c_int64]),
    "gh_sem_try_acquire": (c_int, [_h]),
    "gh_sem_release": (c_int, [_h]),
    "gh_sem_stat": (c_int, [_h, POINTER(c_int64), POINTER(c_int64)]),
    "gh_sem_free": (c_int, [_h]),
    "gh_event_new": (_h, []),
    "gh_event_set": (c_int, [_h, c_void_p]),
    "gh_event_wait": (c_int, [_h, POINTER(c_void_p), c_int64]),
    "gh_event_is_set": (c_int, [_h]),
    "gh_event_clear": (c_int, [_h]),
    "gh_event_free": (c_int, [_h]),
    "gh_chan_new": (_h, [c_int64]),
    "gh_chan_send": (c_int, [_h, c_void_p, c_int64]),
    "gh_chan_try_send": (c_int, [_h, c_void_p]),
    "gh_chan_recv": (c_int, [_h, POINTER(c_void_p), c_int64]),
    "gh_chan_try_recv": (c_int, [_h, POINTER(c_void_p)]),
    "gh_chan_close": (c_int, [_h]),
    "gh_chan_stat": (c_int, [_h, POINTER(c_int64), POINTER(c_int64), POINTER(c_int64)]),
    "gh_chan_free": (c_int, [_h]),
    "gh_park": (c_int, [POINTER(c_void_p)]),
    "gh_unpark": (c_int, [_h, c_void_p]),
    # green threads
    "gh_spawn": (_h, [GH_FN, c_void_p]),
    "gh_spawn_n": (_h, [GH_FN, c_void_p]),
    "gh_spawn_ex": (_h, [GH_FN, c_void_p, _opts_p]),
    "gh_join": (c_int, [_h, POINTER(c_int)]),
    "gh_kill": (c_int, [_h]),
    "gh_interrupt": (c_int, [_h]),
    "gh_exit": (None, [c_int]),
    "gh_self": (_h, []),
    "gh_sleep": (c_int, [c_int64]),
    "gh_yield": (c_int, []),
    "gh_set_name": (c_int, [_h, c_char_p]),
    "gh_get_name": (c_int, [_h, c_char_p, c_size_t]),
    "gh_run": (c_int, []),
    "gh_deadline_push": (c_int, [c_int64]),
    "gh_deadline_pop": (c_int, []),
    # thread pool
    "gh_tpool_execute": (c_int, [GH_TPOOL_FN, c_void_p, POINTER(c_void_p)]),
    "gh_tpool_set_size": (c_int, [c_size_t]),
    "gh_tpool_get_size": (c_size_t, []),
}

#: The two functions called through ``pylib`` (GIL held). Their ``void *`` object arguments
#: are declared ``py_object`` (a PyObject pointer); the options pointer stays ``c_void_p``.
PY_FUNCTIONS = {
    "gh_py_init": (c_int, []),
    "gh_py_spawn": (c_int64, [py_object, py_object, py_object, c_void_p]),
}


def _candidates():
    env = os.environ.get("GREENHUB_LIBRARY")
    if env:
        yield env
        return  # an explicit choice: do not silently load another library
    package = Path(__file__).resolve().parent
    yield str(package / "libgreenhub.so")
    # bindings/python/greenhub/ in a checkout of the repository, and only there (an installed
    # package's parents are site-packages and the like).
    repo = package.parents[2] if len(package.parents) > 2 else None
    if repo is not None and (repo / "capi" / "Cargo.toml").is_file():
        yield str(repo / "build" / "libgreenhub.so")
        yield str(repo / "target" / "release" / "libgreenhub_capi.so")
    found = ctypes.util.find_library("greenhub")
    if found:
        yield found


def _load():
    errors = []
    for candidate in _candidates():
        if os.sep in candidate and not os.path.exists(candidate):
            errors.append("%s: not found" % candidate)
            continue
        try:
            return (
                candidate,
                ctypes.CDLL(candidate, use_errno=True),
                ctypes.PyDLL(candidate, use_errno=True),
            )
        except OSError as e:
            errors.append("%s: %s" % (candidate, e))
    raise ImportError(
        "greenhub: cannot load libgreenhub.so (%s). Install the package with pip (it bundles "
        "the library), build it with `make` in the greenhub repository (build/libgreenhub.so), "
        "or set GREENHUB_LIBRARY to the library's path."
        % ("; ".join(errors) or "no candidate found")
    )


path, lib, pylib = _load()

for _name, (_restype, _argtypes) in FUNCTIONS.items():
    try:
        _f = getattr(lib, _name)
    except AttributeError:
        raise ImportError(
            "greenhub: %s does not export %s: rebuild it with `make` (or point "
            "GREENHUB_LIBRARY at a matching version)" % (path, _name)
        ) from None
    _f.restype = _restype
    _f.argtypes = _argtypes

#: The library once more, for the hot calls (a line, a send), opened with ``ctypes.PyDLL`` and
#: declared with no argtypes, for two savings:
#:
#: * no argtypes: ctypes calls with each argument as it is, so callers pass only ctypes objects
#:   made once (a c_int64 handle, a c_void_p address, a c_size_t length) or bytes (a pointer).
#:   With argtypes, ctypes converts every argument through its type's from_param, which costs
#:   about as much as the call: 636 ns against 330 for gh_readline with three arguments on data
#:   already buffered (Python 3.11, CPU 0). A plain int passed here would go as a C int: never.
#: * PyDLL: the GIL stays held through the call, where ``CDLL`` releases and re-takes it around
#:   every call (a call costs 1,778 instructions against 2,204: gh_self, Python 3.11). A call
#:   that has to switch green threads (nothing to read yet) releases it itself, from the
#:   library's switch hooks, and takes it back before it returns; one that does not (a line
#:   already buffered, a send the kernel takes) never gives it up. None of these calls runs
#:   long without switching.
_unconverted = ctypes.PyDLL(path, use_errno=True)


def unconverted(name):
    """``name``'s function for pre-converted arguments (see above), its restype set."""
    f = getattr(_unconverted, name)
    f.restype = FUNCTIONS[name][0]
    return f


for _name, (_restype, _argtypes) in PY_FUNCTIONS.items():
    _f = getattr(pylib, _name)
    _f.restype = _restype
    _f.argtypes = _argtypes

del _name, _restype, _argtypes, _f

get_errno = ctypes.get_errno
