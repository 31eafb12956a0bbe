"""Slow clients against short (1s) timeouts: client_header_timeout for the next request on
a kept-alive connection, send_timeout for a client that stops reading a large response,
and the discarding of a request body nobody needs (bounded by lingering_timeout and
lingering_time in nginx, not by client_body_timeout).

(Header timeouts on a fresh connection, keepalive_timeout and the stalled-body case are
in test_bad_input.py.)

NGINX_COMPARE=1 runs the same tests against /usr/sbin/nginx (1.22).
"""

import time

import pytest

import server_helpers as sh
from server_helpers import Client, req


HTTP = r"""
    client_header_timeout 1s;
    client_body_timeout 1s;
    send_timeout 1s;
    keepalive_timeout 3s;
    lingering_timeout 3s;

    server {
        listen 127.0.0.1:@port@;
        server_name a.test;
        location / { return 200 "ok"; }
        location = /next { return 200 "next"; }
        location /short-linger { lingering_time 2s; lingering_timeout 1s; return 200 "sl"; }
        %s
    }
""" % sh.big_location()


@pytest.fixture(scope="module")
def server():
    yield from sh.module_server(HTTP, ports=sh.big_ports())


@pytest.fixture
def port(server):
    return server[1]


def closed_after(c, start, timeout):
    assert c.wait_closed(timeout), f"connection still open after {timeout}s"
    return time.monotonic() - start


def test_client_header_timeout_applies_to_the_next_request_on_a_keepalive_connection(port):
    """Idle between requests is bounded by keepalive_timeout (3s), but once the next
    request's first bytes arrive client_header_timeout (1s) bounds its head."""
    with Client(port) as c:
        c.send(req("/"))
        c.expect(200, b"ok")
        time.sleep(1.5)  # longer than client_header_timeout: still open
        c.send(b"GET /next HTTP/1.1\r\nHo")
        start = time.monotonic()
        took = closed_after(c, start, 4.0)
        assert 0.7 <= took <= 2.5, f"closed after {took:.2f}s; client_header_timeout is 1s"
        assert c.buf == b"", f"a header timeout sends no response, got {c.buf[:200]!r}"


def test_send_timeout_closes_a_client_that_stops_reading(server, port):
    proc, _ = server
    log_start = len(proc.read_error_log())
    with Client(port, rcvbuf=4096) as c:
        c.send(req("/big"))
        time.sleep(2.5)  # send_timeout is 1s
        start = time.monotonic()
        received = len(c.read_all(timeout=5.0))
        assert c.closed, "ferry kept a connection whose client stopped reading"
        assert time.monotonic() - start < 4.0
        assert received < sh.BIG_SIZE, "the whole response went out"
    log = sh.wait_until(lambda: "client timed out" in proc.read_error_log()[log_start:], 2.0)
    assert log, f"no timeout in the error log: {proc.read_error_log()[log_start:]}"


def test_a_large_response_read_slowly_arrives_whole(port):
    """A client that reads, however slowly, is never cut off by send_timeout."""
    with Client(port, rcvbuf=65536) as c:
        c.send(req("/big") + req("/next"))
        r = c.expect(200, timeout=20.0)
        assert r.body == sh.BIG_BLOCK.encode() * (sh.BIG_SIZE // len(sh.BIG_BLOCK))
        c.expect(200, b"next")


def test_discarded_body_is_not_bound_by_client_body_timeout(port):
    with Client(port) as c:
        c.send(req("/", method="POST", headers=[("Content-Length", 10)], body=b"hello"))
        c.expect(200, b"ok")
        time.sleep(1.6)  # > client_body_timeout (1s), < lingering_timeout (3s)
        c.send(b"world" + req("/next"))
        c.expect(200, b"next")


def test_discarding_a_body_ends_after_lingering_time(port):
    """lingering_time 2s: a body still arriving then is dropped with the connection."""
    with Client(port) as c:
        c.send(req("/short-linger", method="POST", headers=[("Content-Length", 100000)]))
        c.expect(200, b"sl")
        start = time.monotonic()
        while not c.closed and time.monotonic() - start < 5.0:
            if not c.send(b"z" * 10):
                break
            c.wait_closed(0.3)
        took = time.monotonic() - start
        assert c.closed, "still discarding after 5s; lingering_time is 2s"
        assert took <= 4.0, f"closed after {took:.2f}s; lingering_time is 2s"
