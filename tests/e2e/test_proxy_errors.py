"""Upstream failures: 502 when ferry cannot connect or the upstream sends no valid
header, 504 on timeouts, a broken body closing the client connection without a
well-formed end, and one error line per failure in nginx's shape."""

import re
import socket
import threading
import time
import types

import pytest

import harness
import upstreams as ups
from upstreams import Upstream, fetch, make_conf, proxy_ferry  # noqa: F401

# Known ferry failures (xfail strict: remove the mark once fixed).


CONF = make_conf("""
    server {
        listen 127.0.0.1:@port@;
        server_name err.test;

        proxy_read_timeout 600ms;
        proxy_send_timeout 600ms;
        proxy_connect_timeout 400ms;
        proxy_buffer_size 4k;
        client_max_body_size 0;

        location /refused/      { proxy_pass http://127.0.0.1:@dead@; }
        location /refused-uri/  { proxy_pass http://127.0.0.1:@dead@/other/; }
        location /conn-timeout/ { proxy_pass http://127.0.0.1:@full@; }
        location /long/         { proxy_pass http://127.0.0.1:@up@/; proxy_read_timeout 30s; }
        location /              { proxy_pass http://127.0.0.1:@up@; }
    }
""")

ROUTES = {
    "/ok": ups.reply(body=b"fine"),
    "/silent": ups.silent(),
    "/no-bytes": ups.raw(b""),
    "/half-head": ups.raw(b"HTTP/1.1 200 OK\r\nContent-Le"),
    "/status-only": ups.raw(b"HTTP/1.1 200 OK\r\n"),
    "/bad-header": ups.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nBad Header Line\r\n\r\nok"),
    "/cl-and-te": ups.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    "/two-cl": ups.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"),
    "/bad-cl": ups.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\nabc"),
    "/te-gzip": ups.raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc"),
    "/big-head": ups.raw(b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * 8000 +
                         b"\r\nContent-Length: 2\r\n\r\nok"),
    "/midbody": ups.broken_midbody(100000, 5000),
    "/midbody-reset": ups.broken_midbody(100000, 5000, do_reset=True),
    "/midchunk": ups.broken_chunked([b"abc", b"defgh"]),
    "/bad-chunk": ups.raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"3\r\nabc\r\nzz\r\n", then_wait=True),
    "/slow-between-reads": ups.slow([b"x" * 10] * 4, 0.3),
    "/stall-midbody": ups.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"y" * 10,
                              then_wait=True),
}


def route(req, conn):
    key = req.uri.split("?")[0]
    return ROUTES.get(key, ups.reply(status=404, body=b"?"))(req, conn)


class FullBacklog:
    """A listening socket whose accept queue is full, so further connects hang (SYNs
    dropped): the nearest thing to an unroutable address on loopback."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.held = []
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.held.append(s)
        time.sleep(0.05)

    def connects_hang(self):
        s = socket.socket()
        s.settimeout(0.3)
        try:
            s.connect(("127.0.0.1", self.port))
            return False
        except socket.timeout:
            return True
        except OSError:
            return False
        finally:
            s.close()

    def close(self):
        for s in self.held:
            s.close()
        self.sock.close()


@pytest.fixture(scope="module")
def site():
    up = Upstream(route)
    full = FullBacklog()
    port, dead = harness.free_port(), ups.dead_port()
    f = harness.Ferry(CONF, ports={"port": port, "up": up.port, "dead": dead,
                                   "full": full.port})
    try:
        yield types.SimpleNamespace(port=port, up=up, ferry=f, dead=dead, full=full)
    finally:
        try:
            err = ups.stop_guarded(f)
            assert err is None, err
        finally:
            up.close()
            full.close()


def get(site, path, **kw):
    return fetch(site.port, path, host="err.test", **kw)


def new_log(site, since):
    return site.ferry.read_error_log()[since:]


def log_mark(site):
    return len(site.ferry.read_error_log())


def wait_log(site, since, needle, timeout=3.0):
    ups.wait_until(lambda: needle in new_log(site, since), timeout)
    return new_log(site, since)


def assert_logged(text, message, request, upstream, level="error"):
    """An error line with `message` and the request's context fields (the order of the
    fields is checked by test_refused_connection_logs_nginx_shaped_line alone)."""
    for line in text.splitlines():
        if f"[{level}]" in line and " *" in line and f" {message}, " in line:
            assert ", client: 127.0.0.1" in line, line
            assert ", server: err.test" in line, line
            assert f', request: "{request}"' in line, line
            assert f', upstream: "{upstream}"' in line, line
            assert line.endswith(', host: "err.test"'), line
            return
    raise AssertionError(f"no [{level}] line with {message!r} in:\n{text}")


def error_lines(text):
    return [line for line in text.splitlines() if "[error]" in line]


# ---- cannot connect


def test_refused_connection_is_502(site):
    r = get(site, "/refused/x")
    assert r.status == 502
    assert b"502 Bad Gateway" in r.body


def test_refused_connection_logs_one_error_line(site):
    """One failure, one line (an implicit upstream has a single server: no "no live
    upstreams" line follows)."""
    mark = log_mark(site)
    assert get(site, "/refused/one").status == 502
    text = wait_log(site, mark, "connect() failed")
    time.sleep(0.1)
    lines = error_lines(new_log(site, mark))
    assert len(lines) == 1, text


def test_refused_connection_logs_nginx_shaped_line(site):
    mark = log_mark(site)
    r = get(site, "/refused/x?a=1")
    assert r.status == 502
    text = wait_log(site, mark, "connect() failed")
    line = [x for x in error_lines(text) if "connect() failed" in x][0]
    pattern = (r'^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] \d+#\d+: \*\d+ '
               r'connect\(\) failed \(111: Connection refused\) while connecting to upstream, '
               r'client: 127\.0\.0\.1, server: err\.test, request: "GET /refused/x\?a=1 HTTP/1\.1", '
               r'upstream: "http://127\.0\.0\.1:%d/refused/x\?a=1", host: "err\.test"$' % site.dead)
    assert re.match(pattern, line), line


def test_refused_connection_log_names_the_rewritten_upstream_uri(site):
    mark = log_mark(site)
    assert get(site, "/refused-uri/y").status == 502
    text = wait_log(site, mark, "connect() failed")
    assert f'upstream: "http://127.0.0.1:{site.dead}/other/y"' in text


def test_connect_timeout_is_504(site):
    if not site.full.connects_hang():
        pytest.skip("connects to a full accept queue do not hang here")
    mark = log_mark(site)
    t0 = time.monotonic()
    r = get(site, "/conn-timeout/x")
    took = time.monotonic() - t0
    assert r.status == 504
    assert 0.3 <= took < 3.0, took
    text = wait_log(site, mark, "timed out")
    assert_logged(text, "upstream timed out (110: Connection timed out) while connecting to upstream",
                  "GET /conn-timeout/x HTTP/1.1", f"http://127.0.0.1:{site.full.port}/conn-timeout/x")


# ---- timeouts


def test_silent_upstream_is_504_after_proxy_read_timeout(site):
    mark = log_mark(site)
    t0 = time.monotonic()
    r = get(site, "/silent")
    took = time.monotonic() - t0
    assert r.status == 504 and b"504 Gateway Time-out" in r.body
    assert 0.5 <= took < 3.0, took
    text = wait_log(site, mark, "timed out")
    assert_logged(text, "upstream timed out (110: Connection timed out) while reading response "
                  "header from upstream", "GET /silent HTTP/1.1",
                  f"http://127.0.0.1:{site.up.port}/silent")


def test_read_timeout_counts_between_reads_not_the_whole_response(site):
    """Four pieces 0.3 s apart take 1.2 s in all, twice proxy_read_timeout (0.6 s)."""
    r = get(site, "/slow-between-reads")
    assert r.status == 200 and r.body == b"x" * 40


def test_upstream_stalling_mid_body_closes_the_client_after_read_timeout(site):
    with harness.RawClient(site.port) as c:
        c.send(ups.build_request(target="/stall-midbody", host="err.test"))
        t0 = time.monotonic()
        r = c.read_response()
        took = time.monotonic() - t0
    assert r.status == 200 and len(r.body) < 100  # cut short: at most 10 of 100 bytes
    assert 0.5 <= took < 3.0, took


def test_upstream_not_reading_the_body_is_504_after_proxy_send_timeout(proxy_ferry):
    """The upstream reads the head but never the body; ferry gives up after
    proxy_send_timeout (0.6 s) and answers 504."""
    up = Upstream(ups.reply())
    up.gate_at = 1
    port = harness.free_port()
    f = proxy_ferry(make_conf("""
        server {
            listen 127.0.0.1:@port@;
            server_name err.test;
            client_max_body_size 0;
            proxy_send_timeout 600ms;
            location / { proxy_pass http://127.0.0.1:@up@; }
        }"""), ports={"port": port, "up": up.port})
    body_len = 64 * ups.MIB
    s = socket.create_connection(("127.0.0.1", port), timeout=8)

    def send_body():
        try:
            s.sendall(ups.build_request("POST", "/ok", host="err.test",
                                        headers=[("Content-Length", str(body_len))]))
            block = b"z" * (1 << 20)
            for _ in range(64):
                s.sendall(block)
        except OSError:
            pass  # ferry may stop reading or close once it answered

    try:
        sender = threading.Thread(target=send_body, daemon=True)
        t0 = time.monotonic()
        sender.start()
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                chunk = s.recv(65536)
                if not chunk:
                    break
                head += chunk
        except socket.timeout:
            ups.note_hang(f)
        took = time.monotonic() - t0
        assert head.startswith(b"HTTP/1.1 504 "), head
        assert took < 5.0
        text = f.read_error_log()
        assert "upstream timed out (110: Connection timed out) while sending request to upstream" \
            in text, text
    finally:
        s.close()
        up.close()


# ---- no valid header


@pytest.mark.parametrize("path", ["/no-bytes", "/half-head", "/status-only"])
def test_upstream_closing_before_a_full_header_is_502(site, path):
    mark = log_mark(site)
    r = get(site, path)
    assert r.status == 502
    text = wait_log(site, mark, "prematurely closed")
    assert_logged(text, "upstream prematurely closed connection while reading response header "
                  "from upstream", f"GET {path} HTTP/1.1", f"http://127.0.0.1:{site.up.port}{path}")


@pytest.mark.parametrize("path", ["/bad-header", "/cl-and-te", "/two-cl",
                                  "/bad-cl", "/te-gzip"])
def test_invalid_upstream_header_is_502(site, path):
    """The wording after "upstream sent" may differ from nginx's (ferry reports its
    parser's reason); the line, its context and the 502 may not."""
    mark = log_mark(site)
    r = get(site, path)
    assert r.status == 502
    text = wait_log(site, mark, "upstream sent")
    line = [x for x in error_lines(text) if "upstream sent" in x]
    assert len(line) == 1, text
    assert " while reading response header from upstream, " in line[0]
    assert ", client: 127.0.0.1" in line[0] and f', request: "GET {path} HTTP/1.1"' in line[0]


def test_upstream_header_larger_than_proxy_buffer_size_is_502(site):
    mark = log_mark(site)
    r = get(site, "/big-head")
    assert r.status == 502
    text = wait_log(site, mark, "too big")
    assert_logged(text, "upstream sent too big header while reading response header from upstream",
                  "GET /big-head HTTP/1.1", f"http://127.0.0.1:{site.up.port}/big-head")


# ---- broken bodies


def test_upstream_breaking_mid_body_closes_the_client_without_a_complete_body(site):
    for path in ("/midbody", "/midbody-reset"):
        with harness.RawClient(site.port) as c:
            c.send(ups.build_request(target=path, host="err.test"))
            r = c.read_response()
            assert r.status == 200 and r.header("content-length") == "100000"
            assert len(r.body) < 100000  # read_response stopped at the close
            assert c.is_closed(2.0)


def read_until_close(port, request, timeout=3.0):
    """Sends `request` and returns every byte received until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    data = b""
    deadline = time.monotonic() + timeout
    with s:
        s.sendall(request)
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        else:
            raise AssertionError("connection not closed: %r" % data[:300])
    return data


def test_upstream_breaking_mid_chunked_body_sends_no_last_chunk(site):
    mark = log_mark(site)
    data = read_until_close(site.port, ups.build_request(target="/midchunk", host="err.test"))
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"Transfer-Encoding: chunked" in head
    assert not body.endswith(b"0\r\n\r\n"), body
    assert b"abc" in body or body == b""
    text = wait_log(site, mark, "prematurely closed")
    assert "upstream prematurely closed connection while reading upstream" in text, text


def test_invalid_chunk_mid_body_closes_the_client(site):
    with harness.RawClient(site.port) as c:
        c.send(ups.build_request(target="/bad-chunk", host="err.test"))
        r = c.read_response()
        assert r is None or (r.status == 200 and r.body in (b"", b"abc"))
        assert c.is_closed(2.0)


def test_client_leaving_while_waiting_for_the_header_closes_the_upstream(site):
    """(proxy_read_timeout is 30 s here: only the client's leaving can end it.)"""
    with harness.RawClient(site.port) as c:
        c.send(ups.build_request(target="/long/silent?leave-1", host="err.test"))
        conn_id = site.up.request_for("/silent?leave-1").conn_id
        time.sleep(0.1)
    assert site.up.wait_closed(conn_id, timeout=3), "ferry kept the upstream connection"


def test_client_leaving_mid_body_closes_the_upstream(site):
    """nginx (proxy_ignore_client_abort off) gives up on the upstream as well."""
    with harness.RawClient(site.port) as c:
        c.send(ups.build_request(target="/long/stall-midbody?leave-2", host="err.test"))
        conn_id = site.up.request_for("/stall-midbody?leave-2").conn_id
        time.sleep(0.2)  # the head and 10 body bytes went out; 90 never come
    assert site.up.wait_closed(conn_id, timeout=3), "ferry kept the upstream connection"


def test_ferry_keeps_serving_after_failures_without_leaking_descriptors(site):
    assert get(site, "/ok").status == 200
    base = site.ferry.fds()
    for path in ("/refused/x", "/no-bytes", "/bad-header", "/midbody", "/big-head"):
        get(site, path)
    assert get(site, "/ok").body == b"fine"
    assert ups.wait_until(lambda: site.ferry.fds() <= base, 3.0), (site.ferry.fds(), base)
    assert "[alert]" not in site.ferry.read_error_log()
    assert "[crit]" not in site.ferry.read_error_log()
