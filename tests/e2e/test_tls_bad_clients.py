"""Clients that do not complete a TLS handshake, or do not speak TLS at all, on a TLS
port: plain HTTP (nginx's 400 "The plain HTTP request was sent to HTTPS port"),
garbage, a ClientHello cut short, a reset, and clients that stall or trickle in the
middle of the handshake (bounded by client_header_timeout, 1s here). Each ends only its
own connection with an info-level line, and other clients are served meanwhile.
"""

import socket
import struct
import threading
import time

import pytest

import harness
import tls_helpers as th
from tls_helpers import pki  # noqa: F401


def conf(p):
    return th.tls_conf(f"""
    server {{
        listen 127.0.0.1:@port@ ssl;
        server_name a.test;
        client_header_timeout 1s;
        ssl_certificate {p.a_cert}; ssl_certificate_key {p.a_key};
        location / {{ return 200 "ok $scheme\\n"; }}
    }}
    server {{
        listen 127.0.0.1:@patient@ ssl;
        server_name a.test;
        client_header_timeout 10s;
        ssl_certificate {p.a_cert}; ssl_certificate_key {p.a_key};
        location / {{ return 200 "patient\\n"; }}
    }}
""")


@pytest.fixture(scope="module")
def site(pki):
    ports = {"port": harness.free_port(), "patient": harness.free_port()}
    f = harness.Ferry(conf(pki), ports=ports, wait_ports=list(ports.values()))
    try:
        yield f
    finally:
        f.close()


@pytest.fixture
def ports(site):
    return site.ports


def served(port, ca, path="/"):
    """True when a full HTTPS request gets its 200 within 3 s."""
    t = time.monotonic()
    status, _, body = th.https_get(port, ca, path, timeout=3)
    return status == 200 and time.monotonic() - t < 3


def log_since(site, mark):
    return site.read_error_log()[mark:]


def wait_log(site, mark, text, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log_since(site, mark):
            break
        time.sleep(0.02)
    return [ln for ln in log_since(site, mark).splitlines() if text in ln]


def assert_quiet(site, mark):
    """Nothing above info level was logged for a client's misbehaviour."""
    text = log_since(site, mark)
    for level in ("[crit]", "[alert]", "[emerg]", "[error]"):
        assert level not in text, text


def closed_within(sock, seconds):
    """Reads (discarding) until EOF/reset; returns the time it took, or None if the
    connection was still open after `seconds`."""
    start = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - start < seconds:
        try:
            if not sock.recv(65536):
                return time.monotonic() - start
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
    return None


# ---- plain HTTP on a TLS port


def test_plain_http_on_a_tls_port_gets_400_page_and_the_connection_closes(ports, pki, site):
    mark = len(site.read_error_log())
    with harness.RawClient(ports["port"]) as c:
        c.send(b"GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n")
        r = c.read_response()
        assert r is not None and r.status == 400, r and r.raw
        assert r.reason == "Bad Request"
        assert b"<title>400 The plain HTTP request was sent to HTTPS port</title>" in r.body
        assert b"<center>The plain HTTP request was sent to HTTPS port</center>" in r.body
        assert r.header("connection") == "close"
        assert c.is_closed(2.0)
    line = wait_log(site, mark, "client sent plain HTTP request to HTTPS port")
    assert line and "[info]" in line[0], log_since(site, mark)
    assert_quiet(site, mark)
    assert served(ports["port"], pki.ca)


def test_plain_http_pipelined_requests_on_a_tls_port_get_one_400(ports):
    with harness.RawClient(ports["port"]) as c:
        c.send(b"GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n")
        r = c.read_response()
        assert r.status == 400
        assert c.is_closed(2.0)
        assert b"HTTP/1.1" not in c.buf, c.buf  # no second response


def test_non_tls_garbage_is_answered_400_and_closed(ports):
    """A first byte that is neither a TLS record (0x16) nor SSLv2-style (high bit) is
    read as plain HTTP, which this is not."""
    with harness.RawClient(ports["port"]) as c:
        c.send(b"\x01\x02\x03\x04garbage\r\n\r\n")
        r = c.read_response()
        assert r is not None and r.status == 400, r and r.raw
        assert c.is_closed(2.0)


# ---- broken handshakes


@pytest.mark.parametrize("junk", [
    b"\x16\x03\x01\x00\x10" + b"not a hello!!!!!",        # a handshake record of junk
    pytest.param(b"\x16\x03\x01\xff\xff" + b"\x00" * 64,  # a record too long, then zeros
                 marks=th.ferry_only("nginx 1.22 logs 'packet length too long' at crit "
                                     "(current nginx: info)")),
    b"\x80\x2e\x01\x00\x02" + bytes(range(45)),            # SSLv2-style header, junk body
])
def test_garbage_handshake_closes_at_once_with_an_info_line(ports, pki, site, junk):
    mark = len(site.read_error_log())
    fds = site.fds()
    with socket.create_connection(("127.0.0.1", ports["patient"]), timeout=5) as s:
        s.sendall(junk)
        took = closed_within(s, 3.0)
    # the patient server's client_header_timeout is 10s: closing is the reaction to the
    # bytes, not a timeout
    assert took is not None and took < 2.0, took
    lines = wait_log(site, mark, "while SSL handshaking")
    assert lines and "[info]" in lines[0], log_since(site, mark)
    assert_quiet(site, mark)
    assert served(ports["patient"], pki.ca)
    assert harness_wait(lambda: site.fds() <= fds), (site.fds(), fds)


def test_truncated_client_hello_then_eof_ends_with_an_info_line(ports, pki, site):
    mark = len(site.read_error_log())
    hello = th.client_hello()
    with socket.create_connection(("127.0.0.1", ports["patient"]), timeout=5) as s:
        s.sendall(hello[:len(hello) // 2])
        time.sleep(0.1)
        s.shutdown(socket.SHUT_WR)
        took = closed_within(s, 3.0)
    assert took is not None and took < 2.0, took
    lines = wait_log(site, mark, "while SSL handshaking")
    assert lines and "[info]" in lines[0], log_since(site, mark)
    # nginx's words for it
    assert "peer closed connection in SSL handshake" in lines[0], lines
    assert_quiet(site, mark)
    assert served(ports["patient"], pki.ca)


def test_reset_in_the_middle_of_a_handshake_disturbs_nothing(ports, pki, site):
    mark = len(site.read_error_log())
    fds = site.fds()
    hello = th.client_hello()
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", ports["patient"]), timeout=5)
        s.sendall(hello[:100])
        time.sleep(0.05)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    assert served(ports["patient"], pki.ca)
    assert harness_wait(lambda: site.fds() <= fds), (site.fds(), fds)
    assert_quiet(site, mark)


# ---- stalls: client_header_timeout bounds the handshake


def harness_wait(pred, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def test_client_stalling_mid_handshake_is_closed_after_client_header_timeout_others_served(
        ports, pki, site):
    mark = len(site.read_error_log())
    hello = th.client_hello()
    stalled = []
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", ports["port"]), timeout=5)
        s.sendall(hello[:40])  # a partial ClientHello, then nothing
        stalled.append((s, time.monotonic()))
    start = time.monotonic()
    # meanwhile, complete clients are served at once
    served_count = 0
    while time.monotonic() - start < 0.6:
        assert served(ports["port"], pki.ca)
        served_count += 1
    assert served_count >= 3
    ages = {}

    def watch(s, connected):
        if closed_within(s, 4.0) is not None:
            ages[s.fileno()] = time.monotonic() - connected

    threads = [threading.Thread(target=watch, args=pair) for pair in stalled]
    for t in threads:
        t.start()
    for t in threads:
        t.join(6)
    for s, _ in stalled:
        s.close()
    # each closed about client_header_timeout (1s) after it connected
    assert len(ages) == 10, ages
    assert all(0.8 <= age <= 2.5 for age in ages.values()), ages
    lines = wait_log(site, mark, "client timed out")
    assert len(lines) == 10 and "[info]" in lines[0], log_since(site, mark)
    assert "client timed out (110: Connection timed out) while SSL handshaking" in lines[0]
    assert_quiet(site, mark)


def test_stalled_partial_hello_is_not_closed_before_client_header_timeout(ports):
    hello = th.client_hello()
    with socket.create_connection(("127.0.0.1", ports["port"]), timeout=5) as s:
        s.sendall(hello[:40])
        start = time.monotonic()
        took = closed_within(s, 3.0)
        assert took is not None, "still open after 3s"
        assert 0.8 <= time.monotonic() - start <= 2.5, took


def test_silent_client_on_a_tls_port_is_closed_after_client_header_timeout(ports):
    with socket.create_connection(("127.0.0.1", ports["port"]), timeout=5) as s:
        took = closed_within(s, 3.0)
    assert took is not None and 0.8 <= took <= 2.5, took


def test_client_stalling_after_the_server_flight_is_closed_after_client_header_timeout(
        ports, site):
    """The whole ClientHello arrives and ferry answers; the client never finishes."""
    mark = len(site.read_error_log())
    with socket.create_connection(("127.0.0.1", ports["port"]), timeout=5) as s:
        start = time.monotonic()
        s.sendall(th.client_hello())
        s.settimeout(2)
        first = s.recv(65536)
        assert first[:1] == b"\x16", first[:16]  # ServerHello came back
        took = closed_within(s, 3.0)
        assert took is not None, "still open"
        assert 0.8 <= time.monotonic() - start <= 2.5
    lines = wait_log(site, mark, "client timed out")
    assert lines and "while SSL handshaking" in lines[0], log_since(site, mark)


def test_handshake_trickled_byte_by_byte_is_still_bounded_by_client_header_timeout(ports):
    """Progress does not extend the deadline (nginx arms the timer once)."""
    hello = th.client_hello()
    with socket.create_connection(("127.0.0.1", ports["port"]), timeout=5) as s:
        start = time.monotonic()
        closed = None
        for i in range(len(hello) - 1):  # never the last byte
            try:
                s.sendall(hello[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = time.monotonic() - start
                break
            took = closed_within(s, 0.2)
            if took is not None:
                closed = time.monotonic() - start
                break
            if time.monotonic() - start > 4:
                break
    assert closed is not None, "still open after 4s of trickling"
    assert 0.8 <= closed <= 2.5, closed


def test_no_descriptors_left_after_bad_clients(ports, site, pki):
    fds = site.fds()
    hello = th.client_hello()
    socks = []
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", ports["port"]), timeout=5)
        s.sendall([b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", hello[:30], b"\x16\x03\x01\x00\x05junk!",
                   b""][i % 4])
        socks.append(s)
    for s in socks:
        closed_within(s, 3.0)
        s.close()
    assert served(ports["port"], pki.ca)
    assert harness_wait(lambda: site.fds() <= fds), (site.fds(), fds)


# ---- after the handshake: the request head is bounded by client_header_timeout too


def test_partial_request_head_over_tls_is_closed_after_client_header_timeout(ports, pki):
    with th.tls_connect(ports["port"], pki.ca) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHo")
        start = time.monotonic()
        took = closed_within(s, 3.0)
    assert took is not None and 0.8 <= time.monotonic() - start <= 2.5, took


def test_partial_request_head_over_tls_times_out_with_nginxs_log_line(ports, pki, site):
    mark = len(site.read_error_log())
    with th.tls_connect(ports["port"], pki.ca) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHo")
        closed_within(s, 3.0)
    lines = wait_log(site, mark, "client timed out")
    assert lines and "[info]" in lines[0], log_since(site, mark)
    assert ("client timed out (110: Connection timed out) while reading client request "
            "headers, client: 127.0.0.1") in lines[0], lines
