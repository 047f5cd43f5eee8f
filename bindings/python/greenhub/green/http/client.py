"""The standard ``http.client``, imported afresh over green ``socket`` and ``ssl``: its
connections wait only the calling green thread (Eventlet's ``eventlet.green.http.client``).
Not needed after monkey_patch(), which greens the standard module's sockets in place."""

from ... import patcher
from .. import socket, ssl

patcher.inject("http.client", globals(), ("socket", socket), ("ssl", ssl))


del patcher
