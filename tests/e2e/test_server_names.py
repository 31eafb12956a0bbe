"""Virtual server selection as nginx does it: first by listen address and port, then the
request's host (absolute-form request line, else Host) against server_name: exact name,
then the longest leading wildcard (`*.x`, `.x`), then the longest trailing wildcard
(`x.*`), then regexes in config order; else the port's default_server, else its first
server. Each server answers "name|$host".

NGINX_COMPARE=1 runs the same tests against /usr/sbin/nginx (1.22).
"""

import pytest

import harness
import server_helpers as sh
from server_helpers import Client, req

HTTP = r"""
    server {
        listen 127.0.0.1:@port@;
        server_name first.test;
        return 200 "first|$host";
    }
    server {
        listen 127.0.0.1:@port@;
        server_name exact.example.com other.test;
        return 200 "exact|$host";
    }
    server {
        listen 127.0.0.1:@port@;
        server_name *.example.com;
        return 200 "star-com|$host";
    }
    server {
        listen 127.0.0.1:@port@;
        server_name *.deep.example.com;
        return 200 "star-deep|$host";
    }
    server {
        listen 127.0.0.1:@port@;
        server_name .example.org;
        return 200 "dot-org|$host";
    }
    server {
        listen 127.0.0.1:@port@;
        server_name www.example.*;
        return 200 "www-star|$host";
    }
    server {
        listen 127.0.0.1:@port@;
        server_name www.example.co.*;
        return 200 "www-co-star|$host";
    }
    server {
        listen 127.0.0.1:@port@;
        server_name ~^(?<sub>.+)\.example\.net$;
        return 200 "regex-net|$host|$sub";
    }
    server {
        listen 127.0.0.1:@port@;
        server_name ~^r ~^rx;
        return 200 "regex-r|$host";
    }
    server {
        listen 127.0.0.1:@port@;
        server_name ~^rx;
        return 200 "regex-rx|$host";
    }
    server {
        listen 127.0.0.1:@port@;
        server_name ~^(?<name>[a-z]+)\.(?<tld>loc)$;
        location ~ ^/re/(?<num>\d+)$ { return 200 "$name|$tld|$num|$1"; }
        location / { return 200 "$name|$tld|$1|$2"; }
    }
    server {
        listen 127.0.0.1:@port@ default_server;
        server_name default.test;
        return 200 "default|$host";
    }

    # The second port has its own servers and no default_server: the first is it.
    server {
        listen 127.0.0.1:@port2@;
        server_name first2.test;
        return 200 "p2-first|$host";
    }
    server {
        listen 127.0.0.1:@port2@;
        server_name exact.example.com;
        return 200 "p2-exact|$host";
    }
"""


@pytest.fixture(scope="module")
def server():
    yield from sh.module_server(HTTP, ports={"port2": harness.free_port()})


@pytest.fixture(scope="module")
def ports(server):
    proc, port = server
    return port, proc.ports["port2"]


def server_and_host(body):
    """The first two fields of an answer: the server's name and $host."""
    return "|".join(body.split("|")[:2])


def answer(port, host, target="/", **kw):
    r = sh.get(port, target, host=host, **kw)
    assert r.status == 200, f"Host {host!r}: {r!r}"
    return r.body.decode()


@pytest.mark.parametrize("host,body", [
    ("exact.example.com", "exact|exact.example.com"),
    ("other.test", "exact|other.test"),                 # second name of the same server
    ("a.example.com", "star-com|a.example.com"),
    ("a.b.example.com", "star-com|a.b.example.com"),    # `*.` spans several labels
    ("example.com", "default|example.com"),             # `*.x` does not match x itself
    ("a.deep.example.com", "star-deep|a.deep.example.com"),  # longest wildcard wins
    ("example.org", "dot-org|example.org"),             # `.x` matches x ...
    ("a.example.org", "dot-org|a.example.org"),         # ... and its subdomains
    ("www.example.de", "www-star|www.example.de"),
    ("www.example.co.uk", "www-co-star|www.example.co.uk"),  # longest trailing wildcard
    ("www.example.com", "star-com|www.example.com"),    # leading beats trailing wildcard
    ("www.example.net", "www-star|www.example.net"),    # a wildcard beats a regex
    ("x.y.example.net", "regex-net|x.y.example.net"),
    ("rxa", "regex-r|rxa"),                             # regexes in config order
    ("nothing.test", "default|nothing.test"),           # default_server, not the first
    ("first.test", "first|first.test"),
])
def test_server_name_selection(ports, host, body):
    assert server_and_host(answer(ports[0], host)) == body


@pytest.mark.parametrize("host,body", [
    ("exact.example.com:8080", "exact|exact.example.com"),
    ("exact.example.com.", "exact|exact.example.com"),
    ("EXACT.Example.COM", "exact|exact.example.com"),
    ("A.Example.ORG.:1", "dot-org|a.example.org"),
    ("X.EXAMPLE.NET", "regex-net|x.example.net"),
])
def test_host_port_trailing_dot_and_case_are_normalised(ports, host, body):
    """$host and the lookup use the Host without its port and trailing dot, lower-cased."""
    assert server_and_host(answer(ports[0], host)) == body


def test_server_name_named_capture_in_server_return(ports):
    assert answer(ports[0], "x.y.example.net") == "regex-net|x.y.example.net|x.y"


def test_server_name_numbered_captures_in_a_location(ports):
    r = sh.get(ports[0], "/plain", host="abc.loc")
    assert r.status == 200
    assert r.body.split(b"|")[2:] == [b"abc", b"loc"], r.body


def test_server_name_named_captures_in_a_location(ports):
    assert answer(ports[0], "abc.loc", "/plain") == "abc|loc|abc|loc"


def test_server_name_named_captures_survive_a_location_regex(ports):
    """Named captures are variables set at match time: the location regex's own
    captures replace $1, not $name."""
    assert answer(ports[0], "abc.loc", "/re/42") == "abc|loc|42|42"


def test_absolute_form_request_line_host_beats_host_header(ports):
    port = ports[0]
    with Client(port) as c:
        c.send(b"GET http://exact.example.com/x HTTP/1.1\r\nHost: first.test\r\n\r\n")
        c.expect(200, b"exact|exact.example.com")
        c.send(b"GET http://A.Example.Org:99/x?y HTTP/1.1\r\nHost: exact.example.com\r\n\r\n")
        c.expect(200, b"dot-org|a.example.org")


def test_each_listen_port_has_its_own_server_set(ports):
    port, port2 = ports
    assert answer(port2, "exact.example.com") == "p2-exact|exact.example.com"
    assert answer(port2, "nothing.test") == "p2-first|nothing.test"   # first server
    assert answer(port2, "a.example.com") == "p2-first|a.example.com"  # port 1's names
    assert answer(port, "first2.test") == "default|first2.test"       # don't leak


@pytest.mark.parametrize("which", [0, 1])
def test_http10_without_host_goes_to_the_default_server(ports, which):
    """$host falls back to the chosen server's first name."""
    r = sh.get(ports[which], "/", host=None, version="1.0")
    assert r.status == 200
    assert r.body == [b"default|default.test", b"p2-first|first2.test"][which]


def test_server_is_chosen_per_request_on_a_keepalive_connection(ports):
    with Client(ports[0]) as c:
        c.send(req(host="a.example.com") + req(host="first.test") + req(host="zzz"))
        c.expect(200, b"star-com|a.example.com")
        c.expect(200, b"first|first.test")
        c.expect(200, b"default|zzz")
