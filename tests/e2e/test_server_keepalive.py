"""Persistent connections: many requests on one connection, pipelined requests answered in
order (HEAD and requests with bodies among them), keepalive_requests and
keepalive_timeout, HTTP/1.0's close-by-default and `Connection: keep-alive`, and
`Connection: close`.

NGINX_COMPARE=1 runs the same tests against /usr/sbin/nginx (1.22).
"""

import random
import time

import pytest

import harness
import server_helpers as sh
from server_helpers import Client, req

HTTP = r"""
    client_header_timeout 5s;
    keepalive_timeout 10s;
    keepalive_requests 1000;

    server {
        listen 127.0.0.1:@port@;
        server_name a.test;
        location / { return 200 "$request_method $uri n=$connection_requests"; }
        location = /conn { return 200 "c=$connection"; }
        location /vars { return 200 "$uri|$args|$http_x_foo|$cookie_c|$host"; }
    }

    server {
        listen 127.0.0.1:@port2@;
        server_name b.test;
        keepalive_requests 5;
        keepalive_timeout 1s 7;
        location / { return 200 "$uri n=$connection_requests"; }
    }
"""


@pytest.fixture(scope="module")
def server():
    yield from sh.module_server(HTTP, ports={"port2": harness.free_port()})


@pytest.fixture
def port(server):
    return server[1]


@pytest.fixture
def port2(server):
    return server[0].ports["port2"]


def test_hundred_sequential_requests_on_one_connection(port):
    """Every response says keep-alive; $connection_requests counts 1..100 and
    $connection stays the same number."""
    with Client(port) as c:
        for i in range(1, 101):
            c.send(req(f"/r{i}"))
            r = c.expect(200, f"GET /r{i} n={i}".encode())
            assert r.connection == "keep-alive", f"request {i}: {r!r}"
        c.send(req("/conn"))
        first = c.expect(200).body
        c.send(req("/conn"))
        assert c.expect(200).body == first
    with Client(port) as c:
        c.send(req("/conn"))
        assert c.expect(200).body != first, "$connection is per connection"


def test_pipelined_requests_are_answered_in_order(port):
    """Thirty requests in one write: GETs, HEADs, a POST with a Content-Length body and
    one with a chunked body, each answered in order."""
    data = b""
    expected = []
    for i in range(1, 31):
        if i % 5 == 0:
            data += req(f"/p{i}", method="HEAD")
            expected.append(("HEAD", f"HEAD /p{i} n={i}"))
        elif i % 7 == 0:
            data += req(f"/p{i}", method="POST", headers=[("Content-Length", 4)], body=b"body")
            expected.append(("POST", f"POST /p{i} n={i}"))
        elif i % 11 == 0:
            data += req(f"/p{i}", method="POST", headers=[("Transfer-Encoding", "chunked")],
                        body=b"3\r\nabc\r\n0\r\n\r\n")
            expected.append(("POST", f"POST /p{i} n={i}"))
        else:
            data += req(f"/p{i}")
            expected.append(("GET", f"GET /p{i} n={i}"))
    with Client(port) as c:
        c.send(data)
        for method, body in expected:
            if method == "HEAD":
                r = c.expect(200, b"", head=True)
                assert r.header("Content-Length") == str(len(body)), r
            else:
                c.expect(200, body.encode())
        assert c.buf == b"", f"extra bytes after the last response: {c.buf[:200]!r}"


def test_pipelined_requests_split_at_random_boundaries(port):
    rnd = random.Random(3)
    data = b"".join(req(f"/s{i}") for i in range(1, 21))
    with Client(port) as c:
        at = 0
        while at < len(data):
            n = rnd.randint(1, 60)
            c.send(data[at:at + n])
            at += n
            time.sleep(0.002)
        for i in range(1, 21):
            c.expect(200, f"GET /s{i} n={i}".encode())


def test_request_head_split_at_every_byte(port):
    """The head arrives in two writes 10ms apart, split at every offset: the request
    and the one pipelined behind it are parsed the same every time."""
    data = (b"GET /vars/p%41th?a=1 HTTP/1.1\r\nHost: Split.Test\r\nX-Foo: b a r\r\n"
            b"Cookie: d=0; c=1\r\n\r\n" + req("/vars/next"))
    failed = []
    for at in range(1, len(data)):
        with Client(port) as c:
            c.send(data[:at])
            time.sleep(0.01)
            c.send(data[at:])
            first, second = c.read_reply(timeout=2.0), c.read_reply(timeout=2.0)
            bodies = (first and first.body, second and second.body)
            if bodies != (b"/vars/pAth|a=1|b a r|1|split.test", b"/vars/next||||a.test"):
                failed.append((at, bodies))
    assert failed == []


def test_head_response_has_length_but_no_body(port):
    with Client(port) as c:
        c.send(req("/h", method="HEAD") + req("/after"))
        r = c.expect(200, head=True)
        assert r.header("Content-Length") == str(len("HEAD /h n=1"))
        assert r.header("Date") and r.header("Server")
        c.expect(200, b"GET /after n=2")  # would be garbled if HEAD had sent a body


def test_keepalive_requests_sequential(port2):
    """keepalive_requests 5: the 5th response says Connection: close and the
    connection is closed after it."""
    with Client(port2) as c:
        for i in range(1, 6):
            c.send(req(f"/k{i}", host="b.test"))
            r = c.expect(200, f"/k{i} n={i}".encode())
            assert r.connection == ("close" if i == 5 else "keep-alive"), f"request {i}: {r!r}"
        assert c.wait_closed(3.0), "still open after keepalive_requests"
        assert c.buf == b""


def test_keepalive_requests_pipelined_leaves_the_rest_unanswered(port2):
    with Client(port2) as c:
        c.send(b"".join(req(f"/k{i}", host="b.test") for i in range(1, 8)))
        for i in range(1, 6):
            c.expect(200, f"/k{i} n={i}".encode())
        assert c.wait_closed(3.0)
        assert c.buf == b"", f"answered past keepalive_requests: {c.buf[:200]!r}"


def test_keepalive_timeout_header_parameter_sends_keep_alive_header(port, port2):
    r = sh.get(port2, "/", host="b.test")
    assert r.header("Keep-Alive") == "timeout=7"
    r = sh.get(port, "/")
    assert r.header("Keep-Alive") is None


def test_keepalive_timeout_closes_only_after_the_idle_time(port2):
    """keepalive_timeout 1s: idle 0.5s is fine, then the idle connection is closed
    within about a second, without a response."""
    with Client(port2) as c:
        c.send(req("/1", host="b.test"))
        c.expect(200)
        time.sleep(0.5)
        c.send(req("/2", host="b.test"))
        c.expect(200, b"/2 n=2")
        start = time.monotonic()
        assert c.wait_closed(4.0), "idle keep-alive connection not closed"
        took = time.monotonic() - start
        assert 0.8 <= took <= 2.5, f"closed after {took:.2f}s; keepalive_timeout is 1s"
        assert c.buf == b""


def test_http10_closes_by_default(port):
    with Client(port) as c:
        c.send(req("/ten", version="1.0") + req("/more"))
        r = c.expect(200, b"GET /ten n=1")
        assert r.version == "HTTP/1.1"
        assert r.connection == "close"
        assert c.wait_closed(3.0)
        assert c.buf == b"", "a request after an HTTP/1.0 one without keep-alive answered"


def test_http10_keep_alive_keeps_the_connection(port):
    with Client(port) as c:
        c.send(req("/ten", version="1.0", headers=[("Connection", "keep-alive")]))
        r = c.expect(200, b"GET /ten n=1")
        assert r.connection == "keep-alive"
        c.send(req("/ten2", version="1.0", headers=[("Connection", "Keep-Alive")]))
        assert c.expect(200, b"GET /ten2 n=2").connection == "keep-alive"
        c.send(req("/ten3", version="1.0"))
        assert c.expect(200, b"GET /ten3 n=3").connection == "close"
        assert c.wait_closed(3.0)


def test_http10_without_host_keep_alive(port):
    with Client(port) as c:
        c.send(req("/x", host=None, version="1.0", headers=[("Connection", "keep-alive")]))
        assert c.expect(200).connection == "keep-alive"
        c.send(req("/y", host=None, version="1.0"))
        c.expect(200, b"GET /y n=2")
        assert c.wait_closed(3.0)


@pytest.mark.parametrize("value", ["close", "Close", "CLOSE", "keep-alive, close"])
def test_connection_close_is_honoured(port, value):
    with Client(port) as c:
        c.send(req("/bye", headers=[("Connection", value)]) + req("/more"))
        r = c.expect(200, b"GET /bye n=1")
        assert r.connection == "close"
        assert c.wait_closed(3.0)
        assert c.buf == b"", "request pipelined after Connection: close was answered"


def test_connection_close_after_several_requests(port):
    with Client(port) as c:
        c.send(req("/1") + req("/2") + req("/3", headers=[("Connection", "close")]) + req("/4"))
        c.expect(200, b"GET /1 n=1")
        c.expect(200, b"GET /2 n=2")
        assert c.expect(200, b"GET /3 n=3").connection == "close"
        assert c.wait_closed(3.0)
        assert c.buf == b""


def test_many_connections_each_with_several_requests(port):
    """Twenty connections open at once, requests interleaved between them."""
    clients = [Client(port) for _ in range(20)]
    try:
        for round_ in range(1, 4):
            for i, c in enumerate(clients):
                c.send(req(f"/c{i}/{round_}"))
            for i, c in enumerate(clients):
                c.expect(200, f"GET /c{i}/{round_} n={round_}".encode())
    finally:
        for c in clients:
            c.close()
