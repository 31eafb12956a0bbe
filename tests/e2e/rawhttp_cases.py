"""Raw-socket helpers and the bad-input case table for test_bad_input.py.

The table says what nginx 1.31 answers to malformed and hostile HTTP/1.x requests
(status, whether the connection is closed afterwards, whether a request pipelined
behind it is answered). The reference write-up is /tmp/bad-input-table.md (the
lead's notes); every row here was checked against nginx's source (1.31.5) and, unless
marked `differs`, live against Debian's nginx 1.22.1.

Set NGINX_COMPARE=1 to run the same table against /usr/sbin/nginx instead of ferry
(rows whose behaviour changed between 1.22 and 1.31 are skipped in that mode). That mode
keeps the table honest: a row that nginx itself fails is a wrong row.
"""

import os
import re
import socket
import sys
import time


import harness  # noqa: E402

NGINX_BIN = os.environ.get("NGINX_BINARY", "/usr/sbin/nginx")


def compare_mode():
    """True when the suite runs against the local nginx instead of ferry."""
    return os.environ.get("NGINX_COMPARE", "") not in ("", "0")


# ---------------------------------------------------------------------------------
# Server start-up: the same config text serves ferry and (in compare mode) nginx.

# Directives only nginx needs to run unprivileged in a temporary prefix; ferry does
# not get them (it has no master process and no temp files).
_NGINX_MAIN_EXTRA = """
daemon off;
master_process off;
pid @prefix@/logs/nginx.pid;
"""

_NGINX_HTTP_EXTRA = """
    client_body_temp_path @prefix@/client_body;
    proxy_temp_path @prefix@/proxy;
    fastcgi_temp_path @prefix@/fastcgi;
    uwsgi_temp_path @prefix@/uwsgi;
    scgi_temp_path @prefix@/scgi;
"""


def make_conf(http_body, main_extra=""):
    """A full config: error log at info level, one worker, `http_body` inside http{}.

    `http_body` may use @port@ and @prefix@ placeholders (filled by harness.Ferry).
    """
    nginx_main = _NGINX_MAIN_EXTRA if compare_mode() else ""
    nginx_http = _NGINX_HTTP_EXTRA if compare_mode() else ""
    return f"""
worker_processes 1;
error_log @prefix@/logs/error.log info;
{nginx_main}{main_extra}
events {{
    worker_connections 64;
}}

http {{
    access_log off;
{nginx_http}
{http_body}
}}
"""


def start_server(conf, ports):
    """Starts ferry (or nginx in compare mode) with `conf`; returns a harness.Ferry."""
    if not compare_mode():
        return harness.Ferry(conf, ports=ports)
    # harness.Ferry runs ferry_binary() (FERRY_BINARY or build/ferry) with
    # "-p PREFIX/ -c CONF -e ERRLOG", which nginx accepts as well; with daemon off and
    # master_process off the started process is the one serving, so fds() holds.
    saved = os.environ.get("FERRY_BINARY")
    os.environ["FERRY_BINARY"] = NGINX_BIN
    try:
        return harness.Ferry(conf, ports=ports)
    finally:
        if saved is None:
            del os.environ["FERRY_BINARY"]
        else:
            os.environ["FERRY_BINARY"] = saved


def server_name():
    """The token in the error page tail: "nginx" or "ferry"."""
    return "nginx" if compare_mode() else "ferry"


# ---------------------------------------------------------------------------------
# Reading responses off a socket, bounded in time, tolerant of resets.

class Reply:
    """One parsed response (or an HTTP/0.9 bare body when `status` is None)."""

    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def __repr__(self):
        return f"Reply({self.status} {self.reason!r} {self.headers!r} body={self.body[:60]!r})"


class Conversation:
    """A client connection that records every byte the server sends and when it closed.

    All reads are bounded by deadlines; a reset from the server counts as a close.
    """

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.closed = False  # the server closed (EOF) or reset the connection
        self.reset = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True
            self.reset = True
            return False

    def _recv(self, deadline):
        """Reads once before `deadline`; False on timeout or close."""
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
            self.closed = True
            self.reset = True
            return False
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def read_reply(self, timeout=3.0, head=False):
        """Parses the next response; None if none arrived in time or the peer closed."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._recv(deadline):
                break
        if b"\r\n\r\n" not in self.buf:
            return None
        head_bytes, rest = self.buf.split(b"\r\n\r\n", 1)
        lines = head_bytes.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            return None
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k, v.strip()))
        self.buf = rest
        lower = {k.lower(): v for k, v in headers}
        body = b""
        if head or status in (204, 304) or 100 <= status < 200:
            pass
        elif "chunked" in lower.get("transfer-encoding", "").lower():
            body = self._read_chunked(deadline)
        elif "content-length" in lower:
            n = int(lower["content-length"])
            while len(self.buf) < n and self._recv(deadline):
                pass
            body, self.buf = self.buf[:n], self.buf[n:]
        else:
            while self._recv(deadline):
                pass
            body, self.buf = self.buf, b""
        return Reply(version, status, reason, headers, body, head_bytes)

    def _read_chunked(self, deadline):
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                if not self._recv(deadline):
                    return body
            line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while b"\r\n\r\n" not in b"\r\n" + self.buf:
                    if not self._recv(deadline):
                        return body
                self.buf = (b"\r\n" + self.buf).split(b"\r\n\r\n", 1)[1]
                return body
            while len(self.buf) < size + 2:
                if not self._recv(deadline):
                    return body
            body += self.buf[:size]
            self.buf = self.buf[size + 2:]

    def read_all(self, timeout=3.0):
        """Reads raw bytes until the peer closes or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while self._recv(deadline):
            pass
        data, self.buf = self.buf, b""
        return data

    def wait_closed(self, timeout=3.0):
        """True if the server closes within `timeout`; bytes that arrive meanwhile
        stay in self.buf (a server that closes must not send anything more)."""
        deadline = time.monotonic() + timeout
        while not self.closed and self._recv(deadline):
            pass
        return self.closed

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------
# Configs.

# The main table's config: a default server a.test answering "ok", a second server
# b.test answering "b" (to see which server a request was routed to), and /after on both
# (the request pipelined behind each case, so its answer is recognisable).
MAIN_HTTP = """
    client_header_timeout 2s;
    client_body_timeout 2s;
    keepalive_timeout 10s;
    large_client_header_buffers 4 1k;
    client_max_body_size 100;

    server {
        listen 127.0.0.1:@port@;
        server_name a.test;
        location / { return 200 "ok\\n"; }
        location = /after { return 200 "after\\n"; }
    }

    server {
        listen 127.0.0.1:@port@;
        server_name b.test;
        location / { return 200 "b\\n"; }
        location = /after { return 200 "after\\n"; }
    }
"""

# Default header buffers (4 8k), so 1001 short headers fit and only max_headers trips.
DEFAULT_LIMITS_HTTP = """
    client_header_timeout 2s;
    keepalive_timeout 10s;

    server {
        listen 127.0.0.1:@port@;
        server_name a.test;
        location / { return 200 "ok\\n"; }
        location = /after { return 200 "after\\n"; }
    }
"""

# Short timeouts for the slow-client tests.
TIMEOUTS_HTTP = """
    client_header_timeout 1s;
    client_body_timeout 1s;
    keepalive_timeout 1s;
    keepalive_requests 3;
    client_max_body_size 100;

    server {
        listen 127.0.0.1:@port@;
        server_name a.test;
        location / { return 200 "ok\\n"; }
        location /ka0 { keepalive_timeout 0; return 200 "ka0\\n"; }
    }
"""

# lingering_timeout bounds how long nginx keeps discarding a body nobody will read.
LINGERING_HTTP = """
    client_header_timeout 1s;
    client_body_timeout 1s;
    keepalive_timeout 10s;
    lingering_timeout 1s;
    client_max_body_size 100;

    server {
        listen 127.0.0.1:@port@;
        server_name a.test;
        location / { return 200 "ok\\n"; }
    }
"""


# ---------------------------------------------------------------------------------
# Error pages.

REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    405: "Not Allowed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Large",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}

HEADER_TOO_LARGE = "Request Header Or Cookie Too Large"


def error_page_problem(reply, page=None):
    """None if `reply` is nginx's default error page for its status, else what is wrong.

    `page` is HEADER_TOO_LARGE for nginx's 494 page (sent as 400 with its own title).
    The server token in the tail may carry a version ("nginx/1.31.5", "ferry/0.1").
    """
    code = reply.status
    reason = REASONS[code]
    title = f"{code} {page}" if page else f"{code} {reason}"
    extra = f"<center>{page}</center>\r\n" if page else ""
    pattern = (
        "<html>\r\n"
        f"<head><title>{re.escape(title)}</title></head>\r\n"
        "<body>\r\n"
        f"<center><h1>{re.escape(f'{code} {reason}')}</h1></center>\r\n"
        f"{re.escape(extra)}"
        f"<hr><center>{server_name()}(/[0-9A-Za-z.+-]+)?</center>\r\n"
        "</body>\r\n"
        "</html>\r\n")
    body = reply.body.decode("latin-1")
    if not re.fullmatch(pattern, body):
        return f"body is not the default {title!r} page: {body!r}"
    if (reply.header("Content-Type") or "").split(";")[0].strip() != "text/html":
        return f"Content-Type is {reply.header('Content-Type')!r}, want text/html"
    return None


# ---------------------------------------------------------------------------------
# The table.

A = b"Host: a.test\r\n"
AFTER = b"GET /after HTTP/1.1\r\nHost: a.test\r\n\r\n"
AFTER_BODY = b"after\n"


def req(line=b"GET / HTTP/1.1", headers=A, body=b""):
    """A request: request line, header block (CRLF-terminated lines), blank line, body."""
    return line + b"\r\n" + headers + b"\r\n" + body


def post(headers, body=b""):
    return req(b"POST / HTTP/1.1", A + headers, body)


def get_with(headers):
    return req(b"GET / HTTP/1.1", A + headers)


def host(value, line=b"GET / HTTP/1.1"):
    return req(line, b"Host: " + value + b"\r\n")


class Case:
    """One row: exact bytes in, what nginx 1.31 answers.

    statuses  the responses expected in order (100 for an interim 100 Continue).
    close     True: the last response says "Connection: close", the server closes and the
              request pipelined behind the case (AFTER) is not answered. False: it says
              "Connection: keep-alive" and AFTER is answered on the same connection.
    body      expected body of the last response (None: not checked; error pages are
              always checked against nginx's default page).
    page      HEADER_TOO_LARGE for nginx's "Request Header Or Cookie Too Large" page.
    optional_100  nginx sends a 100 Continue first, but a server may skip it here (the
              body is already there, or there is none): accepted either way.
    raw       HTTP/0.9: the exact bytes expected before the close (no status line).
    differs   why nginx 1.22 answers differently (the row is skipped in compare mode).
    """

    def __init__(self, name, data, statuses=(200,), close=False, body=None, page=None,
                 optional_100=False, raw=None, differs=None, log=None):
        self.name = name
        self.data = data
        self.statuses = tuple(statuses) if isinstance(statuses, (tuple, list)) else (statuses,)
        self.close = close
        self.body = body
        self.page = page
        self.optional_100 = optional_100
        self.raw = raw
        self.differs = differs
        self.log = log  # nginx's error_log message, for the reader (not asserted)

    @property
    def head(self):
        return self.data.startswith(b"HEAD ")

    def __repr__(self):
        return self.name


def bad(name, data, status=400, log=None, **kw):
    """A request nginx rejects and then closes the connection."""
    return Case(name, data, statuses=(status,), close=True, log=log, **kw)


def ok(name, data, body=b"ok\n", **kw):
    """A request nginx answers with 200 and keeps the connection alive."""
    return Case(name, data, statuses=(200,), close=False, body=body, **kw)


R122_HOST = "1.22 accepts this Host; 1.31 validates RFC 3986 host syntax (1.29.4)"
R122_CHUNK_LF = "1.22 accepts bare LF in chunked framing; 1.31 rejects it (1.29.4)"
R122_CONNECT = "CONNECT parsing changed in 1.29.3 (authority-form)"

CL_TE = 'client sent "Content-Length" and "Transfer-Encoding" headers at the same time'
DUP = "client sent duplicate header line"
BAD_CL = 'client sent invalid "Content-Length" header'
UNKNOWN_TE = 'client sent unknown "Transfer-Encoding"'
BAD_CHUNK = "client sent invalid chunked body"
BAD_LINE = "client sent invalid header line"
BAD_HOST = "client sent invalid host header"
BAD_REQ = "client sent invalid request"
BAD_METHOD = "client sent invalid method"
TOO_LONG = "client sent too long header line"

FRAMING = [
    bad("CL then TE chunked", post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"), log=CL_TE),
    bad("TE chunked then CL", post(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n"), log=CL_TE),
    bad("duplicate CL same value", post(b"Content-Length: 3\r\nContent-Length: 3\r\n", b"abc"), log=DUP),
    bad("duplicate CL different values", post(b"Content-Length: 3\r\nContent-Length: 4\r\n", b"abcd"), log=DUP),
    bad("CL list", post(b"Content-Length: 3, 3\r\n", b"abc"), log=BAD_CL),
    bad("CL letters", post(b"Content-Length: abc\r\n"), log=BAD_CL),
    bad("CL negative", post(b"Content-Length: -1\r\n"), log=BAD_CL),
    bad("CL plus sign", post(b"Content-Length: +3\r\n", b"abc"), log=BAD_CL),
    bad("CL hex", post(b"Content-Length: 0x3\r\n", b"abc"), log=BAD_CL),
    bad("CL space inside", post(b"Content-Length: 1 2\r\n", b"abcdefghijkl"), log=BAD_CL),
    bad("CL trailing tab", post(b"Content-Length: 3\t\r\n", b"abc"), log=BAD_CL),
    bad("CL empty", post(b"Content-Length:\r\n"), log=BAD_CL),
    bad("CL overflow", post(b"Content-Length: 99999999999999999999\r\n"), log=BAD_CL),
    ok("CL surrounded by spaces", post(b"Content-Length:   3   \r\n", b"abc")),
    ok("CL leading zeros", post(b"Content-Length: 0003\r\n", b"abc")),
    ok("CL zero", post(b"Content-Length: 0\r\n")),
    bad("TE gzip", post(b"Transfer-Encoding: gzip\r\n"), 501, log=UNKNOWN_TE),
    bad("TE gzip, chunked", post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"), 501, log=UNKNOWN_TE),
    bad("TE chunked, gzip", post(b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n"), 501, log=UNKNOWN_TE),
    bad("TE identity", post(b"Transfer-Encoding: identity\r\n"), 501, log=UNKNOWN_TE),
    bad("TE xchunked", post(b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n"), 501, log=UNKNOWN_TE),
    bad("TE chunked with trailing tab", post(b"Transfer-Encoding: chunked\t\r\n", b"0\r\n\r\n"), 501, log=UNKNOWN_TE),
    bad("TE tab before chunked", post(b"Transfer-Encoding:\tchunked\r\n", b"0\r\n\r\n"), 501, log=UNKNOWN_TE),
    bad("TE gzip with CL", post(b"Transfer-Encoding: gzip\r\nContent-Length: 3\r\n", b"abc"), 501, log=UNKNOWN_TE),
    ok("TE CHUNKED uppercase", post(b"Transfer-Encoding: CHUNKED\r\n", b"0\r\n\r\n")),
    bad("TE twice", post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"), log=DUP),
    bad("TE twice different name case", post(b"Transfer-Encoding: chunked\r\ntransfer-encoding: x\r\n", b"0\r\n\r\n"), log=DUP),
    bad("TE chunked on HTTP/1.0", req(b"POST / HTTP/1.0", A + b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
        log='client sent HTTP/1.0 request with "Transfer-Encoding" header'),
    bad("TE gzip on HTTP/1.0", req(b"POST / HTTP/1.0", A + b"Transfer-Encoding: gzip\r\n"),
        log='client sent HTTP/1.0 request with "Transfer-Encoding" header'),
    ok("Transfer_Encoding with underscore is ignored", post(b"Transfer_Encoding: chunked\r\n"),
       log=BAD_LINE),
    ok("Content_Length with underscore is ignored (next bytes are a request)",
       post(b"Content_Length: %d\r\n" % len(AFTER)), log=BAD_LINE),
    ok("chunked body", post(b"Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\n\r\n")),
    ok("chunked body with extension and trailer",
       post(b"Transfer-Encoding: chunked\r\n", b"3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n")),
    ok("chunked body on GET", req(b"GET / HTTP/1.1", A + b"Transfer-Encoding: chunked\r\n",
                                  b"5\r\nhello\r\n0\r\n\r\n")),
    bad("chunk size not hex", post(b"Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n"), log=BAD_CHUNK),
    bad("chunk size negative", post(b"Transfer-Encoding: chunked\r\n", b"-1\r\nabc\r\n0\r\n\r\n"), log=BAD_CHUNK),
    bad("chunk size 0x prefix", post(b"Transfer-Encoding: chunked\r\n", b"0x3\r\nabc\r\n0\r\n\r\n"), log=BAD_CHUNK),
    bad("chunk size overflow", post(b"Transfer-Encoding: chunked\r\n", b"fffffffffffffffff1\r\nabc\r\n0\r\n\r\n"), log=BAD_CHUNK),
    bad("chunk size 2^63-1", post(b"Transfer-Encoding: chunked\r\n", b"7fffffffffffffff\r\nabc\r\n0\r\n\r\n"), log=BAD_CHUNK),
    bad("chunk data longer than size", post(b"Transfer-Encoding: chunked\r\n", b"3\r\nabcd\r\n0\r\n\r\n"), log=BAD_CHUNK),
    bad("chunked with bare LF", post(b"Transfer-Encoding: chunked\r\n", b"3\nabc\n0\n\n"), log=BAD_CHUNK,
        differs=R122_CHUNK_LF),
    bad("last chunk ended by bare LF", post(b"Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\n\n"), log=BAD_CHUNK,
        differs=R122_CHUNK_LF),
    bad("CL larger than client_max_body_size, body sent", post(b"Content-Length: 200\r\n", b"x" * 200), 413,
        log="client intended to send too large body: 200 bytes"),
    ok("CL equal to client_max_body_size", post(b"Content-Length: 100\r\n", b"x" * 100)),
    ok("chunked body over client_max_body_size is discarded by return",
       post(b"Transfer-Encoding: chunked\r\n", b"c8\r\n" + b"x" * 200 + b"\r\n0\r\n\r\n")),
    ok("GET with a Content-Length body", req(b"GET / HTTP/1.1", A + b"Content-Length: 5\r\n", b"hello")),
    ok("stray CRLF after a body", post(b"Content-Length: 3\r\n", b"abc\r\n")),
]

HEADER_SYNTAX = [
    bad("obs-fold continuation with space", get_with(b"X-A: 1\r\n  folded\r\n"), log=BAD_LINE),
    bad("obs-fold continuation with tab", get_with(b"X-A: 1\r\n\tfolded\r\n"), log=BAD_LINE),
    bad("folded first header line", req(b"GET / HTTP/1.1", b" Host: a.test\r\n"), log=BAD_LINE),
    bad("bare CR inside a value", get_with(b"X-A: a\rb\r\n"), log=BAD_LINE),
    bad("bare CR inside a name", get_with(b"X\rA: b\r\n"), log=BAD_LINE),
    bad("bare CR as header line end", req(b"GET / HTTP/1.1", b"Host: a.test\rX-A: b\r\n"), log=BAD_LINE),
    bad("bare CR as request line end", b"GET / HTTP/1.1\rHost: a.test\r\n\r\n", log=BAD_REQ),
    ok("extra CR before CRLF is tolerated", get_with(b"X-A: ab\r\r\n")),
    ok("bare LF line ends", b"GET / HTTP/1.1\nHost: a.test\nX-A: b\n\n"),
    ok("bare LF in headers only", b"GET / HTTP/1.1\r\nHost: a.test\nX-A: b\n\r\n"),
    bad("NUL inside a value", get_with(b"X-A: a\x00b\r\n"), log=BAD_LINE),
    bad("NUL starting a value", get_with(b"X-A: \x00b\r\n"), log=BAD_LINE),
    bad("NUL inside a name", get_with(b"X\x00A: b\r\n"), log=BAD_LINE),
    bad("SOH inside a name", get_with(b"X\x01A: b\r\n"), log=BAD_LINE),
    bad("DEL inside a name", get_with(b"X\x7fA: b\r\n"), log=BAD_LINE),
    bad("space inside a name", get_with(b"X A: b\r\n"), log=BAD_LINE),
    bad("space before colon", get_with(b"X-A : b\r\n"), log=BAD_LINE),
    bad("tab before colon", get_with(b"X-A\t: b\r\n"), log=BAD_LINE),
    bad("space before colon in Host", req(b"GET / HTTP/1.1", b"Host : a.test\r\n"), log=BAD_LINE),
    bad("space before colon in Content-Length", post(b"Content-Length : 3\r\n", b"abc"), log=BAD_LINE),
    bad("empty header name", get_with(b": b\r\n"), log=BAD_LINE),
    bad("line without colon but with a space", get_with(b"X-A b\r\n"), log=BAD_LINE),
    ok("SOH in a value passes", get_with(b"X-A: a\x01b\r\n")),
    ok("ESC in a value passes", get_with(b"X-A: a\x1bb\r\n")),
    ok("DEL in a value passes", get_with(b"X-A: a\x7fb\r\n")),
    ok("tab in a value passes", get_with(b"X-A: a\tb\r\n")),
    ok("bytes >= 0x80 in a value pass", get_with(b"X-A: a\xff\xfeb\r\n")),
    ok("line without colon is a header with an empty value", get_with(b"X-A\r\n")),
    ok("empty value", get_with(b"X-A:\r\n")),
    ok("underscore in a name is ignored", get_with(b"X_A: b\r\n"), log=BAD_LINE),
    ok("@ in a name is ignored", get_with(b"X@A: b\r\n"), log=BAD_LINE),
    ok("parentheses in a name are ignored", get_with(b"X(A): b\r\n"), log=BAD_LINE),
    ok("dot in a name is ignored", get_with(b"X.A: b\r\n"), log=BAD_LINE),
    ok("UTF-8 in a name is ignored", get_with(b"X\xc3\xa9: b\r\n"), log=BAD_LINE),
    ok("header line that fits a large buffer", get_with(b"X-A: " + b"a" * 900 + b"\r\n")),
    bad("header line longer than a large buffer", get_with(b"X-A: " + b"a" * 1100 + b"\r\n"),
        page=HEADER_TOO_LARGE, log=TOO_LONG),
    bad("Cookie longer than a large buffer", get_with(b"Cookie: " + b"a" * 1100 + b"\r\n"),
        page=HEADER_TOO_LARGE, log=TOO_LONG),
    ok("headers filling three large buffers",
       get_with(b"".join(b"X-%d: " % i + b"a" * 900 + b"\r\n" for i in range(3)))),
    bad("headers needing more large buffers than configured",
        get_with(b"".join(b"X-%d: " % i + b"a" * 900 + b"\r\n" for i in range(6))),
        page=HEADER_TOO_LARGE, log=TOO_LONG),
    bad("duplicate If-Modified-Since", get_with(b"If-Modified-Since: a\r\nIf-Modified-Since: b\r\n"), log=DUP),
    bad("duplicate If-None-Match", get_with(b"If-None-Match: a\r\nIf-None-Match: b\r\n"), log=DUP),
    bad("duplicate Authorization", get_with(b"Authorization: a\r\nAuthorization: b\r\n"), log=DUP),
    bad("duplicate Proxy-Authorization", get_with(b"Proxy-Authorization: a\r\nProxy-Authorization: b\r\n"),
        log=DUP, differs="Proxy-Authorization became a unique header after 1.22"),
    bad("duplicate Expect", get_with(b"Expect: a\r\nExpect: b\r\n"), log=DUP),
    ok("duplicate Content-Type is allowed", get_with(b"Content-Type: a\r\nContent-Type: b\r\n")),
    ok("duplicate User-Agent is allowed", get_with(b"User-Agent: a\r\nUser-Agent: b\r\n")),
    ok("Proxy-Connection on HTTP/1.1 is allowed", get_with(b"Proxy-Connection: close\r\n")),
]

HOST = [
    bad("HTTP/1.1 without Host", req(b"GET / HTTP/1.1", b""),
        log='client sent HTTP/1.1 request without "Host" header'),
    Case("HTTP/1.0 without Host", req(b"GET / HTTP/1.0", b""), close=True, body=b"ok\n"),
    bad("duplicate Host, same value", get_with(b"Host: a.test\r\n"), log="client sent duplicate host header"),
    bad("duplicate Host, different value", get_with(b"Host: b.test\r\n"), log="client sent duplicate host header"),
    bad("empty Host", host(b""), log=BAD_HOST),
    bad("Host of a single dot", host(b"."), log=BAD_HOST),
    bad("Host with an empty label", host(b"b..test"), log=BAD_HOST),
    bad("Host with a slash", host(b"b.test/x"), log=BAD_HOST),
    bad("Host with a space", host(b"b test"), log=BAD_HOST),
    bad("Host with a control byte", host(b"b.test\x02"), log=BAD_HOST),
    ok("Host with a port selects by name", host(b"b.test:8080"), body=b"b\n"),
    ok("Host with a trailing dot", host(b"b.test."), body=b"b\n"),
    ok("Host with a trailing dot and a port", host(b"b.test.:80"), body=b"b\n"),
    ok("Host in upper case", host(b"B.TEST"), body=b"b\n"),
    ok("Host with an empty port", host(b"b.test:"), body=b"b\n"),
    ok("Host IPv6 literal", host(b"[::1]")),
    ok("Host IPv6 literal with port", host(b"[::1]:8080")),
    ok("Host IPv4 address", host(b"127.0.0.1")),
    ok("Host with underscore", host(b"b_x.test")),
    ok("Host with percent", host(b"b%41.test")),
    bad("Host with userinfo", host(b"u@b.test"), log=BAD_HOST, differs=R122_HOST),
    bad("Host with question mark", host(b"b.test?x"), log=BAD_HOST, differs=R122_HOST),
    bad("Host with hash", host(b"b.test#x"), log=BAD_HOST, differs=R122_HOST),
    bad("Host with backslash", host(b"b.test\\x"), log=BAD_HOST, differs=R122_HOST),
    bad("Host with brackets inside a name", host(b"b[x].test"), log=BAD_HOST, differs=R122_HOST),
    bad("Host with a double quote", host(b'b"x.test'), log=BAD_HOST, differs=R122_HOST),
    bad("Host with UTF-8", host(b"b\xc3\xa9.test"), log=BAD_HOST, differs=R122_HOST),
    bad("Host with a port over 65535", host(b"b.test:99999"), log=BAD_HOST, differs=R122_HOST),
    bad("Host with letters in the port", host(b"b.test:8a"), log=BAD_HOST, differs=R122_HOST),
    bad("Host with two ports", host(b"b.test:80:80"), log=BAD_HOST, differs=R122_HOST),
    bad("Host IPv6 literal not closed", host(b"[::1"), log=BAD_HOST, differs=R122_HOST),
    bad("Host IPv6 literal with a trailing dot", host(b"[::1]."), log=BAD_HOST, differs=R122_HOST),
    bad("Host IPv6 literal followed by a name", host(b"[::1]x"), log=BAD_HOST, differs=R122_HOST),
    # The absolute form: the request line's host wins over Host.
    ok("absolute form picks the request-line host", req(b"GET http://b.test/ HTTP/1.1", A), body=b"b\n"),
    ok("absolute form without a path", req(b"GET http://b.test HTTP/1.1", A), body=b"b\n"),
    ok("absolute form with a port", req(b"GET http://b.test:8080/x HTTP/1.1", A), body=b"b\n"),
    ok("absolute form with https scheme", req(b"GET https://b.test/ HTTP/1.1", A), body=b"b\n"),
    ok("absolute form with an odd scheme", req(b"GET foo+bar://b.test/ HTTP/1.1", A), body=b"b\n"),
    ok("absolute form in upper case", req(b"GET http://B.TEST/ HTTP/1.1", A), body=b"b\n"),
    Case("absolute form on HTTP/1.0 needs no Host", req(b"GET http://b.test/ HTTP/1.0", b""),
         close=True, body=b"b\n"),
    bad("absolute form still needs Host on HTTP/1.1", req(b"GET http://b.test/ HTTP/1.1", b""),
        log='client sent HTTP/1.1 request without "Host" header'),
    bad("absolute form with an invalid Host header", req(b"GET http://b.test/ HTTP/1.1", b"Host: a..test\r\n"),
        log=BAD_HOST),
    bad("absolute form with an empty label", req(b"GET http://b..test/ HTTP/1.1", A),
        log="client sent invalid host in request line"),
    bad("absolute form with underscore", req(b"GET http://b_x.test/ HTTP/1.1", A), log=BAD_REQ),
    bad("absolute form with userinfo", req(b"GET http://u@b.test/ HTTP/1.1", A), log=BAD_REQ),
    bad("absolute form with a port over 65535", req(b"GET http://b.test:99999/ HTTP/1.1", A),
        log="client sent invalid host in request line", differs=R122_HOST),
]

REQUEST_LINE = [
    bad("lowercase method", req(b"get / HTTP/1.1"), log=BAD_METHOD),
    bad("mixed-case method", req(b"Get / HTTP/1.1"), log=BAD_METHOD),
    bad("digit in method", req(b"GET1 / HTTP/1.1"), log=BAD_METHOD),
    bad("@ in method", req(b"GE@T / HTTP/1.1"), log=BAD_METHOD),
    bad("NUL in method", req(b"GE\x00T / HTTP/1.1"), log=BAD_METHOD),
    bad("space before the method", req(b" GET / HTTP/1.1"), log=BAD_METHOD),
    bad("tab between method and target", req(b"GET\t/ HTTP/1.1"), log=BAD_METHOD),
    ok("unknown method", req(b"FOO / HTTP/1.1")),
    ok("unknown method with underscore", req(b"FOO_BAR / HTTP/1.1")),
    ok("long unknown method", req(b"A" * 40 + b" / HTTP/1.1")),
    ok("POST without a body", req(b"POST / HTTP/1.1")),
    ok("PUT without a body", req(b"PUT / HTTP/1.1")),
    ok("DELETE", req(b"DELETE / HTTP/1.1")),
    ok("OPTIONS", req(b"OPTIONS / HTTP/1.1")),
    ok("PATCH", req(b"PATCH / HTTP/1.1")),
    ok("HEAD has no body", req(b"HEAD / HTTP/1.1"), body=b""),
    bad("TRACE", req(b"TRACE / HTTP/1.1"), 405, log="client sent TRACE method"),
    bad("CONNECT authority form", req(b"CONNECT a.test:443 HTTP/1.1"), 405, log="client sent CONNECT method",
        differs=R122_CONNECT),
    bad("CONNECT with a path", req(b"CONNECT / HTTP/1.1"), log=BAD_REQ, differs=R122_CONNECT),
    bad("CONNECT without a port", req(b"CONNECT a.test HTTP/1.1"), log=BAD_REQ),
    bad("OPTIONS asterisk", req(b"OPTIONS * HTTP/1.1"), log=BAD_REQ),
    bad("GET asterisk", req(b"GET * HTTP/1.1"), log=BAD_REQ),
    bad("target without a leading slash", req(b"GET x HTTP/1.1"), log=BAD_REQ),
    ok("empty lines before the request line", b"\r\n\r\n" + req()),
    ok("two spaces after the method", req(b"GET  / HTTP/1.1")),
    ok("two spaces before the version", req(b"GET /  HTTP/1.1")),
    ok("space after the version", req(b"GET / HTTP/1.1 ")),
    bad("HTTP/2.0", req(b"GET / HTTP/2.0"), 505, log="client sent invalid version"),
    bad("HTTP/3.0", req(b"GET / HTTP/3.0"), 505, log="client sent invalid version"),
    bad("HTTP/10.0", req(b"GET / HTTP/10.0"), 505, log="client sent invalid version"),
    ok("HTTP/1.2 is served as 1.x", req(b"GET / HTTP/1.2")),
    ok("HTTP/1.10", req(b"GET / HTTP/1.10")),
    ok("HTTP/1.999", req(b"GET / HTTP/1.999")),
    bad("HTTP/1.1000", req(b"GET / HTTP/1.1000"), log=BAD_REQ),
    bad("HTTP/0.9 spelled out", req(b"GET / HTTP/0.9"), log=BAD_REQ),
    bad("HTTP/01.1", req(b"GET / HTTP/01.1"), log=BAD_REQ),
    bad("HTTP/1 without minor", req(b"GET / HTTP/1"), log=BAD_REQ),
    bad("HTTP/1. without minor digits", req(b"GET / HTTP/1."), log=BAD_REQ),
    bad("lowercase http/1.1", req(b"GET / http/1.1"), log=BAD_REQ),
    bad("junk after the version", req(b"GET / HTTP/1.1x"), log=BAD_REQ),
    bad("other protocol name", req(b"GET / FOO/1.1"), log=BAD_REQ),
    bad("HTTP/2 connection preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", log=BAD_REQ),
    Case("HTTP/0.9 GET", b"GET /\r\n", close=True, raw=b"ok\n"),
    Case("HTTP/0.9 POST", b"POST /\r\n", close=True, raw=400,
         log="client sent invalid method in HTTP/0.9 request"),
    ok("URI that fits a large buffer", req(b"GET /" + b"a" * 990 + b" HTTP/1.1")),
    bad("URI longer than a large buffer", req(b"GET /" + b"a" * 1030 + b" HTTP/1.1"), 414,
        log="client sent too long URI"),
    bad("URI much longer than a large buffer", req(b"GET /" + b"a" * 5000 + b" HTTP/1.1"), 414,
        log="client sent too long URI"),
    bad("space inside the URI", req(b"GET /a b HTTP/1.1"), log=BAD_REQ),
    bad("SOH in the URI", req(b"GET /a\x01b HTTP/1.1"), log=BAD_REQ),
    bad("DEL in the URI", req(b"GET /a\x7fb HTTP/1.1"), log=BAD_REQ),
    bad("NUL in the URI", req(b"GET /a\x00b HTTP/1.1"), log=BAD_REQ),
    ok("bytes >= 0x80 in the URI", req(b"GET /\xc3\xa9 HTTP/1.1")),
    ok("fragment in the URI", req(b"GET /a#frag HTTP/1.1")),
    bad("%00 in the path", req(b"GET /a%00b HTTP/1.1"), log=BAD_REQ),
    ok("%00 in the query string", req(b"GET /a?x=%00 HTTP/1.1")),
    bad("invalid percent escape", req(b"GET /a%zz HTTP/1.1"), log=BAD_REQ),
    bad("truncated percent escape", req(b"GET /a% HTTP/1.1"), log=BAD_REQ),
    bad("/..", req(b"GET /.. HTTP/1.1"), log=BAD_REQ),
    bad("/../x", req(b"GET /../x HTTP/1.1"), log=BAD_REQ),
    bad("/a/../../x", req(b"GET /a/../../x HTTP/1.1"), log=BAD_REQ),
    bad("//../x", req(b"GET //../x HTTP/1.1"), log=BAD_REQ),
    bad("/./../x", req(b"GET /./../x HTTP/1.1"), log=BAD_REQ),
    bad("/..?x", req(b"GET /..?x HTTP/1.1"), log=BAD_REQ),
    bad("/%2e%2e/x", req(b"GET /%2e%2e/x HTTP/1.1"), log=BAD_REQ),
    bad("/%2E%2E/x", req(b"GET /%2E%2E/x HTTP/1.1"), log=BAD_REQ),
    bad("/.%2e/x", req(b"GET /.%2e/x HTTP/1.1"), log=BAD_REQ),
    bad("/a/%2e%2e/%2e%2e/x", req(b"GET /a/%2e%2e/%2e%2e/x HTTP/1.1"), log=BAD_REQ),
    bad("/a%2f..%2f..%2fx", req(b"GET /a%2f..%2f..%2fx HTTP/1.1"), log=BAD_REQ),
    ok("/a/../x stays inside the root", req(b"GET /a/../x HTTP/1.1")),
    ok("three dots are a name", req(b"GET /... HTTP/1.1")),
    ok("backslash is not a separator", req(b"GET /a\\..\\..\\x HTTP/1.1")),
]

CONNECTION = [
    Case("HTTP/1.0 closes by default", req(b"GET / HTTP/1.0"), close=True, body=b"ok\n"),
    ok("HTTP/1.0 with Connection: keep-alive", req(b"GET / HTTP/1.0", A + b"Connection: keep-alive\r\n")),
    Case("HTTP/1.1 with Connection: close", get_with(b"Connection: close\r\n"), close=True, body=b"ok\n"),
    Case("Connection list containing close", get_with(b"Connection: Keep-Alive, Close\r\n"), close=True,
         body=b"ok\n"),
    Case("last Connection header wins", get_with(b"Connection: keep-alive\r\nConnection: close\r\n"),
         close=True, body=b"ok\n"),
    Case("body with Connection: close", post(b"Connection: close\r\nContent-Length: 3\r\n", b"abc"),
         close=True, body=b"ok\n"),
    Case("Expect: 100-continue with the body already sent", post(
        b"Expect: 100-continue\r\nContent-Length: 5\r\n", b"hello"), optional_100=True, body=b"ok\n"),
    Case("Expect: 100-continue without a body", get_with(b"Expect: 100-continue\r\n"),
         optional_100=True, body=b"ok\n"),
    ok("Expect with an unknown expectation is ignored (no 417)",
       post(b"Expect: foo\r\nContent-Length: 0\r\n")),
    ok("Expect with an expectation extension is ignored", post(b"Expect: token=param\r\nContent-Length: 0\r\n")),
    Case("Expect: 100-continue on HTTP/1.0 gets no 100",
         req(b"POST / HTTP/1.0", A + b"Expect: 100-continue\r\nContent-Length: 0\r\n"), close=True, body=b"ok\n"),
    bad("Expect: 100-continue with a body over client_max_body_size gets no 100",
        post(b"Expect: 100-continue\r\nContent-Length: 200\r\n", b"x" * 200), 413),
]

ALL_CASES = FRAMING + HEADER_SYNTAX + HOST + REQUEST_LINE + CONNECTION

# Counted against max_headers (default 1000): Host plus n-1 more.
def many_headers(n):
    return req(b"GET / HTTP/1.1", A + b"".join(b"X-%d: 1\r\n" % i for i in range(n - 1)))


LIMIT_CASES = [
    ok("1000 header lines", many_headers(1000)),
    bad("1001 header lines", many_headers(1001), page=HEADER_TOO_LARGE, log="client sent too many header lines"),
    ok("1000 valid lines plus ignored invalid ones", many_headers(1000)[:-2] + b"X_Y: 1\r\nX_Z: 2\r\n\r\n"),
]
