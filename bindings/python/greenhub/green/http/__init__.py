"""Green versions of the standard ``http`` package's modules (``http.client``)."""
