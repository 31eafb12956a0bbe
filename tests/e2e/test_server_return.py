"""The `return` directive's forms: text with variables, relative redirects made absolute
(nginx's absolute_redirect with port_in_redirect), absolute URLs, bare error codes with
nginx's default error pages, 444 (close without a response), server-level `return`
before any location, and `set` variables; plus the headers every response carries.

NGINX_COMPARE=1 runs the same tests against /usr/sbin/nginx (1.22).
"""

import email.utils
import re
import time

import pytest

import server_helpers as sh
from server_helpers import start_server  # noqa: F401 (fixture)
from server_helpers import Client, req

HTTP = r"""
    server {
        listen 127.0.0.1:@port@;
        server_name a.test alias.test;

        location = /text { return 200 "host=$host uri=$uri args=$args"; }
        location = /created { return 201 "made"; }
        location = /rel301 { return 301 /target; }
        location = /rel302 { return 302 /target?x=$arg_x; }
        location = /rel307 { return 307 /t307; }
        location = /rel308 { return 308 /t308; }
        location = /abs302 { return 302 http://x/; }
        location = /abs-vars { return 301 "$scheme://$host:$server_port$uri?$args"; }
        location = /url-only { return http://elsewhere.test/path; }
        location = /see-other { return 303 https://secure.test/; }
        location = /nf { return 404; }
        location = /err500 { return 500; }
        location = /err503 { return 503; }
        location = /forbidden { return 403 "custom forbidden"; }
        location = /drop { return 444; }
        location = /set {
            set $who "$arg_name-$request_method";
            return 200 "set:$who";
        }
        location = /set-over {
            set $v one;
            set $v "$v-two";
            return 200 $v;
        }
        location /nested {
            location /nested/inner { return 200 "inner"; }
            return 200 "outer";
        }
        location / { return 200 "root"; }
    }

    # A server-level return answers before any location is looked at.
    server {
        listen 127.0.0.1:@port@;
        server_name srv.test;
        set $greeting hello;
        return 200 "server-level $greeting $uri";
        location / { return 200 "location"; }
        location = /exact { return 404; }
    }

    # set at server level, visible in locations, overridable there.
    server {
        listen 127.0.0.1:@port@;
        server_name setsrv.test;
        set $a "srv";
        location / { return 200 "a=$a"; }
        location /over { set $a "loc"; return 200 "a=$a"; }
    }
"""


@pytest.fixture(scope="module")
def server():
    yield from sh.module_server(HTTP)


@pytest.fixture
def port(server):
    return server[1]


def test_text_with_variables_is_plain_text(port):
    r = sh.get(port, "/text?a=1&b=2", host="Alias.Test:1234")
    assert r.status == 200
    assert r.body == b"host=alias.test uri=/text args=a=1&b=2"
    assert r.header("Content-Type") == "text/plain"
    assert r.header("Content-Length") == str(len(r.body))


EMPTY_BODIES = r"""
    server {
        listen 127.0.0.1:@port@;
        location = /empty-text { return 200 ""; }
        location = /code-only { return 200; }
        location = /no-content { return 204; }
        location = /created { return 201 "made"; }
    }"""


def test_empty_text_and_code_only(start_server):
    """`return 200 ""` and `return 200;` answer an empty body (own server, so that a
    sanitizer report is charged to this test)."""
    proc, port = sh.one_server(start_server, EMPTY_BODIES)
    r = sh.get(port, "/empty-text")
    assert (r.status, r.body, r.header("Content-Length")) == (200, b"", "0")
    r = sh.get(port, "/code-only")
    assert r.status == 200
    assert r.body == b""
    assert proc.stop() == 0
    assert proc.sanitizer_report() is None, proc.sanitizer_report()


def test_other_success_codes(port):
    r = sh.get(port, "/created")
    assert (r.status, r.reason, r.body) == (201, "Created", b"made")


def test_204_has_no_body_and_no_length(start_server):
    proc, port = sh.one_server(start_server, EMPTY_BODIES)
    with Client(port) as c:
        c.send(req("/no-content") + req("/created"))
        r = c.expect(204)
        assert r.header("Content-Length") is None
        assert r.header("Transfer-Encoding") is None
        c.expect(201, b"made")


@pytest.mark.parametrize("target,status,location", [
    ("/rel301", 301, "/target"),
    ("/rel302?x=5", 302, "/target?x=5"),
    ("/rel307", 307, "/t307"),
    ("/rel308", 308, "/t308"),
])
def test_relative_redirect_is_made_absolute(port, target, status, location):
    """absolute_redirect on, server_name_in_redirect off, port_in_redirect on: the
    Location is http://$host:PORT/path."""
    r = sh.get(port, target, host="a.test")
    assert r.status == status
    assert r.header("Location") == f"http://a.test:{port}{location}"
    assert r.header("Content-Type") == "text/html"
    # (302's reason is "Moved Temporarily", its page says "302 Found")
    assert f"<title>{status} ".encode() in r.body


def test_relative_redirect_uses_the_request_host_not_the_server_name(port):
    r = sh.get(port, "/rel301", host="Alias.test:999")
    assert r.header("Location") == f"http://alias.test:{port}/target"


def test_relative_redirect_without_host_uses_the_local_address(port):
    """No Host (HTTP/1.0): nginx names the address the connection came in on."""
    r = sh.get(port, "/rel301", host=None, version="1.0")
    assert r.status == 301
    assert r.header("Location") == f"http://127.0.0.1:{port}/target"


@pytest.mark.parametrize("target,status,location", [
    ("/abs302", 302, "http://x/"),
    ("/url-only", 302, "http://elsewhere.test/path"),
    ("/see-other", 303, "https://secure.test/"),
])
def test_absolute_redirects_are_sent_as_given(port, target, status, location):
    r = sh.get(port, target)
    assert (r.status, r.header("Location")) == (status, location)


def test_redirect_url_with_variables(port):
    r = sh.get(port, "/abs-vars?q=1", host="a.test")
    assert r.status == 301
    assert r.header("Location") == f"http://a.test:{port}/abs-vars?q=1"


@pytest.mark.parametrize("target,status,reason", [
    ("/nf", 404, "Not Found"),
    ("/err500", 500, "Internal Server Error"),
    ("/err503", 503, "Service Temporarily Unavailable"),
])
def test_bare_error_code_sends_the_default_error_page(port, target, status, reason):
    r = sh.get(port, target)
    assert (r.status, r.reason) == (status, reason)
    assert r.header("Content-Type") == "text/html"
    text = r.body.decode()
    assert f"<head><title>{status} {reason}</title></head>" in text
    assert f"<center><h1>{status} {reason}</h1></center>" in text
    assert re.search(r"<hr><center>(ferry|nginx)[^<]*</center>", text), text
    assert r.header("Content-Length") == str(len(r.body))


def test_error_code_with_text_sends_the_text(port):
    r = sh.get(port, "/forbidden")
    assert (r.status, r.body) == (403, b"custom forbidden")


def test_444_closes_without_a_response(port):
    with Client(port) as c:
        c.send(req("/drop") + req("/"))
        assert c.wait_closed(3.0), "connection not closed after return 444"
        assert c.buf == b"", f"444 sent something: {c.buf[:200]!r}"


def test_444_does_not_disturb_other_connections(port):
    with Client(port) as keep:
        keep.send(req("/"))
        keep.expect(200, b"root")
        with Client(port) as c:
            c.send(req("/drop"))
            assert c.wait_closed(3.0)
        keep.send(req("/"))
        keep.expect(200, b"root")


def test_set_variable_from_other_variables(port):
    assert sh.get(port, "/set?name=bob").body == b"set:bob-GET"


def test_set_can_use_the_previous_value(port):
    assert sh.get(port, "/set-over").body == b"one-two"


def test_nested_location_return(port):
    assert sh.get(port, "/nested/inner/x").body == b"inner"
    assert sh.get(port, "/nested/x").body == b"outer"


@pytest.mark.parametrize("target", ["/", "/exact", "/anything?x=1"])
def test_server_level_return_takes_precedence_over_locations(port, target):
    r = sh.get(port, target, host="srv.test")
    assert r.status == 200
    assert r.body == f"server-level hello {target.split('?')[0]}".encode()


def test_server_level_set_is_seen_and_overridden_in_locations(port):
    assert sh.get(port, "/", host="setsrv.test").body == b"a=srv"
    assert sh.get(port, "/over", host="setsrv.test").body == b"a=loc"


def test_responses_carry_date_and_server_headers(port):
    before = time.time()
    r = sh.get(port, "/")
    after = time.time()
    server = r.header("Server")
    assert server and server.split("/")[0] == sh.product(), server
    date = r.header("Date")
    assert date and date.endswith(" GMT"), date
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT", date)
    stamp = email.utils.parsedate_to_datetime(date).timestamp()
    assert before - 2 <= stamp <= after + 2, f"Date {date!r} is not now"
    assert len(r.header_all("Date")) == 1 and len(r.header_all("Server")) == 1


def test_head_to_text_redirect_and_error_returns_has_no_body(port):
    with Client(port) as c:
        for target in ("/text", "/rel301", "/nf"):
            c.send(req(target, method="HEAD"))
        c.send(req("/"))
        r = c.expect(200, b"", head=True)
        assert int(r.header("Content-Length")) > 0
        r = c.expect(301, b"", head=True)
        assert r.header("Location") == f"http://a.test:{port}/target"
        r = c.expect(404, b"", head=True)
        assert int(r.header("Content-Length")) > 0
        c.expect(200, b"root")  # no stray body bytes in between
