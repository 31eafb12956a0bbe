"""Location selection as nginx documents it (ngx_http_core_module, "location"): `=` exact
first, then the longest prefix, `^~` on that prefix skipping the regexes, regexes
(`~` case-sensitive, `~*` case-insensitive) in config order, nested locations searched
inside their parent; matching runs on the normalised URI. Each location answers
`return 200 "name"` so the body names the location chosen.

NGINX_COMPARE=1 runs the same tests against /usr/sbin/nginx (1.22).
"""

import pytest

import harness
import server_helpers as sh
from server_helpers import Client, req

HTTP = r"""
    server {
        listen 127.0.0.1:@port@;
        server_name a.test;

        # The example of nginx's documentation.
        location = / { return 200 "A"; }
        location / { return 200 "B"; }
        location /documents/ { return 200 "C"; }
        location ^~ /images/ { return 200 "D"; }
        location ~* \.(gif|jpg|jpeg)$ { return 200 "E"; }

        # Longest prefix.
        location /documents/deep/ { return 200 "deep"; }

        # Exact beats prefix and regex.
        location = /exact { return 200 "exact"; }
        location /exact { return 200 "prefix-exact"; }
        location = /pic.gif { return 200 "exact-gif"; }

        # ^~ only matters on the longest prefix: a longer plain prefix below a ^~ one
        # lets the regexes run again.
        location ^~ /img/ { return 200 "img-stop"; }
        location /img/big/ { return 200 "img-big"; }

        # Case-sensitive vs case-insensitive regexes.
        location ~ \.PNG$ { return 200 "png-cs"; }
        location ~* \.bmp$ { return 200 "bmp-ci"; }

        # Regexes are tried in config order: the first match wins, not the longest.
        location ~ ^/order/ { return 200 "order-first"; }
        location ~ ^/order/longer/ { return 200 "order-second"; }

        # Nested locations: the nested regex is tried before the outer ones.
        location /n/ {
            location ~ \.txt$ { return 200 "n-txt"; }
            location /n/inner/ { return 200 "n-inner"; }
            return 200 "n";
        }
        location ~ \.txt$ { return 200 "top-txt"; }

        # Regex captures, numbered and named.
        location ~ ^/cap/(\w+)/(\d+)$ { return 200 "$1-$2"; }
        location ~ ^/named/(?<who>[a-z]+)$ { return 200 "hello $who"; }

        # $uri vs $request_uri for the normalisation cases.
        location /u/ { return 200 "$uri|$request_uri"; }

        # proxy_pass in a location ending with '/': "/x" answers 301 to "/x/" (nginx's
        # auto_redirect); the upstream is never contacted (nothing listens there).
        location /px/ { proxy_pass http://127.0.0.1:@dead@; }
        location = /px2 { return 200 "px2-exact"; }
        location /px2/ { proxy_pass http://127.0.0.1:@dead@; }
    }
"""


@pytest.fixture(scope="module")
def server():
    yield from sh.module_server(HTTP, ports={"dead": harness.free_port()})


def chosen(server, target):
    _, port = server
    r = sh.get(port, target)
    assert r.status == 200, f"{target}: {r!r}"
    return r.body.decode()


DOCS_EXAMPLE = [
    ("/", "A"),
    ("/index.html", "B"),
    ("/documents/document.html", "C"),
    ("/images/1.gif", "D"),
    ("/documents/1.jpg", "E"),
]


@pytest.mark.parametrize("target,location", DOCS_EXAMPLE)
def test_nginx_documentation_example(server, target, location):
    """The table of nginx's "location" documentation, request by request."""
    assert chosen(server, target) == location


@pytest.mark.parametrize("target,location", [
    ("/documents/deep/x", "deep"),
    ("/documents/deeper", "C"),
    ("/documents", "B"),
])
def test_longest_prefix_wins(server, target, location):
    assert chosen(server, target) == location


@pytest.mark.parametrize("target,location", [
    ("/exact", "exact"),
    ("/exact/more", "prefix-exact"),
    ("/exactly", "prefix-exact"),
    ("/pic.gif", "exact-gif"),   # the exact match beats the regex as well
    ("/pic.gif/", "B"),
])
def test_exact_match_beats_prefix_and_regex(server, target, location):
    assert chosen(server, target) == location


@pytest.mark.parametrize("target,location", [
    ("/img/a.gif", "img-stop"),      # ^~ is the longest prefix: regexes skipped
    ("/img/big/a.gif", "E"),         # a longer plain prefix: regexes run
    ("/img/big/a.html", "img-big"),
])
def test_caret_tilde_stops_regexes_only_on_the_longest_prefix(server, target, location):
    assert chosen(server, target) == location


@pytest.mark.parametrize("target,location", [
    ("/x.PNG", "png-cs"),
    ("/x.png", "B"),       # `~` is case-sensitive
    ("/x.BMP", "bmp-ci"),
    ("/x.Bmp", "bmp-ci"),  # `~*` is not
    ("/x.JPEG", "E"),
])
def test_regex_case_sensitivity(server, target, location):
    assert chosen(server, target) == location


def test_regexes_are_tried_in_config_order(server):
    assert chosen(server, "/order/longer/x") == "order-first"


@pytest.mark.parametrize("target,location", [
    ("/n/a.txt", "n-txt"),        # nested regex before the outer `~ \.txt$`
    ("/n/a.html", "n"),
    ("/n/inner/x", "n-inner"),
    ("/n/inner/x.txt", "n-txt"),  # nested prefix has no regex; its parent's applies
    ("/other/a.txt", "top-txt"),
])
def test_nested_locations(server, target, location):
    assert chosen(server, target) == location


@pytest.mark.parametrize("target,body", [
    ("/cap/abc/42", "abc-42"),
    ("/named/world", "hello world"),
])
def test_regex_captures_in_return(server, target, body):
    assert chosen(server, target) == body


@pytest.mark.parametrize("target,location", [
    ("/a/../documents/x", "C"),       # `..` resolved before matching
    ("/documents/./x", "C"),
    ("//documents/x", "C"),           # slashes merged
    ("//documents", "B"),
    ("/%64ocuments/x", "C"),          # percent-decoded before matching
    ("/documents%2Fx", "C"),          # %2F decodes to a slash
    ("/images/../x.gif", "E"),        # `..` leaves /images/: the regex applies
    ("/DOCUMENTS/x", "B"),            # prefixes are case-sensitive
])
def test_matching_uses_the_normalised_uri(server, target, location):
    assert chosen(server, target) == location


@pytest.mark.parametrize("target,body", [
    ("/u/./a/../b", "/u/b|/u/./a/../b"),
    ("/u//a///b", "/u/a/b|/u//a///b"),
    ("/u%2F%2Fx/", "/u/x/|/u%2F%2Fx/"),
    ("/u/%7Ea%20b?x=%41", "/u/~a b|/u/%7Ea%20b?x=%41"),
])
def test_uri_is_normalised_and_request_uri_kept_raw(server, target, body):
    assert chosen(server, target) == body


def test_proxied_prefix_location_redirects_the_name_without_slash(server):
    """nginx's auto_redirect: "/px" hits no location of its own, the closest is the
    proxied "/px/": 301 to the slashed URI, arguments kept, upstream not contacted."""
    _, port = server
    r = sh.get(port, "/px")
    assert r.status == 301, r
    assert r.header("Location") == f"http://a.test:{port}/px/"
    r = sh.get(port, "/px?a=1&b=2")
    assert r.status == 301, r
    assert r.header("Location") == f"http://a.test:{port}/px/?a=1&b=2"


def test_auto_redirect_does_not_override_an_exact_location(server):
    assert chosen(server, "/px2") == "px2-exact"


def test_many_lookups_on_one_connection(server):
    """The same connection serves a different location per request (no state kept)."""
    _, port = server
    with Client(port) as c:
        c.send(b"".join(req(t) for t, _ in DOCS_EXAMPLE * 3))
        for _, location in DOCS_EXAMPLE * 3:
            c.expect(200, location.encode())
