"""The URI ferry sends upstream follows nginx's proxy_pass table.

- With a URI part, the part of the normalised (decoded, dot-segments resolved, slashes
  merged) request URI that matched the location prefix is replaced by the URI part, and
  the rest is re-escaped; the arguments follow unchanged.
- Without a URI part, the request URI goes upstream exactly as the client sent it.
- With variables, the evaluated value is used as is (no arguments added when it holds a
  URI; the original request URI when it holds none).

One ferry serves every case (the upstream answers with the URI it received); each case
checks the request line the upstream saw.
"""

import os
import tempfile
import types

import pytest

import harness
from upstreams import Upstream, fetch, make_conf, reply

CONF = make_conf("""
    upstream backend {
        server 127.0.0.1:@up@;
    }

    server {
        listen 127.0.0.1:@port@;
        server_name uri.test;

        location /name/    { proxy_pass http://127.0.0.1:@up@/remote/; }
        location /root/    { proxy_pass http://127.0.0.1:@up@/; }
        location /plain/   { proxy_pass http://127.0.0.1:@up@; }
        location /api      { proxy_pass http://127.0.0.1:@up@/x/; }
        location /noslash/ { proxy_pass http://127.0.0.1:@up@/y; }
        location /a/       { proxy_pass http://127.0.0.1:@up@/A/; }
        location /a/b/     { proxy_pass http://127.0.0.1:@up@/B/; }
        location = /exact  { proxy_pass http://127.0.0.1:@up@/other; }
        location ^~ /stop/ { proxy_pass http://127.0.0.1:@up@/s/; }
        location /grp/     { proxy_pass http://backend/g/; }
        location /grpplain/ { proxy_pass http://backend; }
        location /var/     { set $b backend; proxy_pass http://$b; }
        location /varuri/  { set $b backend; proxy_pass http://$b/fixed$is_args$args; }
        location /unix/    { proxy_pass http://unix:@sock@:/u/; }

        location ~ ^/re/(.*)$ { proxy_pass http://127.0.0.1:@up@/$1; }
        location ~ ^/rq/      { proxy_pass http://127.0.0.1:@up@$request_uri; }
        location ~ ^/rx/      { proxy_pass http://127.0.0.1:@up@; }
        location ~ ^/stop/never { return 500; }
    }
""")


@pytest.fixture(scope="module")
def site():
    up = Upstream(reply(body=lambda r: r.uri.encode()))
    tmp = tempfile.mkdtemp(prefix="ferry-uri-")
    sock_path = os.path.join(tmp, "up.sock")
    unix_up = Upstream(reply(body=lambda r: r.uri.encode()), unix_path=sock_path)
    port = harness.free_port()
    f = harness.Ferry(CONF, ports={"port": port, "up": up.port, "sock": sock_path})
    try:
        yield types.SimpleNamespace(port=port, up=up, unix_up=unix_up, ferry=f)
    finally:
        try:
            f.close()
        finally:
            up.close()
            unix_up.close()
            os.rmdir(tmp)


def upstream_uri(site, target, server=None):
    server = server or site.up
    before = len(server.requests)
    r = fetch(site.port, target, host="uri.test")
    assert r is not None and r.status == 200, (target, r and r.status, r and r.body,
                                               site.ferry.read_error_log()[-1500:])
    reqs = server.wait_requests(before + 1)
    assert r.body.decode() == reqs[-1].uri
    return reqs[-1].uri


@pytest.mark.parametrize("target,expected", [
    # location /name/ { proxy_pass http://up/remote/; }: the prefix is replaced
    ("/name/x", "/remote/x"),
    ("/name/", "/remote/"),
    ("/name/sub/dir/file.txt", "/remote/sub/dir/file.txt"),
    ("/name/x?a=1&b=%20&c", "/remote/x?a=1&b=%20&c"),
    # proxy_pass http://up/ on /root/: the prefix is dropped
    ("/root/x", "/x"),
    ("/root/", "/"),
    ("/root/x/y?z=1", "/x/y?z=1"),
    # the missing-slash footguns
    ("/api/y", "/x//y"),          # location /api + http://up/x/
    ("/api", "/x/"),
    ("/apifoo", "/x/foo"),
    ("/noslash/z", "/yz"),        # location /noslash/ + http://up/y
    ("/noslash/", "/y"),
    # nested prefixes: the longest matching location's prefix is replaced
    ("/a/c", "/A/c"),
    ("/a/b/c", "/B/c"),
    ("/a/b/", "/B/"),
    ("/a/bc", "/A/bc"),
    # exact and ^~ locations replace their pattern as well
    ("/exact", "/other"),
    ("/exact?k=v", "/other?k=v"),
    ("/stop/k", "/s/k"),
    ("/stop/never", "/s/never"),   # ^~ stops the regex search
    # an upstream group with a URI part
    ("/grp/q?1", "/g/q?1"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_uri_part_replaces_the_matched_location_prefix(site, target, expected):
    assert upstream_uri(site, target) == expected


@pytest.mark.parametrize("target,expected", [
    ("/name/a%20b", "/remote/a%20b"),          # decoded, then escaped again
    ("/name/%41%42c", "/remote/ABc"),          # unreserved characters stay decoded
    ("/name/a%3Fb?q=%3F", "/remote/a%3Fb?q=%3F"),  # an escaped ? stays escaped; args verbatim
    ("/name/a%23b", "/remote/a%23b"),
    ("/name/a%25b", "/remote/a%25b"),
    ("/name/caf%C3%A9", "/remote/caf%C3%A9"),  # non-ASCII is escaped
    ("/name/a%2Fb", "/remote/a/b"),            # %2F is a slash once decoded
    ("/name/x/../y", "/remote/y"),             # dot segments resolved
    ("/name/./x", "/remote/x"),
    ("/name//x", "/remote/x"),                 # merge_slashes on
    ("/name/a+b", "/remote/a+b"),
    ("/root/%7Euser", "/~user"),
])
def test_uri_part_sends_the_normalised_uri_re_escaped(site, target, expected):
    assert upstream_uri(site, target) == expected


@pytest.mark.parametrize("target", [
    "/plain/x",
    "/plain/x/../y%20z?q",      # not normalised, escapes kept
    "/plain//double//slash",
    "/plain/%41%2f?a=%41",      # escapes not decoded, case kept
    "/plain/x?",                # an empty query kept
])
def test_without_uri_part_the_request_uri_goes_unchanged(site, target):
    assert upstream_uri(site, target) == target


def test_without_uri_part_to_a_group_the_request_uri_goes_unchanged(site):
    assert upstream_uri(site, "/grpplain/a%20b/./c?x=%41") == "/grpplain/a%20b/./c?x=%41"


def test_regex_location_with_capture_uses_the_value_as_is_without_args(site):
    assert upstream_uri(site, "/re/foo") == "/foo"
    assert upstream_uri(site, "/re/foo/bar.txt") == "/foo/bar.txt"
    # nginx adds no arguments when proxy_pass with variables holds a URI
    assert upstream_uri(site, "/re/foo?x=1") == "/foo"


def test_regex_location_with_request_uri_passes_the_original_uri(site):
    assert upstream_uri(site, "/rq/a%20b/../c?x=1") == "/rq/a%20b/../c?x=1"


def test_regex_location_without_uri_part_passes_the_request_uri(site):
    assert upstream_uri(site, "/rx/p%20q?z") == "/rx/p%20q?z"


def test_variable_naming_an_upstream_block_without_uri_sends_the_request_uri(site):
    assert upstream_uri(site, "/var/k%20?a=b") == "/var/k%20?a=b"


def test_variable_url_with_uri_part_uses_the_evaluated_uri(site):
    assert upstream_uri(site, "/varuri/anything?a=b") == "/fixed?a=b"
    assert upstream_uri(site, "/varuri/anything") == "/fixed"


def test_unix_socket_upstream_with_uri_part(site):
    assert upstream_uri(site, "/unix/p?q=1", server=site.unix_up) == "/u/p?q=1"
    assert site.unix_up.last.header("host") == "localhost"


def test_regex_location_with_uri_part_is_a_config_error(ferry_binary, tmp_path):
    """As nginx: "proxy_pass" cannot have URI part in location given by regular
    expression (unless variables are used)."""
    import subprocess
    conf = tmp_path / "bad.conf"
    conf.write_text(make_conf("""
        server { listen 127.0.0.1:1; location ~ ^/x/ { proxy_pass http://127.0.0.1:1/y/; } }
    """).replace("@prefix@", str(tmp_path)))
    p = subprocess.run([ferry_binary, "-t", "-p", str(tmp_path) + "/", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert "\"proxy_pass\" cannot have URI part in location given by regular expression" in p.stderr


def test_proxy_pass_to_an_unresolvable_host_is_a_config_error(ferry_binary, tmp_path):
    import subprocess
    conf = tmp_path / "bad.conf"
    conf.write_text(make_conf("""
        server { listen 127.0.0.1:1; location / { proxy_pass http://no-such-host.invalid; } }
    """).replace("@prefix@", str(tmp_path)))
    p = subprocess.run([ferry_binary, "-t", "-p", str(tmp_path) + "/", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert "no-such-host.invalid" in p.stderr
    assert "host not found" in p.stderr
