"""WebSocket conversations through ferry with both seed configs verbatim: Python's
`websockets` as client and as upstream server. Text and binary messages, a 16 MiB
message each way, many fragmented messages, pings both ways, and close handshakes
started by either side; each tunnel's access log line (status 101) is written once it
ends and ferry's descriptors come back to their baseline.
"""

import asyncio
import os
import signal

import pytest
import websockets

import harness
import ws_helpers as wh
from ws_helpers import ws_upstream  # noqa: F401 (fixture)

SEEDS = sorted(wh.SEEDS)
BIG = (4 if wh.sanitized() else 16) * wh.MIB


def tunnels_logged(ferry, n, path_prefix="GET /ws/"):
    lines = [entry for entry in wh.access_lines(ferry) if entry["request"].startswith(path_prefix)]
    return len(lines) >= n and all(entry["status"] == "101" for entry in lines)


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_config_relays_text_and_binary_messages_both_ways(start_ferry, ws_upstream, seed):
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed=seed)
    fds = wh.FdWatch(ferry)

    async def talk():
        async with wh.ws_connect(port) as ws:
            assert ws.response_headers["Upgrade"].lower() == "websocket"
            assert ws.response_headers["Connection"].lower() == "upgrade"
            for message in ["hello ferry", "h\u00e9llo \u2713 \U0001f6a2", "",
                            b"\x00\xff" * 512, b"", wh.pattern(1, 70000), "x" * 65536]:
                await ws.send(message)
                echoed = await ws.recv()
                assert type(echoed) is type(message) and echoed == message
        assert ws.close_code == 1000

    wh.run(talk(), 20)
    assert wh.wait_until(lambda: tunnels_logged(ferry, 1)), wh.access_lines(ferry)
    fds.settled()


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_config_carries_a_16mib_message_each_way(start_ferry, ws_upstream, seed):
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed=seed)
    fds = wh.FdWatch(ferry)
    big = wh.pattern(seed, BIG)

    async def talk():
        async with wh.ws_connect(port) as ws:
            await ws.send(big)
            echoed = await ws.recv()
            assert len(echoed) == len(big) and echoed == big

    wh.run(talk(), 40)
    assert wh.wait_until(lambda: tunnels_logged(ferry, 1)), wh.access_lines(ferry)
    line = wh.access_lines(ferry)[-1]
    # The message crossed the tunnel once each way (plus framing, the handshake, and
    # permessage-deflate's overhead on random bytes, which websockets negotiates).
    assert BIG < int(line["bytes_sent"]) < BIG * 1.01, line
    assert BIG < int(line["request_length"]) < BIG * 1.01, line
    fds.settled()


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_config_carries_many_fragmented_messages_both_ways(start_ferry, ws_upstream, seed):
    """The client sends each message in fragments of varied sizes; the upstream
    (/ws/echo-frag) echoes it in 1,000-byte fragments."""
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed=seed)
    fds = wh.FdWatch(ferry)

    async def talk():
        async with wh.ws_connect(port, "/ws/echo-frag") as ws:
            for i in range(300):
                data = wh.pattern(i, 1 + (i * 997) % 20000)
                step = 1 + i % 700
                message = data if i % 2 else data.hex()
                await ws.send(message[j:j + step] for j in range(0, len(message), step))
                assert await ws.recv() == message, i

    wh.run(talk(), 30)
    assert wh.wait_until(lambda: tunnels_logged(ferry, 1))
    fds.settled()


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_config_carries_pings_and_pongs_both_ways(start_ferry, ws_upstream, seed):
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed=seed)

    async def talk():
        async with wh.ws_connect(port, "/ws/ping") as ws:
            # The upstream's ping was answered by this client through the tunnel.
            assert await asyncio.wait_for(ws.recv(), 5) == "pong:ping from upstream"
            for i in range(20):
                pong = await ws.ping(b"client ping %d" % i)
                await asyncio.wait_for(pong, 5)

    wh.run(talk(), 20)


@pytest.mark.parametrize("seed", SEEDS)
def test_close_handshake_started_by_client_reaches_upstream_and_ends_tunnel(
        start_ferry, ws_upstream, seed):
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed=seed)
    fds = wh.FdWatch(ferry)

    async def talk():
        async with wh.ws_connect(port) as ws:
            await ws.send("before close")
            assert await ws.recv() == "before close"
            await ws.close(4001, "client bye")
        assert (ws.close_code, ws.close_reason) == (4001, "client bye")

    wh.run(talk(), 20)
    assert wh.wait_until(lambda: ws_upstream.closed), "upstream never saw the close"
    assert ws_upstream.closed == [("/ws/echo", 4001, "client bye")]
    assert wh.wait_until(lambda: tunnels_logged(ferry, 1))
    fds.settled()


@pytest.mark.parametrize("seed", SEEDS)
def test_close_handshake_started_by_upstream_reaches_client_and_ends_tunnel(
        start_ferry, ws_upstream, seed):
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed=seed)
    fds = wh.FdWatch(ferry)

    async def talk():
        async with wh.ws_connect(port, "/ws/close-after") as ws:
            await ws.send("please close")
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
        assert (ws.close_code, ws.close_reason) == (4002, "server bye")

    wh.run(talk(), 20)
    assert wh.wait_until(lambda: ws_upstream.closed)
    assert ws_upstream.closed == [("/ws/close-after", 4002, "server bye")]
    assert wh.wait_until(lambda: tunnels_logged(ferry, 1))
    fds.settled()


EXAMPLE_FILES = {"simple": "seed-upgrade-literal.conf", "map": "seed-upgrade-map.conf"}


def example_text(seed):
    with open(os.path.join(harness.REPO, "examples", EXAMPLE_FILES[seed])) as f:
        return f.read()


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_snippets_used_here_are_those_of_the_examples(seed):
    """The configs above embed the seeds' lines; examples/ holds them as shipped."""
    text = example_text(seed).replace("localhost:8080", "localhost:@up@")
    for snippet in filter(None, wh.SEEDS[seed]):
        for line in snippet.split("\n"):
            assert line.strip() in text, line


@pytest.mark.parametrize("seed", SEEDS)
def test_example_seed_file_as_shipped_carries_a_websocket(start_ferry, ws_upstream, seed):
    """examples/seed-upgrade-*.conf with only its two ports changed (default workers,
    access log on stdout): an echo conversation, and its 101 line once it ended."""
    conf = (example_text(seed).replace("127.0.0.1:8000", "127.0.0.1:@port@")
            .replace("localhost:8080", "localhost:@up@"))
    assert "@port@" in conf and "@up@" in conf
    port = harness.free_port()
    ferry = start_ferry(conf, ports={"port": port, "up": ws_upstream.port})

    async def talk():
        async with wh.ws_connect(port) as ws:
            for message in ["seed " + seed, wh.pattern(seed, 100000)]:
                await ws.send(message)
                assert await ws.recv() == message

    wh.run(talk(), 15)
    ferry.stop(signal.SIGQUIT)
    assert b'"GET /ws/echo HTTP/1.1" 101 ' in ferry.stdout, ferry.stdout[-500:]
