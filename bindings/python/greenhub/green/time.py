"""The standard ``time`` module with a green ``sleep`` (Eventlet's ``eventlet.green.time``):
it waits only the calling green thread."""

import time as _real

from ..greenthread import sleep

__patched__ = ["sleep"]

globals().update(
    {k: v for k, v in vars(_real).items() if not k.startswith("__") and k not in __patched__}
)
