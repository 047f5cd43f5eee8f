"""Eventlet's name for the green ``_thread`` module (``eventlet.green.thread``): the same
module object."""

import sys

from . import _thread

sys.modules[__name__] = _thread
