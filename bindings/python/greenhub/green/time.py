"""The standard ``time`` module with a green ``sleep`` (Eventlet's ``eventlet.green.time``):
it waits only the calling green thread."""

import time as _real

from ..greenthread import sleep
from ..patcher import copy_names as _copy_names

__patched__ = ["sleep"]

_copy_names(_real, globals(), skip=__patched__)
