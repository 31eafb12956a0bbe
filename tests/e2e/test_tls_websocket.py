"""wss:// through ferry to a plain ws:// upstream: the WebSocket upgrade with TLS on the
client side only, so the tunnel copies between a TLS stream and a socket (no splice).

Text and binary messages, a 16 MiB message (4 MiB when FERRY_SANITIZED=1), many
messages in order, bytes the client pipelines in the same TLS write as its upgrade
request, bytes the upstream sends right after its 101, a slow reader (ferry's memory
stays bounded), closes from either side, and descriptors back to their baseline.
HTTP requests are served on the same port under the same certificate.

Clients: Python's `websockets` (10.4) and raw ssl sockets for exact bytes.
"""

import asyncio
import base64
import hashlib
import os
import socket
import struct
import time

import pytest
import websockets

import harness
import tls_helpers as th
import upstreams as ups
from tls_helpers import pki  # noqa: F401

MIB = 1 << 20
SANITIZED = os.environ.get("FERRY_SANITIZED") == "1"
BIG = (4 if SANITIZED else 16) * MIB


def conf(p):
    return th.tls_conf(f"""
    server {{
        listen 127.0.0.1:@port@ ssl;
        server_name a.test;
        ssl_certificate {p.a_cert}; ssl_certificate_key {p.a_key};
        location / {{
            proxy_pass http://127.0.0.1:@up@;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 30s;
        }}
        location /raw {{
            proxy_pass http://127.0.0.1:@raw@;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }}
        location = /plain {{ return 200 "plain over $scheme\\n"; }}
    }}
""")


@pytest.fixture(scope="module")
def ws_up():
    up = th.WsEcho()
    yield up
    up.close()


@pytest.fixture(scope="module")
def raw_up():
    """An upstream that answers the upgrade with 101 and a text frame "early" in the same
    write, then echoes raw bytes."""

    def handler(sock, stop):
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = sock.accept()
            except (socket.timeout, OSError):
                continue
            c.settimeout(5)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                key = [ln.split(b":", 1)[1].strip() for ln in data.split(b"\r\n")
                       if ln.lower().startswith(b"sec-websocket-key:")]
                accept = base64.b64encode(hashlib.sha1(
                    key[0] + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
                c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept
                          + b"\r\n\r\n" + frame(b"early", opcode=1, mask=False))
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    c.sendall(chunk)
            except OSError:
                pass
            finally:
                c.close()

    srv = harness.BackgroundServer(handler)
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def site(pki, ws_up, raw_up):
    ports = {"port": harness.free_port(), "up": ws_up.port, "raw": raw_up.port}
    f = harness.Ferry(conf(pki), ports=ports)
    try:
        yield f
    finally:
        f.close()


@pytest.fixture
def port(site):
    return site.ports["port"]


def run(coro, timeout=60.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def wss(port, pki, path):
    return websockets.connect(f"wss://a.test:{port}{path}", host="127.0.0.1", port=port,
                              ssl=th.client_context(pki.ca), server_hostname="a.test",
                              max_size=None,
                              compression=None, ping_interval=None, open_timeout=5,
                              close_timeout=5)


def frame(payload, opcode=2, mask=True):
    """One final WebSocket frame."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


def read_frame(buf, more):
    """Parses one unmasked frame from `buf` (calling more() for bytes); returns
    (opcode, payload, rest)."""
    while len(buf) < 2:
        buf += more()
    opcode = buf[0] & 0x0F
    n = buf[1] & 0x7F
    at = 2
    if n == 126:
        while len(buf) < 4:
            buf += more()
        n = struct.unpack("!H", buf[2:4])[0]
        at = 4
    elif n == 127:
        while len(buf) < 10:
            buf += more()
        n = struct.unpack("!Q", buf[2:10])[0]
        at = 10
    while len(buf) < at + n:
        buf += more()
    return opcode, buf[at:at + n], buf[at + n:]


def upgrade_request(path):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode()


# ---- messages


def test_wss_text_and_binary_messages_echo_through_ferry_to_a_plain_ws_upstream(port, pki):
    async def go():
        async with wss(port, pki, "/echo") as ws:
            await ws.send("hello over tls")
            assert await ws.recv() == "hello over tls"
            blob = bytes(range(256)) * 4
            await ws.send(blob)
            got = await ws.recv()
            assert isinstance(got, bytes) and got == blob
            await ws.send("")
            assert await ws.recv() == ""

    run(go())


def test_wss_16mib_message_round_trips_intact(port, pki):
    payload = (ups.PATTERN * (BIG // len(ups.PATTERN) + 1))[:BIG]

    async def go():
        async with wss(port, pki, "/echo") as ws:
            start = time.monotonic()
            await ws.send(payload)
            got = await ws.recv()
            took = time.monotonic() - start
            assert len(got) == len(payload)
            assert hashlib.md5(got).digest() == hashlib.md5(payload).digest()
            return took

    took = run(go(), timeout=90)
    assert took < 30, took


def test_wss_many_messages_of_mixed_sizes_arrive_in_order(port, pki):
    sizes = [0, 1, 125, 126, 127, 65535, 65536, 65537, 200_000] * 20

    async def go():
        async with wss(port, pki, "/echo") as ws:
            async def sender():
                for i, n in enumerate(sizes):
                    await ws.send(bytes([i % 256]) * n)

            task = asyncio.ensure_future(sender())
            for i, n in enumerate(sizes):
                got = await ws.recv()
                assert len(got) == n and got == bytes([i % 256]) * n, (i, n, len(got))
            await task

    run(go())


def test_wss_message_the_upstream_sends_right_after_the_handshake_arrives_first(port, pki):
    async def go():
        async with wss(port, pki, "/greet") as ws:
            assert await asyncio.wait_for(ws.recv(), 5) == "greeting"
            await ws.send("then echo")
            assert await ws.recv() == "then echo"

    run(go())


def test_http_and_wss_share_one_tls_port_and_certificate(port, pki):
    status, _, body = th.https_get(port, pki.ca, "/plain")
    assert status == 200 and body == b"plain over https\n"

    async def go():
        async with wss(port, pki, "/echo") as ws:
            await ws.send("same port")
            assert await ws.recv() == "same port"

    run(go())


# ---- pipelined bytes


def test_frame_pipelined_in_the_same_tls_write_as_the_upgrade_request_is_delivered(port, pki):
    """The frame sits decrypted in ferry's TLS buffer behind the request head; it must
    reach the upstream (and come back) without the client sending anything more."""
    with th.tls_connect(port, pki.ca) as s:
        s.settimeout(5)
        s.sendall(upgrade_request("/echo") + frame(b"pipelined-1") + frame(b"pipelined-2"))
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, f"closed before the 101: {buf!r}"
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        got = []
        for _ in range(2):
            op, payload, buf = read_frame(buf, lambda: s.recv(65536) or b"")
            got.append((op, payload))
        assert got == [(2, b"pipelined-1"), (2, b"pipelined-2")], got


def test_bytes_the_upstream_sends_with_its_101_reach_the_wss_client(port, pki):
    with th.tls_connect(port, pki.ca) as s:
        s.settimeout(5)
        s.sendall(upgrade_request("/raw"))
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, f"closed before the 101: {buf!r}"
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        op, payload, buf = read_frame(buf, lambda: s.recv(65536) or b"")
        assert (op, payload) == (1, b"early")
        # the raw upstream echoes bytes: a masked frame comes back as sent
        f = frame(b"x" * 100_000)
        s.sendall(f)
        echoed = buf
        while len(echoed) < len(f):
            chunk = s.recv(65536)
            assert chunk, "closed"
            echoed += chunk
        assert echoed == f


# ---- flow control and ends


def test_slow_wss_reader_holds_ferry_memory_bounded(port, pki, site):
    """The upstream pushes 32 MiB while the client reads nothing for a while: ferry
    stops reading the upstream instead of buffering it."""
    n = 8 * 16 if SANITIZED else 32 * 16  # 64 KiB messages
    block = ups.PATTERN[:64 * 1024]
    rss_before = site.rss_kib()

    async def go():
        async with websockets.connect(
                f"wss://a.test:{port}/push?n={n}", host="127.0.0.1", port=port,
                ssl=th.client_context(pki.ca), server_hostname="a.test", max_size=None,
                compression=None,
                ping_interval=None, max_queue=1, read_limit=2 ** 16) as ws:
            await asyncio.sleep(1.5)
            peak = site.rss_kib()
            count = 0
            while True:
                msg = await ws.recv()
                if msg == "end":
                    break
                assert msg == block
                count += 1
            return peak, count

    peak, count = run(go(), timeout=90)
    assert count == n
    if not SANITIZED:  # ASan's quarantine keeps freed memory resident
        assert peak - rss_before < 4 * 1024, (rss_before, peak)


def test_upstream_close_reaches_the_wss_client_with_its_code(port, pki, ws_up):
    async def go():
        async with wss(port, pki, "/bye") as ws:
            await ws.send("go")
            with pytest.raises(websockets.ConnectionClosedOK):
                await asyncio.wait_for(ws.recv(), 5)
            return ws.close_code, ws.close_reason

    assert run(go()) == (1000, "bye")


def test_client_close_ends_the_tunnel_and_frees_descriptors(port, pki, site, ws_up):
    time.sleep(0.2)
    fds = site.fds()

    async def go():
        conns = [await wss(port, pki, "/echo") for _ in range(10)]
        for i, ws in enumerate(conns):
            await ws.send(f"m{i}")
        for i, ws in enumerate(conns):
            assert await ws.recv() == f"m{i}"
        assert site.fds() >= fds + 20  # a client and an upstream socket each
        for ws in conns:
            await ws.close()
            assert ws.close_code == 1000

    run(go())
    assert ups.wait_until(lambda: site.fds() <= fds, 5), (site.fds(), fds)
    assert ups.wait_until(lambda: sum(1 for p, c in ws_up.closed if p == "/echo") >= 10, 5)


def test_tls_client_vanishing_without_close_ends_the_upstream_connection(port, pki, site, ws_up):
    before = len(ws_up.closed)
    fds = site.fds()
    s = th.tls_connect(port, pki.ca)
    s.settimeout(5)
    s.sendall(upgrade_request("/echo") + frame(b"ping"))
    buf = b""
    while b"ping" not in buf:
        chunk = s.recv(65536)
        assert chunk
        buf += chunk
    # a TCP reset, no close_notify, no close frame
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    assert ups.wait_until(lambda: len(ws_up.closed) > before, 5), ws_up.closed
    assert ups.wait_until(lambda: site.fds() <= fds, 5), (site.fds(), fds)


def test_concurrent_wss_tunnels_each_get_their_own_bytes(port, pki):
    """20 tunnels carry data at once (opened one after another: simultaneous handshakes
    are test_tls_server.py's under-load test)."""

    async def one(ws, i):
        data = bytes([i]) * (256 * 1024 + i)
        for _ in range(4):
            await ws.send(data)
            assert await ws.recv() == data

    async def go():
        conns = [await wss(port, pki, "/echo") for _ in range(20)]
        try:
            await asyncio.gather(*(one(ws, i) for i, ws in enumerate(conns)))
        finally:
            for ws in conns:
                await ws.close()

    run(go(), timeout=60)
