"""The standard ``socketserver``, imported afresh over the green modules (``socket``,
``selectors``, and whichever others greenhub has): its servers accept and serve on green
sockets (Eventlet's ``eventlet.green.SocketServer``)."""

from .. import patcher

patcher.inject("socketserver", globals())

del patcher
