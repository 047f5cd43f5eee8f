"""N echo round trips of the seed's handler through a file from makefile('rw'): the peer sends
a 64-byte line, the file's readline + write + flush echo it, the peer receives it. Data is
always ready, so no green thread switches: what is left is the file's own cost. For
instruction counts (not part of `make bench`), the slope between two N under callgrind:

  for n in 2000 6000; do PYTHONPATH=bindings/python valgrind --tool=callgrind \
      --callgrind-out-file=/tmp/rt.$n PYTHON bench/micro/py_round_trip.py $n; done

(PYTHON: the interpreter itself, not a pyenv shim script.) ``plain`` as the second argument
runs the standard library's makefile on a plain socket instead.
"""
import socket
import sys

from greenhub import greenio

n = int(sys.argv[1])
plain = len(sys.argv) > 2 and sys.argv[2] == "plain"
line = b"x" * 63 + b"\n"
a, b = socket.socketpair()
f = a.makefile("rw") if plain else greenio.GreenSocket(a).makefile("rw")
for _ in range(n):
    b.send(line)
    f.write(f.readline())
    f.flush()
    b.recv(100)
