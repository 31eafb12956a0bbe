"""Helpers for the HTTP/1.1 server-core tests (tests/e2e/test_server_*.py).

- `conf(http_body, ...)`: a whole config around an http{} body (one worker, error log at
  info level in the prefix, access log off unless the body says otherwise).
- `Client`: one raw connection whose every read has a deadline; it records whether and
  when the server closed (EOF or reset) and keeps unparsed bytes.
- `get(port, target, ...)`: one request on a fresh connection, returns a `Reply`.
- `start_server` (a fixture; import it into a test module) and `module_server()` (for
  module-scoped fixtures): start ferry, or /usr/sbin/nginx (1.22) when NGINX_COMPARE=1,
  so that expectations can be checked against nginx itself. `ferry_only()` skips a
  test in that mode; `ferry_bug(reason)` marks a known deviation of ferry's as
  xfail(strict) (not applied to nginx).
- `big_location()`/`big_ports()`: a location answering 16 MiB, for clients that do
  not read; `stop_or_kill()` for servers a test may leave stuck.
"""

import os
import socket
import time

import pytest

import harness

NGINX_BIN = os.environ.get("NGINX_BINARY", "/usr/sbin/nginx")


compare_mode = harness.nginx_compare  # the tests run against the local nginx instead


def ferry_only(reason="ferry-specific behaviour"):
    if compare_mode():
        pytest.skip(reason)


def product():
    return "nginx" if compare_mode() else "ferry"


def conf(http_body, main="", events="worker_connections 256;", workers=1,
         error_log="error_log @prefix@/logs/error.log info;", access_log="access_log off;"):
    """A full config: `main` directives, `events`, and `http_body` inside http{}."""
    nginx_main, nginx_http = harness.nginx_compare_lines(pid="pid " not in main)
    return f"""
worker_processes {workers};
{error_log}
{nginx_main}{main}
events {{
    {events}
}}

http {{
    {access_log}
{nginx_http}
{http_body}
}}
"""


def starter():
    """A fixture body: yields start(conf_text, ports={...}, **kw) -> harness.Ferry (or
    nginx in compare mode); every process started is stopped and checked at the end."""
    started = []

    def start(text, **kw):
        if compare_mode():
            saved = os.environ.get("FERRY_BINARY")
            os.environ["FERRY_BINARY"] = NGINX_BIN
            try:
                f = harness.Ferry(text, **kw)
            finally:
                if saved is None:
                    del os.environ["FERRY_BINARY"]
                else:
                    os.environ["FERRY_BINARY"] = saved
        else:
            f = harness.Ferry(text, **kw)
        started.append(f)
        return f

    return start, started


def close_all(started):
    errors = []
    for f in started:
        try:
            f.close()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors))


def one_server(start, http_body, **kw):
    """Starts a server on a fresh port (@port@) and returns (process, port)."""
    port = harness.free_port()
    ports = {"port": port, **kw.pop("ports", {})}  # harness waits on the first one
    proc = start(conf(http_body, **kw), ports=ports)
    return proc, port


# ---------------------------------------------------------------------------------
# A raw client whose reads are all bounded.

class Reply:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] as sent
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def connection(self):
        return (self.header("Connection") or "").lower()

    def __repr__(self):
        return f"Reply({self.status} {self.reason!r} {self.headers!r} body={self.body[:80]!r})"


class Client:
    """A connection that records every byte the server sends and whether it closed."""

    def __init__(self, port, timeout=5.0, rcvbuf=None, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()  # appends are amortised O(1) even for large bodies
        self.closed = False
        self.reset = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.closed = self.reset = True
            return False

    def recv_once(self, deadline):
        if self.closed:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            self.closed = self.reset = True
            return False
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def read_reply(self, timeout=3.0, head=False):
        """The next response, or None if none arrived in time or the server closed."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self.recv_once(deadline):
                return None
        head_bytes, rest = self.buf.split(b"\r\n\r\n", 1)
        head_bytes = bytes(head_bytes)
        lines = head_bytes.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise AssertionError(f"not a status line: {lines[0]!r}")
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k, v.strip()))
        self.buf = rest
        status = int(parts[1])
        lower = {k.lower(): v for k, v in headers}
        body = b""
        if head or status in (204, 304) or 100 <= status < 200:
            pass
        elif "chunked" in lower.get("transfer-encoding", "").lower():
            body = self._read_chunked(deadline)
        elif "content-length" in lower:
            n = int(lower["content-length"])
            while len(self.buf) < n and self.recv_once(deadline):
                pass
            assert len(self.buf) >= n, f"body cut short: {len(self.buf)} of {n} bytes"
            body, self.buf = bytes(self.buf[:n]), self.buf[n:]
        else:
            while self.recv_once(deadline):
                pass
            body, self.buf = bytes(self.buf), bytearray()
        return Reply(parts[0], status, parts[2] if len(parts) > 2 else "", headers, body,
                     head_bytes)

    def _read_chunked(self, deadline):
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                if not self.recv_once(deadline):
                    return body
            line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while b"\r\n\r\n" not in b"\r\n" + self.buf:
                    if not self.recv_once(deadline):
                        return body
                self.buf = bytearray((b"\r\n" + self.buf).split(b"\r\n\r\n", 1)[1])
                return body
            while len(self.buf) < size + 2:
                if not self.recv_once(deadline):
                    return body
            body += bytes(self.buf[:size])
            self.buf = self.buf[size + 2:]

    def expect(self, status=200, body=None, timeout=3.0, head=False):
        r = self.read_reply(timeout=timeout, head=head)
        assert r is not None, (f"no response (want {status}); closed={self.closed} "
                               f"unparsed={self.buf[:200]!r}")
        assert r.status == status, f"status {r.status}, want {status}: {r!r}"
        if body is not None:
            assert r.body == body, f"body {r.body!r}, want {body!r}"
        return r

    def wait_closed(self, timeout=3.0):
        """True if the server closes within `timeout` (bytes meanwhile stay in buf)."""
        deadline = time.monotonic() + timeout
        while not self.closed and self.recv_once(deadline):
            pass
        return self.closed

    def read_all(self, timeout=3.0):
        deadline = time.monotonic() + timeout
        while self.recv_once(deadline):
            pass
        data, self.buf = bytes(self.buf), bytearray()
        return data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def req(target="/", host="a.test", method="GET", headers=(), body=b"", version="1.1"):
    """Request bytes; `headers` are (name, value) pairs or preformatted lines."""
    lines = [f"{method} {target} HTTP/{version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    for h in headers:
        lines.append(h if isinstance(h, str) else f"{h[0]}: {h[1]}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return data + (body.encode() if isinstance(body, str) else body)


def get(port, target="/", host="a.test", timeout=3.0, **kw):
    """One request on a new connection; the Reply (fails if none arrives)."""
    with Client(port, timeout=timeout) as c:
        c.send(req(target, host=host, **kw))
        r = c.read_reply(timeout=timeout, head=kw.get("method") == "HEAD")
        assert r is not None, f"no response; closed={c.closed} unparsed={c.buf[:200]!r}"
        return r


def wait_until(predicate, timeout=5.0, step=0.05):
    """Polls `predicate` until true or `timeout`; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def settled_fds(proc, timeout=3.0):
    """The descriptor count once it stopped changing for 0.2s."""
    deadline = time.monotonic() + timeout
    last = proc.fds()
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = proc.fds()
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= 0.2:
            break
    return last


@pytest.fixture
def start_server():
    """start_server(conf_text, ports={...}) -> harness.Ferry (nginx when NGINX_COMPARE=1),
    stopped at the end of the test; a non-zero exit or a sanitizer report fails it."""
    start, started = starter()
    yield start
    close_all(started)


def module_server(http_body, **kw):
    """A generator for a module-scoped fixture: yields (process, port)."""
    start, started = starter()
    try:
        yield one_server(start, http_body, **kw)
    finally:
        close_all(started)


def ferry_bug(reason):
    """xfail(strict) for a known ferry deviation from nginx; nginx itself (compare mode)
    must pass the test, so the mark does not apply there."""
    return pytest.mark.xfail(not compare_mode(), strict=True, reason="ferry bug: " + reason)


def stop_or_kill(proc, timeout=3.0):
    """Stops `proc` with SIGTERM; one that is stuck (a busy worker ignoring the signal)
    is SIGKILLed after `timeout` and excused from the clean-exit check, so that the test
    that wedged it fails on its own assertion instead of a 10s teardown error."""
    if proc.proc.poll() is not None:
        return
    proc.proc.send_signal(15)
    if proc.wait(timeout) is None:
        proc.expect_clean_exit = False
        proc.proc.kill()
        proc.wait(5.0)


# A location body answering 16 MiB (more than loopback socket buffers hold), built in
# steps because nginx limits one parameter to 4 KiB. Use big_location() in the config
# and pass big_ports() to the server's ports.
BIG_BLOCK = "x" * 2048
BIG_SIZE = len(BIG_BLOCK) * 32 * 16 * 16


def big_location(path="/big", extra=""):
    return f"""
        location = {path} {{
            {extra}
            set $b1 "@big_block@";
            set $b2 "@big_x32@";
            set $b3 "@big_x16_2@";
            return 200 "@big_x16_3@";
        }}"""


def big_ports():
    return {"big_block": BIG_BLOCK, "big_x32": "$b1" * 32, "big_x16_2": "$b2" * 16,
            "big_x16_3": "$b3" * 16}
