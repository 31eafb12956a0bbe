"""`ferry -t` (and a plain start) loads every certificate and key of a TLS server and
fails with nginx's messages, naming the file: missing, not PEM, a key that does not
match its certificate, `listen ... ssl` without a certificate, and the upstream side's
proxy_ssl_trusted_certificate / proxy_ssl_verify. A config with an expired certificate,
or RSA + ECDSA pairs, is fine (nginx does not judge dates at load time).

Messages are checked in nginx's words (the exact nginx 1.22 line up to the position
ferry appends); NGINX_COMPARE=1 runs them against /usr/sbin/nginx.
"""

import os
import subprocess

import pytest

import harness
import tls_helpers as th
import upstreams as ups
from tls_helpers import pki  # noqa: F401


def run_t(binary, tmp_path, server_body, extra_args=("-t",)):
    conf = tmp_path / "ferry.conf"
    conf.write_text("events {}\nhttp {\n    access_log off;\n    server {\n        "
                    + server_body + "\n    }\n}\n")
    p = subprocess.run([binary, *extra_args, "-p", str(tmp_path) + "/", "-c", str(conf),
                        "-e", str(tmp_path / "error.log")],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stderr, str(conf)


def emerg_line(err):
    """The first [emerg] line, without ferry's " in file:line:col" suffix."""
    for line in err.splitlines():
        if "[emerg]" in line:
            at = line.rfind(" in /")
            return line[line.index("[emerg]") + 8:at if at > 0 else None]
    return None


def tls_server(cert, key, extra=""):
    port = harness.free_port()
    return (f"listen 127.0.0.1:{port} ssl; server_name a.test; {extra}\n"
            f"        ssl_certificate {cert}; ssl_certificate_key {key};")


def assert_failed(rc, err, conf):
    assert rc == 1, err
    assert err.rstrip().endswith(f"configuration file {conf} test failed"), err


# ---- accepted


def test_t_accepts_rsa_and_ecdsa_pairs_and_an_expired_certificate(ferry_binary, tmp_path, pki):
    body = (tls_server(pki.rsa_cert, pki.rsa_key)
            + f"\n        ssl_certificate {pki.ecdsa_cert}; ssl_certificate_key {pki.ecdsa_key};"
            + "\n    }\n    server {\n        "
            + tls_server(pki.expired_cert, pki.expired_key))
    rc, err, conf = run_t(ferry_binary, tmp_path, body)
    assert rc == 0, err
    assert f"configuration file {conf} test is successful" in err


def test_two_pairs_of_one_key_type_start_and_the_later_pair_is_presented(ferry_binary, pki):
    """Issue 14 (nginx-tests' ssl_certificates.t): two ECDSA pairs in one server, an RSA
    pair between them. nginx accepts it, the later pair of a type replacing the earlier;
    ferry died with SIGSEGV at start-up."""
    port = harness.free_port()
    conf = th.tls_conf(f"""
    server {{
        listen 127.0.0.1:@port@ ssl;
        server_name a.test;
        ssl_certificate {pki.a_cert}; ssl_certificate_key {pki.a_key};
        ssl_certificate {pki.rsa_cert}; ssl_certificate_key {pki.rsa_key};
        ssl_certificate {pki.b_cert}; ssl_certificate_key {pki.b_key};
        location / {{ return 200 "served\\n"; }}
    }}""")
    with harness.Ferry(conf, ports={"port": port}) as f:
        r = th.s_client(port, "a.test", args=["-sigalgs", "ECDSA+SHA256"],
                        request=th.http_get("a.test"))
        assert r.handshake_ok, r
        assert r.cert == th.pem_body(th.read(pki.b_cert)), r
        assert r.body().startswith("served"), r
        r = th.s_client(port, "a.test", args=["-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"],
                        request=th.http_get("a.test"))
        assert r.cert == th.pem_body(th.read(pki.rsa_cert)), r
        assert "[alert]" not in f.read_error_log()


def test_t_resolves_relative_certificate_paths_against_the_config_directory(
        ferry_binary, tmp_path, pki):
    os.makedirs(tmp_path / "certs")
    for src, name in ((pki.a_cert, "a.pem"), (pki.a_key, "a.key")):
        with open(tmp_path / "certs" / name, "w") as f:
            f.write(th.read(src))
    rc, err, conf = run_t(ferry_binary, tmp_path, tls_server("certs/a.pem", "certs/a.key"))
    assert rc == 0, err
    rc, err, conf = run_t(ferry_binary, tmp_path, tls_server("certs/none.pem", "certs/a.key"))
    assert_failed(rc, err, conf)
    assert f'cannot load certificate "{tmp_path}/certs/none.pem"' in err, err


# ---- certificate errors


def test_t_missing_certificate_file(ferry_binary, tmp_path, pki):
    missing = str(tmp_path / "missing.pem")
    rc, err, conf = run_t(ferry_binary, tmp_path, tls_server(missing, pki.a_key))
    assert_failed(rc, err, conf)
    assert emerg_line(err) == (
        f'cannot load certificate "{missing}": BIO_new_file() failed (SSL: error:80000002:'
        f'system library::No such file or directory:calling fopen({missing}, r) '
        'error:10000080:BIO routines::no such file)'), err


def test_t_missing_key_file(ferry_binary, tmp_path, pki):
    missing = str(tmp_path / "missing.key")
    rc, err, conf = run_t(ferry_binary, tmp_path, tls_server(pki.a_cert, missing))
    assert_failed(rc, err, conf)
    assert emerg_line(err).startswith(
        f'cannot load certificate key "{missing}": BIO_new_file() failed'), err


def test_t_certificate_that_is_not_pem(ferry_binary, tmp_path, pki):
    rc, err, conf = run_t(ferry_binary, tmp_path, tls_server(pki.not_pem, pki.a_key))
    assert_failed(rc, err, conf)
    assert emerg_line(err) == (
        f'cannot load certificate "{pki.not_pem}": PEM_read_bio_X509_AUX() failed '
        '(SSL: error:0480006C:PEM routines::no start line:Expecting: TRUSTED CERTIFICATE)'), err


def test_t_key_that_is_not_pem(ferry_binary, tmp_path, pki):
    rc, err, conf = run_t(ferry_binary, tmp_path, tls_server(pki.a_cert, pki.not_pem))
    assert_failed(rc, err, conf)
    assert emerg_line(err).startswith(
        f'cannot load certificate key "{pki.not_pem}": PEM_read_bio_PrivateKey() failed'), err


@pytest.mark.parametrize("cert,key", [("rsa_cert", "stray_rsa_key"), ("a_cert", "stray_ec_key")])
def test_t_key_that_does_not_match_the_certificate(ferry_binary, tmp_path, pki, cert, key):
    key_path = getattr(pki, key)
    rc, err, conf = run_t(ferry_binary, tmp_path, tls_server(getattr(pki, cert), key_path))
    assert_failed(rc, err, conf)
    assert emerg_line(err) == (
        f'SSL_CTX_use_PrivateKey("{key_path}") failed (SSL: error:05800074:'
        'x509 certificate routines::key values mismatch)'), err


@th.ferry_only("nginx accepts a key of another type than its certificate (the pair only "
               "fails at handshake time)")
def test_t_key_of_another_type_than_the_certificate_is_refused_naming_the_key(
        ferry_binary, tmp_path, pki):
    rc, err, conf = run_t(ferry_binary, tmp_path, tls_server(pki.rsa_cert, pki.stray_ec_key))
    assert_failed(rc, err, conf)
    assert f'("{pki.stray_ec_key}") failed' in emerg_line(err), err


def test_t_names_the_second_pair_when_only_it_is_broken(ferry_binary, tmp_path, pki):
    body = (tls_server(pki.rsa_cert, pki.rsa_key)
            + f"\n        ssl_certificate {pki.ecdsa_cert};"
            + f" ssl_certificate_key {pki.stray_ec_key};")
    rc, err, conf = run_t(ferry_binary, tmp_path, body)
    assert_failed(rc, err, conf)
    assert emerg_line(err).startswith(f'SSL_CTX_use_PrivateKey("{pki.stray_ec_key}") failed'), err


def test_t_listen_ssl_without_a_certificate(ferry_binary, tmp_path):
    port = harness.free_port()
    rc, err, conf = run_t(ferry_binary, tmp_path, f"listen 127.0.0.1:{port} ssl;")
    assert_failed(rc, err, conf)
    assert emerg_line(err) == (
        'no "ssl_certificate" is defined for the "listen ... ssl" directive'), err
    assert f" in {conf}:" in err


def test_t_invalid_ssl_protocols_value(ferry_binary, tmp_path, pki):
    rc, err, conf = run_t(ferry_binary, tmp_path,
                          tls_server(pki.a_cert, pki.a_key, "ssl_protocols TLSv1.2 TLSv9;"))
    assert_failed(rc, err, conf)
    assert emerg_line(err) == 'invalid value "TLSv9"', err


# ---- upstream side


def test_t_missing_proxy_ssl_trusted_certificate(ferry_binary, tmp_path):
    missing = str(tmp_path / "ca-missing.pem")
    rc, err, conf = run_t(ferry_binary, tmp_path, (
        f"listen 127.0.0.1:{harness.free_port()};\n"
        f"        location / {{ proxy_pass https://127.0.0.1:{ups.dead_port()}; "
        f"proxy_ssl_verify on; proxy_ssl_trusted_certificate {missing}; }}"))
    assert_failed(rc, err, conf)
    assert f'"{missing}"' in emerg_line(err), err


def test_t_proxy_ssl_verify_without_trusted_certificate(ferry_binary, tmp_path):
    rc, err, conf = run_t(ferry_binary, tmp_path, (
        f"listen 127.0.0.1:{harness.free_port()};\n"
        f"        location / {{ proxy_pass https://127.0.0.1:{ups.dead_port()}; "
        "proxy_ssl_verify on; }"))
    assert_failed(rc, err, conf)
    assert emerg_line(err) == "no proxy_ssl_trusted_certificate for proxy_ssl_verify", err


# ---- a real start


def test_start_with_a_missing_certificate_exits_1_and_listens_nowhere(ferry_binary, tmp_path,
                                                                     pki):
    port = harness.free_port()
    missing = str(tmp_path / "missing.pem")
    body = (f"listen 127.0.0.1:{port} ssl; server_name a.test;\n"
            f"        ssl_certificate {missing}; ssl_certificate_key {pki.a_key};")
    rc, err, conf = run_t(ferry_binary, tmp_path, body, extra_args=())
    assert rc == 1, err
    text = err + (th.read(tmp_path / "error.log") if os.path.exists(tmp_path / "error.log")
                  else "")
    assert f'cannot load certificate "{missing}": BIO_new_file() failed' in text, text
    assert not harness.wait_for_port(port, timeout=0.3)
