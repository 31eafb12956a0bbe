"""Bytes that travel in the same write as the handshake: a client frame sent together
with the upgrade request, and an upstream frame written together with its 101. ferry
must pass them on first, in order, before the tunnel's own traffic; the protocol inside
is opaque (a custom Upgrade token works as well as websocket).
"""

import asyncio
import threading

import demo_wire
import ws_helpers as wh
from demo_wire import BINARY, TEXT, frame
from ws_helpers import ws_upstream  # noqa: F401 (fixture)


def test_frame_sent_with_the_upgrade_request_reaches_the_websockets_upstream_first(
        start_ferry, ws_upstream):
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed="simple")
    fds = wh.FdWatch(ferry)
    with demo_wire.WireClient(port) as c:
        r = c.upgrade(then=frame(TEXT, "pipelined") + frame(BINARY, b"\x00second"))
        assert r.header("Sec-WebSocket-Accept") == demo_wire.RFC_ACCEPT
        assert r.header("Upgrade").lower() == "websocket"
        assert r.header("Connection").lower() == "upgrade"
        c.send(frame(TEXT, "after the 101"))
        assert c.read_frame() == (True, TEXT, b"pipelined")
        assert c.read_frame() == (True, BINARY, b"\x00second")
        assert c.read_frame() == (True, TEXT, b"after the 101")
        c.send(frame(demo_wire.CLOSE, b"\x03\xe8"))
        assert c.read_frame() == (True, demo_wire.CLOSE, b"\x03\xe8")
        assert c.is_closed()
    fds.settled()


def ws_server_frame(opcode, payload):
    return frame(opcode, payload, mask=False)


def test_frame_written_with_the_101_reaches_the_websockets_client(start_ferry):
    """A raw upstream writes its 101 and two frames in one write; Python's websockets
    client must get both messages."""

    def handler(peer, head):
        key = wh.header(head, "Sec-WebSocket-Key")
        accept = wh.accept_value(key)
        peer.send(wh.switching("websocket", f"Sec-WebSocket-Accept: {accept}\r\n")
                  + ws_server_frame(TEXT, "written with the 101")
                  + ws_server_frame(BINARY, wh.pattern(7, 3000)))
        first = peer.read_exact(2)  # the client's close frame
        assert first[0] == 0x88, first
        peer.send(ws_server_frame(demo_wire.CLOSE, b"\x03\xe8"))
        peer.shutdown_write()
        peer.read_to_end(5)

    up = wh.RawUpstream(handler)
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="map")
        fds = wh.FdWatch(ferry)

        async def talk():
            async with wh.ws_connect(port, "/ws/raw", compression=None) as ws:
                assert await asyncio.wait_for(ws.recv(), 5) == "written with the 101"
                assert await asyncio.wait_for(ws.recv(), 5) == wh.pattern(7, 3000)
            assert ws.close_code == 1000

        wh.run(talk(), 15)
        assert up.join(5) and not up.errors, up.errors
        fds.settled()
    finally:
        up.close()


def test_pipelined_bytes_both_ways_go_first_and_in_order_with_a_custom_token(start_ferry):
    """Client: request head + A (100 KiB) in one write, then C after the 101.
    Upstream: 101 + B (256 KiB) in one write, then D. The upstream must read exactly
    A+C, the client exactly B+D after ferry's 101."""
    a, b = wh.pattern("A", 100 << 10), wh.pattern("B", 256 << 10)
    c, d = wh.pattern("C", 5000), wh.pattern("D", 7000)
    got = {}

    def handler(peer, head):
        got["head"] = head
        peer.send(wh.switching() + b)
        got["upstream"] = peer.read_exact(len(a) + len(c))
        peer.send(d)
        got["upstream_rest"] = peer.read_to_end(5)

    up = wh.RawUpstream(handler)
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="simple")
        fds = wh.FdWatch(ferry)
        client = wh.Peer.connect(port)
        # In a thread: before the 101, ferry need not read the pipelined bytes.
        sender = threading.Thread(target=client.send, args=(wh.upgrade_request() + a,))
        sender.start()
        head = client.read_head()
        sender.join(10)
        assert wh.status(head) == 101, head
        assert wh.header(head, "Upgrade") == wh.RAW_TOKEN
        assert wh.header(head, "Connection").lower() == "upgrade"
        assert client.read_exact(len(b)) == b, "the upstream's pipelined bytes"
        client.send(c)
        assert client.read_exact(len(d)) == d
        client.shutdown_write()
        assert client.read_to_end(5) == (b"", "eof")
        client.close()
        assert up.join(5) and not up.errors, up.errors
        assert wh.header(got["head"], "Upgrade") == wh.RAW_TOKEN
        assert got["upstream"] == a + c, "the client's pipelined bytes, then the rest"
        assert got["upstream_rest"] == (b"", "eof")
        fds.settled()
    finally:
        up.close()


def test_upgrade_on_a_keepalive_connection_after_ordinary_requests(start_ferry):
    """A browser may reuse a connection: a plain request, a refused upgrade (200), then
    an upgrade that succeeds, all on one client connection."""
    seen = []

    def handler(peer, head):
        seen.append(head)
        if b"/ws/tunnel" in head.split(b"\r\n", 1)[0]:
            peer.send(wh.switching() + b"tunnel open")
            peer.send(peer.read_exact(5))
            peer.read_to_end(5)
        else:
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain")

    up = wh.RawUpstream(handler)
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="map")
        fds = wh.FdWatch(ferry)
        c = wh.Peer.connect(port)
        c.send(wh.upgrade_request("/ws/plain", upgrade=False))
        assert wh.status(c.read_head()) == 200 and c.read_exact(5) == b"plain"
        c.send(wh.upgrade_request("/ws/refused"))
        assert wh.status(c.read_head()) == 200 and c.read_exact(5) == b"plain"
        c.send(wh.upgrade_request("/ws/tunnel") + b"echo!")
        head = c.read_head()
        assert wh.status(head) == 101, head
        assert c.read_exact(16) == b"tunnel openecho!"
        c.shutdown_write()
        assert c.read_to_end(5) == (b"", "eof")
        c.close()
        assert up.join(5) and not up.errors, up.errors
        assert len(seen) == 3
        fds.settled()
    finally:
        up.close()
