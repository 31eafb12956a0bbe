"""Bodies stream through ferry both ways with back-pressure: 100 MiB responses and
request bodies (Content-Length and chunked) pass intact while ferry's peak RSS stays far
below the body size; a client that stops reading stalls the upstream, an upstream that
stops reading stalls the client, and both finish correctly once resumed. Request bodies
stream with proxy_request_buffering off; buffered (the default), a big body goes to a
temporary file and then upstream with its length.""" 

import socket
import threading
import time

import pytest

import harness
import upstreams as ups
from conftest import sanitized
from upstreams import MIB, StreamingClient, Upstream, make_conf, pattern_md5, proxy_ferry  # noqa: F401

BIG = (32 if sanitized() else 100) * MIB
# ferry's peak RSS may grow by this much while a BIG body passes (buffers, allocator
# slack); holding the body, or a large part of it, would far exceed it.
RSS_GROWTH_LIMIT_KIB = 8 * 1024
# Bytes that may sit in kernel socket buffers and ferry's own buffers while a transfer
# is stalled; a relay that does not apply back-pressure moves (nearly) everything.
STALL_LIMIT = min(32 * MIB, BIG * 3 // 4)

CONF = """
    server {
        listen 127.0.0.1:@port@;
        server_name stream.test;
        client_max_body_size 0;
        proxy_read_timeout 20s;
        proxy_send_timeout 20s;
        proxy_request_buffering off;
        location / { proxy_pass http://127.0.0.1:@up@; }
        location /buffered/ {
            proxy_pass http://127.0.0.1:@up@/;
            proxy_request_buffering on;
            client_body_temp_path @prefix@/body_temp;
        }
    }
"""


def start(proxy_ferry, handler, **up_kw):
    """An upstream answering /big and /upload with `handler` (anything else with a short
    reply), and a ferry in front of it."""
    up = Upstream(ups.by_path({"/big": handler, "/upload": handler}, ups.reply()), **up_kw)
    port = harness.free_port()
    f = proxy_ferry(make_conf(CONF), ports={"port": port, "up": up.port})
    # warm up, then measure the peak from here on
    r = ups.fetch(port, "/warm", host="stream.test")
    assert r is not None
    ups.reset_hwm(f.pid)
    return up, port, f


def hwm_growth(f, base):
    return ups.vm_hwm_kib(f.pid) - base


def settle(read_progress, quiet=0.5, timeout=8.0):
    """Waits until read_progress() has not changed for `quiet` seconds; returns it."""
    deadline = time.monotonic() + timeout
    last = read_progress()
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = read_progress()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    return read_progress()


# ---- responses


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_large_response_streams_with_bounded_memory(proxy_ferry, framing):
    def handler(req, conn):
        if framing == "close":
            conn.send(b"HTTP/1.1 200 OK\r\n\r\n")
            with conn.sending():
                ups.send_pattern(conn.sock, BIG, progress=conn.server.progress)
            return False
        return ups.stream(BIG, chunked_body=framing == "chunked")(req, conn)

    up, port, f = start(proxy_ferry, handler)
    base = ups.vm_hwm_kib(f.pid)
    with StreamingClient(port, timeout=10) as c:
        c.send(ups.build_request(target="/big", host="stream.test"))
        try:
            assert c.read_head() == 200
            ok = c.read_body(deadline_s=60)
        except socket.timeout:
            ups.note_hang(f)
            raise
        expect_chunked = framing in ("chunked", "close")
        assert (c.header("transfer-encoding") == "chunked") == expect_chunked
        assert ok and c.complete
    assert c.received == BIG
    assert c.md5.hexdigest() == pattern_md5(BIG)
    growth = hwm_growth(f, base)
    assert growth < RSS_GROWTH_LIMIT_KIB, f"ferry's peak RSS grew by {growth} KiB"


def test_large_response_to_an_http_1_0_client_is_close_delimited(proxy_ferry):
    up, port, f = start(proxy_ferry, ups.stream(32 * MIB, chunked_body=True))
    with StreamingClient(port, timeout=10) as c:
        c.send(ups.build_request(target="/big", host="stream.test", version="HTTP/1.0"))
        assert c.read_head() == 200
        assert c.header("transfer-encoding") is None
        assert c.read_body(deadline_s=30)
    assert c.received == 32 * MIB and c.md5.hexdigest() == pattern_md5(32 * MIB)


def test_client_that_stops_reading_stalls_the_upstream(proxy_ferry):
    up, port, f = start(proxy_ferry, ups.stream(BIG, block=64 * 1024))
    base = ups.vm_hwm_kib(f.pid)
    with StreamingClient(port, rcvbuf=64 * 1024, timeout=10) as c:
        c.send(ups.build_request(target="/big", host="stream.test"))
        assert c.read_head() == 200
        while c.received < MIB:
            assert c.read_some(MIB - c.received) > 0
        stalled_at = settle(lambda: up.progress[0])
        assert stalled_at < STALL_LIMIT, f"upstream sent {stalled_at} bytes to a stalled client"
        growth = hwm_growth(f, base)
        assert growth < RSS_GROWTH_LIMIT_KIB, f"ferry's peak RSS grew by {growth} KiB"
        # ferry still serves others meanwhile
        other = ups.fetch(port, "/other", host="stream.test")
        assert other is not None and other.status == 200
        # resuming finishes the transfer intact
        assert c.read_body(deadline_s=60)
    assert c.received == BIG and c.md5.hexdigest() == pattern_md5(BIG)
    assert hwm_growth(f, base) < RSS_GROWTH_LIMIT_KIB


# ---- request bodies


class Uploader:
    """Sends a request with a BIG pattern body in a thread, counting bytes sent."""

    def __init__(self, port, total, chunked=False, block=256 * 1024):
        self.port = port
        self.total = total
        self.chunked = chunked
        self.block = block
        self.progress = [0]
        self.reply = None
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=8)
            with s:
                hs = ([("Transfer-Encoding", "chunked")] if self.chunked
                      else [("Content-Length", str(self.total))])
                s.sendall(ups.build_request("PUT", "/upload", headers=hs, host="stream.test"))
                ups.send_pattern(s, self.total, block=self.block, progress=self.progress,
                                 chunked=self.chunked)
                buf = b""
                while b"\r\n\r\n" not in buf:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                self.reply = buf
        except OSError as e:
            self.error = e

    def join(self, timeout):
        self.thread.join(timeout)
        return not self.thread.is_alive()


def check_upload(f, up, u, base):
    if not u.join(60) or u.error is not None:
        ups.note_hang(f)
    assert u.error is None, f"client: {u.error!r} after sending {u.progress[0]} bytes"
    assert u.reply is not None and u.reply.startswith(b"HTTP/1.1 200 "), u.reply
    got = up.wait_requests(2)[-1]
    assert got.body_len == u.total
    assert got.body_md5 == pattern_md5(u.total)
    growth = hwm_growth(f, base)
    assert growth < RSS_GROWTH_LIMIT_KIB, f"ferry's peak RSS grew by {growth} KiB"
    return got


def test_large_content_length_request_body_streams_with_bounded_memory(proxy_ferry):
    up, port, f = start(proxy_ferry, ups.reply(body=b"stored"), store_limit=0)
    base = ups.vm_hwm_kib(f.pid)
    u = Uploader(port, BIG)
    got = check_upload(f, up, u, base)
    assert got.header("content-length") == str(BIG) and not got.chunked


def test_large_chunked_request_body_streams_chunked_with_bounded_memory(proxy_ferry):
    up, port, f = start(proxy_ferry, ups.reply(body=b"stored"), store_limit=0)
    base = ups.vm_hwm_kib(f.pid)
    u = Uploader(port, BIG, chunked=True)
    got = check_upload(f, up, u, base)
    assert got.chunked and got.header("transfer-encoding") == "chunked"
    assert got.header("content-length") is None


def test_upstream_that_stops_reading_stalls_the_client(proxy_ferry):
    up, port, f = start(proxy_ferry, ups.reply(body=b"stored"), store_limit=0)
    up.gate.clear()
    up.gate_at = MIB
    base = ups.vm_hwm_kib(f.pid)
    u = Uploader(port, BIG)
    try:
        ups.wait_until(lambda: up.body_progress >= MIB, 5)
        stalled_at = settle(lambda: u.progress[0])
        assert stalled_at < STALL_LIMIT, f"client sent {stalled_at} bytes to a stalled upstream"
        growth = hwm_growth(f, base)
        assert growth < RSS_GROWTH_LIMIT_KIB, f"ferry's peak RSS grew by {growth} KiB"
    finally:
        up.gate.set()
    check_upload(f, up, u, base)
