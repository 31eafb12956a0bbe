"""proxy_request_buffering on (nginx's default): the whole request body is read before
the upstream is chosen, in memory up to client_body_buffer_size and then in a temporary
file under client_body_temp_path; it goes upstream with its length (a chunked body is
re-framed), can be sent again to the next server, and is $request_body when it fits in
memory. Checked against nginx 1.22 with NGINX_COMPARE=1."""

import os
import socket

import harness
import upstreams as ups
from conftest import sanitized
from upstreams import MIB, Upstream, make_conf, pattern_md5, proxy_ferry  # noqa: F401

BIG = (16 if sanitized() else 64) * MIB

CONF = """
    log_format body '$request_body|';
    upstream pair {
        server 127.0.0.1:@bad@;
        server 127.0.0.1:@up@;
    }
    server {
        listen 127.0.0.1:@port@;
        server_name buf.test;
        client_max_body_size 0;
        client_body_buffer_size 16k;
        client_body_temp_path @prefix@/body_temp;
        proxy_http_version 1.1;
        location / { proxy_pass http://127.0.0.1:@up@; }
        location /logged/ {
            access_log @prefix@/body.log body;
            proxy_pass http://127.0.0.1:@up@;
        }
        location /header/ {
            proxy_set_header X-Body $request_body;
            proxy_pass http://127.0.0.1:@up@;
        }
        location /retry/ {
            proxy_next_upstream error non_idempotent;
            proxy_pass http://pair;
        }
        location /ten/ {
            proxy_pass http://127.0.0.1:@up@;
            proxy_http_version 1.0;
            proxy_request_buffering off;
        }
        location /noretry/ {
            proxy_pass http://pair;
        }
    }
"""


def start(proxy_ferry, handler=None, bad_handler=None, **up_kw):
    up = Upstream(handler or ups.reply(body=b"stored"), **up_kw)
    bad = Upstream(bad_handler or reset_at_once, name="bad")
    port = harness.free_port()
    f = proxy_ferry(make_conf(CONF), ports={"port": port, "up": up.port, "bad": bad.port})
    return up, bad, port, f


def reset_at_once(req, conn):
    conn.reset()
    return False


def chunked_request(target, pieces):
    head = (f"POST {target} HTTP/1.1\r\nHost: buf.test\r\nTransfer-Encoding: chunked\r\n\r\n"
            .encode())
    return head + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def send_raw(port, data, timeout=20.0):
    with harness.RawClient(port, timeout=timeout) as c:
        c.send(data)
        return c.read_response()


def test_chunked_body_goes_upstream_with_content_length(proxy_ferry):
    up, _, port, _ = start(proxy_ferry)
    r = send_raw(port, chunked_request("/c", [b"hello ", b"buffered ", b"world"]))
    assert r.status == 200
    got = up.wait_requests(1)[-1]
    assert got.header_all("content-length") == ["20"]
    assert not got.has("transfer-encoding") and not got.chunked
    assert got.body == b"hello buffered world"


def test_big_body_is_read_whole_before_the_upstream_sees_it(proxy_ferry):
    """A body bigger than client_body_buffer_size goes to a temporary file: the client
    finishes sending while the upstream has not yet been connected, the upstream then
    gets every byte with Content-Length, and no file is left behind."""
    up, _, port, f = start(proxy_ferry, store_limit=0)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(ups.build_request("PUT", "/big", host="buf.test",
                                    headers=[("Content-Length", str(BIG))]))
        ups.send_pattern(s, BIG)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    assert buf.startswith(b"HTTP/1.1 200 "), buf[:200]
    got = up.wait_requests(1)[-1]
    assert got.header("content-length") == str(BIG)
    assert got.body_len == BIG and got.body_md5 == pattern_md5(BIG)
    assert "a client request body is buffered to a temporary file" in f.read_error_log()
    temp = os.path.join(f.prefix, "body_temp")
    assert not os.path.isdir(temp) or harness.wait_for(lambda: not any(
        os.scandir(temp)), 5), os.listdir(temp)


def test_upstream_gets_nothing_until_the_body_is_complete(proxy_ferry):
    up, _, port, _ = start(proxy_ferry)
    with harness.RawClient(port, timeout=10) as c:
        c.send(b"POST /late HTTP/1.1\r\nHost: buf.test\r\nContent-Length: 10\r\n"
               b"Expect: 100-continue\r\n\r\n")
        # 100 Continue: ferry has begun reading the body (streaming, it would be
        # connecting upstream by now) ...
        assert c.read_response().status == 100
        c.send(b"hello")
        assert up.connections == 0
        c.send(b"world")
        r = c.read_response()
    assert r.status == 200
    assert up.wait_requests(1)[-1].body == b"helloworld"


def test_buffered_post_is_sent_again_to_the_next_server(proxy_ferry):
    """With non_idempotent, a POST whose first server reset the connection goes whole
    to the next one, chunked or not."""
    up, bad, port, _ = start(proxy_ferry)
    body = b"x" * 40000  # bigger than client_body_buffer_size: from the file
    r = ups.fetch(port, "/retry/post", method="POST", body=body, host="buf.test")
    assert r.status == 200
    got = up.wait_requests(1)[-1]
    assert got.body == body and got.header("content-length") == str(len(body))
    assert len(bad.started) == 1
    r = send_raw(port, chunked_request("/retry/chunked", [b"abc", b"def"]))
    assert r.status == 200
    assert up.wait_requests(2)[-1].body == b"abcdef"


def test_post_is_not_sent_again_without_non_idempotent(proxy_ferry):
    up, bad, port, _ = start(proxy_ferry)
    r = ups.fetch(port, "/noretry/post", method="POST", body=b"once", host="buf.test")
    assert r.status == 502
    assert len(bad.started) == 1 and len(up.started) == 0


def test_request_body_variable_in_the_access_log(proxy_ferry):
    up, _, port, f = start(proxy_ferry)
    r = ups.fetch(port, "/logged/a", method="POST", body=b"k=v&x=1", host="buf.test")
    assert r.status == 200
    r = ups.fetch(port, "/logged/b", host="buf.test")
    assert r.status == 200
    log = os.path.join(f.prefix, "body.log")
    assert harness.wait_for(lambda: os.path.exists(log) and
                            open(log).read().count("\n") == 2, 5)
    assert open(log).read().splitlines() == ["k=v&x=1|", "-|"]


def test_request_body_variable_in_a_header_sent_upstream(proxy_ferry):
    up, _, port, _ = start(proxy_ferry)
    r = ups.fetch(port, "/header/", method="POST", body=b"small", host="buf.test")
    assert r.status == 200
    assert up.wait_requests(1)[-1].header("x-body") == "small"


def test_chunked_body_for_an_http_1_0_upstream_is_buffered_even_if_asked_not_to(proxy_ferry):
    up, _, port, _ = start(proxy_ferry)
    r = send_raw(port, chunked_request("/ten/x", [b"old ", b"server"]))
    assert r.status == 200
    got = up.wait_requests(1)[-1]
    assert got.version == "HTTP/1.0"
    assert got.header("content-length") == "10" and got.body == b"old server"
