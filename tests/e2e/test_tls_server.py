"""TLS on ferry's listeners: curl with keep-alive over TLS, SNI choosing the server block
and its certificate (RSA or ECDSA by what the client supports), ssl_protocols limits,
ALPN, session resumption by cache and by ticket, and the $scheme / $https / $ssl_*
variables in a `return` and in an access log.

Certificates come from the `pki` fixture (tls_helpers.py); clients are curl and
`openssl s_client`. One ferry serves the whole module; bad clients are in
test_tls_bad_clients.py.
"""

import os
import signal
import subprocess
import time

import pytest

import harness
import tls_helpers as th
from tls_helpers import pki, s_client  # noqa: F401

VARS = ('"srv=%s scheme=$scheme https=$https proto=$ssl_protocol cipher=$ssl_cipher '
        'sni=$ssl_server_name reused=$ssl_session_reused conn=$connection '
        'req=$connection_requests\\n"')
LOG = ("'$scheme|$https|$ssl_protocol|$ssl_cipher|$ssl_server_name|$ssl_session_reused|"
       "$server_name|$request_uri'")


def certs(*pairs):
    return "\n".join(f"ssl_certificate {c}; ssl_certificate_key {k};" for c, k in pairs)


def server(name, listen, pairs, extra="", srv=None):
    return f"""
    server {{
        {listen}
        server_name {name};
        {certs(*pairs)}
        {extra}
        access_log @prefix@/logs/tls.log tls;
        location / {{ return 200 {VARS % (srv or name)}; }}
    }}"""


def module_conf(p):
    a, b = (p.a_cert, p.a_key), (p.b_cert, p.b_key)
    return th.tls_conf(f"""
    log_format tls {LOG};
    {server("a.test", "listen 127.0.0.1:@port@ ssl; listen 127.0.0.1:@plain@;", [a])}
    {server("b.test", "listen 127.0.0.1:@port@ ssl; listen 127.0.0.1:@bdef@ ssl default_server;",
            [b])}
    {server("both.test", "listen 127.0.0.1:@port@ ssl;",
            [(p.rsa_cert, p.rsa_key), (p.ecdsa_cert, p.ecdsa_key)])}
    {server("*.wild.test", "listen 127.0.0.1:@port@ ssl;", [b], srv="wild")}
    {server("a.test", "listen 127.0.0.1:@bdef@ ssl;", [a], srv="a2")}
    {server("only12", "listen 127.0.0.1:@tls12@ ssl;", [a], "ssl_protocols TLSv1.2;")}
    {server("only13", "listen 127.0.0.1:@tls13@ ssl;", [a], "ssl_protocols TLSv1.3;")}
    {server("cache", "listen 127.0.0.1:@cache@ ssl;", [a],
            "ssl_session_cache shared:SSL:1m; ssl_session_tickets off;")}
    {server("nocache", "listen 127.0.0.1:@nocache@ ssl;", [a],
            "ssl_session_cache off; ssl_session_tickets off;")}
    {server("short", "listen 127.0.0.1:@short@ ssl;", [a], "ssl_session_timeout 1s;")}
    {server("srvpref", "listen 127.0.0.1:@srvpref@ ssl;", [a],
            f"ssl_ciphers {CIPHERS}; ssl_prefer_server_ciphers on;")}
    {server("clipref", "listen 127.0.0.1:@clipref@ ssl;", [a],
            f"ssl_ciphers {CIPHERS}; ssl_prefer_server_ciphers off;")}
""")


# the server's order: AES128 first
CIPHERS = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"
PORTS = ("port", "plain", "bdef", "tls12", "tls13", "cache", "nocache", "short", "srvpref",
         "clipref")


@pytest.fixture(scope="module")
def site(pki):
    ports = {n: harness.free_port() for n in PORTS}
    f = harness.Ferry(module_conf(pki), ports=ports, wait_ports=list(ports.values()))
    try:
        yield f
    finally:
        f.close()


@pytest.fixture
def ports(site):
    return site.ports


def parse_vars(text):
    """The `key=value` pairs of the VARS line in a response body."""
    line = next((ln for ln in text.splitlines() if ln.startswith("srv=")), None)
    assert line is not None, f"no VARS line in {text!r}"
    return dict(kv.split("=", 1) for kv in line.split(" "))


def access_line(site, suffix, timeout=3.0):
    """The access log lines ending with `suffix`, once there is one (or [] at the
    deadline)."""
    path = f"{site.prefix}/logs/tls.log"

    def matching():
        try:
            with open(path) as f:
                return [ln for ln in f.read().splitlines() if ln.endswith(suffix)]
        except FileNotFoundError:
            return []

    harness_wait(matching, timeout)
    return matching()


def log_since(site, mark):
    return site.read_error_log()[mark:]


# ---- curl: HTTP over TLS with keep-alive


def test_curl_sends_several_requests_over_one_tls_connection(ports, pki):
    rc, out, err = th.curl(ports["port"], ["/1", "/2", "/3"], pki.ca,
                           args=["-w", "|connects=%{num_connects} version=%{http_version}\n"])
    assert rc == 0, err
    lines = out.splitlines()
    bodies = [parse_vars(ln) for ln in lines if ln.startswith("srv=")]
    tails = [ln[1:] for ln in lines if ln.startswith("|")]
    assert len(bodies) == 3, out
    # one TCP connect and one handshake, then two more requests on the same connection
    assert tails == ["connects=1 version=1.1", "connects=0 version=1.1",
                     "connects=0 version=1.1"], out
    assert len({b["conn"] for b in bodies}) == 1, bodies
    assert [b["req"] for b in bodies] == ["1", "2", "3"]
    assert all(b["srv"] == "a.test" and b["scheme"] == "https" for b in bodies)


def test_curl_verifies_the_chain_and_name_against_the_test_ca(ports, pki):
    rc, out, err = th.curl(ports["port"], ["/"], pki.ca, host="b.test")
    assert rc == 0, err
    assert parse_vars(out)["srv"] == "b.test"
    # the same server under a CA that did not sign it: curl refuses (exit 60)
    rc, out, err = th.curl(ports["port"], ["/"], pki.other_ca, host="b.test")
    assert rc == 60, (rc, err)


def test_curl_offering_h2_gets_http11_by_alpn(ports, pki):
    rc, out, err = th.curl(ports["port"], ["/"], pki.ca, args=["--http2", "-v"])
    assert rc == 0, err
    assert "ALPN: server accepted http/1.1" in err, err
    assert parse_vars(out)["srv"] == "a.test"


# ---- SNI


@pytest.mark.parametrize("name,cert,srv", [
    ("a.test", "a_cert", "a.test"),
    ("b.test", "b_cert", "b.test"),
    ("B.Test", "b_cert", "b.test"),
    ("x.wild.test", "b_cert", "wild"),
])
def test_sni_picks_the_server_block_and_its_certificate(ports, pki, name, cert, srv):
    r = s_client(ports["port"], name, request=th.http_get(name))
    assert r.handshake_ok, r
    assert r.cert == th.pem_body(th.read(getattr(pki, cert))), r
    v = parse_vars(r.body())
    assert v["srv"] == srv
    assert v["sni"] == name, v


def test_without_sni_the_default_server_certificate_is_sent(ports, pki):
    r = s_client(ports["port"], None, request=th.http_get("a.test"))
    assert r.cert == th.pem_body(th.read(pki.a_cert)), r
    assert parse_vars(r.body())["sni"] == ""
    # on the port where b.test is default_server, no SNI gets b's certificate
    r = s_client(ports["bdef"], None, request=th.http_get("b.test"))
    assert r.cert == th.pem_body(th.read(pki.b_cert)), r


def test_unknown_sni_is_answered_with_the_default_servers_certificate(ports, pki, site):
    """nginx: a name no server_name matches keeps the address's default server (only
    ssl_reject_handshake would end the handshake)."""
    mark = len(site.read_error_log())
    r = s_client(ports["bdef"], "unknown.test", request=th.http_get("unknown.test"))
    assert r.handshake_ok, r
    assert r.cert == th.pem_body(th.read(pki.b_cert)), r
    v = parse_vars(r.body())
    assert v["srv"] == "b.test" and v["sni"] == "unknown.test", v
    assert "[crit]" not in log_since(site, mark) and "[error]" not in log_since(site, mark)


def test_sni_name_and_host_header_pick_servers_independently(ports, pki):
    """The certificate follows SNI; the request follows Host (as nginx without client
    certificates)."""
    r = s_client(ports["port"], "b.test", request=th.http_get("a.test"))
    assert r.cert == th.pem_body(th.read(pki.b_cert)), r
    v = parse_vars(r.body())
    assert v["srv"] == "a.test" and v["sni"] == "b.test", v


@pytest.mark.parametrize("sigalgs,want", [
    ("ECDSA+SHA256", "ecdsa_cert"),
    ("RSA-PSS+SHA256:rsa_pss_pss_sha256:RSA+SHA256", "rsa_cert"),
])
def test_rsa_and_ecdsa_certificates_for_one_name_by_client_signature_support(
        ports, pki, sigalgs, want):
    r = s_client(ports["port"], "both.test", args=["-sigalgs", sigalgs],
                 request=th.http_get("both.test"))
    assert r.handshake_ok, r
    assert r.cert == th.pem_body(th.read(getattr(pki, want))), r
    assert parse_vars(r.body())["srv"] == "both.test"


def test_tls12_ecdsa_cipher_suite_selects_the_ecdsa_certificate(ports, pki):
    r = s_client(ports["port"], "both.test",
                 args=["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"])
    assert r.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256", r
    assert r.cert == th.pem_body(th.read(pki.ecdsa_cert))
    r = s_client(ports["port"], "both.test",
                 args=["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"])
    assert r.cipher == "ECDHE-RSA-AES128-GCM-SHA256", r
    assert r.cert == th.pem_body(th.read(pki.rsa_cert))


# ---- ssl_protocols


def test_default_protocols_accept_tls12_and_tls13(ports):
    for flag, proto in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        r = s_client(ports["port"], "a.test", args=[flag], request=th.http_get())
        assert r.protocol == proto and r.handshake_ok, r
        assert parse_vars(r.body())["proto"] == proto


def test_default_protocols_refuse_tls11_with_an_info_line(ports, site):
    mark = len(site.read_error_log())
    r = s_client(ports["port"], "a.test", args=["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
    assert not r.handshake_ok, r
    assert "alert protocol version" in r.out + r.err, r  # the server said no
    assert harness_wait(lambda: "unsupported protocol" in log_since(site, mark))
    line = [ln for ln in log_since(site, mark).splitlines() if "unsupported protocol" in ln]
    assert "[info]" in line[0] and "while SSL handshaking" in line[0], line


def harness_wait(pred, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def test_server_limited_to_tls12_refuses_tls13_and_serves_tls12(ports, site):
    mark = len(site.read_error_log())
    r = s_client(ports["tls12"], "a.test", args=["-tls1_3"])
    assert not r.handshake_ok, r
    assert harness_wait(lambda: "[info]" in log_since(site, mark))
    r = s_client(ports["tls12"], "a.test", request=th.http_get())
    assert r.protocol == "TLSv1.2", r
    assert parse_vars(r.body())["proto"] == "TLSv1.2"
    assert "[crit]" not in log_since(site, mark) and "[error]" not in log_since(site, mark)


def test_server_limited_to_tls13_refuses_tls12_and_serves_tls13(ports, site):
    mark = len(site.read_error_log())
    r = s_client(ports["tls13"], "a.test", args=["-tls1_2"])
    assert not r.handshake_ok, r
    r = s_client(ports["tls13"], "a.test", request=th.http_get())
    assert r.protocol == "TLSv1.3", r
    assert parse_vars(r.body())["proto"] == "TLSv1.3"
    assert "[crit]" not in log_since(site, mark)


# ---- ssl_ciphers, ssl_prefer_server_ciphers (TLS 1.2)

CLIENT_ORDER = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"


def test_ssl_prefer_server_ciphers_on_picks_the_servers_first_choice(ports):
    r = s_client(ports["srvpref"], "a.test", args=["-tls1_2", "-cipher", CLIENT_ORDER])
    assert r.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256", r


def test_ssl_prefer_server_ciphers_off_picks_the_clients_first_choice(ports):
    r = s_client(ports["clipref"], "a.test", args=["-tls1_2", "-cipher", CLIENT_ORDER])
    assert r.cipher == "ECDHE-ECDSA-AES256-GCM-SHA384", r


def test_ssl_ciphers_refuses_a_client_offering_none_of_them(ports, site):
    mark = len(site.read_error_log())
    r = s_client(ports["srvpref"], "a.test",
                 args=["-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"])
    assert not r.handshake_ok, r
    assert harness_wait(lambda: "no shared cipher" in log_since(site, mark))
    assert "[crit]" not in log_since(site, mark)


# ---- ALPN


@pytest.mark.parametrize("offer,chosen", [("http/1.1", "http/1.1"), ("h2,http/1.1", "http/1.1"),
                                          (None, None)])
def test_alpn_negotiates_http11(ports, offer, chosen):
    args = ["-alpn", offer] if offer else []
    r = s_client(ports["port"], "a.test", args=args, request=th.http_get())
    assert r.handshake_ok, r
    assert r.alpn == chosen, r
    if chosen is None:
        assert "No ALPN negotiated" in r.out
    assert parse_vars(r.body())["srv"] == "a.test"


def test_alpn_offering_only_h2_is_refused_with_no_application_protocol(ports, site):
    mark = len(site.read_error_log())
    r = s_client(ports["port"], "a.test", args=["-alpn", "h2"])
    assert not r.handshake_ok, r
    assert "no application protocol" in r.out + r.err, r
    assert harness_wait(lambda: "no application protocol" in log_since(site, mark))
    assert "[crit]" not in log_since(site, mark)


# ---- session resumption


def resume_twice(port, tmp_path, name="a.test", proto_flag="-tls1_3", name2=None):
    sess = str(tmp_path / f"sess{proto_flag}")
    first = s_client(port, name, args=[proto_flag, "-sess_out", sess],
                     request=th.http_get(name))
    assert first.handshake_ok, first
    second = s_client(port, name2 or name, args=[proto_flag, "-sess_in", sess],
                      request=th.http_get(name2 or name))
    assert second.handshake_ok, second
    return first, second


@pytest.mark.parametrize("proto_flag", ["-tls1_2", "-tls1_3"])
@pytest.mark.parametrize("which", ["cache", "port"])  # shared cache, tickets off / tickets
def test_session_is_resumed_and_reported_by_ssl_session_reused(ports, tmp_path, proto_flag,
                                                               which):
    first, second = resume_twice(ports[which], tmp_path, proto_flag=proto_flag)
    assert first.new_or_reused == "New", first
    assert parse_vars(first.body())["reused"] == "."
    assert second.new_or_reused == "Reused", second
    assert parse_vars(second.body())["reused"] == "r"


@pytest.mark.parametrize("proto_flag", ["-tls1_2", "-tls1_3"])
def test_no_resumption_with_cache_off_and_tickets_off(ports, tmp_path, proto_flag):
    sess = str(tmp_path / "sess")
    first = s_client(ports["nocache"], "a.test", args=[proto_flag, "-sess_out", sess],
                     request=th.http_get())
    assert first.handshake_ok, first
    if not os.path.exists(sess):
        return  # s_client saw nothing resumable (TLS 1.2: no session id, no ticket)
    second = s_client(ports["nocache"], "a.test", args=[proto_flag, "-sess_in", sess],
                      request=th.http_get())
    assert second.new_or_reused == "New", second
    assert parse_vars(second.body())["reused"] == "."


@th.ferry_only("nginx 1.22 resumes a session made under another server block's SNI")
def test_session_of_one_server_block_is_not_resumed_on_another(ports, tmp_path):
    """ferry's choice (core/tls_server.cpp): the session id context is a digest of the
    server block's certificates, so a.test's session does not open b.test."""
    first, second = resume_twice(ports["port"], tmp_path, "a.test", "-tls1_3", name2="b.test")
    assert second.new_or_reused == "New", second
    v = parse_vars(second.body())
    assert v["srv"] == "b.test" and v["reused"] == "."


def test_session_expires_after_ssl_session_timeout(ports, tmp_path):
    sess = str(tmp_path / "sess")
    first = s_client(ports["short"], "a.test", args=["-tls1_3", "-sess_out", sess],
                     request=th.http_get())
    assert first.handshake_ok, first
    again = s_client(ports["short"], "a.test", args=["-tls1_3", "-sess_in", sess],
                     request=th.http_get())
    assert again.new_or_reused == "Reused", again  # still fresh: resumable
    time.sleep(2.2)  # ssl_session_timeout 1s
    late = s_client(ports["short"], "a.test", args=["-tls1_3", "-sess_in", sess],
                    request=th.http_get())
    assert late.handshake_ok, late
    assert late.new_or_reused == "New", late


# ---- variables


def test_tls_variables_in_return_match_the_negotiated_session(ports):
    for flag in ("-tls1_2", "-tls1_3"):
        r = s_client(ports["port"], "a.test", args=[flag], request=th.http_get())
        v = parse_vars(r.body())
        assert v["scheme"] == "https" and v["https"] == "on", v
        assert v["proto"] == r.protocol, (v, r.protocol)
        assert v["cipher"] == r.cipher, (v, r.cipher)
        assert v["sni"] == "a.test" and v["reused"] == "."


def test_plain_listener_of_the_same_server_has_http_scheme_and_empty_tls_variables(ports):
    r = harness.request(ports["plain"], b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
    assert r.status == 200
    v = parse_vars(r.body.decode())
    assert v["srv"] == "a.test"
    assert (v["scheme"], v["https"], v["proto"], v["cipher"], v["sni"], v["reused"]) == \
        ("http", "", "", "", "", ""), v


def test_tls_variables_in_an_access_log_line(ports, site):
    r = s_client(ports["port"], "b.test", args=["-tls1_2"],
                 request=th.http_get("b.test", "/logged?x=1"))
    assert r.handshake_ok, r
    line = access_line(site, "/logged?x=1")
    assert line == [f"https|on|TLSv1.2|{r.cipher}|b.test|.|b.test|/logged?x=1"], line


def test_access_log_of_a_plain_request_has_empty_https_and_dashes_for_ssl_variables(
        ports, site):
    harness.request(ports["plain"], b"GET /plainlog HTTP/1.1\r\nHost: a.test\r\n\r\n")
    line = access_line(site, "/plainlog")
    assert line == ["http||-|-|-|-|a.test|/plainlog"], line


def test_requests_sent_right_after_the_handshake_are_all_answered_under_load(
        start_ferry, pki):
    """4 processes x up to 25 bursts of 40 concurrent clients; each sends its GET the
    moment its handshake ends and expects the answer within 3s. Stops at the first
    unanswered request (with the bug, within a few seconds)."""
    port = harness.free_port()
    start_ferry(one_server_conf(pki, pki.a_cert, pki.a_key), ports={"port": port})
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls_helpers.py")
    procs = [subprocess.Popen(["/usr/bin/python3", script, str(port), pki.ca, "25", "40"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    failed = []
    try:
        deadline = time.monotonic() + 60
        while procs and time.monotonic() < deadline:
            for p in list(procs):
                if p.poll() is not None:
                    out, err = p.communicate()
                    assert out.strip().isdigit(), err
                    failed.append(int(out))
                    procs.remove(p)
            if any(failed):
                break
            time.sleep(0.05)
    finally:
        for p in procs:
            p.kill()
            p.communicate()
    assert not any(failed), f"unanswered requests per client process: {failed}"
    assert len(failed) == 4, "client processes did not finish within 60s"


# ---- several workers, reload


def one_server_conf(p, cert, key, workers=1, extra=""):
    return th.tls_conf(f"""
    server {{
        listen 127.0.0.1:@port@ ssl;
        server_name a.test;
        ssl_certificate {cert}; ssl_certificate_key {key};
        {extra}
        location / {{ return 200 {VARS % "one"}; }}
    }}""", main_extra="").replace("worker_processes 1;", f"worker_processes {workers};")


@pytest.mark.parametrize("proto_flag", ["-tls1_2", "-tls1_3"])
def test_shared_session_cache_resumes_whichever_worker_accepts(start_ferry, pki, tmp_path,
                                                               proto_flag):
    port = harness.free_port()
    start_ferry(one_server_conf(pki, pki.a_cert, pki.a_key, workers=4,
                                extra="ssl_session_cache shared:SSL:1m; "
                                      "ssl_session_tickets off;"), ports={"port": port})
    sess = str(tmp_path / "sess")
    first = s_client(port, "a.test", args=[proto_flag, "-sess_out", sess],
                     request=th.http_get())
    assert first.handshake_ok, first
    results = [s_client(port, "a.test", args=[proto_flag, "-sess_in", sess],
                        request=th.http_get()).new_or_reused for _ in range(8)]
    assert results == ["Reused"] * 8, results


RELOAD = th.ferry_only("the nginx compare run has master_process off: no reload")


@RELOAD
def test_reload_switches_to_a_new_certificate(start_ferry, pki):
    port = harness.free_port()
    f = start_ferry(one_server_conf(pki, pki.a_cert, pki.a_key), ports={"port": port})
    assert s_client(port, "a.test").cert == th.pem_body(th.read(pki.a_cert))
    with open(f.conf_path, "w") as out:
        out.write(harness.fill(one_server_conf(pki, pki.b_cert, pki.b_key), port=port,
                               prefix=f.prefix))
    f.send_signal(signal.SIGHUP)
    assert harness_wait(lambda: s_client(port, "a.test").cert ==
                        th.pem_body(th.read(pki.b_cert)), 5.0)


@RELOAD
def test_reload_with_a_broken_key_keeps_serving_the_old_certificate(start_ferry, pki):
    port = harness.free_port()
    f = start_ferry(one_server_conf(pki, pki.a_cert, pki.a_key), ports={"port": port})
    with open(f.conf_path, "w") as out:
        out.write(harness.fill(one_server_conf(pki, pki.a_cert, pki.stray_ec_key), port=port,
                               prefix=f.prefix))
    f.send_signal(signal.SIGHUP)
    assert harness_wait(lambda: "reload failed" in f.read_error_log(), 5.0), \
        f.read_error_log()
    r = s_client(port, "a.test", request=th.http_get())
    assert r.cert == th.pem_body(th.read(pki.a_cert)), r
    assert parse_vars(r.body())["srv"] == "one"
    # the reason, in nginx's words (ferry prints a failed reload's diagnostics on stderr)
    assert f.stop() == 0
    text = f.stderr.decode(errors="replace") + f.read_error_log()
    assert f'SSL_CTX_use_PrivateKey("{pki.stray_ec_key}") failed' in text, text
