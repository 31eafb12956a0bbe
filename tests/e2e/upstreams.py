"""Upstream servers for the proxy tests, and small helpers shared by test_proxy_*.py.

`Upstream` is an HTTP/1.1 server written on plain sockets and threads. It records every
request it receives (method, URI, version, headers in order, body, connection id, the
request's index on its connection) and answers with a handler chosen by the test:

    handler(req, conn) -> bool   # True keeps the connection open for another request

`conn` writes raw bytes (`conn.send`), or closes (`conn.close`). Handler factories below
cover the usual answers: Content-Length, chunked, close-delimited, slow, huge (streamed
from a deterministic pattern), 1xx before the final answer, broken mid-body, never
answering, raw bytes. Every wait is bounded; `close()` stops everything.
"""

import hashlib
import os
import random
import socket
import threading
import time

import harness

# ---------------------------------------------------------------------------------
# A deterministic body pattern for large transfers: 1 MiB of pseudo-random bytes,
# repeated. Both ends hash what they see; a dropped, duplicated or reordered block
# changes the hash.

PATTERN = random.Random(20240604).randbytes(1 << 20)
MIB = 1 << 20
SEND_TIMEOUT = 30.0  # an upstream blocked writing gives up after this
_md5_cache = {}


def pattern_md5(total):
    """md5 hex digest of the first `total` bytes of the repeated pattern."""
    if total not in _md5_cache:
        h = hashlib.md5()
        left = total
        view = memoryview(PATTERN)
        while left > 0:
            n = min(left, len(PATTERN))
            h.update(view[:n])
            left -= n
        _md5_cache[total] = h.hexdigest()
    return _md5_cache[total]


def send_pattern(sock, total, block=256 * 1024, progress=None, chunked=False, pace=None):
    """Sends `total` pattern bytes on `sock` (as chunks when `chunked`). `progress` is a
    one-element list incremented as bytes are accepted by the kernel; `pace` an optional
    callable(sent) run between blocks (for throttling or gating)."""
    view = memoryview(PATTERN)
    sent = 0
    while sent < total:
        off = sent % len(PATTERN)
        n = min(block, total - sent, len(PATTERN) - off)
        if chunked:
            sock.sendall(b"%x\r\n" % n + bytes(view[off:off + n]) + b"\r\n")
        else:
            sock.sendall(view[off:off + n])
        sent += n
        if progress is not None:
            progress[0] = sent
        if pace is not None:
            pace(sent)
    if chunked:
        sock.sendall(b"0\r\n\r\n")


# ---------------------------------------------------------------------------------
# Recorded requests


class UpRequest:
    """One request as the upstream received it."""

    def __init__(self):
        self.method = ""
        self.uri = ""
        self.version = ""
        self.request_line = ""
        self.headers = []          # [(name, value)] in the order received
        self.body = b""            # the body, when not larger than the store limit
        self.body_len = 0
        self.body_md5 = ""
        self.chunked = False       # the body came with Transfer-Encoding: chunked
        self.chunk_sizes = []
        self.conn_id = -1          # which accepted connection carried it (0, 1, ...)
        self.index = 0             # 1 for the first request on its connection
        self.raw_head = b""
        self.received_at = 0.0

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has(self, name):
        return self.header(name) is not None

    def names(self):
        return [k.lower() for k, _ in self.headers]

    def __repr__(self):
        return f"<UpRequest {self.request_line!r} conn={self.conn_id} headers={self.headers}>"


class Conn:
    """The upstream side of one accepted connection."""

    def __init__(self, server, sock, conn_id):
        self.server = server
        self.sock = sock
        self.id = conn_id
        self.buf = b""
        self.closed = False
        self.requests = 0

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        with self.sending():
            self.sock.sendall(data)

    def sending(self):
        """A context for writes: a long timeout, so back-pressure from ferry is waited
        out (reads use a short one to notice the server stopping)."""
        conn = self

        class _Ctx:
            def __enter__(self):
                conn.sock.settimeout(SEND_TIMEOUT)

            def __exit__(self, *exc):
                try:
                    conn.sock.settimeout(0.2)
                except OSError:
                    pass

        return _Ctx()

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def reset(self):
        """Closes with a RST (SO_LINGER 0)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        self.close()

    def wait_stop(self, timeout=30.0):
        """Blocks until the server stops or the peer closes (for silent upstreams)."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.1)
        while not self.server.stop_event.is_set() and time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                self.buf += chunk
            except socket.timeout:
                continue
            except OSError:
                return

    # ---- reading requests

    def _fill(self):
        if self.server.stop_event.is_set():
            raise ConnectionError("server stopping")
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
                break
            except socket.timeout:
                if self.server.stop_event.is_set():
                    raise ConnectionError("server stopping")
        if not chunk:
            raise ConnectionError("peer closed")
        self.buf += chunk

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_request(self):
        """Reads one request (head and body). Returns an UpRequest, or None on EOF."""
        try:
            while b"\r\n\r\n" not in self.buf:
                self._fill()
        except ConnectionError:
            return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        r = UpRequest()
        r.received_at = time.monotonic()
        r.raw_head = head
        lines = head.decode("latin-1").split("\r\n")
        r.request_line = lines[0]
        parts = lines[0].split(" ")
        r.method, r.uri, r.version = (parts + ["", "", ""])[:3]
        for line in lines[1:]:
            k, _, v = line.partition(":")
            r.headers.append((k, v.strip(" \t")))
        self.requests += 1
        r.conn_id = self.id
        r.index = self.requests
        self.server._started(r)
        try:
            self._read_body(r)
        except ConnectionError:
            r.body_md5 = "incomplete"
            self.server._record(r)
            return None
        self.server._record(r)
        return r

    def _read_body(self, r):
        h = hashlib.md5()
        store = self.server.store_limit
        body = bytearray()

        def got(data):
            h.update(data)
            r.body_len += len(data)
            self.server.body_progress = r.body_len
            if len(body) + len(data) <= store:
                body.extend(data)
            self.server._gate(r.body_len)

        te = (r.header("transfer-encoding") or "").lower()
        if "chunked" in te:
            r.chunked = True
            while True:
                size = int(self._line().split(b";")[0], 16)
                r.chunk_sizes.append(size)
                if size == 0:
                    while self._line() != b"":
                        pass
                    break
                left = size
                while left:
                    if not self.buf:
                        self._fill()
                    piece = self.buf[:left]
                    self.buf = self.buf[len(piece):]
                    left -= len(piece)
                    got(piece)
                if self._take(2) != b"\r\n":
                    raise ConnectionError("bad chunk end")
        elif r.header("content-length") is not None:
            left = int(r.header("content-length"))
            while left:
                if not self.buf:
                    self._fill()
                piece = self.buf[:left]
                self.buf = self.buf[len(piece):]
                left -= len(piece)
                got(piece)
        r.body = bytes(body)
        r.body_md5 = h.hexdigest()


# ---------------------------------------------------------------------------------
# The server


class Upstream:
    """A recording HTTP/1.1 upstream on 127.0.0.1 (or a unix socket).

    handler(req, conn) answers each request and returns True to keep the connection.
    max_requests_per_conn: after that many answered requests the connection is closed
    silently (no Connection: close), as an upstream with a keep-alive limit does.
    idle_close: seconds after which an idle kept-alive connection is closed.
    """

    def __init__(self, handler=None, name="up", unix_path=None, store_limit=8 * MIB,
                 max_requests_per_conn=0, idle_close=None, rcvbuf=None):
        self.handler = handler or reply()
        self.name = name
        self.store_limit = store_limit
        self.max_requests_per_conn = max_requests_per_conn
        self.idle_close = idle_close
        self.rcvbuf = rcvbuf
        self.requests = []          # complete requests, in the order their bodies ended
        self.started = []           # requests whose head arrived
        self.connections = 0        # connections accepted
        self.open_conns = 0
        self.closed_ids = set()     # connections that ended (either side closed)
        self.body_progress = 0      # bytes of the current request body read so far
        self.progress = [0]         # response bytes sent by streaming handlers
        self.gate_at = None         # stop reading a request body after this many bytes...
        self.gate = threading.Event()  # ...until this is set
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.stop_event = threading.Event()
        self.errors = []
        self.threads = []
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            self.port = None
            self.unix_path = unix_path
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if rcvbuf:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.unix_path = None
        self.sock.listen(256)
        self.sock.settimeout(0.1)
        self.accept_thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.accept_thread.start()

    # ---- bookkeeping used by Conn

    def _started(self, r):
        with self.cond:
            self.started.append(r)
            self.cond.notify_all()

    def _record(self, r):
        with self.cond:
            self.requests.append(r)
            self.cond.notify_all()

    def _gate(self, n):
        if self.gate_at is not None and n >= self.gate_at:
            while not self.gate.wait(0.1):
                if self.stop_event.is_set():
                    raise ConnectionError("server stopping")

    # ---- threads

    def _accept_loop(self):
        while not self.stop_event.is_set():
            try:
                s, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.cond:
                conn_id = self.connections
                self.connections += 1
                self.open_conns += 1
                self.cond.notify_all()
            s.settimeout(0.2)
            t = threading.Thread(target=self._serve, args=(s, conn_id), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, s, conn_id):
        conn = Conn(self, s, conn_id)
        try:
            while not self.stop_event.is_set() and not conn.closed:
                if self.idle_close is not None and conn.requests > 0 and not conn.buf:
                    if not self._wait_readable(conn, self.idle_close):
                        break
                r = conn.read_request()
                if r is None:
                    break
                keep = self.handler(r, conn)
                if not keep or conn.closed:
                    break
                if self.max_requests_per_conn and conn.requests >= self.max_requests_per_conn:
                    break
        except (ConnectionError, OSError) as e:
            if not self.stop_event.is_set():
                self.errors.append(repr(e))
        except Exception as e:  # a handler bug must not pass silently
            self.errors.append(repr(e))
            raise
        finally:
            conn.close()
            with self.cond:
                self.open_conns -= 1
                self.closed_ids.add(conn_id)
                self.cond.notify_all()

    def _wait_readable(self, conn, seconds):
        """Waits up to `seconds` for the next request's bytes; False if none came."""
        deadline = time.monotonic() + seconds
        conn.sock.settimeout(0.02)
        try:
            while time.monotonic() < deadline and not self.stop_event.is_set():
                try:
                    chunk = conn.sock.recv(65536, socket.MSG_PEEK)
                    return bool(chunk)
                except socket.timeout:
                    continue
            return False
        finally:
            conn.sock.settimeout(0.2)

    # ---- for tests

    def wait_requests(self, n, timeout=5.0):
        """Waits until `n` complete requests were recorded; returns the list."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"upstream {self.name}: {len(self.requests)} requests, expected {n}")
                self.cond.wait(left)
            return list(self.requests)

    def wait_started(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.started) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"upstream {self.name}: {len(self.started)} request heads, expected {n}")
                self.cond.wait(left)
            return list(self.started)

    def wait_open_conns(self, n, timeout=5.0):
        """Waits until exactly `n` connections are open; returns whether that happened."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.open_conns != n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def wait_closed(self, conn_id, timeout=5.0):
        """Waits until connection `conn_id` ended; returns whether it did."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while conn_id not in self.closed_ids:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def request_for(self, uri, timeout=5.0):
        """The first request (head received) with this URI."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for r in self.started:
                    if r.uri == uri:
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"upstream {self.name}: no request for {uri}")
                self.cond.wait(left)

    @property
    def last(self):
        return self.wait_requests(1)[-1]

    def close(self):
        self.stop_event.set()
        self.gate.set()
        try:
            self.sock.close()
        except OSError:
            pass
        self.accept_thread.join(timeout=2)
        for t in self.threads:
            t.join(timeout=2)
        if self.unix_path:
            try:
                os.unlink(self.unix_path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------
# Handler factories


def _head(status, reason, headers, version="HTTP/1.1"):
    lines = [f"{version} {status} {reason}"]
    for k, v in headers:
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reply(status=200, body=b"ok", headers=(), reason="OK", keep=True, name=None,
          version="HTTP/1.1"):
    """Answers with a Content-Length body. `body` may be a callable(req) -> bytes."""

    def handler(req, conn):
        b = body(req) if callable(body) else body
        hs = list(headers)
        if name:
            hs.append(("X-Upstream", name))
        hs.append(("Content-Length", str(len(b))))
        conn.send(_head(status, reason, hs, version) + (b"" if req.method == "HEAD" else b))
        return keep

    return handler


def named(name):
    """Answers 200 with the server's name as the body (for counting per server)."""
    return reply(body=name.encode(), name=name)


def chunked(chunks, headers=(), trailers=(), status=200, reason="OK", keep=True):
    def handler(req, conn):
        hs = list(headers) + [("Transfer-Encoding", "chunked")]
        out = _head(status, reason, hs)
        for c in chunks:
            out += b"%x\r\n" % len(c) + c + b"\r\n"
        out += b"0\r\n"
        for k, v in trailers:
            out += f"{k}: {v}\r\n".encode()
        out += b"\r\n"
        conn.send(out)
        return keep

    return handler


def close_delimited(body, headers=(), status=200, reason="OK", version="HTTP/1.1"):
    def handler(req, conn):
        conn.send(_head(status, reason, list(headers), version) + body)
        return False

    return handler


def raw(data, keep=False, then_wait=False):
    """Sends exact bytes; closes unless `keep`. `then_wait` keeps the socket open until
    the peer closes or the server stops (a response that never ends)."""

    def handler(req, conn):
        conn.send(data)
        if then_wait:
            conn.wait_stop()
        return keep

    return handler


def silent():
    """Reads the request and never answers."""

    def handler(req, conn):
        conn.wait_stop()
        return False

    return handler


def slow(pieces, delay, headers=(), length=True):
    """Sends the body in `pieces` with `delay` seconds before each (Content-Length
    framing when `length`, else chunked)."""

    def handler(req, conn):
        total = sum(len(p) for p in pieces)
        if length:
            conn.send(_head(200, "OK", list(headers) + [("Content-Length", str(total))]))
        else:
            conn.send(_head(200, "OK", list(headers) + [("Transfer-Encoding", "chunked")]))
        for p in pieces:
            time.sleep(delay)
            conn.send(p if length else b"%x\r\n" % len(p) + p + b"\r\n")
        if not length:
            conn.send(b"0\r\n\r\n")
        return True

    return handler


def stream(total, chunked_body=False, block=256 * 1024, headers=()):
    """Streams `total` pattern bytes; the server's `progress[0]` counts bytes sent."""

    def handler(req, conn):
        conn.server.progress[0] = 0
        hs = list(headers)
        hs.append(("Transfer-Encoding", "chunked") if chunked_body
                  else ("Content-Length", str(total)))
        conn.send(_head(200, "OK", hs))
        with conn.sending():
            send_pattern(conn.sock, total, block=block, progress=conn.server.progress,
                         chunked=chunked_body)
        return True

    return handler


def interim(codes, then):
    """Sends 1xx responses (e.g. 100, 103) before answering with `then`."""

    def handler(req, conn):
        out = b""
        for code in codes:
            hs = [("Link", "</style.css>; rel=preload")] if code == 103 else []
            out += _head(code, {100: "Continue", 102: "Processing", 103: "Early Hints"}.get(code, "Info"), hs)
        conn.send(out)
        return then(req, conn)

    return handler


def broken_midbody(announced, sent, do_reset=False):
    """Announces `announced` bytes with Content-Length, sends `sent` of them, closes."""

    def handler(req, conn):
        conn.send(_head(200, "OK", [("Content-Length", str(announced))]) + b"x" * sent)
        time.sleep(0.05)
        if do_reset:
            conn.reset()
        else:
            conn.close()
        return False

    return handler


def broken_chunked(sent_chunks):
    """Sends some chunks and closes without the last chunk."""

    def handler(req, conn):
        out = _head(200, "OK", [("Transfer-Encoding", "chunked")])
        for c in sent_chunks:
            out += b"%x\r\n" % len(c) + c + b"\r\n"
        conn.send(out)
        time.sleep(0.05)
        conn.close()
        return False

    return handler


def by_path(routes, default=None):
    """Dispatches on the request URI's path prefix: {prefix: handler}."""

    def handler(req, conn):
        for prefix, h in routes.items():
            if req.uri.startswith(prefix):
                return h(req, conn)
        return (default or reply())(req, conn)

    return handler


# ---------------------------------------------------------------------------------
# Unused port and unix socket helpers


def dead_port():
    """A port on 127.0.0.1 where nothing listens (connecting is refused)."""
    return harness.free_port()


# ---------------------------------------------------------------------------------
# Config and client helpers


# Only tests of behaviour nginx 1.22 shares with current nginx are meant to pass under
# NGINX_COMPARE=1.
nginx_compare = harness.nginx_compare


def make_conf(http_body, main_extra="", worker_connections=256):
    """A full ferry config with one worker, the error log at info level, no access log
    (unless `http_body` sets one), and `http_body` inside http {}."""
    nginx_main, nginx_http = harness.nginx_compare_lines()
    return f"""
worker_processes 1;
error_log @prefix@/logs/error.log info;
{nginx_main}{main_extra}
events {{
    worker_connections {worker_connections};
}}

http {{
    access_log off;
{nginx_http}{http_body}
}}
"""


def build_request(method="GET", target="/", headers=(), body=None, version="HTTP/1.1",
                  host="a.test"):
    lines = [f"{method} {target} {version}"]
    hs = list(headers)
    if host is not None and not any(k.lower() == "host" for k, _ in hs):
        lines.append(f"Host: {host}")
    for k, v in hs:
        lines.append(f"{k}: {v}")
    if body is not None and not any(k.lower() in ("content-length", "transfer-encoding")
                                    for k, _ in hs):
        lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if body is not None:
        data += body
    return data


def fetch(port, target="/", method="GET", headers=(), body=None, version="HTTP/1.1",
          host="a.test", timeout=5.0):
    """One request on a new connection; returns a harness.Response (or None)."""
    data = build_request(method, target, headers, body, version, host)
    with harness.RawClient(port, timeout=timeout) as c:
        c.send(data)
        return c.read_response(head_request=method == "HEAD")


def vm_hwm_kib(pid):
    """Peak resident set size of a process (VmHWM), KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def reset_hwm(pid):
    """Resets VmHWM to the current RSS (Linux: write 5 to clear_refs). Returns whether it
    worked."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class StreamingClient:
    """Reads a response head, then its body in bounded pieces, hashing instead of storing.

    Works for Content-Length, chunked and close-delimited bodies; tells whether the body
    ended well-formed."""

    def __init__(self, port, rcvbuf=None, timeout=10.0):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.head = None
        self.status = None
        self.headers = []
        self.received = 0
        self.md5 = hashlib.md5()
        self.complete = False

    def send(self, data):
        self.sock.sendall(data)

    def _recv(self, n=1 << 20):
        chunk = self.sock.recv(n)
        return chunk

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self._recv(65536)
            if not chunk:
                raise AssertionError(f"closed before a response head: {self.buf!r}")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")
        lines = self.head.split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers.append((k.lower(), v.strip()))
        return self.status

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def _take(self, data):
        self.md5.update(data)
        self.received += len(data)

    def read_some(self, limit):
        """Reads (and hashes) up to `limit` body bytes of a Content-Length or
        close-delimited body without waiting for more."""
        if self.buf:
            piece, self.buf = self.buf[:limit], self.buf[limit:]
            self._take(piece)
            return len(piece)
        chunk = self._recv(min(limit, 1 << 20))
        self._take(chunk)
        return len(chunk)

    def read_body(self, deadline_s=60.0):
        """Reads the rest of the body. Returns True if it ended well-formed."""
        deadline = time.monotonic() + deadline_s
        te = (self.header("transfer-encoding") or "").lower()
        if "chunked" in te:
            return self._read_chunked(deadline)
        cl = self.header("content-length")
        if cl is not None:
            total = int(cl)
            if self.buf:
                self._take(self.buf)
                self.buf = b""
            while self.received < total:
                if time.monotonic() > deadline:
                    raise AssertionError("body read deadline")
                try:
                    chunk = self._recv(min(1 << 20, total - self.received))
                except (ConnectionResetError, socket.timeout):
                    return False
                if not chunk:
                    return False
                self._take(chunk)
            self.complete = True
            return True
        if self.buf:
            self._take(self.buf)
            self.buf = b""
        while True:
            if time.monotonic() > deadline:
                raise AssertionError("body read deadline")
            try:
                chunk = self._recv()
            except ConnectionResetError:
                return False
            if not chunk:
                self.complete = True
                return True
            self._take(chunk)

    def _fill(self):
        chunk = self._recv()
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def _read_chunked(self, deadline):
        try:
            while True:
                if time.monotonic() > deadline:
                    raise AssertionError("body read deadline")
                while b"\r\n" not in self.buf:
                    self._fill()
                line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while True:
                        while b"\r\n" not in self.buf:
                            self._fill()
                        line, self.buf = self.buf.split(b"\r\n", 1)
                        if line == b"":
                            self.complete = True
                            return True
                left = size
                while left:
                    if not self.buf:
                        self._fill()
                    piece = self.buf[:left]
                    self.buf = self.buf[len(piece):]
                    left -= len(piece)
                    self._take(piece)
                while len(self.buf) < 2:
                    self._fill()
                if self.buf[:2] != b"\r\n":
                    return False
                self.buf = self.buf[2:]
        except (ConnectionError, socket.timeout, ValueError):
            return False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wait_until(predicate, timeout=5.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# ---------------------------------------------------------------------------------
# A ferry fixture that survives a hung ferry


def note_hang(ferry):
    """Marks that the test saw ferry stop answering (a known, reported failure): the
    teardown then kills it quietly instead of failing a second time."""
    ferry.hang_seen = True


def stop_guarded(f, timeout=5.0):
    """Stops ferry; kills it if it does not stop. Returns an error text or None."""
    import signal as _signal
    if f.proc.poll() is None:
        f.proc.send_signal(_signal.SIGTERM)
        if f.wait(timeout) is None:
            f.proc.kill()
            f.wait(5)
            f.dir.cleanup()
            if getattr(f, "hang_seen", False):
                return None
            return "ferry did not stop within %.0fs of SIGTERM" % timeout
    try:
        f.close()
    except AssertionError as e:
        return str(e)
    return None


try:
    import pytest as _pytest

    @_pytest.fixture
    def proxy_ferry():
        """proxy_ferry(conf, ports={...}) -> harness.Ferry; like start_ferry, but a
        ferry that hangs is killed after 5 s (quietly when the test noted the hang)."""
        started = []

        def start(conf, **kw):
            f = harness.Ferry(conf, **kw)
            started.append(f)
            return f

        yield start
        errors = [e for e in (stop_guarded(f) for f in started) if e]
        if errors:
            _pytest.fail("\n".join(errors))
except ImportError:  # pragma: no cover
    pass
