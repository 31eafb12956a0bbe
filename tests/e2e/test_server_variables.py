"""Request variables as nginx computes them, seen through `return 200 "..."`.

NGINX_COMPARE=1 runs the same tests against /usr/sbin/nginx (1.22); the few rows where
1.22 and the reference (1.31) differ are skipped there.
"""

import re
import socket
import time

import pytest

import server_helpers as sh
from server_helpers import Client, req

HTTP = r"""
    map $arg_m $mapped {
        default   "none";
        one       "first";
        ~^t(?<rest>.*)$  "t:$rest";
    }

    server {
        listen 127.0.0.1:@port@;
        server_name a.test second.test;

        location /v {
            return 200 "host=$host|uri=$uri|args=$args|arg_a=$arg_a|is_args=$is_args|request_uri=$request_uri|method=$request_method|scheme=$scheme|server_port=$server_port|remote_addr=$remote_addr|http_x_foo=$http_x_foo|cookie_c=$cookie_c|protocol=$server_protocol|content_length=$content_length|content_type=$content_type|query_string=$query_string|request=$request|server_name=$server_name|server_addr=$server_addr|http_host=$http_host|http_user_agent=$http_user_agent";
        }
        location /conn {
            return 200 "remote_port=$remote_port|connection=$connection|connection_requests=$connection_requests|request_length=$request_length";
        }
        location /time {
            return 200 "msec=$msec|time_local=$time_local|time_iso8601=$time_iso8601|request_time=$request_time";
        }
        location /proc { return 200 "hostname=$hostname|pid=$pid"; }
        location /map { return 200 "mapped=$mapped"; }
        location /multi { return 200 "x=$http_x_multi|cookie_c=$cookie_c|cookie_d=$cookie_d"; }
        location /dash { return 200 "$http_x_dashed_name"; }
    }
"""


@pytest.fixture(scope="module")
def server():
    yield from sh.module_server(HTTP)


@pytest.fixture
def port(server):
    return server[1]


def fields(body):
    return dict(part.split("=", 1) for part in body.decode().split("|"))


def test_request_variables(port):
    with Client(port) as c:
        c.send(req("/v/p%61th?a=1&b=%41&A=up", host="A.Test:8080",
                   headers=[("X-Foo", "bar"), ("Cookie", "x=1; c=cv; d=2"),
                            ("User-Agent", "ua/1"), ("Content-Type", "text/x-test")]))
        v = fields(c.expect(200).body)
    assert v == {
        "host": "a.test",
        "uri": "/v/path",
        "args": "a=1&b=%41&A=up",
        "arg_a": "1",              # first match of the name
        "is_args": "?",
        "request_uri": "/v/p%61th?a=1&b=%41&A=up",
        "method": "GET",
        "scheme": "http",
        "server_port": str(port),
        "remote_addr": "127.0.0.1",
        "http_x_foo": "bar",
        "cookie_c": "cv",
        "protocol": "HTTP/1.1",
        "content_length": "",
        "content_type": "text/x-test",
        "query_string": "a=1&b=%41&A=up",
        "request": "GET /v/p%61th?a=1&b=%41&A=up HTTP/1.1",
        "server_name": "a.test",    # the server's first name, not the Host
        "server_addr": "127.0.0.1",
        "http_host": "A.Test:8080",  # the header as sent
        "http_user_agent": "ua/1",
    }


def test_variables_without_args_and_optional_headers(port):
    v = fields(sh.get(port, "/v", host="second.test").body)
    assert v["args"] == "" and v["is_args"] == "" and v["arg_a"] == ""
    assert v["request_uri"] == "/v"
    assert v["http_x_foo"] == "" and v["cookie_c"] == "" and v["http_user_agent"] == ""
    assert v["server_name"] == "a.test" and v["host"] == "second.test"


def test_arg_name_is_case_insensitive_and_first_wins(port):
    v = fields(sh.get(port, "/v?A=upper&a=lower").body)
    assert v["arg_a"] == "upper"


def test_empty_query_has_no_is_args(port):
    """$is_args is "?" only when $args is not empty."""
    v = fields(sh.get(port, "/v?").body)
    assert v["is_args"] == "" and v["args"] == ""
    assert v["request_uri"] == "/v?"


def test_post_content_length_and_protocol_10(port):
    with Client(port) as c:
        c.send(req("/v", method="POST", version="1.0", host=None,
                   headers=[("Content-Length", 5)], body=b"hello"))
        v = fields(c.expect(200).body)
    assert v["method"] == "POST"
    assert v["content_length"] == "5"
    assert v["protocol"] == "HTTP/1.0"
    assert v["host"] == "a.test"    # no Host: the server's name
    assert v["http_host"] == ""
    assert v["request"] == "POST /v HTTP/1.0"


def test_absolute_form_sets_host_but_not_http_host(port):
    with Client(port) as c:
        c.send(b"GET http://Second.Test:81/v?q HTTP/1.1\r\nHost: a.test\r\n\r\n")
        v = fields(c.expect(200).body)
    assert v["host"] == "second.test"
    assert v["http_host"] == "a.test"
    assert v["request_uri"] == "/v?q"
    assert v["request"] == "GET http://Second.Test:81/v?q HTTP/1.1"


def test_connection_variables(port):
    with Client(port) as c:
        local_port = c.sock.getsockname()[1]
        request = req("/conn")
        c.send(request)
        v1 = fields(c.expect(200).body)
        c.send(request)
        v2 = fields(c.expect(200).body)
    assert v1["remote_port"] == str(local_port)
    assert v1["connection"] == v2["connection"] and v1["connection"].isdigit()
    assert (v1["connection_requests"], v2["connection_requests"]) == ("1", "2")
    assert v1["request_length"] == str(len(request))


def test_time_variables(port):
    before = time.time()
    v = fields(sh.get(port, "/time").body)
    after = time.time()
    assert re.fullmatch(r"\d+\.\d{3}", v["msec"]), v["msec"]
    assert before - 1 <= float(v["msec"]) <= after + 1
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}", v["time_local"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d)", v["time_iso8601"])
    assert re.fullmatch(r"\d+\.\d{3}", v["request_time"])
    assert float(v["request_time"]) < 1.0


def test_hostname_and_pid(server, port):
    proc, _ = server
    v = fields(sh.get(port, "/proc").body)
    assert v["hostname"] == socket.gethostname()
    assert v["pid"] == str(proc.pid)


@pytest.mark.parametrize("arg,value", [("one", "first"), ("two", "t:wo"), ("x", "none"),
                                       ("", "none")])
def test_map_results(port, arg, value):
    assert sh.get(port, f"/map?m={arg}").body == f"mapped={value}".encode()


def test_map_is_evaluated_per_request_on_a_connection(port):
    with Client(port) as c:
        c.send(req("/map?m=one") + req("/map?m=tea") + req("/map"))
        c.expect(200, b"mapped=first")
        c.expect(200, b"mapped=t:ea")
        c.expect(200, b"mapped=none")


def test_header_name_with_dashes(port):
    r = sh.get(port, "/dash", headers=[("X-Dashed-Name", "d")])
    assert r.body == b"d"


def test_cookie_lookup(port):
    r = sh.get(port, "/multi", headers=[("Cookie", "cc=no; c=yes;d=4")])
    assert fields(r.body) == {"x": "", "cookie_c": "yes", "cookie_d": "4"}


def test_repeated_headers_are_joined(port):
    """nginx 1.23+: $http_NAME joins repeated headers with ", ", $cookie_NAME looks in
    every Cookie header."""
    if sh.compare_mode():
        pytest.skip("nginx 1.22 returns only the first header")
    r = sh.get(port, "/multi", headers=[("X-Multi", "1"), ("X-Multi", "2"),
                                       ("Cookie", "c=one"), ("Cookie", "d=two")])
    assert fields(r.body) == {"x": "1, 2", "cookie_c": "one", "cookie_d": "two"}
