"""A read-only FUSE filesystem whose files are slow on purpose, for greenhub's tests.

    python slowfs.py MOUNTPOINT [--open-delay S] [--read-delay S]

Runs in the foreground until it is unmounted or gets SIGTERM/SIGINT (libfuse then unmounts).
It needs fusepy and libfuse.so.2 (Debian: libfuse2), and the right to mount (root, /dev/fuse).

Files (contents are fixed, see `content`):
  slow_open.bin  64 KiB; every open(2) of it takes --open-delay seconds (default 3)
  slow_read.bin  1 MiB;  every read the kernel sends takes --read-delay seconds (default 0.2),
                 one read at a time (the kernel asks for 128 KiB a time: 1.6 s for the file)
  fast.txt       a few bytes, no delay

Every open is a new one for the kernel's page cache (no keep_cache), so each request that opens
slow_read.bin reads it from this process again, at the read delay.
"""

from __future__ import annotations

import argparse
import errno
import random
import stat
import sys
import threading
import time

SIZES = {
    "slow_open.bin": 64 << 10,
    "slow_read.bin": 1 << 20,
    "fast.txt": 0,  # see content()
}


def content(name: str) -> bytes:
    """The bytes of file `name`; tests import this to check what they received."""
    if name == "fast.txt":
        return b"fast file\n"
    return random.Random(name).randbytes(SIZES[name])


def main() -> int:
    from fuse import FUSE, FuseOSError, Operations  # fusepy

    parser = argparse.ArgumentParser()
    parser.add_argument("mountpoint")
    parser.add_argument("--open-delay", type=float, default=3.0)
    parser.add_argument("--read-delay", type=float, default=0.2)
    args = parser.parse_args()

    files = {name: content(name) for name in SIZES}
    one_read_at_a_time = threading.Lock()  # the kernel's readahead would overlap them
    now = time.time()

    class SlowFS(Operations):
        def getattr(self, path, fh=None):
            if path == "/":
                mode, size, links = stat.S_IFDIR | 0o555, 0, 2
            elif path[1:] in files:
                mode, size, links = stat.S_IFREG | 0o444, len(files[path[1:]]), 1
            else:
                raise FuseOSError(errno.ENOENT)
            return dict(st_mode=mode, st_size=size, st_nlink=links,
                        st_atime=now, st_mtime=now, st_ctime=now)

        def readdir(self, path, fh):
            return [".", ".."] + list(files)

        def open(self, path, flags):
            if path[1:] not in files:
                raise FuseOSError(errno.ENOENT)
            if flags & 3 != 0:  # O_RDONLY only
                raise FuseOSError(errno.EROFS)
            if path == "/slow_open.bin":
                time.sleep(args.open_delay)
            return 0

        def read(self, path, size, offset, fh):
            if path == "/slow_read.bin":
                with one_read_at_a_time:
                    time.sleep(args.read_delay)
            return files[path[1:]][offset : offset + size]

    # Threads: a slow open or read must not hold up the kernel's other requests (lookups).
    FUSE(SlowFS(), args.mountpoint, foreground=True, nothreads=False, ro=True,
         fsname="greenhub-slowfs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
