"""Eventlet's name for the green ``queue`` module (``eventlet.green.Queue``): the same module
object."""

import sys

from . import queue

sys.modules[__name__] = queue
