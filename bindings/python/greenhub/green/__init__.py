"""Green versions of standard library modules (Eventlet's ``eventlet.green``): each has the
standard module's API, and its blocking calls wait only the calling green thread.
``greenhub.monkey_patch()`` puts them in place of the standard ones."""
