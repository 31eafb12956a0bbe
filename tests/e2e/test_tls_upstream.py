"""proxy_pass https://: TLS from ferry to its upstreams.

The upstream is either Python's ssl in front of the recording upstream of upstreams.py
(tls_helpers.TlsUpstream: it records the SNI of each handshake and whether the session
was resumed) or a second ferry listening with `ssl` that logs $ssl_session_reused,
$ssl_protocol and $ssl_server_name.

Checked: SNI (proxy_ssl_server_name, proxy_ssl_name, none for IP literals),
verification (proxy_ssl_verify with proxy_ssl_trusted_certificate, a wrong CA, a wrong
name, an expired certificate, proxy_ssl_verify_depth), proxy_ssl_protocols, session
reuse, pooled keep-alive connections over TLS, a stale pooled TLS connection, an
upstream that does not speak TLS or stalls in the handshake, and large bodies both ways.
"""

import hashlib
import socket
import time

import pytest

import harness
import tls_helpers as th
import upstreams as ups
from tls_helpers import TlsUpstream, pki  # noqa: F401
from upstreams import proxy_ferry  # noqa: F401

MIB = 1 << 20


@pytest.fixture
def cleanup():
    items = []
    yield items
    for up in items:
        up.close()


def tls_up(cleanup, cert, key, handler=None, **kw):
    up = TlsUpstream(cert, key, handler or ups.reply(body=b"tls-up"), **kw)
    cleanup.append(up)
    return up


def front(proxy_ferry, http_body, up_port, extra_ports=None):
    """A plain ferry on @port@ whose config is `http_body` (upstream port @up@)."""
    ports = {"port": harness.free_port(), "up": up_port, **(extra_ports or {})}
    f = proxy_ferry(ups.make_conf(http_body), ports=ports)
    return f, ports["port"]


def location(directives, upstream="https://127.0.0.1:@up@"):
    return f"""
    server {{
        listen 127.0.0.1:@port@;
        server_name front.test;
        location / {{ proxy_pass {upstream}; {directives} }}
    }}"""


def get(port, path="/", host="front.test", **kw):
    return ups.fetch(port, path, host=host, timeout=8, **kw)


def wait_log(f, text, timeout=3.0):
    ups.wait_until(lambda: text in f.read_error_log(), timeout)
    return [ln for ln in f.read_error_log().splitlines() if text in ln]


# ---- reaching a TLS upstream, SNI


def test_proxy_pass_https_speaks_tls_to_the_upstream(proxy_ferry, cleanup, pki):
    up = tls_up(cleanup, pki.a_cert, pki.a_key)
    f, port = front(proxy_ferry, location(""), up.port)
    r = get(port, "/hello?x=1")
    assert r.status == 200 and r.body == b"tls-up", r.raw
    assert len(up.handshakes) == 1, up.handshakes
    assert up.last.uri == "/hello?x=1"


def test_no_sni_is_sent_by_default(proxy_ferry, cleanup, pki):
    """proxy_ssl_server_name is off by default (nginx)."""
    up = tls_up(cleanup, pki.a_cert, pki.a_key)
    f, port = front(proxy_ferry, "upstream a.test { server 127.0.0.1:@up@; }"
                    + location("", "https://a.test"), up.port)
    assert get(port).status == 200
    assert [h.sni for h in up.handshakes] == [None], up.handshakes


def test_sni_is_the_proxied_host_with_proxy_ssl_server_name_on(proxy_ferry, cleanup, pki):
    up = tls_up(cleanup, pki.a_cert, pki.a_key)
    f, port = front(proxy_ferry, "upstream a.test { server 127.0.0.1:@up@; }"
                    + location("proxy_ssl_server_name on;", "https://a.test"), up.port)
    assert get(port).status == 200
    assert [h.sni for h in up.handshakes] == ["a.test"], up.handshakes


def test_proxy_ssl_name_sets_the_sni(proxy_ferry, cleanup, pki):
    up = tls_up(cleanup, pki.a_cert, pki.a_key)
    f, port = front(proxy_ferry, location("proxy_ssl_server_name on; proxy_ssl_name b.test;"),
                    up.port)
    assert get(port).status == 200
    assert [h.sni for h in up.handshakes] == ["b.test"], up.handshakes


def test_proxy_ssl_name_from_a_variable_has_its_port_stripped(proxy_ferry, cleanup, pki):
    """nginx strips a ":port" from the name (it may come from $http_host)."""
    up = tls_up(cleanup, pki.a_cert, pki.a_key)
    f, port = front(proxy_ferry,
                    location("proxy_ssl_server_name on; proxy_ssl_name $http_host;"), up.port)
    assert get(port, host="c.test:8443").status == 200
    assert [h.sni for h in up.handshakes] == ["c.test"], up.handshakes


def test_no_sni_for_an_ip_literal_even_with_proxy_ssl_server_name_on(proxy_ferry, cleanup, pki):
    """RFC 6066 forbids IP literals in SNI; nginx sends none."""
    up = tls_up(cleanup, pki.a_cert, pki.a_key)
    f, port = front(proxy_ferry, location("proxy_ssl_server_name on;"), up.port)
    assert get(port).status == 200
    assert [h.sni for h in up.handshakes] == [None], up.handshakes


# ---- verification


def verify(pki, trusted, name="a.test", extra=""):
    return (f"proxy_ssl_verify on; proxy_ssl_trusted_certificate {trusted}; "
            f"proxy_ssl_name {name}; {extra}")


def test_verify_on_with_the_right_ca_and_name_is_served(proxy_ferry, cleanup, pki):
    up = tls_up(cleanup, pki.a_cert, pki.a_key)
    f, port = front(proxy_ferry, location(verify(pki, pki.ca)), up.port)
    r = get(port)
    assert r.status == 200 and r.body == b"tls-up"
    assert "[error]" not in f.read_error_log()


@pytest.mark.parametrize("case,cert,trusted,name,extra,error", [
    ("wrong-ca", "a", "other_ca", "a.test", "",
     "upstream SSL certificate verify error: (21:unable to verify the first certificate)"),
    ("wrong-name", "a", "ca", "c.test", "",
     'upstream SSL certificate does not match "c.test"'),
    ("expired", "expired", "ca", "expired.test", "",
     "upstream SSL certificate verify error: (10:certificate has expired)"),
    ("too-deep", "deep", "ca", "deep.test", "proxy_ssl_verify_depth 0;",
     # OpenSSL stops looking for issuers at the depth limit (nginx logs the same)
     "upstream SSL certificate verify error: (20:unable to get local issuer certificate)"),
])
def test_verification_failure_answers_502_and_logs_why(proxy_ferry, cleanup, pki, case, cert,
                                                       trusted, name, extra, error):
    cert_path, key_path = {"a": (pki.a_cert, pki.a_key),
                           "expired": (pki.expired_cert, pki.expired_key),
                           "deep": (pki.deep_chain, pki.deep_key)}[cert]
    up = tls_up(cleanup, cert_path, key_path)
    f, port = front(proxy_ferry, location(verify(pki, getattr(pki, trusted), name, extra)),
                    up.port)
    r = get(port)
    assert r.status == 502, r.raw
    lines = wait_log(f, error)
    assert lines and "[error]" in lines[0], f.read_error_log()
    assert up.requests == [], "no request may reach an unverified upstream"


def test_upstream_tls_failures_are_logged_while_ssl_handshaking_to_upstream(
        proxy_ferry, cleanup, pki):
    up = tls_up(cleanup, pki.a_cert, pki.a_key)
    f, port = front(proxy_ferry, location(verify(pki, pki.other_ca)), up.port)
    assert get(port).status == 502
    lines = wait_log(f, "verify error")
    assert lines, f.read_error_log()
    assert ("upstream SSL certificate verify error: (21:unable to verify the first "
            "certificate) while SSL handshaking to upstream") in lines[0], lines


@pytest.mark.parametrize("depth", ["", "proxy_ssl_verify_depth 1;"])
def test_verify_depth_1_the_default_accepts_a_chain_through_an_intermediate(
        proxy_ferry, cleanup, pki, depth):
    """OpenSSL's depth counts the CAs above the leaf but not the trust anchor: depth 1
    admits leaf <- intermediate <- root; depth 0 (above) only a leaf the root signed."""
    up = tls_up(cleanup, pki.deep_chain, pki.deep_key)
    f, port = front(proxy_ferry, location(verify(pki, pki.ca, "deep.test", depth)), up.port)
    r = get(port)
    assert r.status == 200, (r.raw, f.read_error_log())


def test_verify_off_by_default_accepts_any_certificate(proxy_ferry, cleanup, pki):
    up = tls_up(cleanup, pki.expired_cert, pki.expired_key)
    f, port = front(proxy_ferry, location("proxy_ssl_name nobody.test;"), up.port)
    assert get(port).status == 200


# ---- protocols


def ferry_upstream(proxy_ferry, pki, extra="", log="$ssl_session_reused"):
    """A second ferry as the TLS upstream on @up@; logs `log` per request to up.log."""
    ports = {"up": harness.free_port()}
    f = proxy_ferry(th.tls_conf(f"""
    log_format up '{log}';
    server {{
        listen 127.0.0.1:@up@ ssl;
        server_name a.test;
        ssl_certificate {pki.a_cert}; ssl_certificate_key {pki.a_key};
        {extra}
        access_log @prefix@/logs/up.log up;
        location / {{ return 200 "upstream-ferry $ssl_protocol $ssl_session_reused\\n"; }}
    }}
"""), ports=ports)
    return f, ports["up"]


def up_log(f, n, timeout=3.0):
    path = f"{f.prefix}/logs/up.log"

    def read():
        try:
            with open(path) as fh:
                return fh.read().splitlines()
        except FileNotFoundError:
            return []

    ups.wait_until(lambda: len(read()) >= n, timeout)
    return read()


@pytest.mark.parametrize("proto", ["TLSv1.2", "TLSv1.3"])
def test_proxy_ssl_protocols_choose_the_upstream_protocol(proxy_ferry, pki, proto):
    upf, up_port = ferry_upstream(proxy_ferry, pki, log="$ssl_protocol")
    f, port = front(proxy_ferry, location(f"proxy_ssl_protocols {proto};"), up_port)
    r = get(port)
    assert r.status == 200 and r.body.startswith(b"upstream-ferry " + proto.encode()), r.raw
    assert up_log(upf, 1) == [proto]


def test_no_common_protocol_with_the_upstream_answers_502(proxy_ferry, pki):
    upf, up_port = ferry_upstream(proxy_ferry, pki, extra="ssl_protocols TLSv1.2;")
    f, port = front(proxy_ferry, location("proxy_ssl_protocols TLSv1.3;"), up_port)
    assert get(port).status == 502
    assert wait_log(f, "[error]"), f.read_error_log()


# ---- session reuse


@pytest.mark.parametrize("proto", ["TLSv1.2", "TLSv1.3"])
@pytest.mark.parametrize("via", ["literal", "group"])
def test_upstream_sessions_are_reused_on_new_connections(proxy_ferry, pki, proto, via):
    """Every request on a new TLS connection (a literal address has no keep-alive; the
    group's connections are closed by `Connection: close`); from the second on, ferry
    offers the saved session and the upstream ferry logs $ssl_session_reused "r"."""
    upf, up_port = ferry_upstream(proxy_ferry, pki)
    body = location(f"proxy_ssl_protocols {proto};")
    if via == "group":
        body = "upstream backend { server 127.0.0.1:@up@; }" + location(
            f"proxy_ssl_protocols {proto}; proxy_set_header Connection close;",
            "https://backend")
    f, port = front(proxy_ferry, body, up_port)
    for _ in range(3):
        assert get(port).status == 200
        time.sleep(0.05)
    assert up_log(upf, 3) == [".", "r", "r"], up_log(upf, 3)


def test_no_session_reuse_with_proxy_ssl_session_reuse_off(proxy_ferry, pki):
    upf, up_port = ferry_upstream(proxy_ferry, pki)
    f, port = front(proxy_ferry, location("proxy_ssl_session_reuse off;"), up_port)
    for _ in range(3):
        assert get(port).status == 200
        time.sleep(0.05)
    assert up_log(upf, 3) == [".", ".", "."]


def test_python_upstream_sees_resumed_sessions(proxy_ferry, cleanup, pki):
    up = tls_up(cleanup, pki.a_cert, pki.a_key)
    f, port = front(proxy_ferry, location("proxy_ssl_protocols TLSv1.2;"), up.port)
    for _ in range(3):
        assert get(port).status == 200
    ups.wait_until(lambda: len(up.handshakes) >= 3)
    assert [h.reused for h in up.handshakes] == [False, True, True], up.handshakes


# ---- keep-alive over TLS


KEEPALIVE = """
    upstream pool { server 127.0.0.1:@up@; keepalive 4; }
""" + location('proxy_http_version 1.1; proxy_set_header Connection "";', "https://pool")


def test_pooled_keepalive_connection_is_reused_over_tls(proxy_ferry, cleanup, pki):
    up = tls_up(cleanup, pki.a_cert, pki.a_key)
    f, port = front(proxy_ferry, KEEPALIVE, up.port)
    for i in range(6):
        r = get(port, f"/{i}")
        assert r.status == 200 and r.body == b"tls-up", r.raw
    reqs = up.wait_requests(6)
    assert len(up.handshakes) == 1, up.handshakes
    assert up.connections == 1
    assert [(q.conn_id, q.index) for q in reqs] == [(0, i) for i in range(1, 7)]


@pytest.mark.parametrize("pause", [0.1, 0])
def test_pooled_tls_connection_closed_by_the_upstream_is_replaced(proxy_ferry, cleanup, pki,
                                                                  pause):
    """The upstream closes each connection after one answer (no close_notify). With a
    pause ferry sees the close on its idle connection; without, the next request may
    meet it first and is retried once on a fresh connection, as nginx does."""
    up = tls_up(cleanup, pki.a_cert, pki.a_key, max_requests_per_conn=1)
    f, port = front(proxy_ferry, KEEPALIVE, up.port)
    for i in range(6):
        r = get(port, f"/{i}")
        assert r is not None and r.status == 200, (i, r and r.raw, f.read_error_log())
        time.sleep(pause)
    assert [q.uri for q in up.wait_requests(6)] == [f"/{i}" for i in range(6)]
    assert "[error]" not in f.read_error_log()


def big_or_md5(req, conn):
    if req.method == "POST":
        return ups.reply(body=req.body_md5.encode())(req, conn)
    return ups.stream(4 * MIB)(req, conn)


KEEPALIVE_BIG = KEEPALIVE.replace("proxy_http_version", "client_max_body_size 8m; "
                                  "proxy_http_version")


def test_pooled_tls_connections_carry_large_bodies_both_ways_intact(proxy_ferry, cleanup, pki):
    up = tls_up(cleanup, pki.a_cert, pki.a_key, big_or_md5)
    f, port = front(proxy_ferry, KEEPALIVE_BIG, up.port)
    body = (ups.PATTERN * 4)[:3 * MIB + 7]
    for _ in range(2):
        r = get(port, "/big")
        assert r.status == 200 and len(r.body) == 4 * MIB
        assert hashlib.md5(r.body).hexdigest() == ups.pattern_md5(4 * MIB)
        r = get(port, "/up", method="POST", body=body)
        assert r.status == 200
        assert r.body.decode() == hashlib.md5(body).hexdigest()


def test_pooled_tls_connection_is_kept_after_a_large_response(proxy_ferry, cleanup, pki):
    up = tls_up(cleanup, pki.a_cert, pki.a_key, big_or_md5)
    f, port = front(proxy_ferry, KEEPALIVE_BIG, up.port)
    for _ in range(3):
        r = get(port, "/big")
        assert r.status == 200 and len(r.body) == 4 * MIB
    reqs = up.wait_requests(3)
    assert [(q.conn_id, q.index) for q in reqs] == [(0, 1), (0, 2), (0, 3)], reqs
    assert len(up.handshakes) == 1


# ---- bodies through TLS on both sides


def test_16mib_response_from_a_tls_upstream_to_a_slow_tls_client(proxy_ferry, cleanup, pki):
    """Back-pressure across two TLS legs: the client reads slowly through a small
    receive buffer; every byte arrives in order."""
    total = 16 * MIB
    up = tls_up(cleanup, pki.a_cert, pki.a_key, ups.stream(total))
    ports = {"port": harness.free_port(), "up": up.port}
    proxy_ferry(ups.make_conf(f"""
    server {{
        listen 127.0.0.1:@port@ ssl;
        server_name a.test;
        ssl_certificate {pki.a_cert}; ssl_certificate_key {pki.a_key};
        location / {{ proxy_pass https://127.0.0.1:@up@; }}
    }}"""), ports=ports)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    raw.settimeout(10)
    raw.connect(("127.0.0.1", ports["port"]))
    s = th.client_context(pki.ca).wrap_socket(raw, server_hostname="a.test")
    try:
        s.sendall(b"GET /big HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, rest = buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        h = hashlib.md5(rest)
        got = len(rest)
        time.sleep(0.5)  # ferry meets a full client socket
        deadline = time.monotonic() + 60
        while got < total and time.monotonic() < deadline:
            chunk = s.recv(256 * 1024)
            if not chunk:
                break
            h.update(chunk)
            got += len(chunk)
    finally:
        s.close()
    assert got == total
    assert h.hexdigest() == ups.pattern_md5(total)


def test_request_body_of_8mib_reaches_a_tls_upstream_intact(proxy_ferry, cleanup, pki):
    up = tls_up(cleanup, pki.a_cert, pki.a_key, lambda req, conn: ups.reply(
        body=req.body_md5.encode())(req, conn))
    f, port = front(proxy_ferry, location("client_max_body_size 16m;"), up.port)
    body = (ups.PATTERN * 8)[:8 * MIB]
    r = get(port, "/upload", method="POST", body=body)
    assert r.status == 200, r.raw[:300]
    assert r.body.decode() == ups.pattern_md5(8 * MIB)


# ---- upstreams that do not complete a handshake


def test_upstream_that_does_not_speak_tls_answers_502(proxy_ferry, pki):
    """A plain HTTP server reads the ClientHello as a bad request and answers 400."""

    def handler(sock, stop):
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = sock.accept()
            except (socket.timeout, OSError):
                continue
            c.settimeout(2)
            try:
                c.recv(65536)
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                          b"Connection: close\r\n\r\n")
            except OSError:
                pass
            c.close()

    with harness.BackgroundServer(handler) as srv:
        f, port = front(proxy_ferry, location(""), srv.port)
        r = get(port)
        assert r.status == 502, r.raw
        lines = wait_log(f, "[error]")
        assert lines and "SSL_do_handshake() failed" in lines[0], f.read_error_log()


def stalled_upstream():
    """A server that accepts (the ClientHello lands in its socket) and never answers."""

    def handler(sock, stop):
        sock.settimeout(0.2)
        held = []
        while not stop.is_set():
            try:
                c, _ = sock.accept()
                held.append(c)
            except (socket.timeout, OSError):
                continue
        for c in held:
            c.close()

    return harness.BackgroundServer(handler)


def test_upstream_stalling_in_the_handshake_times_out_after_proxy_connect_timeout(
        proxy_ferry, pki):
    with stalled_upstream() as srv:
        f, port = front(proxy_ferry, location("proxy_connect_timeout 1s;"), srv.port)
        start = time.monotonic()
        r = get(port)
        took = time.monotonic() - start
        assert r.status == 504, r.raw
        assert 0.8 <= took <= 3.0, took
        lines = wait_log(f, "upstream timed out (110: Connection timed out)")
        assert lines and "[error]" in lines[0], f.read_error_log()


def test_upstream_handshake_timeout_is_logged_while_ssl_handshaking_to_upstream(
        proxy_ferry, pki):
    with stalled_upstream() as srv:
        f, port = front(proxy_ferry, location("proxy_connect_timeout 1s;"), srv.port)
        assert get(port).status == 504
        lines = wait_log(f, "upstream timed out")
        assert lines, f.read_error_log()
        assert ("upstream timed out (110: Connection timed out) while SSL handshaking to "
                "upstream") in lines[0], lines
