"""The seed's first program ("Basic Eventlet usage", from "Fast, easy, event driven servers in
Python with Eventlet") ported to Python 3, on Eventlet. The only changes: print() calls, and an
optional PORT argument so the benchmark can pick the port.

usage: eventlet_echo.py [PORT]
"""
import sys

import eventlet


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


port = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
print("server socket listening on port %d" % port)
server = eventlet.listen(("0.0.0.0", port))
pool = eventlet.GreenPool()
while True:
    try:
        new_sock, address = server.accept()
        print("accepted", address)
        pool.spawn_n(handle, new_sock.makefile("rw"))
    except (SystemExit, KeyboardInterrupt):
        break
