"""Wire-level checks of the demo upstream (ferry-demo-upstream): RFC 6455 frames built by
hand on raw sockets, HTTP/1.1 conversations, bad input, and concurrent echo clients.
Used by test_demo_browser.py; every read has a timeout.
"""

import asyncio
import os
import random
import struct

import websockets

import harness

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3's example and its answer
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 16 << 20  # the upstream's limit for one message


def masked(payload, key):
    if not payload:
        return b""
    k = (key * (len(payload) // 4 + 1))[:len(payload)]
    n = int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")
    return n.to_bytes(len(payload), "big")


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """A client frame; `length` overrides the announced payload length."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + masked(payload, key)


def handshake(key=RFC_KEY, method="GET", extra=""):
    return (f"{method} /ws/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode()


class WireClient(harness.RawClient):
    def _need(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError(f"connection closed with {len(self.buf)} of {n} bytes")

    def read_frame(self):
        """(fin, opcode, payload) of the next server frame, which must be unmasked."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert b1 & 0x80 == 0, "server frames must not be masked"
        n, at = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, at = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(at + n)
        payload, self.buf = self.buf[at:at + n], self.buf[at + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def upgrade(self, key=RFC_KEY, then=b""):
        self.send(handshake(key) + then)
        r = self.read_response()
        assert r is not None and r.status == 101, r and r.raw
        return r


def check_rfc6455_conversation(port):
    with WireClient(port) as c:
        # A frame sent right behind the handshake, before the 101 arrives.
        r = c.upgrade(then=frame(TEXT, "pipelined"))
        assert r.header("Sec-WebSocket-Accept") == RFC_ACCEPT
        assert r.header("Upgrade").lower() == "websocket"
        assert r.header("Connection").lower() == "upgrade"
        assert c.read_frame() == (True, TEXT, b"pipelined")
        # Fragments are reassembled; a ping in between is answered first.
        c.send(frame(TEXT, "Hel", fin=False) + frame(PING, "p1") + frame(CONT, "lo", fin=False)
               + frame(CONT, "!"))
        assert c.read_frame() == (True, PONG, b"p1")
        assert c.read_frame() == (True, TEXT, b"Hello!")
        for size in (0, 125, 126, 65535, 65536, 200000):  # 7-, 16- and 64-bit lengths
            data = os.urandom(size)
            c.send(frame(BINARY, data))
            assert c.read_frame() == (True, BINARY, data)
        for byte in frame(TEXT, "one byte at a time"):
            c.send(bytes([byte]))
        assert c.read_frame() == (True, TEXT, b"one byte at a time")
        c.send(frame(PONG, "unsolicited") + frame(TEXT, "\u00e9\u2713\U0001f6a2"))
        assert c.read_frame() == (True, TEXT, "\u00e9\u2713\U0001f6a2".encode())
        # The close handshake: the code comes back and the server closes TCP.
        c.send(frame(CLOSE, struct.pack("!H", 1000) + b"bye"))
        assert c.read_frame() == (True, CLOSE, struct.pack("!H", 1000))
        assert c.is_closed() and c.buf == b""


PROTOCOL_ERRORS = [
    ("unmasked", frame(TEXT, "x", mask=False), 1002),
    ("reserved-bit", frame(TEXT, "x", rsv=4), 1002),
    ("unknown-opcode", frame(0x3, "x"), 1002),
    ("unknown-control-opcode", frame(0xB), 1002),
    ("continuation-first", frame(CONT, "x"), 1002),
    ("message-inside-fragmented", frame(TEXT, "a", fin=False) + frame(TEXT, "b"), 1002),
    ("fragmented-ping", frame(PING, "x", fin=False), 1002),
    ("ping-over-125", frame(PING, b"x" * 126), 1002),
    ("length-msb-set", b"\x82\xff\x80" + bytes(7) + bytes(4), 1002),
    ("invalid-utf8", frame(TEXT, b"\xc3\x28"), 1007),
    ("overlong-utf8", frame(TEXT, b"\xc0\xaf"), 1007),
    ("surrogate-across-fragments", frame(TEXT, b"ok\xed", fin=False) + frame(CONT, b"\xa0\x80"),
     1007),
    ("close-code-1005", frame(CLOSE, struct.pack("!H", 1005)), 1002),
    ("close-one-byte", frame(CLOSE, b"\x03"), 1002),
    ("close-reason-not-utf8", frame(CLOSE, struct.pack("!H", 1000) + b"\xff"), 1007),
    # Refused on the header alone: the payload is never sent.
    ("message-too-big", frame(BINARY, length=MAX_MESSAGE + 1), 1009),
    ("fragments-too-big", frame(BINARY, b"a", fin=False) + frame(CONT, length=MAX_MESSAGE),
     1009),
]


def check_protocol_error(port, frames, expected_code):
    with WireClient(port) as c:
        c.upgrade()
        c.send(frames)
        fin, opcode, payload = c.read_frame()
        assert (opcode, payload[:2]) == (CLOSE, struct.pack("!H", expected_code)), payload
        assert c.is_closed()


def check_http_conversation(port):
    with WireClient(port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
               b"HEAD /x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n"
               b"POST /nothing HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
               b"\r\nPUT / HTTP/1.1\r\nHost: a\r\n\r\n"
               b"GET /ws/echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.header("Connection")) == (200, "keep-alive")
        assert int(r.header("Content-Length")) == len(r.body) and b"<!doctype html>" in r.body
        r = c.read_response(head_request=True)
        assert (r.status, r.header("Content-Length"), r.body) == (404, "14", b"")
        assert c.read_response().status == 404  # its body was read and skipped
        r = c.read_response()
        assert (r.status, r.header("Allow")) == (405, "GET, HEAD")
        r = c.read_response()
        assert (r.status, r.header("Upgrade")) == (426, "websocket")
        assert r.header("Connection") == "Upgrade, close"
        assert c.is_closed()
    with WireClient(port) as c:  # HTTP/1.0 closes unless asked to keep alive
        c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n")
        assert c.read_response().header("Connection") == "keep-alive"
        assert c.read_response().header("Connection") == "close"
        assert c.is_closed()
    for request, status in [
        (handshake(extra="Sec-WebSocket-Version: 8\r\n").replace(b"Version: 13", b"Version: 8"),
         426),
        (handshake(key="too-short"), 400),
        (handshake(method="POST"), 400),
        (handshake().replace(b"Connection: Upgrade", b"Connection: keep-alive"), 400),
    ]:
        r = harness.request(port, request)
        assert r.status == status, (request, r.raw)


BAD_REQUESTS = [  # (bytes, the status answered before the connection is closed)
    (b"\x00\x01\x02garbage\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\n folded: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
    (b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n", 413),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
    (random.Random(6455).randbytes(4096) + b"\r\n\r\n", None),
]


def check_refused(port, raw, expected_status):
    with WireClient(port) as c:
        c.send(raw)
        r = c.read_response()
        if expected_status is not None:
            assert r is not None and r.status == expected_status, (raw[:80], r and r.raw)
            assert r.header("Connection") == "close"
        assert c.is_closed()


def send_garbage_after_upgrade(port):
    with WireClient(port) as c:
        c.upgrade()
        c.send(random.Random(1).randbytes(65536))
        assert c.is_closed(timeout=5)


async def echo_conversation(url, big_message):
    async with websockets.connect(url, max_size=None) as ws:
        for message in ("hello ferry", "h\u00e9llo \u2713 \U0001f6a2", b"\x00\xff" * 512):
            await ws.send(message)
            assert await ws.recv() == message
        await ws.send(["frag", "ment", "ed"])
        assert await ws.recv() == "fragmented"
        big = os.urandom(big_message)
        await ws.send(big)
        assert await ws.recv() == big
        await asyncio.wait_for(await ws.ping(b"are you there"), 5)
    assert ws.close_code == 1000


async def concurrent_echoes(url, clients, messages):
    async def client(i):
        async with websockets.connect(url, max_size=None, open_timeout=20) as ws:
            for j in range(messages):
                text = f"{i}:{j}:" + "x" * (j * 100)
                await ws.send(text)
                assert await ws.recv() == text
            data = os.urandom(1000 + i)
            await ws.send(data)
            assert await ws.recv() == data

    await asyncio.gather(*(client(i) for i in range(clients)))
