"""The seed's first program ("Basic Eventlet usage") ported to Python 3 and to gevent: the same
structure and calls, with gevent's names (gevent has no eventlet.listen; a gevent socket bound
and listening the way eventlet.listen does it: SO_REUSEADDR, backlog 50).

usage: gevent_echo.py [PORT]
"""
import sys

import gevent.pool
from gevent import socket


def handle(fd):
    print("client connected")
    while True:
        # pass through every non-eof line
        x = fd.readline()
        if not x:
            break
        fd.write(x)
        fd.flush()
        print("echoed", x, end="")
    print("client disconnected")


def listen(addr, backlog=50):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(addr)
    sock.listen(backlog)
    return sock


port = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
print("server socket listening on port %d" % port)
server = listen(("0.0.0.0", port))
pool = gevent.pool.Pool(1000)  # eventlet.GreenPool()'s default size
while True:
    try:
        new_sock, address = server.accept()
        print("accepted", address)
        pool.spawn(handle, new_sock.makefile("rw"))
    except (SystemExit, KeyboardInterrupt):
        break
