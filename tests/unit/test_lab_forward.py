"""The forwarder's delay: each chunk held D per direction, order kept (no netem here)."""

from __future__ import annotations

import asyncio
import time

from pyengine.lab.forward import _pump


async def _relay(delay: float, chunks: list[bytes]) -> tuple[bytes, list[float]]:
    """Feed chunks through _pump into a local TCP pair; return what arrived and when."""
    arrivals: list[float] = []
    received = bytearray()
    done = asyncio.Event()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            received.extend(data)
            arrivals.append(time.monotonic())
        writer.close()
        done.set()

    server = await asyncio.start_server(sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _r, out_w = await asyncio.open_connection("127.0.0.1", port)
    in_r = asyncio.StreamReader()
    start = time.monotonic()
    pump = asyncio.create_task(_pump(in_r, out_w, delay))
    for chunk in chunks:
        in_r.feed_data(chunk)
        await asyncio.sleep(0.01)
    in_r.feed_eof()
    await pump
    await asyncio.wait_for(done.wait(), 5)
    server.close()
    return bytes(received), [t - start for t in arrivals]


def test_delay_holds_each_chunk_and_keeps_order() -> None:
    chunks = [f"chunk{i};".encode() for i in range(5)]
    data, arrivals = asyncio.run(_relay(0.08, chunks))
    assert data == b"".join(chunks)
    assert arrivals[0] >= 0.075  # nothing arrives before the delay


def test_no_delay_passes_data_through_at_once() -> None:
    data, arrivals = asyncio.run(_relay(0.0, [b"a", b"b"]))
    assert data == b"ab"
    assert arrivals[0] < 0.05
