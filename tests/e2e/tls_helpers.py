"""Helpers for the TLS tests (test_tls_*.py).

- `Pki`: certificates made at test time with the `openssl` command line: a CA, leaf
  certificates for a.test and b.test signed by it, an expired one, an RSA and an ECDSA
  certificate for both.test, a leaf signed by an intermediate CA, a second CA that
  signed nothing here (the "wrong CA"), a stray key that matches no certificate, and a
  file that is not PEM. `pki` is a session fixture (generation takes about a second).
- `s_client(...)`: runs `openssl s_client` with a deadline and parses what it printed
  (protocol, cipher, ALPN, New/Reused, the certificate the server sent).
- `curl(...)`: runs curl with --cacert/--resolve and a deadline.
- `TlsUpstream`: the recording HTTP/1.1 upstream of upstreams.py behind Python's ssl,
  recording each handshake (SNI, resumed or not).
- `client_hello(...)`: the bytes of a real ClientHello, for clients that stop halfway.
- `tls_conf(...)`: a ferry config around one http{} body (info-level error log).

Every wait is bounded.
"""

import os
import re
import socket
import ssl
import subprocess
import tempfile
import threading

import pytest

import upstreams as ups

# ---------------------------------------------------------------------------------
# Certificates


class Pki:
    """Certificates and keys in `self.dir`; attributes hold the file paths."""

    def __init__(self, dir):
        self.dir = dir
        self._n = 0
        self._ca_conf = os.path.join(dir, "ca.cnf")
        with open(self._ca_conf, "w") as f:
            f.write(_CA_CONF)
        # the CA, and one that signed nothing the servers send
        self.ca, self.ca_key = self._self_signed("ferry-test-ca")
        self.other_ca, _ = self._self_signed("ferry-other-ca")
        # leaves signed by the CA
        self.a_cert, self.a_key = self._leaf("a.test", ["a.test"])
        self.b_cert, self.b_key = self._leaf("b.test", ["b.test"])
        self.expired_cert, self.expired_key = self._leaf(
            "expired.test", ["expired.test"], start="20200101000000Z", end="20200102000000Z")
        self.rsa_cert, self.rsa_key = self._leaf("both.test", ["both.test"], key="rsa")
        self.ecdsa_cert, self.ecdsa_key = self._leaf("both.test", ["both.test"], key="ec")
        # a second RSA key: same type as rsa_cert's, matching no certificate
        self.stray_rsa_key = self._key("stray-rsa", "rsa")
        self.stray_ec_key = self._key("stray-ec", "ec")
        # root -> intermediate -> leaf; the leaf's file holds the chain (leaf first)
        self.inter_cert, self.inter_key = self._leaf("ferry-test-intermediate", [], ca=True)
        leaf, self.deep_key = self._leaf("deep.test", ["deep.test"], issuer=(
            self.inter_cert, self.inter_key))
        self.deep_chain = os.path.join(dir, "deep-chain.pem")
        with open(self.deep_chain, "w") as out:
            out.write(read(leaf) + read(self.inter_cert))
        self.not_pem = os.path.join(dir, "not-pem.crt")
        with open(self.not_pem, "w") as f:
            f.write("this is not a certificate\n")

    def _run(self, *args):
        p = subprocess.run(["openssl", *args], cwd=self.dir, capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(args)} failed: {p.stderr}")

    def _key(self, name, kind):
        path = os.path.join(self.dir, name + ".key")
        if kind == "rsa":
            self._run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                      "-out", path)
        else:
            self._run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-out", path)
        return path

    def _self_signed(self, cn):
        key = self._key(cn, "ec")
        cert = os.path.join(self.dir, cn + ".pem")
        self._run("req", "-x509", "-new", "-key", key, "-out", cert, "-subj", "/CN=" + cn,
                  "-days", "30")
        return cert, key

    def _leaf(self, cn, names, key="ec", start=None, end=None, issuer=None, ca=False):
        """A certificate for `cn` (SAN `names`) signed by the CA (or `issuer`)."""
        self._n += 1
        stem = f"{cn}-{key}-{self._n}"
        key_path = self._key(stem, key)
        csr = os.path.join(self.dir, stem + ".csr")
        args = ["req", "-new", "-key", key_path, "-out", csr, "-subj", "/CN=" + cn]
        if names:
            args += ["-addext", "subjectAltName=" + ",".join("DNS:" + n for n in names)]
        self._run(*args)
        cert = os.path.join(self.dir, stem + ".pem")
        icert, ikey = issuer or (self.ca, self.ca_key)
        args = ["ca", "-batch", "-config", self._ca_conf, "-cert", icert, "-keyfile", ikey,
                "-in", csr, "-out", cert, "-notext"]
        if ca:
            args += ["-extensions", "v3_intermediate"]
        if start:
            args += ["-startdate", start, "-enddate", end]
        else:
            args += ["-days", "30"]
        self._run(*args)
        return cert, key_path


_CA_CONF = """
[ca]
default_ca = ferry_ca
[ferry_ca]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any_name
copy_extensions = copy
unique_subject = no
[any_name]
commonName = supplied
[v3_intermediate]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
"""


def read(path):
    with open(path) as f:
        return f.read()


def pem_body(text):
    """The first PEM certificate in `text`, as one line of base64 (for comparing)."""
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    return "".join(m.group(1).split()) if m else None


@pytest.fixture(scope="session")
def pki():
    with tempfile.TemporaryDirectory(prefix="ferry-pki-") as d:
        with open(os.path.join(d, "index.txt"), "w"):
            pass
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        yield Pki(d)


# ---------------------------------------------------------------------------------
# Marks


def ferry_bug(reason):
    """xfail(strict) for a ferry deviation from nginx; with NGINX_COMPARE=1 (nginx as the
    binary) the test must pass, so the mark does not apply there."""
    return pytest.mark.xfail(not ups.nginx_compare(), strict=True, reason="ferry bug: " + reason)


def ferry_only(reason):
    """Skips under NGINX_COMPARE=1: ferry's documented choice differs from nginx 1.22."""
    return pytest.mark.skipif(ups.nginx_compare(), reason=reason)


# ---------------------------------------------------------------------------------
# ferry configs


def tls_conf(http_body, main_extra="", worker_connections=256):
    """A ferry config: one worker, error log at info level, `http_body` inside http{}.

    With NGINX_COMPARE=1 the http{} block also sets current nginx's default protocols
    (nginx 1.22 here still defaults to TLSv1 TLSv1.1 TLSv1.2)."""
    if ups.nginx_compare():
        http_body = "    ssl_protocols TLSv1.2 TLSv1.3;\n" + http_body
    return ups.make_conf(http_body, main_extra=main_extra,
                         worker_connections=worker_connections)


# ---------------------------------------------------------------------------------
# openssl s_client


class SClient:
    """What one `openssl s_client` run printed."""

    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err
        text = out
        m = re.search(r"^\s*Protocol\s*:\s*(\S+)", text, re.M)
        self.protocol = m.group(1) if m else None
        m = re.search(r"^\s*Cipher\s*:\s*(\S+)", text, re.M)
        self.cipher = m.group(1) if m else None
        m = re.search(r"^(New|Reused), ", text, re.M)
        self.new_or_reused = m.group(1) if m else None
        m = re.search(r"^ALPN protocol: (\S+)", text, re.M)
        self.alpn = m.group(1) if m else None
        self.cert = pem_body(text)
        m = re.search(r"^subject=(.*)$", text, re.M)
        self.subject = m.group(1).strip() if m else None
        self.verified = "Verify return code: 0 (ok)" in text

    @property
    def handshake_ok(self):
        """True when a certificate came back and a cipher was agreed."""
        return self.cert is not None and self.cipher not in (None, "0000", "(NONE)")

    def body(self):
        """What came after the response head (s_client prints the server's bytes)."""
        at = self.out.find("\r\n\r\n")
        return self.out[at + 4:] if at >= 0 else ""

    def __repr__(self):
        return f"<s_client rc={self.rc}\n{self.out[-3000:]}\n--- stderr ---\n{self.err[-2000:]}>"


def s_client(port, servername=None, args=(), request=None, cafile=None, timeout=10):
    """Runs `openssl s_client` against 127.0.0.1:port. With `request` (bytes or str) it is
    sent after the handshake and s_client reads until the server closes (so a TLS 1.3
    session ticket sent after the handshake is received); without, stdin is empty and
    s_client ends after the handshake."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-showcerts"]
    if servername is None:
        cmd.append("-noservername")
    else:
        cmd += ["-servername", servername]
    if cafile:
        cmd += ["-CAfile", cafile]
    if request is not None:
        cmd.append("-ign_eof")
        if isinstance(request, str):
            request = request.encode()
    cmd += list(args)
    p = subprocess.run(cmd, input=request or b"", capture_output=True, timeout=timeout)
    return SClient(p.returncode, p.stdout.decode("latin-1"), p.stderr.decode("latin-1"))


def http_get(host="a.test", path="/"):
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"


# ---------------------------------------------------------------------------------
# curl


def curl(port, urls, ca, host="a.test", args=(), timeout=20):
    """Runs curl for `urls` (paths, or full URLs) on one command line, so it keeps one
    connection when it can. Returns (returncode, stdout, stderr)."""
    full = [u if "://" in u else f"https://{host}:{port}{u}" for u in urls]
    cmd = ["curl", "-sS", "--max-time", str(timeout - 2), "--cacert", ca,
           "--resolve", f"{host}:{port}:127.0.0.1", *args, *full]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


# ---------------------------------------------------------------------------------
# A client-side TLS context for Python clients


def client_context(ca, alpn=None):
    ctx = ssl.create_default_context(cafile=ca)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(port, ca, server_hostname="a.test", timeout=5.0):
    """A connected, handshaken ssl socket to 127.0.0.1:port."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return client_context(ca).wrap_socket(raw, server_hostname=server_hostname)
    except Exception:
        raw.close()
        raise


def https_get(port, ca, path="/", host="a.test", timeout=5.0):
    """One GET over a new TLS connection (Connection: close); returns (status, head, body)."""
    with tls_connect(port, ca, host, timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ssl.SSLError, ConnectionResetError):
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else None
    return status, head.decode("latin-1"), body


def client_hello(server_hostname="a.test"):
    """The bytes of the first flight of a real TLS client (a ClientHello)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


# ---------------------------------------------------------------------------------
# An HTTPS upstream: upstreams.Upstream behind Python's ssl


class Handshake:
    def __init__(self, conn_id, sni, reused, version):
        self.conn_id = conn_id
        self.sni = sni
        self.reused = reused
        self.version = version

    def __repr__(self):
        return (f"<Handshake conn={self.conn_id} sni={self.sni!r} reused={self.reused} "
                f"{self.version}>")


class TlsUpstream(ups.Upstream):
    """A recording HTTP/1.1 upstream (see upstreams.Upstream) that speaks TLS with
    `cert`/`key`. `handshakes` lists every completed handshake: the SNI the client
    sent (None without), whether the session was resumed, the protocol version.
    `failed_handshakes` counts handshakes that did not complete."""

    def __init__(self, cert, key, handler=None, protocols=None, **kw):
        self.ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_ctx.load_cert_chain(cert, key)
        if protocols:
            self.ssl_ctx.minimum_version, self.ssl_ctx.maximum_version = protocols
        self.handshakes = []
        self.failed_handshakes = 0
        self._sni = {}
        self.ssl_ctx.sni_callback = self._on_sni
        super().__init__(handler or ups.reply(body=b"tls-up"), **kw)

    def _on_sni(self, sock, name, ctx):
        # `sock` is the SSLSocket that wrap_socket() is about to return
        self._sni[id(sock)] = name

    def _accept_loop(self):
        while not self.stop_event.is_set():
            try:
                s, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._handshake_then_serve, args=(s,), daemon=True)
            self.threads.append(t)
            t.start()

    def _handshake_then_serve(self, s):
        s.settimeout(5)
        try:
            tls = self.ssl_ctx.wrap_socket(s, server_side=True)
        except (ssl.SSLError, OSError):
            with self.cond:
                self.failed_handshakes += 1
                self.cond.notify_all()
            s.close()
            return
        with self.cond:
            conn_id = self.connections
            self.connections += 1
            self.open_conns += 1
            self.handshakes.append(Handshake(conn_id, self._sni.pop(id(tls), None),
                                             tls.session_reused, tls.version()))
            self.cond.notify_all()
        tls.settimeout(0.2)
        self._serve(tls, conn_id)

    def wait_failed_handshakes(self, n, timeout=5.0):
        return ups.wait_until(lambda: self.failed_handshakes >= n, timeout)


# ---------------------------------------------------------------------------------
# A plain ws:// upstream (Python websockets, in its own thread and event loop)


class WsEcho:
    """A `websockets` server on 127.0.0.1 (plain ws://); behaviour by path:

    /echo         echoes every message as received (text stays text)
    /greet        sends "greeting" as soon as the connection is open, then echoes
    /bye          closes with 1000 "bye" after the first message
    /push?n=N     sends N binary messages of 64 KiB (pattern bytes), then "end"

    `paths` lists the paths of accepted connections, `closed` (path, code) as they end."""

    def __init__(self):
        import asyncio
        self.asyncio = asyncio
        self.paths = []
        self.closed = []
        self.port = None
        self.error = None
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self.port is None:
            raise RuntimeError(f"websockets upstream did not start: {self.error}")

    def _run(self):
        import websockets
        asyncio = self.asyncio
        asyncio.set_event_loop(self._loop)

        async def main():
            self._stop = asyncio.Event()
            try:
                async with websockets.serve(self._handler, "127.0.0.1", 0, max_size=None,
                                            max_queue=None, compression=None,
                                            ping_interval=None) as server:
                    self.port = server.sockets[0].getsockname()[1]
                    self._ready.set()
                    await self._stop.wait()
            except Exception as e:  # reported by __init__
                self.error = e
                self._ready.set()

        self._loop.run_until_complete(main())

    async def _handler(self, ws):
        path = ws.path
        self.paths.append(path)
        try:
            if path.startswith("/greet"):
                await ws.send("greeting")
            if path.startswith("/push"):
                n = int(path.split("n=")[1])
                block = ups.PATTERN[:64 * 1024]
                for _ in range(n):
                    await ws.send(block)
                await ws.send("end")
            async for msg in ws:
                if path.startswith("/bye"):
                    await ws.close(1000, "bye")
                    break
                await ws.send(msg)
        except Exception:
            pass
        finally:
            self.closed.append((path, ws.close_code))

    def close(self):
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------
# Load: many TLS clients at once, each sending its request right after the handshake


def hammer(port, ca, rounds, clients, timeout=3.0, stop_on_failure=True):
    """Runs `rounds` bursts of `clients` concurrent TLS connections, each sending one GET
    as soon as its handshake is done and waiting up to `timeout` for the response head.
    Returns the number of clients that got no 200 (stops after the first bad burst when
    `stop_on_failure`)."""
    ctx = client_context(ca)
    bad = 0

    def one(out, i):
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            with ctx.wrap_socket(raw, server_hostname="a.test") as s:
                s.settimeout(timeout)
                s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                out[i] = data.startswith(b"HTTP/1.1 200")
        except (OSError, ssl.SSLError):
            out[i] = False

    for _ in range(rounds):
        out = {}
        threads = [threading.Thread(target=one, args=(out, i)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout + 15)
        bad += sum(1 for i in range(clients) if not out.get(i))
        if bad and stop_on_failure:
            break
    return bad


if __name__ == "__main__":
    # python3 tls_helpers.py PORT CAFILE ROUNDS CLIENTS: prints the failed clients
    import sys
    print(hammer(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
