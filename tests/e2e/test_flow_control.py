"""Timeouts that follow progress: a read timeout runs only while ferry waits for bytes it
is ready to take. A slow client reading a large proxied response, an upstream reading a
large upload slowly, and a WebSocket client that stops reading while the upstream keeps
sending all complete, as with nginx; a client that stops for longer than send_timeout is
cut. The pauses below are the behaviour under test (a reader that stops), not
synchronisation. Run with NGINX_COMPARE=1 FERRY_BINARY=/usr/sbin/nginx to check the
expectations against nginx."""

import hashlib
import socket
import threading
import time

import pytest

import harness
import upstreams as ups
from upstreams import MIB, StreamingClient, Upstream, make_conf

TOTAL = 16 * MIB

CONF = make_conf("""
    server {
        listen 127.0.0.1:@port@;
        server_name flow.test;
        send_timeout 3s;
        proxy_read_timeout 1s;
        proxy_send_timeout 10s;
        client_body_timeout 1s;
        client_max_body_size 0;
        proxy_request_buffering off;
        location / { proxy_pass http://127.0.0.1:@up@; }
    }
""")


@pytest.fixture
def download():
    up = Upstream(ups.stream(TOTAL))
    port = harness.free_port()
    f = harness.Ferry(CONF, ports={"port": port, "up": up.port})
    try:
        yield port, f
    finally:
        try:
            err = ups.stop_guarded(f)
            assert err is None, err
        finally:
            up.close()


def read_with_pause(port, pause):
    c = StreamingClient(port, rcvbuf=64 * 1024, timeout=15.0)
    c.send(ups.build_request(target="/big", host="flow.test"))
    assert c.read_head() == 200
    while c.received < MIB:
        if c.read_some(64 * 1024) == 0:
            break
    time.sleep(pause)
    try:
        complete = c.read_body(deadline_s=60.0)
    except (ConnectionError, OSError):
        complete = False
    return c, complete


def test_a_client_pausing_longer_than_proxy_read_timeout_gets_the_whole_response(download):
    port, f = download
    c, complete = read_with_pause(port, 2.0)  # > proxy_read_timeout 1s, < send_timeout 3s
    assert complete, f"got {c.received} of {TOTAL} bytes; log: {f.read_error_log()[-800:]}"
    assert c.received == TOTAL
    assert c.md5.hexdigest() == ups.pattern_md5(TOTAL)
    assert "upstream timed out" not in f.read_error_log()


def test_a_client_pausing_longer_than_send_timeout_is_cut(download):
    port, f = download
    c, complete = read_with_pause(port, 4.5)  # > send_timeout 3s
    assert not complete
    assert c.received < TOTAL
    assert harness.wait_for(lambda: "client timed out (110: Connection timed out) while "
                                    "sending to client" in f.read_error_log())


class SlowReadingUpstream:
    """Reads a request head, waits `delay` seconds before reading the body (so the
    client is held back by ferry meanwhile), then reads it all and answers with its
    md5."""

    def __init__(self, delay):
        self.delay = delay
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.result = {}
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(30)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        conn.settimeout(30)
        with conn:
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, body = buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            time.sleep(self.delay)
            h = hashlib.md5(body)
            got = len(body)
            while got < length:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                got += len(chunk)
            self.result["received"] = got
            answer = h.hexdigest().encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (len(answer), answer))

    def close(self):
        self.sock.close()
        self.thread.join(5)


def test_an_upload_held_back_by_a_slow_upstream_is_not_cut_by_client_body_timeout():
    up = SlowReadingUpstream(delay=2.5)  # > client_body_timeout 1s, < proxy_send_timeout
    port = harness.free_port()
    f = harness.Ferry(CONF, ports={"port": port, "up": up.port})
    try:
        body_len = 32 * MIB  # far more than the socket buffers hold
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        head = ups.build_request("POST", "/upload", host="flow.test",
                                 headers=[("Content-Length", str(body_len)),
                                          ("Connection", "close")])
        s.sendall(head)
        sent = [0]
        ups.send_pattern(s, body_len, progress=sent)
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        s.close()
        assert reply.startswith(b"HTTP/1.1 200"), (reply[:200], f.read_error_log()[-800:])
        assert reply.endswith(ups.pattern_md5(body_len).encode())
        assert up.result.get("received") == body_len
        assert "client timed out" not in f.read_error_log()
    finally:
        try:
            err = ups.stop_guarded(f)
            assert err is None, err
        finally:
            up.close()


class PushingUpgradeUpstream:
    """Answers an upgrade with 101, then pushes `total` bytes as fast as it may."""

    def __init__(self, total):
        self.total = total
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(30)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        conn.settimeout(30)
        with conn:
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: upgrade\r\n\r\n")
            try:
                ups.send_pattern(conn, self.total)
                # Wait for the client to close: the tunnel must stay up meanwhile.
                conn.recv(1)
            except OSError:
                pass

    def close(self):
        self.sock.close()
        self.thread.join(5)


TUNNEL_CONF = make_conf("""
    server {
        listen 127.0.0.1:@port@;
        server_name flow.test;
        send_timeout 4s;
        proxy_read_timeout 1s;
        location / {
            proxy_pass http://127.0.0.1:@up@;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection upgrade;
        }
    }
""")


def test_a_tunnel_whose_client_pauses_longer_than_proxy_read_timeout_delivers_everything():
    total = 16 * MIB
    up = PushingUpgradeUpstream(total)
    port = harness.free_port()
    f = harness.Ferry(TUNNEL_CONF, ports={"port": port, "up": up.port})
    try:
        c = StreamingClient(port, rcvbuf=64 * 1024, timeout=15.0)
        c.send(ups.build_request(target="/ws", host="flow.test",
                                 headers=[("Upgrade", "websocket"), ("Connection", "Upgrade")]))
        assert c.read_head() == 101
        time.sleep(2.5)  # > proxy_read_timeout 1s, < send_timeout 4s; the upstream pushes
        while c.received < total:
            if c.buf:
                c._take(c.buf)
                c.buf = b""
                continue
            chunk = c.sock.recv(1 << 20)
            if not chunk:
                break
            c._take(chunk)
        c.sock.close()
        assert c.received == total, f.read_error_log()[-800:]
        assert c.md5.hexdigest() == ups.pattern_md5(total)
    finally:
        try:
            err = ups.stop_guarded(f)
            assert err is None, err
        finally:
            up.close()


def test_a_tunnel_closed_by_its_idle_timeout_says_so_at_info():
    up = PushingUpgradeUpstream(0)
    port = harness.free_port()
    f = harness.Ferry(TUNNEL_CONF, ports={"port": port, "up": up.port})
    try:
        c = StreamingClient(port, timeout=15.0)
        c.send(ups.build_request(target="/ws", host="flow.test",
                                 headers=[("Upgrade", "websocket"), ("Connection", "Upgrade")]))
        assert c.read_head() == 101
        assert c.sock.recv(1) == b""  # closed after proxy_read_timeout of silence
        assert harness.wait_for(lambda: "[info]" in f.read_error_log() and
                                "upstream timed out (110: Connection timed out) while proxying "
                                "upgraded connection" in f.read_error_log())
    finally:
        try:
            err = ups.stop_guarded(f)
            assert err is None, err
        finally:
            up.close()
