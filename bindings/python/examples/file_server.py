"""The blog post's Eventlet file server ("Error Handling"), in Python 3, on greenhub.

Usage: PYTHONPATH=bindings/python python3 bindings/python/examples/file_server.py [PORT [HOST]]
(HOST: the address to listen on; all IPv4 addresses by default.)

A client sends a path ending with a NUL byte; the server sends that file back and closes the
connection. A path that does not exist makes open() raise: the traceback is printed, only
that green thread dies (its socket is closed), and the server goes on.

WARNING: like the original, this serves ANY file the client names. It is a demonstration of
error handling, not a server to expose: build/file_server (the C version in examples-c/,
confined to a root directory) is the safe one. One line was added to the original: a client
that closes before sending the NUL byte ends its handler (the original spun forever on
recv() returning b'', which stalled every other green thread).
"""
import sys

import greenhub as eventlet

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
HOST = sys.argv[2] if len(sys.argv) > 2 else ''


def connection_handler(sock):
    filepath = b''
    while b'\x00' not in filepath:
        byte = sock.recv(1)
        if not byte:  # not in the original, where a client leaving early made this spin
            return
        filepath += byte

    filepath = filepath.split(b'\x00')[0].decode()

    print('client requested: %s' % filepath)
    with open(filepath, 'rb') as fin:
        sock.sendall(fin.read())
    sock.close()


server = eventlet.listen((HOST, PORT))

while True:
    try:
        new_sock, address = server.accept()
        print("accepted", address)
        eventlet.spawn_n(connection_handler, new_sock)
    except (SystemExit, KeyboardInterrupt):
        break
