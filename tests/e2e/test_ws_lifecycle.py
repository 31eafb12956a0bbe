"""A tunnel's life around it: the access log line written when it ends (status 101,
$request_time over the tunnel's life, byte counts including the tunnelled bytes),
SIGQUIT (the tunnel runs on until it ends, or until worker_shutdown_timeout), SIGHUP
(the tunnel keeps working), and ferry's descriptors back to the baseline after every
kind of ending on one ferry.
"""

import asyncio
import signal
import socket
import threading
import time

import pytest
import websockets

import harness
import ws_helpers as wh
from ws_helpers import ws_upstream  # noqa: F401 (fixture)


def tunnel_lines(ferry, prefix="GET /ws/"):
    return [e for e in wh.access_lines(ferry) if e["request"].startswith(prefix)]


def logged_tunnel(start_ferry, pipelined):
    """A raw tunnel with known bytes each way, alive for over 1.2 s. With `pipelined`,
    100 bytes follow the request head in its write and 200 follow the upstream's 101 in
    its write; otherwise every write waits for the other side's. Returns (log line,
    expected fields, lifetime)."""
    p1, d1 = wh.pattern("p1", 100), wh.pattern("d1", 200)
    c2, d2 = wh.pattern("c2", 5000), wh.pattern("d2", 7000)
    upstream_101 = wh.switching(extra="X-Tunnel: yes\r\n")
    seen = {}

    def handler(peer, head):
        seen["head"] = head
        if pipelined:
            peer.send(upstream_101 + d1)  # the client's bytes come after the 101
            seen["p1"] = peer.read_exact(len(p1))
        else:
            peer.send(upstream_101)
            seen["p1"] = peer.read_exact(len(p1))
            peer.send(d1)
        seen["c2"] = peer.read_exact(len(c2))
        peer.send(d2)
        seen["end"] = peer.read_to_end(10)

    up = wh.RawUpstream(handler, timeout=10.0)
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="simple")
        request = wh.upgrade_request("/ws/logged")
        t0 = time.monotonic()
        client = wh.Peer.connect(port)
        client.send(request + p1 if pipelined else request)
        head = client.read_head()
        assert wh.status(head) == 101 and wh.header(head, "X-Tunnel") == "yes", head
        if not pipelined:
            assert client.buf == b""
            client.send(p1)
        assert client.read_exact(len(d1)) == d1
        time.sleep(1.2)
        client.send(c2)
        assert client.read_exact(len(d2)) == d2
        assert tunnel_lines(ferry) == [], "logged before the tunnel ended"
        client.shutdown_write()
        assert client.read_to_end(5) == (b"", "eof")
        lifetime = time.monotonic() - t0
        client.close()
        assert up.join(5) and not up.errors, up.errors
        assert (seen["p1"], seen["c2"], seen["end"]) == (p1, c2, (b"", "eof"))
        assert wh.wait_until(lambda: tunnel_lines(ferry), 3), "no access log line"
        [line] = tunnel_lines(ferry)
        expected = {
            "request": "GET /ws/logged HTTP/1.1",
            "status": "101",
            "upstream_status": "101",
            "bytes_sent": str(len(head) + len(d1) + len(d2)),
            "body_bytes_sent": str(len(d1) + len(d2)),
            "request_length": str(len(request) + len(p1) + len(c2)),
            "upstream_bytes_sent": str(len(seen["head"]) + len(p1) + len(c2)),
            "upstream_bytes_received": str(len(upstream_101) + len(d1) + len(d2)),
        }
        return line, expected, lifetime
    finally:
        up.close()


def test_access_log_line_is_written_at_tunnel_end_with_101_lifetime_and_byte_counts(
        start_ferry):
    line, expected, lifetime = logged_tunnel(start_ferry, pipelined=False)
    assert {k: line[k] for k in expected} == expected
    assert 1.2 <= float(line["request_time"]) <= lifetime + 0.1, (line, lifetime)


def test_access_log_counts_bytes_pipelined_with_the_request_and_with_the_101(start_ferry):
    line, expected, lifetime = logged_tunnel(start_ferry, pipelined=True)
    assert {k: line[k] for k in expected} == expected


def connect_refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def test_quit_keeps_an_open_tunnel_until_it_ends_then_exits_0(start_ferry, ws_upstream):
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed="map")

    async def talk():
        async with wh.ws_connect(port) as ws:
            await ws.send("before QUIT")
            assert await ws.recv() == "before QUIT"
            ferry.send_signal(signal.SIGQUIT)
            assert await asyncio.to_thread(wh.wait_until, lambda: connect_refused(port), 3), \
                "still accepting after SIGQUIT"
            await asyncio.sleep(1.0)
            assert ferry.proc.poll() is None, "ferry exited with a tunnel open"
            for i in range(5):
                await ws.send(f"after QUIT {i}")
                assert await ws.recv() == f"after QUIT {i}"
        assert ws.close_code == 1000

    wh.run(talk(), 20)
    assert ferry.wait(5) == 0, "ferry did not exit 0 once its last tunnel ended"
    assert [e["status"] for e in tunnel_lines(ferry)] == ["101"]


def test_quit_closes_an_open_tunnel_after_worker_shutdown_timeout(start_ferry, ws_upstream):
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed="map",
                           main_extra="worker_shutdown_timeout 1s;")

    async def talk():
        async with wh.ws_connect(port) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            t0 = time.monotonic()
            ferry.send_signal(signal.SIGQUIT)
            try:
                await asyncio.wait_for(ws.recv(), 6)
                raise AssertionError("a message after QUIT")
            except websockets.ConnectionClosed:
                return time.monotonic() - t0
            except asyncio.TimeoutError:
                raise AssertionError("tunnel still open 6s after QUIT with a 1s timeout")

    took = wh.run(talk(), 20)
    assert 0.7 < took < 3.5, took
    assert ferry.wait(5) == 0
    assert wh.wait_until(lambda: ws_upstream.closed), "the upstream's side stayed open"


def test_reload_keeps_an_open_tunnel_working(start_ferry, ws_upstream):
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed="simple")
    fds = wh.FdWatch(ferry)

    async def talk():
        async with wh.ws_connect(port) as old:
            await old.send("before reload")
            assert await old.recv() == "before reload"
            ferry.send_signal(signal.SIGHUP)
            assert await asyncio.to_thread(
                wh.wait_until, lambda: "reconfigured" in ferry.read_error_log(), 5)
            await asyncio.sleep(0.3)
            for i in range(3):
                await old.send(f"after reload {i}")
                assert await old.recv() == f"after reload {i}"
            async with wh.ws_connect(port) as new:
                await new.send("new tunnel")
                assert await new.recv() == "new tunnel"
            await old.send("still")
            assert await old.recv() == "still"

    wh.run(talk(), 20)
    assert ferry.proc.poll() is None
    assert wh.wait_until(lambda: len(tunnel_lines(ferry)) == 2)
    fds.settled()


RAW_LOCATION = """
        location /raw/ { proxy_pass http://127.0.0.1:@raw@; proxy_http_version 1.1;
                         proxy_set_header Upgrade $http_upgrade;
                         proxy_set_header Connection "upgrade"; }
"""


def raw_behaviours():
    """Raw upstream behaviours chosen by the last path segment."""

    def half_client(peer, head):  # reads the client's EOF, answers, closes
        peer.send(wh.switching())
        peer.read_to_end(5)
        peer.send(b"bye")

    def half_upstream(peer, head):  # ends its side first, then waits for the client's
        peer.send(wh.switching() + b"bye")
        peer.shutdown_write()
        peer.read_to_end(5)

    def reset(peer, head):
        peer.send(wh.switching())
        time.sleep(0.1)
        peer.reset()

    def hold(peer, head):  # silent until ferry or the client ends it
        peer.send(wh.switching())
        peer.read_to_end(5)

    def refuse(peer, head):
        peer.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad")

    def switch_anyway(peer, head):
        peer.send(wh.switching())
        peer.read_to_end(3)

    table = dict(half_client=half_client, half_upstream=half_upstream, reset=reset,
                 hold=hold, refuse=refuse, switch_anyway=switch_anyway)

    def handler(peer, head):
        table[head.split(b" ")[1].decode().rsplit("/", 1)[1]](peer, head)

    return handler


def test_descriptors_back_to_baseline_after_every_kind_of_tunnel_end(start_ferry, ws_upstream):
    """One ferry (proxy_read_timeout 1s) sees: close handshakes from each side, an idle
    timeout, 50 tunnels at once, raw half-closes in each direction, an upstream reset,
    a vanishing client, a refused upgrade, and a 101 to a plain request. Afterwards its
    descriptors (ferry.fds()) are the baseline plus at most the pool's 64 free pipes,
    and its sockets and files exactly the baseline."""
    up = wh.RawUpstream(raw_behaviours())
    try:
        ferry, port = wh.start(start_ferry, ws_upstream.port, {"raw": up.port},
                               seed="simple", http_extra="proxy_read_timeout 1s;",
                               server_extra=RAW_LOCATION)
        base = ferry.fds()
        fds = wh.FdWatch(ferry)

        async def websocket_endings():
            async with wh.ws_connect(port) as ws:
                await ws.send(wh.pattern(1, 300000))
                await ws.recv()
                await ws.close(4001, "client")
            async with wh.ws_connect(port, "/ws/close-after") as ws:
                await ws.send("x")
                await ws.wait_closed()
            async with wh.ws_connect(port) as ws:  # idle timeout
                await asyncio.wait_for(ws.wait_closed(), 5)

            async def one(i):
                async with wh.ws_connect(port, compression=None) as ws:
                    m = wh.pattern(i, 20000 + i)
                    await ws.send(m)
                    assert await ws.recv() == m
            await asyncio.gather(*(one(i) for i in range(50)))

        wh.run(websocket_endings(), 30)

        c, _ = wh.raw_upgrade(port, "/raw/half_client")
        c.shutdown_write()
        assert c.read_to_end(5) == (b"bye", "eof")
        c.close()
        c, _ = wh.raw_upgrade(port, "/raw/half_upstream")
        assert c.read_to_end(5) == (b"bye", "eof")
        c.shutdown_write()
        c.close()
        c, _ = wh.raw_upgrade(port, "/raw/reset")
        assert c.ended_within(3) is not None
        c.close()
        c, _ = wh.raw_upgrade(port, "/raw/hold")
        c.send(b"some bytes")
        c.reset()  # the client vanishes
        c, _ = wh.raw_upgrade(port, "/raw/hold")
        assert c.ended_within(4) is not None  # idle timeout
        c.close()
        assert harness.request(port, wh.upgrade_request("/raw/refuse")).status == 400
        # a 101 to a client that did not ask to upgrade is passed on alone (as nginx
        # does) and the connection then closed: no tunnel, no slot kept
        assert harness.request(port, wh.upgrade_request("/raw/switch_anyway",
                                                        upgrade=False)).status == 101
        assert up.join(10) and not up.errors, up.errors
        fds.settled()
        assert ferry.fds() - base <= wh.PIPE_POOL_CAP_FDS, (ferry.fds(), base)
    finally:
        up.close()


def test_tunnel_endings_give_back_their_worker_connections(start_ferry):
    """worker_connections 8: 36 tunnels one after another, ending every way, then one
    more still gets through. A tunnel that kept its two slots would exhaust them."""
    up = wh.RawUpstream(raw_behaviours())
    try:
        ferry, port = wh.start(start_ferry, up.port, {"raw": up.port}, seed="simple",
                               http_extra="proxy_read_timeout 1s;",
                               server_extra=RAW_LOCATION, worker_connections=8)
        for _ in range(6):
            c, _ = wh.raw_upgrade(port, "/raw/half_client")
            c.shutdown_write()
            assert c.read_to_end(5) == (b"bye", "eof")
            c.close()
            c, _ = wh.raw_upgrade(port, "/raw/half_upstream")
            assert c.read_to_end(5) == (b"bye", "eof")
            c.close()
            c, _ = wh.raw_upgrade(port, "/raw/reset")
            assert c.ended_within(3) is not None
            c.close()
            c, _ = wh.raw_upgrade(port, "/raw/hold")
            c.reset()
            assert harness.request(port, wh.upgrade_request("/raw/refuse")).status == 400
            assert harness.request(port, wh.upgrade_request("/raw/switch_anyway",
                                                            upgrade=False)).status == 101
        c, _ = wh.raw_upgrade(port, "/raw/hold")
        assert c.ended_within(4) is not None  # idle timeout
        c.close()
        assert up.join(10) and not up.errors, up.errors
        for _ in range(3):
            c, _ = wh.raw_upgrade(port, "/raw/half_client")
            c.shutdown_write()
            assert c.read_to_end(5)[1] == "eof"
            c.close()
        assert "worker_connections are not enough" not in ferry.read_error_log()
    finally:
        up.close()


def test_sigterm_ends_idle_blocked_and_half_closed_tunnels_at_once(start_ferry):
    """Three tunnels: idle, one whose client does not read while its upstream pushes
    (its pipe holds bytes), and one half-closed. SIGTERM: every client sees its end
    within 2 s and ferry exits 0."""
    stop = threading.Event()

    def handler(peer, head):
        kind = head.split(b" ")[1].decode().rsplit("/", 1)[1]
        peer.send(wh.switching())
        if kind == "push":
            try:
                while not stop.is_set():
                    peer.sock.sendall(b"p" * 65536)
            except OSError:
                pass
        else:
            peer.read_to_end(10)

    up = wh.RawUpstream(handler, timeout=10.0)
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="simple")
        idle, _ = wh.raw_upgrade(port, "/ws/idle")
        blocked, _ = wh.raw_upgrade(port, "/ws/push")
        half, _ = wh.raw_upgrade(port, "/ws/half")
        half.shutdown_write()
        assert wh.wait_until(lambda: wh.pipes_holding_bytes(ferry.pid, {0, 1, 2}), 10)
        t0 = time.monotonic()
        ferry.send_signal(signal.SIGTERM)
        for name, peer in (("idle", idle), ("half", half)):
            assert peer.ended_within(2) is not None, f"{name} tunnel still open"
        assert blocked.read_to_end(3)[1] in ("eof", "reset"), "pushing tunnel still open"
        assert ferry.wait(5) == 0
        assert time.monotonic() - t0 < 5
    finally:
        stop.set()
        up.close()
