"""The seed's warning: proxy_read_timeout closes an idle tunnel (shortened here to 1s
from the default 60s) and the seed's long timeout (950s) keeps a silent one open. As in
nginx's upgraded mode, bytes in either direction re-arm the timeout.
"""

import asyncio
import time

import websockets

import ws_helpers as wh
from ws_helpers import ws_upstream  # noqa: F401 (fixture)

SHORT = "proxy_read_timeout 1s;"


def test_idle_tunnel_closes_after_proxy_read_timeout(start_ferry, ws_upstream):
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed="simple", http_extra=SHORT)
    fds = wh.FdWatch(ferry)

    async def talk():
        async with wh.ws_connect(port) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            t0 = time.monotonic()
            try:
                await asyncio.wait_for(ws.recv(), 6)
                raise AssertionError("a message on an idle tunnel")
            except websockets.ConnectionClosed:
                pass
            except asyncio.TimeoutError:
                raise AssertionError("idle tunnel still open after 6s with a 1s timeout")
            return time.monotonic() - t0

    took = wh.run(talk(), 15)
    assert 0.7 < took < 3.5, took
    assert wh.wait_until(lambda: ws_upstream.closed), "the upstream's side stayed open"
    assert wh.wait_until(lambda: wh.access_lines(ferry))
    line = wh.access_lines(ferry)[-1]
    assert line["status"] == "101" and float(line["request_time"]) >= 0.9, line
    fds.settled()


def test_seed_long_read_timeout_keeps_a_silent_tunnel_open(start_ferry, ws_upstream):
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed="map")  # 950s

    async def talk():
        async with wh.ws_connect(port) as ws:
            await ws.send("before")
            assert await ws.recv() == "before"
            await asyncio.sleep(3)
            await ws.send("after 3s of silence")
            assert await asyncio.wait_for(ws.recv(), 5) == "after 3s of silence"

    wh.run(talk(), 15)


def test_explicit_10s_read_timeout_keeps_a_tunnel_silent_for_3s(start_ferry, ws_upstream):
    """Distinguishes "long enough" from "never": the same 3 s of silence that closes
    nothing with 10s (here) closes the tunnel with 1s (above)."""
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed="simple",
                           http_extra="proxy_read_timeout 10s;")

    async def talk():
        async with wh.ws_connect(port) as ws:
            await asyncio.sleep(3)
            await ws.send("still here")
            assert await asyncio.wait_for(ws.recv(), 5) == "still here"

    wh.run(talk(), 15)


def test_client_traffic_alone_rearms_the_idle_timeout(start_ferry, ws_upstream):
    """The upstream (/ws/sink) never answers; the client sends every 0.25 s for 2.5 s
    (over twice the 1s timeout) and the tunnel stays; once the client stops, it closes."""
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed="simple", http_extra=SHORT)

    async def talk():
        async with wh.ws_connect(port, "/ws/sink") as ws:
            for i in range(10):
                await ws.send(f"tick {i}")
                await asyncio.sleep(0.25)
            t0 = time.monotonic()
            try:
                await asyncio.wait_for(ws.recv(), 6)
            except websockets.ConnectionClosed:
                return time.monotonic() - t0
            except asyncio.TimeoutError:
                raise AssertionError("silent tunnel still open 6s after the last message")

    took = wh.run(talk(), 20)
    assert took < 3.5, took
    assert ws_upstream.received.get("/ws/sink") == sum(len(f"tick {i}") for i in range(10))


def test_upstream_traffic_alone_rearms_the_idle_timeout(start_ferry, ws_upstream):
    """The upstream (/ws/push) sends every 0.25 s; the client only listens for 2.5 s."""
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed="simple", http_extra=SHORT)

    async def talk():
        async with wh.ws_connect(port, "/ws/push") as ws:
            got = []
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                got.append(await asyncio.wait_for(ws.recv(), 2))
            assert got == [f"push {n}" for n in range(len(got))] and len(got) >= 8, got

    wh.run(talk(), 15)
