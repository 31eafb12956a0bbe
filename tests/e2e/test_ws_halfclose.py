"""How a tunnel ends: half-close in each direction (EOF from one side is passed on with
shutdown(SHUT_WR) while bytes keep flowing the other way), a tunnel with one direction
done still closing after proxy_read_timeout, the client vanishing mid-stream, and an
upstream reset. Raw peers with a custom Upgrade token (ferry does not look inside).
"""

import socket
import threading
import time

import pytest

import ws_helpers as wh

ONE_MIB = wh.MIB


def start_raw(start_ferry, handler, http_extra=""):
    up = wh.RawUpstream(handler, timeout=10.0)
    ferry, port = wh.start(start_ferry, up.port, seed="simple", http_extra=http_extra)
    return up, ferry, port


def last_tunnel_line(ferry):
    lines = [e for e in wh.access_lines(ferry) if e["request"].startswith("GET /ws/raw")]
    return lines[-1] if lines else None


def test_client_eof_reaches_upstream_as_eof_while_upstream_keeps_sending(start_ferry):
    a, b = wh.pattern("a", 3000), wh.pattern("b", ONE_MIB)
    seen = {}

    def handler(peer, head):
        peer.send(wh.switching())
        seen["data"] = peer.read_exact(len(a))
        seen["after"] = peer.read_to_end(5)  # the client's shutdown, passed on
        peer.send(b)  # the other direction still flows
        peer.shutdown_write()
        time.sleep(0.2)

    up, ferry, port = start_raw(start_ferry, handler)
    try:
        fds = wh.FdWatch(ferry)
        client, head = wh.raw_upgrade(port)
        client.send(a)
        client.shutdown_write()
        data, how = client.read_to_end(10)
        assert (len(data), how) == (len(b), "eof") and data == b
        assert up.join(5) and not up.errors, up.errors
        assert seen["data"] == a and seen["after"] == (b"", "eof")
        assert wh.wait_until(lambda: last_tunnel_line(ferry) is not None)
        line = last_tunnel_line(ferry)
        assert line["status"] == "101"
        assert int(line["bytes_sent"]) == len(head) + len(b), line
        client.close()
        fds.settled()
    finally:
        up.close()


def test_upstream_eof_reaches_client_as_eof_while_client_keeps_sending(start_ferry):
    a, b = wh.pattern("a", ONE_MIB), wh.pattern("b", 3000)
    seen = {}

    def handler(peer, head):
        peer.send(wh.switching() + b)
        peer.shutdown_write()
        seen["data"] = peer.read_exact(len(a))
        seen["after"] = peer.read_to_end(5)

    up, ferry, port = start_raw(start_ferry, handler)
    try:
        fds = wh.FdWatch(ferry)
        client, head = wh.raw_upgrade(port)
        data, how = client.read_to_end(5)
        assert (data, how) == (b, "eof"), "the upstream's shutdown, passed on"
        client.send(a)  # the other direction still flows
        client.shutdown_write()
        assert up.join(10) and not up.errors, up.errors
        assert len(seen["data"]) == len(a) and seen["data"] == a
        assert seen["after"] == (b"", "eof")
        assert wh.wait_until(lambda: last_tunnel_line(ferry) is not None)
        assert int(last_tunnel_line(ferry)["upstream_bytes_sent"]) > len(a)
        client.close()
        fds.settled()
    finally:
        up.close()


def test_half_closed_tunnel_still_closes_after_proxy_read_timeout(start_ferry):
    """The client is done sending; the upstream holds its side open and silent. No
    tunnel stays half-open forever: proxy_read_timeout (1s) closes it."""
    upstream_done = threading.Event()
    seen = {}

    def handler(peer, head):
        peer.send(wh.switching())
        seen["eof"] = peer.read_to_end(5)
        upstream_done.wait(10)  # silent, not closing

    up, ferry, port = start_raw(start_ferry, handler, "proxy_read_timeout 1s;")
    try:
        fds = wh.FdWatch(ferry)
        client, _ = wh.raw_upgrade(port)
        client.shutdown_write()
        took = client.ended_within(6)
        upstream_done.set()
        assert took is not None, "half-closed tunnel still open after 6s"
        assert 0.7 < took < 3.5, took
        assert seen["eof"] == (b"", "eof")
        client.close()
        fds.settled()
    finally:
        upstream_done.set()
        up.close()


@pytest.mark.parametrize("how", ["close", "reset"])
def test_client_disappearing_mid_stream_closes_upstream_promptly(start_ferry, how):
    """The upstream streams to the client; the client goes away (close with unread
    bytes, or RST). The upstream must see the end promptly: its reads end and its
    writes fail, and ferry drops both descriptors."""
    seen = {}
    client_gone = threading.Event()

    def handler(peer, head):
        peer.send(wh.switching())
        chunk = wh.pattern("s", 64 << 10)

        def stream():
            try:
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    peer.sock.sendall(chunk)
            except OSError:
                seen["send_failed"] = time.monotonic()

        t = threading.Thread(target=stream, daemon=True)
        t.start()
        _, seen["read_end"] = peer.read_to_end(10)
        seen["read_end_at"] = time.monotonic()
        t.join(10)

    up, ferry, port = start_raw(start_ferry, handler)
    try:
        fds = wh.FdWatch(ferry)
        client, _ = wh.raw_upgrade(port)
        got = 0
        while got < ONE_MIB:
            got += len(client.sock.recv(1 << 16))
        gone_at = time.monotonic()
        if how == "reset":
            client.reset()
        else:
            client.close()
        client_gone.set()
        assert up.join(12), "upstream still connected"
        assert seen["read_end"] in ("eof", "reset"), seen
        assert seen["read_end_at"] - gone_at < 2.0, seen["read_end_at"] - gone_at
        assert "send_failed" in seen and seen["send_failed"] - gone_at < 3.0, seen
        fds.settled()
    finally:
        up.close()


@pytest.mark.parametrize("traffic", ["idle", "client-sending"])
def test_upstream_reset_closes_the_client_promptly(start_ferry, traffic):
    reset_at = {}

    def handler(peer, head):
        peer.send(wh.switching())
        if traffic == "client-sending":
            peer.read_exact(512 << 10)
        else:
            time.sleep(0.3)
        reset_at["t"] = time.monotonic()
        peer.reset()

    up, ferry, port = start_raw(start_ferry, handler)
    try:
        fds = wh.FdWatch(ferry)
        client, _ = wh.raw_upgrade(port)
        if traffic == "client-sending":
            failed = {}

            def stream():
                chunk = wh.pattern("c", 64 << 10)
                try:
                    deadline = time.monotonic() + 15
                    while time.monotonic() < deadline:
                        client.sock.sendall(chunk)
                except OSError:
                    failed["t"] = time.monotonic()

            t = threading.Thread(target=stream, daemon=True)
            t.start()
            t.join(12)
            assert "t" in failed, "the client could still send 15s after the reset"
            assert failed["t"] - reset_at["t"] < 2.0, failed["t"] - reset_at["t"]
        else:
            took = client.ended_within(5)
            assert took is not None, "client still connected 5s after the upstream's reset"
            assert time.monotonic() - reset_at["t"] < 2.0
        client.close()
        assert up.join(5)
        fds.settled()
    finally:
        up.close()


def test_tunnel_survives_a_client_that_only_reads_for_a_while(start_ferry):
    """Not an ending: a client whose send side stays quiet while the upstream pushes
    4 MiB is not mistaken for a gone client (no EOF reaches the upstream)."""
    big = wh.pattern("big", 4 * ONE_MIB)
    seen = {}

    def handler(peer, head):
        peer.send(wh.switching() + big)
        peer.sock.settimeout(1.0)
        try:
            seen["early"] = peer.sock.recv(1)
        except socket.timeout:
            seen["early"] = None
        peer.sock.settimeout(5.0)
        seen["reply"] = peer.read_exact(5)

    up, ferry, port = start_raw(start_ferry, handler)
    try:
        client, _ = wh.raw_upgrade(port)
        assert client.read_exact(len(big)) == big
        time.sleep(1.2)
        client.send(b"reply")
        assert up.join(5) and not up.errors, up.errors
        assert seen == {"early": None, "reply": b"reply"}
        client.close()
    finally:
        up.close()


def test_upstream_closing_right_after_its_101_and_data_is_relayed_then_ends(start_ferry):
    """101, bytes and the upstream's close arrive together: the client gets the 101,
    the bytes and then EOF; once the client closes too, the tunnel is gone."""

    def handler(peer, head):
        peer.send(wh.switching() + b"last words")

    up, ferry, port = start_raw(start_ferry, handler)
    try:
        fds = wh.FdWatch(ferry)
        client, head = wh.raw_upgrade(port)
        assert client.read_to_end(5) == (b"last words", "eof")
        client.close()
        assert up.join(5) and not up.errors, up.errors
        assert wh.wait_until(lambda: last_tunnel_line(ferry) is not None)
        fds.settled()
    finally:
        up.close()


def test_client_gone_before_the_101_leaves_nothing_behind(start_ferry):
    """The client sends its upgrade request and resets before the upstream answers;
    the upstream's late 101 must not leave a tunnel (or its descriptors) behind, and
    the upstream's connection ends promptly."""
    answered = threading.Event()
    seen = {}

    def handler(peer, head):
        time.sleep(0.5)
        try:
            peer.send(wh.switching() + b"too late")
        except OSError:
            pass
        answered.set()
        t0 = time.monotonic()
        seen["end"] = peer.read_to_end(5)[1]
        seen["after"] = time.monotonic() - t0

    up, ferry, port = start_raw(start_ferry, handler)
    try:
        fds = wh.FdWatch(ferry)
        client = wh.Peer.connect(port)
        client.send(wh.upgrade_request())
        assert wh.wait_until(lambda: up.heads, 3)
        client.reset()
        assert answered.wait(5)
        assert up.join(8)
        assert seen["end"] in ("eof", "reset") and seen["after"] < 2.0, seen
        fds.settled()
    finally:
        up.close()
