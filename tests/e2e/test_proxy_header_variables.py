"""Header variables and upstream header lines as nginx 1.31 treats them: repeated lines
joined in $sent_http_*, $upstream_http_* and $content_type, $upstream_cookie_NAME,
$remote_user, a bare $arg_; an upstream's second Expires (and the like) ignored, a second
Transfer-Encoding refused, Upgrade passed on any status, a 101 to a request that did not
ask to upgrade passed on alone. Checked against nginx with NGINX_COMPARE=1 (the joining
and the ignored duplicates are nginx 1.23's, so those tests skip against Debian's 1.22)."""

import pytest

import harness
import upstreams as ups
from upstreams import Upstream, make_conf, proxy_ferry  # noqa: F401

since_1_23 = pytest.mark.skipif(harness.nginx_compare(),
                                reason="nginx 1.23 behaviour; the comparison peer is 1.22")

CONF = """
    server {
        listen 127.0.0.1:@port@;
        server_name vars.test;
        proxy_http_version 1.1;

        location /sent {
            add_header Cache-Control foo;
            add_header Cache-Control bar;
            add_header X-Sent-CC $sent_http_cache_control;
            return 204;
        }
        location /v {
            add_header X-Remote-User "[$remote_user]";
            add_header X-Content-Type "[$content_type]";
            add_header X-Arg "[$arg_]";
            return 204;
        }
        location / {
            add_header X-Up-Cookie "[$upstream_http_set_cookie]";
            add_header X-Up-Foo "[$upstream_cookie_foo]";
            add_header X-Up-Bar "[$upstream_cookie_bar]";
            add_header X-Up-Multi "[$upstream_http_x_multi]";
            proxy_pass http://127.0.0.1:@up@;
        }
    }
"""


def headers_reply(status, reason, lines, body=b""):
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in lines)
    if body or status >= 200:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


ROUTES = {
    "/cookies": ups.raw(headers_reply(200, "OK", [
        ("Set-Cookie", "foo=1; Path=/"), ("Set-Cookie", "bar=2"), ("X-Multi", "a"),
        ("X-Multi", "b")])),
    "/expires": ups.raw(headers_reply(200, "OK", [
        ("Expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
        ("Expires", "Fri, 02 Jan 2099 00:00:00 GMT")])),
    "/te": ups.raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "/upgrade200": ups.raw(headers_reply(200, "OK", [
        ("Connection", "Upgrade"), ("Upgrade", "websocket")])),
    "/upgrade426": ups.raw(headers_reply(426, "Upgrade Required", [
        ("Connection", "Upgrade"), ("Upgrade", "websocket")])),
    "/switch": ups.raw(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       b"Connection: Upgrade\r\n\r\n"),
}


@pytest.fixture
def site(proxy_ferry):
    up = Upstream(ups.by_path(ROUTES, ups.reply()))
    port = harness.free_port()
    f = proxy_ferry(make_conf(CONF), ports={"port": port, "up": up.port})
    yield port, up, f
    up.close()


def get(port, target, headers=()):
    return ups.fetch(port, target, headers=headers, host="vars.test")


@since_1_23
def test_sent_http_sees_the_lines_added_before_it_joined(site):
    r = get(site[0], "/sent")
    assert r.header_all("cache-control") == ["foo", "bar"]
    assert r.header("x-sent-cc") == "foo, bar"


def test_remote_user_from_basic_authorization(site):
    r = get(site[0], "/v", [("Authorization", "Basic dXNlcjpzZWNyZXQ=")])
    assert r.header("x-remote-user") == "[user]"
    r = get(site[0], "/v", [("Authorization", "Bearer abc")])
    assert r.header("x-remote-user") == "[]"


@since_1_23
def test_content_type_lines_are_joined(site):
    r = get(site[0], "/v", [("Content-Type", "foo"), ("Content-Type", "bar")])
    assert r.header("x-content-type") == "[foo, bar]"


def test_bare_arg_is_accepted_and_empty(site):
    r = get(site[0], "/v?l=42")
    assert r.status == 204 and r.header("x-arg") == "[]"


@since_1_23
def test_upstream_cookie_and_joined_upstream_headers(site):
    r = get(site[0], "/cookies")
    assert r.status == 200
    assert r.header("x-up-foo") == "[1]" and r.header("x-up-bar") == "[2]"
    assert r.header("x-up-multi") == "[a, b]"
    assert r.header("x-up-cookie") == "[foo=1; Path=/, bar=2]"
    assert r.header_all("set-cookie") == ["foo=1; Path=/", "bar=2"]


@since_1_23
def test_a_second_expires_from_the_upstream_is_ignored(site):
    port, _, f = site
    r = get(port, "/expires")
    assert r.status == 200
    assert r.header_all("expires") == ["Thu, 01 Jan 2099 00:00:00 GMT"]
    assert harness.wait_for(lambda: "upstream sent duplicate header line: \"Expires: Fri"
                            in f.read_error_log(), 5)


@since_1_23
def test_a_second_transfer_encoding_from_the_upstream_is_a_502(site):
    port, _, f = site
    assert get(port, "/te").status == 502
    assert "upstream sent duplicate header line: \"Transfer-Encoding" in f.read_error_log()


@pytest.mark.parametrize("status", [200, 426])
def test_upgrade_header_is_passed_on_any_status(site, status):
    r = get(site[0], f"/upgrade{status}")
    assert r.status == status
    assert r.header("upgrade") == "websocket"


def test_101_to_a_request_without_upgrade_is_passed_on_alone(site):
    """Not a 502: the head reaches the client (ferry then closes; nginx waits)."""
    with harness.RawClient(site[0], timeout=5) as c:
        c.send(b"GET /switch HTTP/1.1\r\nHost: vars.test\r\n\r\n")
        r = c.read_response()
        assert r.status == 101 and r.header("upgrade") == "websocket"
