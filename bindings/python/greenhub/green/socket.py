"""The standard ``socket`` module on green sockets (Eventlet's ``eventlet.green.socket``):
``socket`` is GreenSocket (any family and type), and the module's own functions
(``create_connection``, ``create_server``, ``socketpair``, ``fromfd``, ``getfqdn``...) are the
standard library's, run against this module's names, so they make green sockets. Name
lookups (``getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex``, ``gethostbyaddr``,
``getnameinfo``) run on greenhub's thread pool: a slow name server stalls only the calling
green thread. Numeric addresses are answered in place (no lookup, no thread)."""

import socket as _std
import types as _types

from .. import tpool as _tpool
from ..patcher import copy_names as _copy_names, rebind as _rebind
from ..greenio import GreenSocket as socket

#: What monkey_patch() sets on the standard module.
__patched__ = [
    "socket",
    "create_connection",
    "create_server",
    "socketpair",
    "fromfd",
    "getfqdn",
    "getaddrinfo",
    "gethostbyname",
    "gethostbyname_ex",
    "gethostbyaddr",
    "getnameinfo",
]

# Everything else of the standard module, as it is (constants, exceptions, inet_* helpers).
_copy_names(_std, globals(), skip=__patched__)

_std_getaddrinfo = _std.getaddrinfo  # the stdlib's wrapper (it returns enum members)
_std_gethostbyname = _std.gethostbyname
_std_gethostbyname_ex = _std.gethostbyname_ex
_std_gethostbyaddr = _std.gethostbyaddr
_std_getnameinfo = _std.getnameinfo


def _numeric(host):
    """True if *host* needs no lookup: None, or a numeric IPv4/IPv6 address."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    bare = host.split("%", 1)[0]
    for family in (_std.AF_INET, _std.AF_INET6):
        try:
            _std.inet_pton(family, bare)
            return True
        except (OSError, ValueError):
            pass
    return False


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """socket.getaddrinfo, resolved on the thread pool (numeric hosts at once)."""
    if _numeric(host):
        return _std_getaddrinfo(host, port, family, type, proto, flags)
    return _tpool.execute(_std_getaddrinfo, host, port, family, type, proto, flags)


def gethostbyname(hostname):
    if _numeric(hostname) and hostname is not None:
        return _std_gethostbyname(hostname)
    return _tpool.execute(_std_gethostbyname, hostname)


def gethostbyname_ex(hostname):
    return _tpool.execute(_std_gethostbyname_ex, hostname)


def gethostbyaddr(ip_address):
    return _tpool.execute(_std_gethostbyaddr, ip_address)


def getnameinfo(sockaddr, flags):
    if flags & _std.NI_NUMERICHOST and flags & _std.NI_NUMERICSERV:
        return _std_getnameinfo(sockaddr, flags)  # no lookup
    return _tpool.execute(_std_getnameinfo, sockaddr, flags)


# The standard module's Python functions, making green sockets: create_connection,
# create_server, socketpair, fromfd, getfqdn, has_dualstack_ipv6, send_fds, recv_fds...
for _name, _value in list(vars(_std).items()):
    if (isinstance(_value, _types.FunctionType) and _value.__module__ == "socket"
            and _name not in ("getaddrinfo",)):
        globals()[_name] = _rebind(_value, globals())
del _name, _value

SocketType = _std.SocketType
