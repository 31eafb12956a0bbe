"""The request ferry sends upstream: request line, Host, hop-by-hop headers dropped,
proxy_set_header (variables, map, empty values, inheritance), X-Forwarded-For and the
proxy_* variables, request bodies with Content-Length and chunked."""

import time
import types

import pytest

import harness
from upstreams import Upstream, fetch, make_conf, reply

CONF = make_conf("""
    map $http_x_tier $tier_header {
        default standard;
        gold    premium;
        none    "";
    }

    upstream backend {
        server 127.0.0.1:@up@;
    }

    proxy_set_header X-From-Http http;

    server {
        listen 127.0.0.1:@port@;
        server_name req.test;

        proxy_set_header X-From-Server server;
        proxy_set_header X-Server-Uri $uri;

        location / { proxy_pass http://127.0.0.1:@up@; }

        location /own/ {
            proxy_pass http://127.0.0.1:@up@;
            proxy_set_header X-From-Location location;
        }

        location /set/ {
            proxy_pass http://127.0.0.1:@up@;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Method $request_method;
            proxy_set_header X-Args "a=$arg_a;uri=$uri";
            proxy_set_header User-Agent fixed-agent;
            proxy_set_header Accept-Encoding "";
            proxy_set_header X-Absent $http_x_not_sent;
            proxy_set_header X-Tier $tier_header;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Proxy-Host $proxy_host;
            proxy_set_header X-Proxy-Port $proxy_port;
        }

        location /host/ {
            proxy_pass http://127.0.0.1:@up@;
            proxy_set_header Host $host;
        }

        location /http-host/ {
            proxy_pass http://127.0.0.1:@up@;
            proxy_set_header Host $http_host;
        }

        location /grp/ {
            proxy_pass http://backend;
            proxy_set_header X-Proxy-Host $proxy_host;
            proxy_set_header X-Proxy-Port $proxy_port;
        }

        location /v10/ {
            proxy_pass http://127.0.0.1:@up@;
            proxy_http_version 1.0;
        }

        location /stream/ {
            proxy_pass http://127.0.0.1:@up@;
            proxy_request_buffering off;
            proxy_http_version 1.1;
        }
    }

    server {
        listen 127.0.0.1:@port2@;
        server_name inherit.test;
        location / { proxy_pass http://127.0.0.1:@up@; }
    }
""")


@pytest.fixture(scope="module")
def site():
    up = Upstream(reply(body=b"fine"))
    port, port2 = harness.free_port(), harness.free_port()
    f = harness.Ferry(CONF, ports={"port": port, "port2": port2, "up": up.port})
    try:
        yield types.SimpleNamespace(port=port, port2=port2, up=up, ferry=f)
    finally:
        try:
            f.close()
        finally:
            up.close()


def send(site, target="/", method="GET", headers=(), body=None, port=None, version="HTTP/1.1",
         host="req.test"):
    """Sends one request through ferry; returns what the upstream received."""
    before = len(site.up.requests)
    r = fetch(port or site.port, target, method=method, headers=headers, body=body,
              version=version, host=host)
    assert r is not None and r.status == 200, (r and r.status, site.ferry.read_error_log()[-1500:])
    return site.up.wait_requests(before + 1)[-1]


# ---- request line and Host


def test_request_line_keeps_method_and_uses_http_1_1_by_default(site):
    got = send(site, "/a/b?c=d", method="DELETE")
    assert got.request_line == "DELETE /a/b?c=d HTTP/1.1"


def test_http_1_0_client_is_still_proxied_with_http_1_1(site):
    got = send(site, "/ten", version="HTTP/1.0")
    assert got.request_line == "GET /ten HTTP/1.1"


def test_proxy_http_version_1_0_sends_http_1_0(site):
    got = send(site, "/v10/x", method="POST", body=b"hello")
    assert got.request_line == "POST /v10/x HTTP/1.0"
    assert got.body == b"hello" and got.header("content-length") == "5"


def test_default_host_is_proxy_host_with_the_port(site):
    got = send(site, "/")
    assert got.header_all("host") == [f"127.0.0.1:{site.up.port}"]


def test_default_host_for_an_upstream_group_is_its_name(site):
    got = send(site, "/grp/x")
    assert got.header_all("host") == ["backend"]


def test_proxy_set_header_host_to_host_variable(site):
    got = send(site, "/host/x", host="Req.Test:8080")
    assert got.header_all("host") == ["req.test"]


def test_proxy_set_header_host_to_http_host_passes_the_client_value(site):
    got = send(site, "/http-host/x", host="Req.Test:8080")
    assert got.header_all("host") == ["Req.Test:8080"]


def test_no_connection_header_is_sent_by_default(site):
    """nginx 1.29.7+ default: neither "Connection: close" nor keep-alive is sent."""
    got = send(site, "/", headers=[("Connection", "keep-alive")])
    assert not got.has("connection"), got.headers
    assert not got.has("keep-alive")


# ---- client headers passed and dropped


def test_client_headers_pass_in_order_with_duplicates(site):
    hs = [("X-One", "1"), ("Accept", "text/html"), ("X-Dup", "a"), ("Cookie", "k=v"),
          ("X-Dup", "b"), ("X-Empty", ""), ("x-lower-case", "Kept As Is")]
    got = send(site, "/", headers=hs)
    passed = [(k, v) for k, v in got.headers if k.lower() not in ("host", "x-from-server",
                                                                  "x-server-uri")]
    assert passed == hs


@pytest.mark.parametrize("name,value", [
    ("Connection", "keep-alive"),
    ("Keep-Alive", "timeout=5"),
    ("TE", "trailers"),
    ("Trailer", "X-Checksum"),
    ("Upgrade", "websocket"),
    ("Proxy-Connection", "keep-alive"),
])
def test_hop_by_hop_client_header_is_not_passed(site, name, value):
    got = send(site, "/", headers=[(name, value), ("X-After", "1")])
    assert not got.has(name), got.headers
    assert got.header("x-after") == "1"


def test_headers_named_in_connection_are_not_passed(site):
    """RFC 9110 7.6.1 (nginx passes them on; ferry does not, by design)."""
    got = send(site, "/", headers=[("Connection", "X-Private, keep-alive"),
                                   ("X-Private", "secret"), ("X-Public", "shown"),
                                   ("Connection", "x-other"), ("X-Other", "also hidden")])
    assert not got.has("x-private")
    assert not got.has("x-other")
    assert got.header("x-public") == "shown"
    assert not got.has("connection")


def test_get_without_body_gets_no_framing_headers(site):
    got = send(site, "/")
    assert not got.has("content-length") and not got.has("transfer-encoding")


def test_post_with_empty_body_sends_content_length_zero(site):
    got = send(site, "/", method="POST", body=b"")
    assert got.header_all("content-length") == ["0"]
    assert got.body == b""


def test_content_length_body_is_passed(site):
    body = bytes(range(256)) * 40
    got = send(site, "/up", method="PUT", body=body)
    assert got.header_all("content-length") == [str(len(body))]
    assert got.body == body and not got.chunked


CHUNKED_BODY = b"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n"


def send_chunked(site, target):
    raw = (b"POST " + target + b" HTTP/1.1\r\nHost: req.test\r\nTransfer-Encoding: chunked\r\n\r\n"
           + CHUNKED_BODY)
    before = len(site.up.requests)
    with harness.RawClient(site.port) as c:
        c.send(raw)
        r = c.read_response()
    assert r.status == 200
    return site.up.wait_requests(before + 1)[-1]


def test_buffered_chunked_request_body_goes_upstream_with_its_length(site):
    """proxy_request_buffering on (the default): nginx reads the whole body and sends
    it with Content-Length."""
    got = send_chunked(site, b"/chunky")
    assert got.header_all("content-length") == ["12"]
    assert not got.has("transfer-encoding")
    assert not got.chunked and got.body == b"hello world!"
    assert got.version == "HTTP/1.1"


def test_streamed_chunked_request_body_goes_upstream_chunked(site):
    got = send_chunked(site, b"/stream/chunky")
    assert got.header_all("transfer-encoding") == ["chunked"]
    assert not got.has("content-length")
    assert got.chunked and got.body == b"hello world!"
    assert got.version == "HTTP/1.1"


def test_chunked_request_body_sent_slowly_arrives_whole(site):
    before = len(site.up.requests)
    with harness.RawClient(site.port) as c:
        c.send(b"POST /slow HTTP/1.1\r\nHost: req.test\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"abc", b"defg", b"h"):
            time.sleep(0.05)
            c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        c.send(b"0\r\n\r\n")
        r = c.read_response()
    assert r.status == 200
    got = site.up.wait_requests(before + 1)[-1]
    assert got.body == b"abcdefgh"


def test_expect_100_continue_is_answered_by_ferry_and_not_passed(site):
    before = len(site.up.requests)
    with harness.RawClient(site.port) as c:
        c.send(b"POST /expect HTTP/1.1\r\nHost: req.test\r\nContent-Length: 4\r\n"
               b"Expect: 100-continue\r\n\r\n")
        interim = c.read_response()
        assert interim is not None and interim.status == 100
        c.send(b"data")
        r = c.read_response()
    assert r.status == 200 and r.body == b"fine"
    got = site.up.wait_requests(before + 1)[-1]
    assert not got.has("expect")
    assert got.body == b"data"


# ---- proxy_set_header


def test_proxy_set_header_adds_headers_with_variables(site):
    got = send(site, "/set/p?a=42")
    assert got.header("x-real-ip") == "127.0.0.1"
    assert got.header("x-method") == "GET"
    assert got.header("x-args") == "a=42;uri=/set/p"


def test_proxy_set_header_replaces_the_client_header(site):
    got = send(site, "/set/p", headers=[("User-Agent", "curl/8"), ("X-Keep", "k")])
    assert got.header_all("user-agent") == ["fixed-agent"]
    assert got.header("x-keep") == "k"


def test_proxy_set_header_with_empty_value_drops_the_client_header(site):
    got = send(site, "/set/p", headers=[("Accept-Encoding", "gzip")])
    assert not got.has("accept-encoding")


def test_proxy_set_header_with_a_variable_evaluating_empty_is_not_sent(site):
    got = send(site, "/set/p")
    assert not got.has("x-absent")
    got = send(site, "/set/p", headers=[("X-Not-Sent", "now sent")])
    assert got.header("x-absent") == "now sent"


@pytest.mark.parametrize("tier,expected", [(None, "standard"), ("gold", "premium"),
                                           ("silver", "standard"), ("none", None)])
def test_proxy_set_header_from_a_map(site, tier, expected):
    headers = [("X-Tier", tier)] if tier else []
    got = send(site, "/set/p", headers=headers)
    assert got.header_all("x-tier") == ([expected] if expected else [])


def test_proxy_add_x_forwarded_for_without_client_header(site):
    got = send(site, "/set/p")
    assert got.header_all("x-forwarded-for") == ["127.0.0.1"]


def test_proxy_add_x_forwarded_for_appends_to_client_headers(site):
    got = send(site, "/set/p", headers=[("X-Forwarded-For", "203.0.113.7")])
    assert got.header_all("x-forwarded-for") == ["203.0.113.7, 127.0.0.1"]
    got = send(site, "/set/p", headers=[("X-Forwarded-For", "10.0.0.1"),
                                        ("X-Forwarded-For", "10.0.0.2")])
    assert got.header_all("x-forwarded-for") == ["10.0.0.1, 10.0.0.2, 127.0.0.1"]


def test_proxy_host_and_proxy_port_for_an_address(site):
    got = send(site, "/set/p")
    assert got.header("x-proxy-host") == f"127.0.0.1:{site.up.port}"
    assert got.header("x-proxy-port") == str(site.up.port)


def test_proxy_host_and_proxy_port_for_an_upstream_group(site):
    got = send(site, "/grp/p")
    assert got.header("x-proxy-host") == "backend"
    assert got.header("x-proxy-port") == "80"


# ---- inheritance: a level with its own proxy_set_header inherits none


def test_location_without_own_rules_inherits_the_server_rules_only(site):
    got = send(site, "/inherit/me")
    assert got.header("x-from-server") == "server"
    assert got.header("x-server-uri") == "/inherit/me"
    assert not got.has("x-from-http")


def test_location_with_own_rules_loses_the_server_rules(site):
    got = send(site, "/own/x")
    assert got.header("x-from-location") == "location"
    assert not got.has("x-from-server")
    assert not got.has("x-from-http")


def test_server_without_rules_inherits_the_http_rules(site):
    got = send(site, "/", port=site.port2, host="inherit.test")
    assert got.header("x-from-http") == "http"
    assert not got.has("x-from-server")


def test_client_header_overridden_by_an_inherited_rule_is_not_duplicated(site):
    got = send(site, "/", headers=[("X-From-Server", "client value")])
    assert got.header_all("x-from-server") == ["server"]
