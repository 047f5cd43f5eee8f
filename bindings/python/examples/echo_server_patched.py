"""The blog post's echo server written with the standard socket module, after
eventlet.monkey_patch(): the way most Eventlet programs are written.

Usage: PYTHONPATH=bindings/python python3 bindings/python/examples/echo_server_patched.py [PORT [HOST]]
(HOST: the address to listen on; all IPv4 addresses by default.)

Under Eventlet the same program runs with `import eventlet` instead of the import line.
"""
import sys

import greenhub as eventlet

eventlet.monkey_patch()

import socket  # noqa: E402  (after the patch, as Eventlet's documentation says)

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
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, PORT))
server.listen(50)

while True:
    try:
        new_sock, address = server.accept()
        print("accepted", address)
        eventlet.spawn_n(connection_handler, new_sock.makefile('rw'))
    except (SystemExit, KeyboardInterrupt):
        break
