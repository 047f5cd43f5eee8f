"""greenhub.wsgi's log: Eventlet's loggers (a logging.Logger as given, else a file wrapped),
the access log's time, and HTTP dates."""

import sys
import time

__all__ = ["LoggerNull", "LoggerFileWrapper", "get_logger", "format_date_time",
           "log_date_time_string", "addr_to_host_port"]

_weekdayname = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_monthname = [None, "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
              "Nov", "Dec"]


def format_date_time(timestamp):
    """Formats a unix timestamp as an HTTP date (RFC 9110)."""
    year, month, day, hh, mm, ss, wd, _y, _z = time.gmtime(timestamp)
    return "%s, %02d %3s %4d %02d:%02d:%02d GMT" % (
        _weekdayname[wd], day, _monthname[month], year, hh, mm, ss)


_log_date = [None, ""]


def log_date_time_string():
    """The access log's time, as BaseHTTPRequestHandler writes it (local time), made once a
    second."""
    now = int(time.time())
    if _log_date[0] != now:
        year, month, day, hh, mm, ss, _x, _y, _z = time.localtime(now)
        _log_date[:] = [now, "%02d/%3s/%04d %02d:%02d:%02d" % (
            day, _monthname[month], year, hh, mm, ss)]
    return _log_date[1]


def addr_to_host_port(addr):
    if isinstance(addr, tuple):
        return addr[0], addr[1]
    return "unix", ""


class LoggerNull:
    def error(self, msg, *args, **kwargs):
        pass

    info = debug = error

    def write(self, msg, *args):
        pass


class LoggerFileWrapper(LoggerNull):
    def __init__(self, log, debug):
        self.log = log
        self._debug = debug

    def error(self, msg, *args, **kwargs):
        self.write(msg, *args)

    info = error

    def debug(self, msg, *args, **kwargs):
        if self._debug:
            self.write(msg, *args)

    def write(self, msg, *args):
        msg = msg + "\n"
        if args:
            msg = msg % args
        self.log.write(msg)


def get_logger(log, debug):
    if callable(getattr(log, "info", None)) and callable(getattr(log, "debug", None)):
        return log
    return LoggerFileWrapper(log or sys.stderr, debug)
