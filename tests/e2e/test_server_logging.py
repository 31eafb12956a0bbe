"""Logging: the access log in nginx's default `combined` format and in custom
`log_format`s (default and JSON escaping), `access_log off` and per-level overrides,
one line per request (also for 4xx, 444 and HEAD), nginx's error log line shape, the
error_log level, and USR1 reopening the log files.

NGINX_COMPARE=1 runs the same tests against /usr/sbin/nginx (1.22).
"""

import json
import os
import re
import signal
import time

import pytest

import server_helpers as sh
from server_helpers import Client, req
from server_helpers import start_server  # noqa: F401 (fixture)

HTTP = r"""
    log_format json escape=json '{"uri":"$uri","ua":"$http_user_agent","status":$status,'
                                '"args":"$args","cr":$connection_requests}';
    log_format plain '$request_method|$uri|$status|$body_bytes_sent|$http_x_missing|$server_name|$host';
    log_format args '$uri|$is_args|$args|$arg_a';
    client_header_timeout 1s;

    server {
        listen 127.0.0.1:@port@;
        server_name a.test;
        location / { return 200 "ok"; }
        location /off { access_log off; return 200 "off"; }
        location /json { access_log @prefix@/logs/json.log json; return 200 "json"; }
        location /both {
            access_log @prefix@/logs/both1.log plain;
            access_log @prefix@/logs/both2.log plain;
            return 200 "both";
        }
        location /drop { return 444; }
        location /nf { return 404; }
        location /args { access_log @prefix@/logs/args.log args; return 200 "args"; }
        %s
    }

    server {
        listen 127.0.0.1:@port@;
        server_name b.test;
        access_log @prefix@/logs/b.log plain;
        location / { return 200 "b"; }
    }
""" % sh.big_location("/big", "send_timeout 1s;")

ACCESS = "access_log @prefix@/logs/access.log;"

COMBINED = re.compile(
    r'^(?P<addr>\S+) - (?P<user>\S+) \[(?P<time>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>[^"]*)" "(?P<ua>[^"]*)"$')

ERROR_LINE = re.compile(
    r"^(?P<date>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?P<level>\w+)\] (?P<pid>\d+)#(?P<tid>\d+): "
    r"(?:\*(?P<conn>\d+) )?(?P<message>.*)$")


@pytest.fixture(scope="module")
def server():
    yield from sh.module_server(HTTP, access_log=ACCESS, ports=sh.big_ports())


@pytest.fixture
def port(server):
    return server[1]


def log_path(server, name):
    return os.path.join(server[0].prefix, "logs", name)


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def lines_with(path, needle, count=1, timeout=3.0):
    """The lines of `path` containing `needle`, once there are `count` of them (the
    access log may be buffered briefly)."""
    def found():
        hits = [line for line in read(path).splitlines() if needle in line]
        return hits if len(hits) >= count else None
    return sh.wait_until(found, timeout) or [
        line for line in read(path).splitlines() if needle in line]


def test_combined_format_by_default(server, port):
    with Client(port) as c:
        local_port = c.sock.getsockname()[1]
        c.send(req("/combined?x=1", headers=[("Referer", "http://ref.test/p"),
                                              ("User-Agent", "tester/1.0")]))
        r = c.expect(200, b"ok")
    lines = lines_with(log_path(server, "access.log"), "/combined?x=1")
    assert len(lines) == 1, lines
    m = COMBINED.match(lines[0])
    assert m, f"not the combined format: {lines[0]!r}"
    assert m["addr"] == "127.0.0.1" and m["user"] == "-"
    assert m["request"] == "GET /combined?x=1 HTTP/1.1"
    assert (m["status"], m["bytes"]) == ("200", "2")
    assert (m["referer"], m["ua"]) == ("http://ref.test/p", "tester/1.0")
    stamp = time.mktime(time.strptime(m["time"][:20], "%d/%b/%Y:%H:%M:%S"))
    assert abs(stamp - time.time()) < 60, f"$time_local {m['time']} is not now (local time)"
    assert r.header("Content-Length") == "2" and local_port > 0


def test_default_escaping_of_quotes_backslashes_and_non_ascii(server, port):
    sh.get(port, "/esc", headers=[("User-Agent", 'a"b\\c \xc3\xa9')])
    lines = lines_with(log_path(server, "access.log"), '"GET /esc HTTP/1.1"')
    assert lines and lines[0].endswith(r'"-" "a\x22b\x5Cc \xC3\xA9"'), lines


def test_empty_values_are_logged_as_dash(server, port):
    sh.get(port, "/dash")
    lines = lines_with(log_path(server, "access.log"), '"GET /dash HTTP/1.1"')
    assert lines and lines[0].endswith(' 200 2 "-" "-"'), lines


def test_found_but_empty_is_args_is_logged_empty_and_absent_args_as_dash(server, port):
    """nginx: $is_args without a query is found and empty (logged as nothing); $args and
    $arg_a are not found (logged as "-")."""
    sh.get(port, "/args")
    sh.get(port, "/args?a=1")
    lines = lines_with(log_path(server, "args.log"), "/args", count=2)
    assert lines == ["/args||-|-", "/args|?|a=1|1"], lines


def test_json_escaped_custom_format(server, port):
    ua = 'q"uote \\ back \xc3\xa9'
    with Client(port) as c:
        c.send(req("/json/a", headers=[("User-Agent", ua)]) + req("/json/b?k=v"))
        c.expect(200, b"json")
        c.expect(200, b"json")
    lines = lines_with(log_path(server, "json.log"), "/json/", count=2)
    assert len(lines) == 2, lines
    first, second = (json.loads(line) for line in lines)  # read() decodes UTF-8
    assert first == {"uri": "/json/a", "ua": ua.encode("latin-1").decode("utf-8"),
                     "status": 200, "args": "", "cr": 1}
    assert second == {"uri": "/json/b", "ua": "", "status": 200, "args": "k=v", "cr": 2}
    assert "/json/" not in read(log_path(server, "access.log")), \
        "a location's access_log replaces the inherited one"


def test_access_log_off(server, port):
    sh.get(port, "/off/x")
    sh.get(port, "/after-off")
    lines_with(log_path(server, "access.log"), "/after-off")
    assert "/off/x" not in read(log_path(server, "access.log"))


def test_two_access_logs_on_one_level(server, port):
    sh.get(port, "/both/1")
    for name in ("both1.log", "both2.log"):
        lines = lines_with(log_path(server, name), "/both/1")
        assert lines == ["GET|/both/1|200|4|-|a.test|a.test"], (name, lines)


def test_server_level_access_log_overrides_http(server, port):
    sh.get(port, "/srv-b", host="B.test:1")
    assert lines_with(log_path(server, "b.log"), "/srv-b") == ["GET|/srv-b|200|1|-|b.test|b.test"]
    assert "/srv-b" not in read(log_path(server, "access.log"))


def test_every_request_is_logged_with_its_status(server, port):
    with Client(port) as c:
        c.send(req("/nf/1") + req("/st/head", method="HEAD") + req("/st/get"))
        c.expect(404)
        c.expect(200, b"", head=True)
        c.expect(200, b"ok")
    with Client(port) as c:
        c.send(req("/drop/1"))
        assert c.wait_closed(3.0)
    path = log_path(server, "access.log")
    nf = lines_with(path, '"GET /nf/1 HTTP/1.1"')
    assert nf and ' 404 ' in nf[0], nf
    head = lines_with(path, '"HEAD /st/head HTTP/1.1"')
    assert head and ' 200 0 ' in head[0], f"HEAD sends no body bytes: {head}"
    drop = lines_with(path, '"GET /drop/1 HTTP/1.1"')
    assert drop and ' 444 0 ' in drop[0], drop


def test_lines_are_written_promptly(server, port):
    """Per-worker buffering must not hold a line back for long on an idle server."""
    sh.get(port, "/prompt")
    start = time.monotonic()
    assert lines_with(log_path(server, "access.log"), "/prompt", timeout=3.0)
    assert time.monotonic() - start < 1.5


def test_bad_request_is_logged_with_its_request_line(server, port):
    with Client(port) as c:
        c.send(b"GET /bad-header HTTP/1.1\r\nHost: a.test\r\nBad Header: y\r\n\r\n")
        c.expect(400)
    lines = lines_with(log_path(server, "access.log"), " 400 ", timeout=2.0)
    assert any('"GET /bad-header HTTP/1.1" 400 ' in line for line in lines), lines


def test_request_with_a_body_cut_short_is_still_logged(server, port):
    with Client(port) as c:
        c.send(req("/cut", method="POST", headers=[("Content-Length", 100)], body=b"abc"))
        c.expect(200, b"ok")
    lines = lines_with(log_path(server, "access.log"), '"POST /cut HTTP/1.1"', timeout=2.0)
    assert lines and " 200 2 " in lines[0], lines


def test_error_log_line_shape(server, port):
    """`YYYY/MM/DD HH:MM:SS [level] PID#TID: *CONN message, client: ADDR, server: NAME,
    request: "LINE", host: "HOST"`, here for a client that stops reading (send_timeout)."""
    proc, _ = server
    start = len(proc.read_error_log())
    with Client(port, rcvbuf=4096) as c:
        c.send(req("/big", host="A.test"))
        time.sleep(0.3)
        c.send(b"")
        sh.wait_until(lambda: "timed out" in proc.read_error_log()[start:], 4.0)
    lines = [line for line in proc.read_error_log()[start:].splitlines() if "timed out" in line]
    assert lines, proc.read_error_log()[start:]
    m = ERROR_LINE.match(lines[0])
    assert m, f"not nginx's error line shape: {lines[0]!r}"
    assert m["level"] == "info"
    assert m["pid"] == str(proc.pid)
    assert m["conn"] and int(m["conn"]) > 0
    assert m["message"].startswith("client timed out (110: Connection timed out)")
    assert m["message"].endswith(
        ', client: 127.0.0.1, server: a.test, request: "GET /big HTTP/1.1", host: "A.test"'), \
        m["message"]
    logged = time.mktime(time.strptime(m["date"], "%Y/%m/%d %H:%M:%S"))
    assert abs(logged - time.time()) < 30, "the error log uses local time, now"


def test_error_log_context_for_a_bad_header(server, port):
    proc, _ = server
    start = len(proc.read_error_log())
    with Client(port) as c:
        c.send(b"GET /ctx HTTP/1.1\r\nHost: a.test\r\nBad Header: y\r\n\r\n")
        c.expect(400)
    found = sh.wait_until(lambda: "invalid header" in proc.read_error_log()[start:], 2.0)
    assert found, proc.read_error_log()[start:]
    line = [x for x in proc.read_error_log()[start:].splitlines() if "invalid header" in x][0]
    assert line.endswith('while reading client request headers, client: 127.0.0.1, '
                         'server: a.test, request: "GET /ctx HTTP/1.1", host: "a.test"'), line


def test_connection_number_in_error_log_is_connection_variable(start_server):
    proc, port = sh.one_server(start_server, r"""
        client_header_timeout 1s;
        server {
            listen 127.0.0.1:@port@;
            location / { return 200 "$connection"; }
        }""")
    with Client(port) as c:
        c.send(req("/"))
        number = c.expect(200).body.decode()
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: y\r\n\r\n")
        c.expect(400)
    found = sh.wait_until(lambda: "invalid header" in proc.read_error_log(), 2.0)
    assert found, proc.read_error_log()
    line = [x for x in proc.read_error_log().splitlines() if "invalid header" in x][0]
    assert ERROR_LINE.match(line)["conn"] == number, line


def test_error_log_level_filters_lines(start_server):
    proc, port = sh.one_server(start_server, r"""
        server {
            listen 127.0.0.1:@port@;
            location / { return 200 "ok"; }
        }""", error_log="error_log @prefix@/logs/warn.log warn;")
    with Client(port) as c:
        c.send(b"GET / HTTP/1.1\r\n\r\n")  # no Host: an [info] line at most
        c.expect(400)
    time.sleep(0.5)
    text = read(os.path.join(proc.prefix, "logs", "warn.log"))
    assert "[info]" not in text and "[notice]" not in text, text


def test_access_log_to_stdout(start_server):
    proc, port = sh.one_server(start_server, r"""
        server {
            listen 127.0.0.1:@port@;
            location / { return 200 "ok"; }
        }""", access_log="access_log /dev/stdout;")
    sh.get(port, "/to-stdout")
    time.sleep(0.3)
    assert proc.stop() == 0
    out = proc.stdout.decode(errors="replace")
    assert '"GET /to-stdout HTTP/1.1" 200 2 ' in out, out


def test_usr1_reopens_log_files(start_server):
    """Rename the logs, send USR1: later lines go to newly created files of the original
    names, nothing more to the renamed ones."""
    proc, port = sh.one_server(start_server, r"""
        server {
            listen 127.0.0.1:@port@;
            location / { return 200 "ok"; }
        }""", access_log="access_log @prefix@/logs/access.log;")
    logs = os.path.join(proc.prefix, "logs")
    access, error = os.path.join(logs, "access.log"), os.path.join(logs, "error.log")
    sh.get(port, "/before")
    assert lines_with(access, "/before")
    os.rename(access, access + ".1")
    os.rename(error, error + ".1")
    sh.get(port, "/between")  # still written to the renamed file
    assert lines_with(access + ".1", "/between")
    proc.send_signal(signal.SIGUSR1)
    assert sh.wait_until(lambda: os.path.exists(access) and os.path.exists(error), 3.0), \
        f"log files not recreated: {os.listdir(logs)}"
    sh.get(port, "/after")
    with Client(port) as c:
        c.send(b"GET / HTTP/1.1\r\n\r\n")  # an [info] line for the error log
        c.expect(400)
    assert lines_with(access, "/after"), read(access)
    assert "/after" not in read(access + ".1")
    marker = 'without "Host" header'
    assert sh.wait_until(lambda: marker in read(error), 2.0), read(error)
    assert marker not in read(error + ".1"), "error lines still go to the renamed file"
    assert proc.proc.poll() is None
