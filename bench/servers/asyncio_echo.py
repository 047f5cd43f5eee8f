"""The seed's echo server written for asyncio streams (what its authors would write there):
a line in, the same line out, with the seed's log lines. --uvloop runs it on uvloop's loop.

usage: asyncio_echo.py [PORT] [--uvloop]
"""
import asyncio
import sys


async def handle(reader, writer):
    print("client connected")
    while True:
        x = await reader.readline()
        if not x:
            break
        writer.write(x)
        await writer.drain()
        print("echoed", x.decode(), end="")
    print("client disconnected")
    writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "0.0.0.0", port, backlog=50, reuse_address=True)
    print("server socket listening on port %d" % port)
    async with server:
        await server.serve_forever()


args = [a for a in sys.argv[1:] if not a.startswith("--")]
port = int(args[0]) if args else 6000
if "--uvloop" in sys.argv:
    import uvloop

    uvloop.install()
try:
    asyncio.run(main(port))
except KeyboardInterrupt:
    pass
