"""The network path from one lab VMware compute to the lab vCenter: a plain TCP forwarder.

Each VMware nova-compute reaches the vCenter through its own link, so a fault can cut one compute off
while the vCenter, its inventory, its sessions and every other client carry on, as a real partition does
(stopping the vCenter instead would reset its inventory and its sessions). TLS passes through untouched:
the compute still verifies the vCenter's certificate. Stopping the link refuses new connections and drops
open ones. Standalone on purpose (stdlib only): the lab starts it with its own interpreter.

    python3 vcenter_link.py --listen 127.0.0.1:26011 --to 127.0.0.1:26010
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

CHUNK = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _handler(to_host: str, to_port: int):
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(to_host, to_port)
        except OSError:
            client_writer.close()  # vCenter itself is away: the compute sees the connection close
            return
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))

    return handle


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def _serve(listen: tuple[str, int], to: tuple[str, int]) -> None:
    server = await asyncio.start_server(_handler(*to), *listen, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"vcenter link: {listen[0]}:{listen[1]} -> {to[0]}:{to[1]}", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT the compute connects to")
    parser.add_argument("--to", required=True, help="HOST:PORT of the vCenter")
    args = parser.parse_args()
    asyncio.run(_serve(_address(args.listen), _address(args.to)))


if __name__ == "__main__":
    main()
