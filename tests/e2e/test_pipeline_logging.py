"""Logs that follow the request through its phases: an error_log at http, server or
location level receives that level's lines (and the main error log does not);
$sent_http_* are the headers actually sent, for ferry's own and for proxied responses;
an upstream that resets is logged as nginx logs it. Run with NGINX_COMPARE=1
FERRY_BINARY=/usr/sbin/nginx to check against nginx."""

import os
import types

import pytest

import harness
import upstreams as ups
from upstreams import Upstream, fetch, make_conf

CONF = make_conf("""
    log_format sent '$status ct=$sent_http_content_type x=$sent_http_x_up '
                    'a=$sent_http_x_added';
    server {
        listen 127.0.0.1:@port@;
        server_name log.test;
        access_log @prefix@/logs/sent.log sent;
        add_header X-Added yes;

        location /own/ { return 200 "own\\n"; }
        location /up/ { proxy_pass http://127.0.0.1:@up@; }
        location /reset/ { proxy_pass http://127.0.0.1:@up@; }
        location /quiet/ {
            error_log @prefix@/logs/quiet.log info;
            proxy_pass http://127.0.0.1:@dead@;
        }
    }
""")


def route(req, conn):
    if req.uri.startswith("/reset/"):
        conn.reset()
        return False
    return ups.reply(body=b"up\n", headers=[("X-Up", "from-upstream"),
                                          ("Content-Type", "text/x-up")])(req, conn)


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


def log_lines(site, name):
    path = os.path.join(site.ferry.prefix, "logs", name)
    try:
        with open(path) as fh:
            return fh.read().splitlines()
    except FileNotFoundError:
        return []


def last_line_after(site, name, count):
    assert harness.wait_for(lambda: len(log_lines(site, name)) > count)
    return log_lines(site, name)[-1]


def test_sent_http_variables_for_ferrys_own_response(site):
    before = len(log_lines(site, "sent.log"))
    r = fetch(site.port, "/own/x", host="log.test")
    assert r.status == 200
    line = last_line_after(site, "sent.log", before)
    assert line == "200 ct=text/plain x=- a=yes"


def test_sent_http_variables_for_a_proxied_response(site):
    before = len(log_lines(site, "sent.log"))
    r = fetch(site.port, "/up/x", host="log.test")
    assert r.status == 200
    line = last_line_after(site, "sent.log", before)
    assert line == "200 ct=text/x-up x=from-upstream a=yes"


def test_a_location_error_log_gets_its_lines_and_the_main_log_does_not(site):
    r = fetch(site.port, "/quiet/x", host="log.test")
    assert r.status == 502
    assert harness.wait_for(lambda: any("connect() failed (111: Connection refused)" in l
                                        for l in log_lines(site, "quiet.log")))
    assert "/quiet/x" not in site.ferry.read_error_log()


def test_an_upstream_reset_is_logged_as_a_failed_recv(site):
    r = fetch(site.port, "/reset/x", host="log.test")
    assert r.status == 502
    assert harness.wait_for(lambda: "recv() failed (104: Connection reset by peer) while "
                                    "reading response header from upstream"
                                    in site.ferry.read_error_log())
