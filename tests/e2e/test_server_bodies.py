"""Request bodies sent to `return` locations: nginx answers at once, then reads and drops
the body (Content-Length or chunked) so the connection stays usable for the next
request; `Expect: 100-continue` gets its interim response; client_max_body_size refuses
an announced Content-Length that is too large with 413.

(Malformed bodies and their statuses are covered by test_bad_input.py.)

NGINX_COMPARE=1 runs the same tests against /usr/sbin/nginx (1.22).
"""

import time

import pytest

import server_helpers as sh
from server_helpers import start_server  # noqa: F401 (fixture)
from server_helpers import Client, req

HTTP = r"""
    client_header_timeout 5s;
    client_body_timeout 2s;
    keepalive_timeout 10s;
    client_max_body_size 1m;

    server {
        listen 127.0.0.1:@port@;
        server_name a.test;
        location / { return 200 "ok $request_method $uri"; }
        location /cl { return 200 "cl $request_method $content_length"; }
        location = /next { return 200 "next"; }
        location /small { client_max_body_size 100; return 200 "small"; }
        location /unlimited { client_max_body_size 0; return 200 "unlimited"; }
        location /nf { return 404; }
        location /redir { return 302 /next; }
    }
"""

NEXT = req("/next")


@pytest.fixture
def port(start_server):
    """A fresh server per test: a body that wedges ferry must not take the others down."""
    proc, port = sh.one_server(start_server, HTTP)
    yield port
    sh.stop_or_kill(proc)


def chunked(data, size):
    """`data` as chunks of `size` bytes plus the last chunk."""
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def post(target, headers, body=b""):
    return req(target, method="POST", headers=headers, body=body)


def test_content_length_body_is_discarded_and_the_connection_kept(port):
    body = bytes(range(256)) * 400  # 100 KiB
    with Client(port) as c:
        c.send(post("/cl", [("Content-Length", len(body))], body) + NEXT)
        r = c.expect(200, f"cl POST {len(body)}".encode())
        assert r.connection == "keep-alive"
        c.expect(200, b"next")


def test_chunked_body_in_many_small_chunks_is_discarded(port):
    body = b"0123456789abcdef" * 512  # 8 KiB in 1-byte .. 7-byte chunks
    data = b""
    i = size = 0
    while i < len(body):
        size = size % 7 + 1
        data += b"%x\r\n" % len(body[i:i + size]) + body[i:i + size] + b"\r\n"
        i += size
    data += b"0\r\n\r\n"
    with Client(port) as c:
        c.send(post("/", [("Transfer-Encoding", "chunked")], data) + NEXT)
        c.expect(200, b"ok POST /")
        c.expect(200, b"next")


def test_chunked_body_with_extensions_and_trailers_is_discarded(port):
    data = (b"5;name=value\r\nhello\r\n6;x=\"q\";y\r\n world\r\n0;last\r\n"
            b"X-Trailer: t\r\nX-Other: u\r\n\r\n")
    with Client(port) as c:
        c.send(post("/", [("Transfer-Encoding", "chunked")], data) + NEXT)
        c.expect(200, b"ok POST /")
        c.expect(200, b"next")


@sh.ferry_bug("whitespace between the chunk size and ';' gets 400; nginx (and RFC "
              "9112's BWS) accept it")
def test_chunk_extension_after_whitespace_is_accepted(port):
    """RFC 9112 allows whitespace (BWS) before ';'; nginx skips everything up to CR."""
    data = b"5 ;a=b\r\nhello\r\n6\t;x\r\n world\r\n0 ;z\r\n\r\n"
    with Client(port) as c:
        c.send(post("/", [("Transfer-Encoding", "chunked")], data) + NEXT)
        c.expect(200, b"ok POST /")
        c.expect(200, b"next")


@pytest.mark.parametrize("kind", ["length", "chunked"])
def test_body_sent_slowly_in_pieces_is_discarded(port, kind):
    """Ten pieces 0.1s apart, each gap well under client_body_timeout (2s)."""
    body = b"x" * 1000
    if kind == "length":
        head = post("/", [("Content-Length", len(body))])
        data = body
    else:
        head = post("/", [("Transfer-Encoding", "chunked")])
        data = chunked(body, 37)
    with Client(port) as c:
        c.send(head)
        step = len(data) // 10 + 1
        for i in range(0, len(data), step):
            assert c.send(data[i:i + step]), "server closed while the body was arriving"
            time.sleep(0.1)
        c.send(NEXT)
        r = c.expect(200)
        assert r.body.startswith(b"ok POST /")
        c.expect(200, b"next")
        assert not c.closed


def split_everywhere(port, data, start):
    """Sends `data` in two writes 10ms apart, split at every offset from `start` on;
    returns the offsets after which the two responses were not 200 "ok..." and "next"."""
    failed = []
    for at in range(start, len(data)):
        with Client(port) as c:
            c.send(data[:at])
            time.sleep(0.01)
            c.send(data[at:])
            first, second = c.read_reply(timeout=2.0), c.read_reply(timeout=2.0)
            if not (first and first.status == 200 and second and second.body == b"next"):
                failed.append((at, bytes(data[max(0, at - 8):at]),
                               first and first.status, second and second.status))
    return failed


def test_content_length_body_split_at_every_byte(port):
    head = post("/", [("Content-Length", 10)])
    data = head + b"0123456789" + NEXT
    assert split_everywhere(port, data, len(head) - 4) == []


def test_chunked_body_split_at_every_byte(port):
    head = post("/", [("Transfer-Encoding", "chunked")])
    data = head + chunked(b"abcdefghij", 3) + NEXT
    assert split_everywhere(port, data, len(head) - 4) == []


def test_chunked_body_with_trailer_split_at_every_byte(port):
    head = post("/", [("Transfer-Encoding", "chunked")])
    data = head + b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" + NEXT
    assert split_everywhere(port, data, len(head) - 4) == []


@pytest.mark.parametrize("target,status", [("/nf", 404), ("/redir", 302)])
def test_body_after_error_and_redirect_returns_is_discarded(port, target, status):
    body = b"y" * 5000
    with Client(port) as c:
        c.send(post(target, [("Content-Length", len(body))], body) + NEXT)
        r = c.expect(status)
        assert r.connection == "keep-alive"
        c.expect(200, b"next")


# (100 Continue before the body arrives: test_bad_input.py.)

def test_expect_100_continue_is_sent_even_if_the_body_came_along(port):
    """nginx tests Expect before it looks at what was already read."""
    with Client(port) as c:
        c.send(post("/cl", [("Expect", "100-continue"), ("Content-Length", 3)], b"abc") + NEXT)
        c.expect(100)
        c.expect(200, b"cl POST 3")
        c.expect(200, b"next")


def test_expect_100_continue_is_ignored_in_http10(port):
    with Client(port) as c:
        c.send(req("/cl", method="POST", version="1.0",
                   headers=[("Expect", "100-continue"), ("Content-Length", 3)], body=b"abc"))
        r = c.expect(200, b"cl POST 3")
        assert r.version == "HTTP/1.1"
        assert c.wait_closed(3.0)


def test_other_expectations_get_no_interim_response(port):
    with Client(port) as c:
        c.send(post("/cl", [("Expect", "200-ok"), ("Content-Length", 3)], b"abc") + NEXT)
        c.expect(200, b"cl POST 3")
        c.expect(200, b"next")


def test_content_length_over_client_max_body_size_gets_413(port):
    with Client(port) as c:
        c.send(post("/small", [("Content-Length", 101)]))
        r = c.expect(413)
        assert r.connection == "close"
        assert b"413 Request Entity Too Large" in r.body


def test_content_length_at_client_max_body_size_is_accepted(port):
    with Client(port) as c:
        c.send(post("/small", [("Content-Length", 100)], b"a" * 100) + NEXT)
        c.expect(200, b"small")
        c.expect(200, b"next")


def test_client_max_body_size_zero_means_no_limit(port):
    body = b"u" * (2 << 20)  # past the server-wide 1m
    with Client(port) as c:
        c.send(post("/unlimited", [("Content-Length", len(body))], body) + NEXT)
        c.expect(200, b"unlimited", timeout=5.0)
        c.expect(200, b"next")


def test_client_max_body_size_is_per_location(port):
    body = b"b" * 1000
    with Client(port) as c:
        c.send(post("/cl", [("Content-Length", len(body))], body) + NEXT)
        c.expect(200, b"cl POST 1000")
        c.expect(200, b"next")
    with Client(port) as c:
        c.send(post("/small", [("Content-Length", len(body))], body))
        c.expect(413)


def test_chunked_body_over_the_limit_is_discarded_by_a_return_location(port):
    """nginx checks client_max_body_size against a chunked body only when it reads the
    body for a handler; a `return` location discards it unchecked and answers 200."""
    with Client(port) as c:
        c.send(post("/small", [("Transfer-Encoding", "chunked")], chunked(b"c" * 500, 50))
               + NEXT)
        c.expect(200, b"small")
        c.expect(200, b"next")


def test_content_length_body_then_pipelined_requests_with_bodies(port):
    with Client(port) as c:
        c.send(post("/a", [("Content-Length", 3)], b"abc")
               + post("/b", [("Transfer-Encoding", "chunked")], chunked(b"defgh", 2))
               + req("/cl", method="PUT", headers=[("Content-Length", 0)])
               + NEXT)
        c.expect(200, b"ok POST /a")
        c.expect(200, b"ok POST /b")
        c.expect(200, b"cl PUT 0")
        c.expect(200, b"next")
