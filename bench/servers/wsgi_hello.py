"""The hello-world WSGI application of the HTTP benchmark, and the servers that run it.

    wsgi_hello.py greenhub PORT     greenhub.wsgi.server (PYTHONPATH=bindings/python)
    wsgi_hello.py eventlet PORT     eventlet.wsgi.server
    granian --interface wsgi ... wsgi_hello:app     Granian imports `app` from here

Access logs are off in every server (log_output=False; Granian logs none by default), so each
measures serving, not writing a log line per request.
"""
import sys


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, world!\n"]


def main():
    impl, port = sys.argv[1], int(sys.argv[2])
    if impl == "greenhub":
        import greenhub as eventlet
        from greenhub import wsgi
    else:
        import eventlet
        from eventlet import wsgi
    sock = eventlet.listen(("127.0.0.1", port), backlog=1024)
    wsgi.server(sock, app, log_output=False)


if __name__ == "__main__":
    main()
