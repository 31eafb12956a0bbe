"""The seed's warning: proxy_read_timeout closes an idle tunnel (shortened here to 1s
from the default 60s) and the seed's long timeout (950s) keeps a silent one open. As in
nginx's upgraded mode, bytes in either direction re-arm the timeout. And the send
timeouts: a destination that stops reading is cut off, a slow but steady one is not.
"""

import asyncio
import selectors
import threading
import time

import pytest
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


# ---------------------------------------------------------------------------------
# Writes that cannot progress: send_timeout (toward the client) and proxy_send_timeout
# (toward the upstream). A destination that stops reading is cut off after the timeout;
# one that reads slowly but steadily is not (in nginx the timer is set again whenever
# the tunnel moves bytes).

SEND_TIMEOUTS = "send_timeout 1s; proxy_send_timeout 1s; proxy_read_timeout 30s;"


def pusher(peer_or_sock, seconds, result):
    """Sends for `seconds` or until a send fails; result["failed_after"] records when."""
    sock = getattr(peer_or_sock, "sock", peer_or_sock)
    chunk = wh.pattern("push", 64 << 10)
    t0 = time.monotonic()
    try:
        sock.settimeout(seconds + 5)
        while time.monotonic() - t0 < seconds:
            sock.sendall(chunk)
        result["failed_after"] = None
    except OSError:
        result["failed_after"] = time.monotonic() - t0


def steady_reader(sock, seconds, result, piece=256 << 10, pause=0.02):
    """Reads `piece` bytes every `pause` s for `seconds`; result["ended_after"] records
    when the other side ended the connection (None: it stayed open)."""
    t0 = time.monotonic()
    got = 0
    try:
        while time.monotonic() - t0 < seconds:
            data = sock.recv(piece)
            if not data:
                break
            got += len(data)
            time.sleep(pause)
        else:
            result.update(ended_after=None, got=got)
            return
    except OSError:
        pass
    result.update(ended_after=time.monotonic() - t0, got=got)


@pytest.mark.parametrize("stalled", ["client", "upstream"])
def test_destination_that_stops_reading_is_cut_off_after_its_send_timeout(start_ferry,
                                                                          stalled):
    """The other side pushes without pause; the stalled side reads nothing. With
    proxy_read_timeout 30s, only send_timeout/proxy_send_timeout (1s) can end it."""
    pushed = {}
    hold = threading.Event()

    def handler(peer, head):
        peer.send(wh.switching())
        if stalled == "client":
            pusher(peer, 10, pushed)
        hold.wait(10)

    up = wh.RawUpstream(handler, timeout=15.0)
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="simple", http_extra=SEND_TIMEOUTS)
        fds = wh.FdWatch(ferry)
        client, _ = wh.raw_upgrade(port, timeout=15.0)
        if stalled == "upstream":
            pusher(client, 10, pushed)
        else:
            assert wh.wait_until(lambda: "failed_after" in pushed, 10)
        assert pushed["failed_after"] is not None, "still pushing after 10s"
        assert pushed["failed_after"] < 5.0, pushed
        hold.set()
        client.close()
        assert up.join(5)
        fds.settled()
    finally:
        hold.set()
        up.close()


@pytest.mark.parametrize("slow", ["client", "upstream"])
def test_slow_but_steady_reader_is_not_cut_off_by_the_send_timeout(start_ferry, slow):
    """The other side pushes without pause; the slow side reads 256 KiB every 20 ms
    (several MB/s) for 3 s, three times the 1s send timeout."""
    pushed, read = {}, {}

    def handler(peer, head):
        peer.send(wh.switching())
        if slow == "client":
            pusher(peer, 4, pushed)
        else:
            steady_reader(peer.sock, 3, read)

    up = wh.RawUpstream(handler, timeout=15.0)
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="simple", http_extra=SEND_TIMEOUTS)
        client, _ = wh.raw_upgrade(port, timeout=15.0)
        if slow == "client":
            steady_reader(client.sock, 3, read)
        else:
            threading.Thread(target=pusher, args=(client, 4, pushed), daemon=True).start()
            assert wh.wait_until(lambda: "ended_after" in read, 10)
        assert read["ended_after"] is None, (
            f"cut off after {read['ended_after']:.2f}s having read {read['got']} bytes")
        client.close()
        up.join(5)
    finally:
        up.close()


def test_many_tunnels_time_out_each_on_its_own_schedule(start_ferry):
    """100 raw tunnels, proxy_read_timeout 1s. Half stay idle and must close after about
    1 s; the other half send a byte every 0.3 s for 2 s (the upstream echoes it) and
    must live until about 1 s after their last byte."""
    count = 100

    def echo(peer, head):
        peer.send(wh.switching())
        try:
            while True:
                data = peer.sock.recv(4096)
                if not data:
                    return
                peer.send(data)
        except OSError:
            return

    up = wh.RawUpstream(echo, timeout=10.0)
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="simple", http_extra=SHORT)
        fds = wh.FdWatch(ferry)
        peers = [wh.raw_upgrade(port)[0] for _ in range(count)]
        sel = selectors.DefaultSelector()
        for i, p in enumerate(peers):
            assert p.buf == b""
            sel.register(p.sock, selectors.EVENT_READ, i)
        t0 = time.monotonic()
        ended = {}
        next_tick = t0
        while time.monotonic() - t0 < 5.0 and len(ended) < count:
            now = time.monotonic()
            if now >= next_tick and now - t0 < 2.0:
                for i in range(0, count, 2):  # the active half
                    if i not in ended:
                        peers[i].send(b"x")
                next_tick += 0.3
            for key, _ in sel.select(timeout=0.05):
                try:
                    data = key.fileobj.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    ended[key.data] = time.monotonic() - t0
                    sel.unregister(key.fileobj)
        sel.close()
        idle = [ended.get(i) for i in range(1, count, 2)]
        active = [ended.get(i) for i in range(0, count, 2)]
        assert all(t is not None and 0.8 < t < 2.0 for t in idle), sorted(idle, key=str)
        assert all(t is not None and 2.5 < t < 4.5 for t in active), sorted(active, key=str)
        for p in peers:
            p.close()
        assert up.join(5)
        fds.settled()
    finally:
        up.close()
