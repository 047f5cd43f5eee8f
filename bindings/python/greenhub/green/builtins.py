"""``monkey_patch(builtins=True)``: accepted, and nothing to patch. Eventlet patches ``open``
there to tell its hub that an fd number may have been reused; greenhub waits on a duplicate
of each fd, so a reused number cannot confuse it."""

__patched__ = []
