"""ferry answers malformed and hostile HTTP/1.x requests exactly as nginx 1.31 does.

Each case sends exact bytes (with a valid request pipelined behind them) to a real ferry
and checks the status, the default error page, whether the connection is closed (and the
pipelined request left unanswered) or kept (and the pipelined request answered). After
every case ferry must still run, its descriptor count must return to the baseline and
its error log must hold no [crit]/[alert]/[emerg] line.

The table lives in rawhttp_cases.py; the reasoning behind it in /tmp/bad-input-table.md.
NGINX_COMPARE=1 runs everything against /usr/sbin/nginx (1.22) instead, skipping the rows
where 1.22 and 1.31 differ — use it to check the table itself.
"""

import contextlib
import time

import pytest

import rawhttp_cases as rc
from rawhttp_cases import harness


# ---------------------------------------------------------------------------------
# Servers: one per config, shared by a module, restarted if a case killed it.

class Server:
    def __init__(self, http_body):
        self.port = harness.free_port()
        self.proc = rc.start_server(rc.make_conf(http_body), {"port": self.port})
        try:
            self._warm_up()
            self.baseline = self._settled_fds()
        except BaseException:
            self.proc.close()
            raise

    def _warm_up(self):
        """One request first, so descriptors opened lazily are in the baseline."""
        with rc.Conversation(self.port) as c:
            c.send(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
            c.read_reply(timeout=3.0)
            c.wait_closed(3.0)

    def _settled_fds(self, timeout=3.0):
        deadline = time.monotonic() + timeout
        last = self.proc.fds()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.proc.fds()
            if now == last:
                return now
            last = now
        return last

    def alive(self):
        return self.proc.proc.poll() is None

    def wait_fds_at_baseline(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            n = self.proc.fds()
            if n == self.baseline or time.monotonic() >= deadline:
                return n
            time.sleep(0.05)

    def serious_log_lines(self, since):
        text = self.proc.read_error_log()[since:]
        return [line for line in text.splitlines()
                if any(f"[{lvl}]" in line for lvl in ("crit", "alert", "emerg"))]

    @contextlib.contextmanager
    def checked(self):
        """Runs a case, then asserts the server survived it and released its descriptors."""
        log_start = len(self.proc.read_error_log())
        yield
        assert self.alive(), (f"server died (rc={self.proc.proc.returncode}); log tail: "
                              f"{self.proc.read_error_log()[-2000:]}")
        n = self.wait_fds_at_baseline()
        assert n == self.baseline, f"descriptor count {n} did not return to baseline {self.baseline}"
        serious = self.serious_log_lines(log_start)
        assert not serious, f"serious error log lines: {serious}"

    def close(self):
        self.proc.close()


class ServerPool:
    """One server per config. A server that died is restarted for the next test; a
    config that failed to start fails its later tests at once instead of waiting again."""

    def __init__(self):
        self.servers = {}
        self.start_errors = {}

    def get(self, http_body):
        if http_body in self.start_errors:
            pytest.fail(f"server did not start: {self.start_errors[http_body]}")
        server = self.servers.get(http_body)
        if server is None or not server.alive():
            if server is not None:
                server.close()
                del self.servers[http_body]
            try:
                server = Server(http_body)
            except Exception as e:  # noqa: BLE001 - reported as this test's failure
                self.start_errors[http_body] = e
                raise
            self.servers[http_body] = server
        return server

    def close(self):
        for server in self.servers.values():
            server.close()


@pytest.fixture(scope="module")
def pool():
    p = ServerPool()
    yield p
    p.close()


@pytest.fixture
def main(pool):
    return pool.get(rc.MAIN_HTTP)


@pytest.fixture
def default_limits(pool):
    return pool.get(rc.DEFAULT_LIMITS_HTTP)


@pytest.fixture
def timeouts(pool):
    return pool.get(rc.TIMEOUTS_HTTP)


@pytest.fixture
def lingering(pool):
    return pool.get(rc.LINGERING_HTTP)


# Requests nginx accepts and llhttp 8.1 (Debian's node-llhttp, which ferry parses with)
# refuses even with its lenient header mode: ferry answers 400 to them. Known deviations,
# kept as strict xfails so that a parser change that fixes one is noticed.
LLHTTP_STRICTER = {
    "line without colon is a header with an empty value",
    "extra CR before CRLF is tolerated",
    "@ in a name is ignored",
    "parentheses in a name are ignored",
    "UTF-8 in a name is ignored",
    "absolute form with an odd scheme",
    "unknown method",
    "unknown method with underscore",
    "long unknown method",
    "space after the version",
    "HTTP/1.10",
    "HTTP/1.999",
    "HTTP/0.9 GET",
    "HTTP/0.9 POST",
    "bytes >= 0x80 in the URI",
}


def mark_known_deviation(request, case):
    if case.name in LLHTTP_STRICTER and not rc.compare_mode():
        request.applymarker(pytest.mark.xfail(
            strict=True, reason="llhttp 8.1 refuses this request; nginx accepts it"))


def skip_if_differs(case):
    if rc.compare_mode() and case.differs:
        pytest.skip(f"nginx 1.22 differs from 1.31: {case.differs}")


# ---------------------------------------------------------------------------------
# Checks.

def describe(c):
    return (f"closed={c.closed} reset={c.reset} unparsed bytes={c.buf[:300]!r}")


def expect_reply(c, status, head=False, timeout=3.0):
    r = c.read_reply(timeout=timeout, head=head)
    assert r is not None, f"no {status} response: {describe(c)}"
    assert r.version == "HTTP/1.1", f"status line {r.raw_head[:80]!r}"
    assert r.status == status, f"got {r.status} {r.reason!r}, want {status}; body {r.body[:200]!r}"
    assert r.reason == rc.REASONS[status], f"reason {r.reason!r}, want {rc.REASONS[status]!r}"
    return r


def expect_error_page(r, page=None, head=False):
    if head:
        assert r.body == b""
        return
    problem = rc.error_page_problem(r, page)
    assert problem is None, problem
    assert r.header("Content-Length") == str(len(r.body)), "Content-Length does not match the page"


def expect_closed(c, what, timeout=3.0):
    assert c.wait_closed(timeout), f"connection still open {timeout}s after {what}"
    assert c.buf == b"", f"server sent more after {what} (pipelined request answered?): {c.buf[:200]!r}"


def expect_pipelined_answer(c):
    r = expect_reply(c, 200)
    assert r.body == rc.AFTER_BODY, f"pipelined request got {r.body!r}"


def check_case(port, case):
    with rc.Conversation(port) as c:
        c.send(case.data + rc.AFTER)

        if case.raw is not None:  # HTTP/0.9: no status line, then close
            data = c.read_all(3.0)
            assert c.closed, f"no close after the HTTP/0.9 answer {data[:200]!r}"
            if isinstance(case.raw, bytes):
                assert data == case.raw
            else:
                page = rc.Reply("", case.raw, "", [("Content-Type", "text/html")], data, b"")
                problem = rc.error_page_problem(page)
                assert problem is None, problem
            return

        r = None
        for i, status in enumerate(case.statuses):
            last = i == len(case.statuses) - 1
            head = case.head and last
            if case.optional_100 and status != 100:
                r = c.read_reply(timeout=3.0, head=head)
                if r is not None and r.status == 100:
                    assert r.reason == "Continue" and r.headers == [], f"bad interim {r.raw_head!r}"
                    r = None
                if r is None:
                    r = expect_reply(c, status, head=head)
                else:
                    assert r.status == status, f"got {r.status} {r.reason!r}, want {status}"
            else:
                r = expect_reply(c, status, head=head)

        if r.status >= 400:
            expect_error_page(r, case.page, head=case.head)
        if case.body is not None:
            assert r.body == case.body, f"body {r.body[:200]!r}, want {case.body!r}"

        connection = (r.header("Connection") or "").lower()
        if case.close:
            assert connection == "close", f"Connection: {connection!r}, want close"
            expect_closed(c, f"the {r.status} response")
        else:
            assert connection == "keep-alive", f"Connection: {connection!r}, want keep-alive"
            expect_pipelined_answer(c)


# ---------------------------------------------------------------------------------
# The table.

@pytest.mark.parametrize("case", rc.ALL_CASES, ids=lambda c: c.name)
def test_bad_input_table(request, main, case):
    skip_if_differs(case)
    mark_known_deviation(request, case)
    with main.checked():
        check_case(main.port, case)


@pytest.mark.parametrize("case", rc.LIMIT_CASES, ids=lambda c: c.name)
def test_max_headers(default_limits, case):
    skip_if_differs(case)
    with default_limits.checked():
        check_case(default_limits.port, case)


# ---------------------------------------------------------------------------------
# Exchanges that need more than one write.

def test_expect_100_continue_is_sent_before_the_body(main):
    with main.checked(), rc.Conversation(main.port) as c:
        c.send(rc.post(b"Expect: 100-continue\r\nContent-Length: 5\r\n"))
        r = expect_reply(c, 100, timeout=2.0)
        assert r.headers == [], f"100 Continue carries headers: {r.raw_head!r}"
        c.send(b"hello" + rc.AFTER)
        r = expect_reply(c, 200)
        assert r.body == b"ok\n"
        assert (r.header("Connection") or "").lower() == "keep-alive"
        expect_pipelined_answer(c)


def test_expect_100_continue_with_a_chunked_body(main):
    with main.checked(), rc.Conversation(main.port) as c:
        c.send(rc.post(b"Expect: 100-Continue\r\nTransfer-Encoding: chunked\r\n"))
        expect_reply(c, 100, timeout=2.0)
        c.send(b"5\r\nhello\r\n0\r\n\r\n" + rc.AFTER)
        assert expect_reply(c, 200).body == b"ok\n"
        expect_pipelined_answer(c)


def test_too_large_body_with_expect_gets_413_and_no_100(main):
    with main.checked(), rc.Conversation(main.port) as c:
        c.send(rc.post(b"Expect: 100-continue\r\nContent-Length: 200\r\n"))
        r = expect_reply(c, 413, timeout=2.0)
        expect_error_page(r)
        assert (r.header("Connection") or "").lower() == "close"
        c.send(b"x" * 200 + rc.AFTER)
        expect_closed(c, "the 413 response and the announced body")


def test_body_split_across_writes_then_pipelined(main):
    with main.checked(), rc.Conversation(main.port) as c:
        c.send(rc.post(b"Content-Length: 10\r\n", b"hello"))
        time.sleep(0.3)
        c.send(b"world" + rc.AFTER)
        assert expect_reply(c, 200).body == b"ok\n"
        expect_pipelined_answer(c)


def test_pipelined_requests_are_answered_in_order(main):
    with main.checked(), rc.Conversation(main.port) as c:
        c.send(rc.host(b"b.test") + rc.req(b"HEAD / HTTP/1.1") + rc.req()
               + rc.post(b"Content-Length: 3\r\n", b"abc") + rc.AFTER)
        assert expect_reply(c, 200).body == b"b\n"
        head = expect_reply(c, 200, head=True)
        assert head.header("Content-Length") == "3"
        assert expect_reply(c, 200).body == b"ok\n"
        assert expect_reply(c, 200).body == b"ok\n"
        expect_pipelined_answer(c)


def test_bad_request_pipelined_after_a_good_one(main):
    with main.checked(), rc.Conversation(main.port) as c:
        c.send(rc.req() + b"garbage\r\n\r\n" + rc.AFTER)
        assert expect_reply(c, 200).body == b"ok\n"
        r = expect_reply(c, 400)
        expect_error_page(r)
        assert (r.header("Connection") or "").lower() == "close"
        expect_closed(c, "the 400 response")


def test_error_response_to_head_has_no_body(main):
    with main.checked(), rc.Conversation(main.port) as c:
        c.send(b"HEAD / HTTP/1.1\r\n\r\n" + rc.AFTER)
        r = expect_reply(c, 400, head=True)
        assert r.header("Content-Type") == "text/html"
        assert int(r.header("Content-Length")) > 0
        expect_closed(c, "the 400 response to HEAD")


# ---------------------------------------------------------------------------------
# Slow clients (1s timeouts).

def elapsed_until_closed(c, start, timeout):
    assert c.wait_closed(timeout), f"connection still open after {timeout}s"
    return time.monotonic() - start


def test_client_header_timeout_on_an_idle_connection(timeouts):
    with timeouts.checked(), rc.Conversation(timeouts.port) as c:
        start = time.monotonic()
        took = elapsed_until_closed(c, start, 4.0)
        assert 0.7 <= took <= 3.0, f"closed after {took:.2f}s, client_header_timeout is 1s"
        assert c.buf == b"", f"no response is sent on a header timeout, got {c.buf[:200]!r}"


def test_client_header_timeout_on_a_partial_header(timeouts):
    with timeouts.checked(), rc.Conversation(timeouts.port) as c:
        start = time.monotonic()
        c.send(b"GET / HTTP/1.1\r\nHost: a")
        took = elapsed_until_closed(c, start, 4.0)
        assert 0.7 <= took <= 3.0, f"closed after {took:.2f}s, client_header_timeout is 1s"
        assert c.buf == b"", f"no 408 is sent, got {c.buf[:200]!r}"


def test_client_header_timeout_is_a_deadline_not_an_idle_timer(timeouts):
    with timeouts.checked(), rc.Conversation(timeouts.port) as c:
        start = time.monotonic()
        lines = [b"GET / HTTP/1.1\r\n", b"Host: a.test\r\n", b"X-1: 1\r\n", b"X-2: 2\r\n",
                 b"X-3: 3\r\n", b"X-4: 4\r\n", b"\r\n"]
        for line in lines:  # one line every 0.4s: 2.4s in all, never idle for 1s
            if not c.send(line) or c.closed:
                break
            time.sleep(0.4)
        took = elapsed_until_closed(c, start, 4.0)
        assert took <= 2.2, f"closed after {took:.2f}s: the header deadline was re-armed by progress"
        assert c.buf == b"", f"no response is sent on a header timeout, got {c.buf[:200]!r}"


def test_keepalive_timeout_closes_an_idle_connection(timeouts):
    with timeouts.checked(), rc.Conversation(timeouts.port) as c:
        c.send(rc.req())
        r = expect_reply(c, 200)
        assert (r.header("Connection") or "").lower() == "keep-alive"
        start = time.monotonic()
        took = elapsed_until_closed(c, start, 4.0)
        assert 0.7 <= took <= 3.0, f"closed after {took:.2f}s, keepalive_timeout is 1s"
        assert c.buf == b""


def test_keepalive_requests_limit_closes_after_the_last_response(timeouts):
    with timeouts.checked(), rc.Conversation(timeouts.port) as c:
        c.send(rc.req() * 4)
        for _ in range(2):
            r = expect_reply(c, 200)
            assert (r.header("Connection") or "").lower() == "keep-alive"
        r = expect_reply(c, 200)
        assert (r.header("Connection") or "").lower() == "close", "3rd of keepalive_requests 3"
        expect_closed(c, "the last allowed request")


def test_keepalive_timeout_zero_closes_every_connection(timeouts):
    with timeouts.checked(), rc.Conversation(timeouts.port) as c:
        c.send(b"GET /ka0 HTTP/1.1\r\nHost: a.test\r\n\r\n" + rc.req())
        r = expect_reply(c, 200)
        assert r.body == b"ka0\n"
        assert (r.header("Connection") or "").lower() == "close"
        expect_closed(c, "a response with keepalive_timeout 0")


def test_stalled_body_after_return_is_dropped_after_lingering_timeout(lingering):
    with lingering.checked(), rc.Conversation(lingering.port) as c:
        c.send(rc.post(b"Content-Length: 10\r\n", b"hello"))
        r = expect_reply(c, 200, timeout=2.0)  # answered before the body is complete
        assert r.body == b"ok\n"
        start = time.monotonic()
        took = elapsed_until_closed(c, start, 4.0)
        assert took <= 3.0, f"closed after {took:.2f}s, lingering_timeout is 1s"
        assert c.buf == b""


@pytest.mark.parametrize("length", [b"200", b"9223372036854775807"])
def test_413_without_the_body_closes_after_lingering_timeout(lingering, length):
    with lingering.checked(), rc.Conversation(lingering.port) as c:
        c.send(rc.post(b"Content-Length: " + length + b"\r\n"))
        r = expect_reply(c, 413, timeout=2.0)
        expect_error_page(r)
        assert (r.header("Connection") or "").lower() == "close"
        start = time.monotonic()
        took = elapsed_until_closed(c, start, 4.0)
        assert took <= 3.0, f"closed after {took:.2f}s, lingering_timeout is 1s"
        assert c.buf == b""
