"""Green-thread-local data (Eventlet's ``eventlet.corolocal``). Every greenhub green thread
has its own interpreter thread state, so the standard ``threading.local`` is per green thread
already: ``local`` is that very class (subclasses' ``__init__`` run once per green thread,
with the constructor's arguments, as there)."""

from _thread import _local as local

from .lock import get_ident

__all__ = ["get_ident", "local"]
