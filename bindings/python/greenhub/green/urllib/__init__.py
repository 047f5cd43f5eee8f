"""Green versions of the standard ``urllib`` package's modules (``urllib.request``)."""
