"""error_page as nginx runs it: an error status answered by an internal redirect to a
URI (with the original status, `=` the target's, or `=CODE`), by a named location, or
by a redirect to a URL; on ferry's own errors and, with proxy_intercept_errors, on the
upstream's; once per request unless recursive_error_pages, and never more than ten
internal redirects. Run with NGINX_COMPARE=1 FERRY_BINARY=/usr/sbin/nginx to check the
expectations against nginx."""

import types

import pytest

import harness
import upstreams as ups
from upstreams import Upstream, fetch, make_conf

CONF = make_conf("""
    server {
        listen 127.0.0.1:@port@;
        server_name ep.test;
        error_page 404 /404;

        location = /404 { internal; return 200 "custom not found\\n"; }
        location = /plain { return 200 "page $request_method\\n"; }
        location /missing/ { return 404; }
        location /internal-only { internal; return 200 "secret\\n"; }
        location /eq/ { error_page 404 = /plain; return 404; }
        location /code/ { error_page 404 =410 /404; return 404; }
        location /redir/ { error_page 404 http://example.test/new; return 404; }
        location /redir301/ { error_page 404 =301 http://example.test/new; return 404; }
        location /method/ { error_page 405 = /plain; return 405; }
        location /up502/ { error_page 502 @fallback; proxy_pass http://127.0.0.1:@dead@; }
        location /up502eq/ { error_page 502 = @fallback; proxy_pass http://127.0.0.1:@dead@; }
        location @fallback { proxy_pass http://127.0.0.1:@up@; }
        location /intercept/ {
            proxy_intercept_errors on;
            error_page 404 = /plain;
            proxy_pass http://127.0.0.1:@up@;
        }
        location /nointercept/ { error_page 404 = /plain; proxy_pass http://127.0.0.1:@up@; }
        location /loop/ { error_page 404 /loop/again; return 404; }
        location /rec/ {
            recursive_error_pages on;
            error_page 404 /rec/again;
            return 404;
        }
        location /named-missing/ { error_page 404 @nope; return 404; }
    }
""")


def route(req, conn):
    if req.uri.startswith("/intercept/") or req.uri.startswith("/nointercept/"):
        return ups.reply(status=404, reason="Not Found", body=b"upstream 404\n")(req, conn)
    return ups.reply(body=b"fallback " + req.method.encode() + b" " + req.uri.encode() + b"\n")(
        req, conn)


@pytest.fixture(scope="module")
def site():
    up = Upstream(route)
    port, dead = harness.free_port(), ups.dead_port()
    f = harness.Ferry(CONF, ports={"port": port, "up": up.port, "dead": dead})
    try:
        yield types.SimpleNamespace(port=port, up=up, ferry=f)
    finally:
        try:
            err = ups.stop_guarded(f)
            assert err is None, err
        finally:
            up.close()


def get(site, path, **kw):
    r = fetch(site.port, path, host="ep.test", **kw)
    assert r is not None, path
    return r


def test_error_page_uri_keeps_the_original_status(site):
    r = get(site, "/missing/x")
    assert r.status == 404
    assert r.body == b"custom not found\n"


def test_an_internal_location_answers_404_to_clients_and_serves_the_error_page(site):
    r = get(site, "/internal-only")
    assert r.status == 404
    assert r.body == b"custom not found\n"


def test_equals_takes_the_status_of_the_target(site):
    r = get(site, "/eq/x")
    assert r.status == 200
    assert r.body == b"page GET\n"


def test_equals_code_sets_the_status(site):
    r = get(site, "/code/x")
    assert r.status == 410
    assert r.body == b"custom not found\n"


def test_a_url_target_redirects_with_302_unless_a_redirect_code_is_given(site):
    r = get(site, "/redir/x")
    assert r.status == 302
    assert r.header("Location") == "http://example.test/new"
    r = get(site, "/redir301/x")
    assert r.status == 301
    assert r.header("Location") == "http://example.test/new"


def test_the_error_page_request_is_a_get(site):
    r = get(site, "/method/x", method="POST", body=b"abc")
    assert r.status == 200
    assert r.body == b"page GET\n"


def test_a_named_location_answers_an_upstream_failure_with_the_original_status(site):
    r = get(site, "/up502/a?q=1")
    assert r.status == 502
    assert r.body == b"fallback GET /up502/a?q=1\n"


def test_a_named_location_with_equals_passes_its_own_status(site):
    r = get(site, "/up502eq/a", method="POST", body=b"xyz")
    assert r.status == 200
    # A named location keeps the method (only URI targets turn it into GET).
    assert r.body == b"fallback POST /up502eq/a\n"


def test_proxy_intercept_errors_sends_upstream_errors_to_error_page(site):
    r = get(site, "/intercept/x")
    assert r.status == 200
    assert r.body == b"page GET\n"


def test_without_proxy_intercept_errors_the_upstream_error_passes(site):
    r = get(site, "/nointercept/x")
    assert r.status == 404
    assert r.body == b"upstream 404\n"


def test_an_error_in_the_error_page_gets_the_plain_page_without_recursion(site):
    r = get(site, "/loop/x")
    assert r.status == 404
    assert b"<title>404 Not Found</title>" in r.body


def test_recursive_error_pages_stop_after_ten_redirects_with_500(site):
    r = get(site, "/rec/x")
    assert r.status == 500
    assert harness.wait_for(
        lambda: 'rewrite or internal redirection cycle while internally redirecting to '
                '"/rec/again"' in site.ferry.read_error_log())


def test_a_missing_named_location_is_a_500_with_a_log_line(site):
    r = get(site, "/named-missing/x")
    assert r.status == 500
    assert harness.wait_for(
        lambda: 'could not find named location "@nope"' in site.ferry.read_error_log())
