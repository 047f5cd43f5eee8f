"""The blog post's Eventlet echo server, in Python 3, on greenhub.

Usage: PYTHONPATH=bindings/python python3 bindings/python/examples/echo_server.py [PORT [HOST]]
(HOST: the address to listen on; all IPv4 addresses by default.)

Besides print() and the port and host arguments, the only change from the Eventlet program
is the import line.
"""
import sys

import greenhub as eventlet

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
HOST = sys.argv[2] if len(sys.argv) > 2 else ''


def connection_handler(fd):
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


print("server socket listening on port %d" % PORT)
server = eventlet.listen((HOST, PORT))

while True:
    try:
        new_sock, address = server.accept()
        print("accepted", address)
        eventlet.spawn_n(connection_handler, new_sock.makefile('rw'))
    except (SystemExit, KeyboardInterrupt):
        break
