"""The response ferry relays: status line with the upstream's reason phrase, headers
minus hop-by-hop ones, Server and Date of its own (the upstream's hidden as nginx's
proxy_hide_header defaults do), proxy_hide_header/proxy_pass_header, bodies framed by
Content-Length, chunked or the connection's end and re-framed for the client's HTTP
version, HEAD/204/304 without body, 1xx interim responses skipped."""

import re
import socket
import time
import types

import pytest

import harness
import upstreams as ups
from upstreams import Upstream, fetch, make_conf

# Known ferry failures (xfail strict: remove the mark once fixed).


CONF = make_conf("""
    server {
        listen 127.0.0.1:@port@;
        server_name resp.test;

        location / { proxy_pass http://127.0.0.1:@up@; }

        location /hide/ {
            proxy_pass http://127.0.0.1:@up@;
            proxy_hide_header X-Secret;
            proxy_hide_header x-powered-by;
        }

        location /pass/ {
            proxy_pass http://127.0.0.1:@up@;
            proxy_pass_header Server;
            proxy_pass_header Date;
            proxy_pass_header X-Accel-Expires;
        }

        location /unbuffered/ {
            proxy_pass http://127.0.0.1:@up@;
            proxy_buffering off;
        }
    }
""")

ROUTES = {}


def route(req, conn):
    """Dispatches on the first path segment after an optional /hide/ /pass/ /unbuffered/."""
    path = req.uri
    for p in ("/hide", "/pass", "/unbuffered"):
        if path.startswith(p + "/"):
            path = path[len(p):]
    key = path.split("?")[0]
    handler = ROUTES.get(key)
    if handler is None:
        return ups.reply(status=404, body=b"no route " + key.encode(), reason="Not Found")(req, conn)
    return handler(req, conn)


@pytest.fixture(scope="module")
def site():
    up = Upstream(route)
    port = harness.free_port()
    f = harness.Ferry(CONF, ports={"port": port, "up": up.port})
    try:
        yield types.SimpleNamespace(port=port, up=up, ferry=f)
    finally:
        try:
            f.close()
        finally:
            up.close()


def get(site, path, method="GET", version="HTTP/1.1", headers=()):
    return fetch(site.port, path, method=method, version=version, headers=headers,
                 host="resp.test")


# ---- status line


ROUTES["/teapot"] = ups.reply(status=418, reason="I'm A Little Teapot", body=b"short and stout")
ROUTES["/odd"] = ups.reply(status=299, reason="Odd But Fine", body=b"x")
ROUTES["/noreason"] = ups.raw(b"HTTP/1.1 404 \r\nContent-Length: 1\r\n\r\nz", keep=True)
ROUTES["/http10"] = ups.reply(body=b"from 1.0", version="HTTP/1.0", keep=False)


def test_status_line_carries_the_upstream_reason_phrase(site):
    r = get(site, "/teapot")
    assert r.raw.split(b"\r\n")[0] == b"HTTP/1.1 418 I'm A Little Teapot"
    assert r.body == b"short and stout"
    r = get(site, "/odd")
    assert r.raw.split(b"\r\n")[0] == b"HTTP/1.1 299 Odd But Fine"


def test_status_line_from_an_http_1_0_upstream_is_http_1_1(site):
    r = get(site, "/http10")
    assert r.version == "HTTP/1.1" and r.status == 200 and r.body == b"from 1.0"


def test_empty_upstream_reason_phrase(site):
    r = get(site, "/noreason")
    assert r.status == 404 and r.body == b"z"
    # nginx passes the upstream's status line as it is ("404 "), or its own reason
    assert r.raw.split(b"\r\n")[0] in (b"HTTP/1.1 404 ", b"HTTP/1.1 404 Not Found")


# ---- headers


ROUTES["/headers"] = ups.reply(body=b"h", headers=[
    ("Server", "upstream-server/1.0"), ("Date", "Mon, 01 Jan 2001 00:00:00 GMT"),
    ("X-First", "1"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Last", "z"),
    ("Connection", "keep-alive, X-Hop"), ("Keep-Alive", "timeout=5"), ("X-Hop", "hop value"),
    ("Proxy-Connection", "keep-alive"), ("X-Pad", "avoid browser bug"),
    ("X-Accel-Expires", "10"), ("X-Accel-Limit-Rate", "1"),
    ("X-Accel-Buffering", "no"), ("X-Accel-Charset", "utf-8"),
    ("X-Secret", "s3cret"), ("X-Powered-By", "php"),
])


def test_end_to_end_headers_are_relayed_in_order(site):
    r = get(site, "/headers")
    assert r.status == 200 and r.body == b"h"
    names = [k.lower() for k, _ in r.headers]
    relayed = [(k, v) for k, v in r.headers if k.lower() in
               ("x-first", "set-cookie", "x-last", "x-secret", "x-powered-by")]
    assert relayed == [("X-First", "1"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                       ("X-Last", "z"), ("X-Secret", "s3cret"), ("X-Powered-By", "php")]
    assert names.count("content-length") == 1 and r.header("content-length") == "1"


def test_server_and_date_are_ferrys_own(site):
    r = get(site, "/headers")
    assert r.header_all("server") == ["ferry"]
    dates = r.header_all("date")
    assert len(dates) == 1 and "2001" not in dates[0]
    assert re.match(r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$", dates[0])


def test_hop_by_hop_response_headers_are_not_relayed(site):
    r = get(site, "/headers")
    for name in ("keep-alive", "proxy-connection"):
        assert r.header(name) is None, name
    assert r.header_all("connection") == ["keep-alive"]  # ferry's own, for the client hop


def test_response_header_named_in_upstream_connection_is_not_relayed(site):
    """ferry drops it (RFC 9110 7.6.1)."""
    r = get(site, "/headers")
    assert r.header("x-hop") is None


def test_nginx_default_hidden_headers_are_not_relayed(site):
    r = get(site, "/headers")
    for name in ("x-pad", "x-accel-expires", "x-accel-limit-rate",
                 "x-accel-buffering", "x-accel-charset"):
        assert r.header(name) is None, name


def test_proxy_hide_header_hides_case_insensitively(site):
    r = get(site, "/hide/headers")
    assert r.header("x-secret") is None
    assert r.header("x-powered-by") is None
    assert r.header("x-first") == "1"


def test_proxy_pass_header_passes_the_upstream_server_and_date_alone(site):
    r = get(site, "/pass/headers")
    assert r.header_all("server") == ["upstream-server/1.0"]
    assert r.header_all("date") == ["Mon, 01 Jan 2001 00:00:00 GMT"]
    assert r.header("x-accel-expires") == "10"


# ---- body framing


ROUTES["/length"] = ups.reply(body=b"L" * 100000)
ROUTES["/chunked"] = ups.chunked([b"first,", b"second," * 1000, b"third"],
                                 trailers=[("X-Trailer", "t")])
ROUTES["/close"] = ups.close_delimited(b"until the end " * 5000,
                                       headers=[("Content-Type", "text/plain")])
ROUTES["/close10"] = ups.close_delimited(b"old style", version="HTTP/1.0")
CHUNKED_BODY = b"first," + b"second," * 1000 + b"third"


def test_content_length_body_is_relayed_and_the_connection_kept(site):
    with harness.RawClient(site.port) as c:
        for _ in range(3):
            c.send(ups.build_request(target="/length", host="resp.test"))
            r = c.read_response()
            assert r.status == 200 and r.body == b"L" * 100000
            assert r.header("content-length") == "100000"
            assert r.header("transfer-encoding") is None


def test_chunked_body_goes_chunked_to_an_http_1_1_client(site):
    with harness.RawClient(site.port) as c:
        for _ in range(2):
            c.send(ups.build_request(target="/chunked", host="resp.test"))
            r = c.read_response()
            assert r.status == 200
            assert r.header("transfer-encoding") == "chunked"
            assert r.header("content-length") is None
            assert r.body == CHUNKED_BODY


def test_chunked_body_goes_close_delimited_to_an_http_1_0_client(site):
    with harness.RawClient(site.port) as c:
        c.send(ups.build_request(target="/chunked", host="resp.test", version="HTTP/1.0"))
        r = c.read_response()
        assert r.status == 200
        assert r.header("transfer-encoding") is None
        assert r.header("content-length") is None
        assert r.body == CHUNKED_BODY  # read until the close
        assert c.is_closed(2.0)


def test_close_delimited_body_goes_chunked_to_an_http_1_1_client(site):
    with harness.RawClient(site.port) as c:
        for _ in range(2):  # the client connection survives
            c.send(ups.build_request(target="/close", host="resp.test"))
            r = c.read_response()
            assert r.status == 200
            assert r.header("transfer-encoding") == "chunked"
            assert r.body == b"until the end " * 5000
            assert r.header("content-type") == "text/plain"


def test_close_delimited_body_from_an_http_1_0_upstream(site):
    with harness.RawClient(site.port) as c:
        c.send(ups.build_request(target="/close10", host="resp.test"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"old style"


def test_close_delimited_body_to_an_http_1_0_client_ends_with_the_close(site):
    with harness.RawClient(site.port) as c:
        c.send(ups.build_request(target="/close", host="resp.test", version="HTTP/1.0"))
        r = c.read_response()
        assert r.header("transfer-encoding") is None
        assert r.body == b"until the end " * 5000
        assert c.is_closed(2.0)


# ---- no body


ROUTES["/head"] = ups.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-H: 1\r\n\r\n", keep=True)
ROUTES["/head-chunked"] = ups.raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                                  keep=True)
ROUTES["/204"] = ups.raw(b"HTTP/1.1 204 No Content\r\nX-N: 1\r\n\r\n", keep=True)
ROUTES["/304"] = ups.raw(b"HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\n\r\n", keep=True)


def test_head_response_has_no_body_and_keeps_content_length(site):
    with harness.RawClient(site.port) as c:
        c.send(ups.build_request("HEAD", "/head", host="resp.test"))
        r = c.read_response(head_request=True)
        assert r.status == 200 and r.header("content-length") == "12"
        assert r.header("x-h") == "1"
        # the next response follows at once: no body bytes came after the head
        c.send(ups.build_request(target="/length", host="resp.test"))
        r = c.read_response()
        assert r.status == 200 and len(r.body) == 100000
    assert site.up.request_for("/head").method == "HEAD"  # passed upstream as HEAD


def test_head_to_a_chunked_resource_has_no_body(site):
    with harness.RawClient(site.port) as c:
        c.send(ups.build_request("HEAD", "/head-chunked", host="resp.test"))
        r = c.read_response(head_request=True)
        assert r.status == 200
        c.send(ups.build_request(target="/length", host="resp.test"))
        r = c.read_response()
        assert r.status == 200 and len(r.body) == 100000


@pytest.mark.parametrize("path,status", [("/204", 204), ("/304", 304)])
def test_204_and_304_have_no_body_and_keep_the_connection(site, path, status):
    with harness.RawClient(site.port) as c:
        c.send(ups.build_request(target=path, host="resp.test"))
        r = c.read_response()
        assert r.status == status
        assert r.header("transfer-encoding") is None
        assert r.header("content-length") is None
        c.send(ups.build_request(target="/length", host="resp.test"))
        r = c.read_response()
        assert r.status == 200 and len(r.body) == 100000


ROUTES["/empty"] = ups.reply(body=b"", keep=True)
ROUTES["/found"] = ups.reply(status=302, reason="Found", body=b"",
                             headers=[("Location", "http://resp.test/there")], keep=True)


@pytest.mark.parametrize("path,status", [("/empty", 200), ("/found", 302)])
def test_content_length_0_response_completes_at_once_and_keeps_the_connection(
        site, path, status):
    """The upstream keeps its connection open: the response is complete with its head."""
    with harness.RawClient(site.port, timeout=3.0) as c:
        for _ in range(2):
            start = time.monotonic()
            c.send(ups.build_request(target=path, host="resp.test"))
            r = c.read_response()
            assert r is not None and r.status == status, r
            assert r.header("content-length") == "0" and r.body == b""
            assert time.monotonic() - start < 2.0


# ---- 1xx


ROUTES["/early"] = ups.interim([103], ups.reply(body=b"after hints"))
ROUTES["/continue"] = ups.interim([100, 102, 103], ups.reply(status=201, reason="Created",
                                                             body=b"made"))


def test_interim_responses_are_skipped(site):
    r = get(site, "/early")
    assert r.status == 200 and r.body == b"after hints"
    r = get(site, "/continue")
    assert r.status == 201 and r.body == b"made"


def test_interim_100_to_a_post_is_not_relayed_twice(site):
    with harness.RawClient(site.port) as c:
        c.send(ups.build_request("POST", "/continue", body=b"x" * 10, host="resp.test"))
        r = c.read_response()
        assert r.status == 201 and r.body == b"made"
        c.send(ups.build_request(target="/length", host="resp.test"))
        r = c.read_response()
        assert r.status == 200


# ---- slow upstream


ROUTES["/slow"] = ups.slow([b"a" * 1000, b"b" * 1000, b"c" * 1000, b"d" * 1000], 0.15)
ROUTES["/slow-chunked"] = ups.slow([b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 10], 0.15,
                                   length=False)
ROUTES["/slow-accel"] = ups.slow([b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 10], 0.15,
                                 length=False, headers=[("X-Accel-Buffering", "no")])


def test_slow_upstream_body_arrives_complete(site):
    r = get(site, "/slow")
    assert r.status == 200 and r.body == b"a" * 1000 + b"b" * 1000 + b"c" * 1000 + b"d" * 1000


@pytest.mark.parametrize("path", ["/slow-chunked", "/unbuffered/slow-chunked", "/slow-accel"])
def test_slow_upstream_body_is_passed_on_as_it_arrives(site, path):
    """The first piece reaches the client long before the last one is sent (0.45 s
    later): with proxy_buffering off, with X-Accel-Buffering: no, and by default (ferry
    passes on what it has read)."""
    s = socket.create_connection(("127.0.0.1", site.port), timeout=5)
    with s:
        t0 = time.monotonic()
        s.sendall(ups.build_request(target=path, host="resp.test"))
        buf = b""
        while b"a" * 10 not in buf:
            chunk = s.recv(65536)
            assert chunk
            buf += chunk
        first = time.monotonic() - t0
        while not buf.endswith(b"0\r\n\r\n"):
            chunk = s.recv(65536)
            assert chunk
            buf += chunk
        total = time.monotonic() - t0
    assert first < 0.4, first
    assert total >= 0.55, total
    assert b"X-Accel-Buffering" not in buf.split(b"\r\n\r\n")[0]
