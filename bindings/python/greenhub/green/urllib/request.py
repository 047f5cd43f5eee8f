"""The standard ``urllib.request``, imported afresh over green ``socket``, ``ssl`` and
``http.client`` (Eventlet's ``eventlet.green.urllib.request``). Not needed after
monkey_patch(), which greens the standard module's sockets in place."""

import http as _http_package
import types as _types

from ... import patcher
from .. import socket, ssl
from ..http import client as _client

_copy = patcher.inject("urllib.request", globals(), ("socket", socket), ("ssl", ssl),
                       ("http.client", _client))

# The copy reaches http.client as an attribute of the http package when it runs: give it a
# package of its own whose client is the green one.
http = _types.ModuleType("http")
http.__dict__.update(vars(_http_package))
http.client = _client
_copy.http = http

del patcher, _copy
