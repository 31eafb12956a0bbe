"""When there is no tunnel: an upstream that answers an upgrade request with 200 or 400
(an ordinary response; the client connection stays usable), and a 101 to a request
that did not ask to upgrade (a 502, logged): the client sent no Upgrade, the config did
not pass it on, or proxy_http_version is 1.0. And what the seeds send upstream.
"""

import re

import pytest
import websockets

import harness
import ws_helpers as wh

NO_UPGRADE_LOCATIONS = """
        location /noup/ { proxy_pass http://127.0.0.1:@up@;
                          proxy_set_header Connection "upgrade"; }
        location /v10/ { proxy_pass http://127.0.0.1:@up@; proxy_http_version 1.0;
                         proxy_set_header Upgrade $http_upgrade;
                         proxy_set_header Connection "upgrade"; }
"""


def answering(status_line, body):
    """An upstream answering every request on a connection with `status_line`."""

    def handler(peer, head):
        while True:
            peer.send(f"HTTP/1.1 {status_line}\r\nContent-Length: {len(body)}\r\n"
                      f"Content-Type: text/plain\r\n\r\n".encode() + body)
            try:
                peer.read_head()
            except (EOFError, OSError):
                return

    return handler


@pytest.mark.parametrize("status_line", ["200 OK", "400 Bad Request"])
def test_upstream_answering_an_upgrade_without_101_is_an_ordinary_response_and_keeps_alive(
        start_ferry, status_line):
    body = b"no tunnel here"
    up = wh.RawUpstream(answering(status_line, body))
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="map")
        fds = wh.FdWatch(ferry)
        with harness.RawClient(port) as c:
            c.send(wh.upgrade_request("/ws/refuse", "websocket"))
            r = c.read_response()
            assert r is not None and r.status == int(status_line[:3]), r and r.raw
            assert r.body == body
            assert (r.header("Connection") or "").lower() == "keep-alive", r.raw
            assert r.header("Upgrade") is None, r.raw
            # The connection still carries HTTP: a second request on it.
            c.send(b"GET /ws/again HTTP/1.1\r\nHost: a\r\n\r\n")
            r2 = c.read_response()
            assert r2 is not None and (r2.status, r2.body) == (r.status, body)
        assert wh.wait_until(lambda: len(wh.access_lines(ferry)) == 2)
        assert [e["status"] for e in wh.access_lines(ferry)] == [status_line[:3]] * 2
        fds.settled()
    finally:
        up.close()


def test_upstream_refusing_an_upgrade_with_an_empty_body_then_closing_is_relayed(start_ferry):
    def handler(peer, head):
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    up = wh.RawUpstream(handler)
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="simple")
        statuses = []
        for _ in range(10):
            r = harness.request(port, wh.upgrade_request("/ws/refuse", "websocket"))
            statuses.append(r and (r.status, r.body))
        assert statuses == [(200, b"")] * 10, ferry.read_error_log()[-600:]
    finally:
        up.close()


def test_websockets_client_sees_the_upstream_refusal_status(start_ferry):
    up = wh.RawUpstream(answering("403 Forbidden", b"go away"))
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="simple")

        async def talk():
            with pytest.raises(websockets.InvalidStatusCode) as e:
                async with wh.ws_connect(port, "/ws/refuse"):
                    pass
            assert e.value.status_code == 403

        wh.run(talk(), 10)
    finally:
        up.close()


def upstream_answering_101(seen):
    def handler(peer, head):
        seen.append(head)
        peer.send(wh.switching("websocket") + b"tunnel bytes")
        peer.read_to_end(3)  # ferry must close this connection

    return handler


# (A 101 to a client that did not ask to upgrade is passed on as nginx does:
# test_proxy_header_variables.py.)
@pytest.mark.parametrize("case", ["config-passes-no-upgrade", "proxy_http_version-1.0"])
def test_upstream_101_to_a_request_that_did_not_ask_to_upgrade_is_a_502_and_logged(
        start_ferry, case):
    seen = []
    up = wh.RawUpstream(upstream_answering_101(seen))
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="simple",
                               server_extra=NO_UPGRADE_LOCATIONS)
        fds = wh.FdWatch(ferry)
        path = {"config-passes-no-upgrade": "/noup/x", "proxy_http_version-1.0": "/v10/x"}[case]
        request = wh.upgrade_request(path, "websocket")
        with harness.RawClient(port) as c:
            c.send(request)
            r = c.read_response()
            assert r is not None and r.status == 502, r and r.raw
            assert b"tunnel bytes" not in r.raw + r.body
        assert up.join(5), "ferry kept the upstream connection that sent the 101"
        log = ferry.read_error_log()
        assert any("[error]" in line and re.search(r"\b101\b", line)
                   for line in log.splitlines()), log
        assert wh.wait_until(lambda: wh.access_lines(ferry))
        assert [e["status"] for e in wh.access_lines(ferry)] == ["502"]
        fds.settled()
    finally:
        up.close()


@pytest.mark.parametrize("seed", sorted(wh.SEEDS))
def test_seed_config_sends_upgrade_and_connection_upstream(start_ferry, seed):
    seen = []

    def handler(peer, head):
        seen.append(head)
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    up = wh.RawUpstream(handler)
    try:
        ferry, port = wh.start(start_ferry, up.port, seed=seed)
        r = harness.request(port, wh.upgrade_request("/ws/h", "websocket"))
        assert r.status == 200
        r = harness.request(port, wh.upgrade_request("/ws/h", upgrade=False))
        assert r.status == 200
        assert wh.wait_until(lambda: len(seen) == 2)
        upgrade_head, plain_head = seen
        assert wh.header(upgrade_head, "Upgrade") == "websocket"
        assert wh.header(upgrade_head, "Connection") == "upgrade"
        assert upgrade_head.startswith(b"GET /ws/h HTTP/1.1\r\n"), upgrade_head
        assert wh.header(plain_head, "Upgrade") is None
        # The map seed turns an absent Upgrade into "Connection: close".
        assert wh.header(plain_head, "Connection") == (
            "close" if seed == "map" else "upgrade"), plain_head
    finally:
        up.close()
