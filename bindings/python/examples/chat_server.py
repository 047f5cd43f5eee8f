"""A small chat server on greenhub's Eventlet API: every line a client sends goes to every
other client.

Usage: PYTHONPATH=bindings/python python3 bindings/python/examples/chat_server.py [PORT [HOST]]
(HOST: the address to listen on; all IPv4 addresses by default.)
Then, in two or more terminals: nc 127.0.0.1 6000

Each client has two green threads: one reads its lines (serve() starts it), one writes what
the others said, from the client's own Queue, so a slow client never holds up the rest.
"""
import sys

import greenhub as eventlet

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
HOST = sys.argv[2] if len(sys.argv) > 2 else ''

participants = {}  # client socket -> its outgoing Queue


def writer(sock, outbox):
    """Sends queued lines to one client until told to stop (None) or the client is gone."""
    while True:
        line = outbox.get()
        if line is None:
            break
        try:
            sock.sendall(line)
        except OSError:
            break


def handle(sock, address):
    """Runs in its own green thread for each client (serve() closes the socket after)."""
    name = "%s:%d" % address[:2]
    print("joined", name)
    outbox = eventlet.Queue()
    sender = eventlet.spawn(writer, sock, outbox)
    participants[sock] = outbox
    broadcast(sock, ("* %s joined\n" % name).encode())
    try:
        for line in sock.makefile("rb"):
            broadcast(sock, ("%s: " % name).encode() + line)
    except OSError:
        pass
    finally:
        del participants[sock]
        outbox.put(None)
        sender.wait()
        broadcast(sock, ("* %s left\n" % name).encode())
        print("left", name)


def broadcast(source, line):
    for sock, outbox in list(participants.items()):
        if sock is not source:
            outbox.put(line)


if __name__ == "__main__":
    server = eventlet.listen((HOST, PORT))
    print("chat server listening on port %d" % PORT)
    try:
        eventlet.serve(server, handle)
    except (SystemExit, KeyboardInterrupt):
        pass
