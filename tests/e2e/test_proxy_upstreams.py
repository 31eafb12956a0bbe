"""Upstream groups: nginx's smooth weighted round robin, failover on errors and timeouts,
max_fails/fail_timeout, backup and down servers, which requests are retried
(proxy_next_upstream), keep-alive connection pools, and the $upstream_* variables in
access log lines."""

import re
import threading
import time

import pytest

import harness
import upstreams as ups
from upstreams import Upstream, fetch, make_conf, proxy_ferry  # noqa: F401




class Site:
    """A ferry whose http{} holds `http_body`; the server listens on @port@ with
    `location / { proxy_pass ...; <location> }` and the given upstream servers' ports are
    @a@, @b@, ... (dead ports as @dead1@, @dead2@)."""

    def __init__(self, proxy_ferry, groups, location, servers=None, dead=0, extra_http="",
                 log_format=None):
        self.servers = servers or {}
        self.ports = {"port": harness.free_port()}
        for name, up in self.servers.items():
            self.ports[name] = up.port
        for i in range(1, dead + 1):
            self.ports[f"dead{i}"] = ups.dead_port()
        log = ""
        if log_format:
            extra_http += f"\n    log_format up '{log_format}';"
            log = "access_log @prefix@/logs/up.log up;"
        self.ferry = proxy_ferry(make_conf(f"""
    {extra_http}
    {groups}
    server {{
        listen 127.0.0.1:@port@;
        server_name up.test;
        {log}
        location / {{
            {location}
        }}
    }}
"""), ports=self.ports)
        self.port = self.ports["port"]

    def get(self, path="/", timeout=3.0, **kw):
        return fetch(self.port, path, host="up.test", timeout=timeout, **kw)

    def log(self):
        return self.ferry.read_error_log()

    def access_lines(self, n, timeout=3.0):
        path = f"{self.ferry.prefix}/logs/up.log"

        def read():
            try:
                with open(path) as f:
                    return f.read().splitlines()
            except FileNotFoundError:
                return []

        ups.wait_until(lambda: len(read()) >= n, timeout)
        return read()


def who(r):
    assert r is not None, "no response"
    return r.header("x-upstream") if r.status == 200 else r.status


@pytest.fixture
def cleanup():
    items = []
    yield items
    for up in items:
        up.close()


def make(cleanup, *names, handler=None, **kw):
    out = {}
    for n in names:
        out[n] = Upstream(handler or ups.named(n), name=n, **kw)
        cleanup.append(out[n])
    return out


# ---- balancing


def test_round_robin_spreads_requests_evenly(proxy_ferry, cleanup):
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; server 127.0.0.1:@b@; "
             "server 127.0.0.1:@c@; }", "proxy_pass http://backend;",
             make(cleanup, "a", "b", "c"))
    seq = [who(s.get()) for _ in range(30)]
    assert sorted(seq[:3]) == ["a", "b", "c"]
    assert {n: seq.count(n) for n in "abc"} == {"a": 10, "b": 10, "c": 10}
    for i in range(0, 30, 3):
        assert sorted(seq[i:i + 3]) == ["a", "b", "c"], seq


def test_weights_share_requests_smoothly_in_proportion(proxy_ferry, cleanup):
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@ weight=3; "
             "server 127.0.0.1:@b@; }", "proxy_pass http://backend;", make(cleanup, "a", "b"))
    seq = [who(s.get()) for _ in range(40)]
    assert seq.count("a") == 30 and seq.count("b") == 10
    # smooth: each run of four holds one b (nginx: a a b a)
    for i in range(0, 40, 4):
        assert seq[i:i + 4].count("b") == 1, seq


def test_down_server_is_never_used(proxy_ferry, cleanup):
    srv = make(cleanup, "a", "b")
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; server 127.0.0.1:@b@ down; }",
             "proxy_pass http://backend;", srv)
    assert [who(s.get()) for _ in range(6)] == ["a"] * 6
    assert srv["b"].connections == 0


def test_backup_is_not_used_while_a_primary_is_up(proxy_ferry, cleanup):
    srv = make(cleanup, "a", "b")
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; "
             "server 127.0.0.1:@b@ backup; }", "proxy_pass http://backend;", srv)
    assert [who(s.get()) for _ in range(6)] == ["a"] * 6
    assert srv["b"].connections == 0


def test_backup_is_used_when_every_primary_is_down(proxy_ferry, cleanup):
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@dead1@; server 127.0.0.1:@dead2@; "
             "server 127.0.0.1:@b@ backup; }", "proxy_pass http://backend;",
             make(cleanup, "b"), dead=2)
    assert [who(s.get()) for _ in range(4)] == ["b"] * 4


# ---- failover and failure marking


def test_failover_to_the_next_server_on_connect_error(proxy_ferry, cleanup):
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@dead1@ max_fails=0; "
             "server 127.0.0.1:@a@; }", "proxy_pass http://backend;", make(cleanup, "a"), dead=1)
    assert [who(s.get()) for _ in range(6)] == ["a"] * 6
    assert s.log().count("connect() failed") >= 1


def test_failing_server_with_max_fails_0_keeps_its_weight(proxy_ferry, cleanup):
    """nginx lowers a failing server's effective weight only when max_fails is set: with
    max_fails=0 the dead server keeps its turn, every other request tries it first."""
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@dead1@ max_fails=0; "
             "server 127.0.0.1:@a@; }", "proxy_pass http://backend;", make(cleanup, "a"), dead=1)
    assert [who(s.get()) for _ in range(6)] == ["a"] * 6
    assert s.log().count("connect() failed") == 3


def test_failed_server_is_not_tried_again_within_fail_timeout(proxy_ferry, cleanup):
    """Default max_fails=1 fail_timeout=10s: one failure takes the server out."""
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@dead1@; server 127.0.0.1:@a@; }",
             "proxy_pass http://backend;", make(cleanup, "a"), dead=1)
    assert [who(s.get()) for _ in range(10)] == ["a"] * 10
    assert s.log().count("connect() failed") == 1


def test_max_fails_counts_failures_before_marking(proxy_ferry, cleanup):
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@dead1@ max_fails=3; "
             "server 127.0.0.1:@a@; }", "proxy_pass http://backend;", make(cleanup, "a"), dead=1)
    assert [who(s.get()) for _ in range(12)] == ["a"] * 12
    assert s.log().count("connect() failed") == 3


def test_failed_server_is_tried_again_after_fail_timeout(proxy_ferry, cleanup):
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@dead1@ fail_timeout=1s; "
             "server 127.0.0.1:@a@; }", "proxy_pass http://backend;", make(cleanup, "a"), dead=1)
    assert [who(s.get()) for _ in range(4)] == ["a"] * 4
    assert s.log().count("connect() failed") == 1
    time.sleep(2.1)  # nginx counts fail_timeout in whole seconds
    assert [who(s.get()) for _ in range(6)] == ["a"] * 6
    assert s.log().count("connect() failed") == 2


def test_every_server_failing_is_502(proxy_ferry, cleanup):
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@dead1@; server 127.0.0.1:@dead2@; }",
             "proxy_pass http://backend;", dead=2)
    r = s.get()
    assert r.status == 502
    assert s.log().count("connect() failed") == 2
    assert "no live upstreams" not in s.log()  # every server was tried: that is all
    # both are marked failed now: nginx answers 502 without trying, "no live upstreams"
    r = s.get()
    assert r.status == 502
    assert s.log().count("connect() failed") == 2
    assert "no live upstreams while connecting to upstream" in s.log()


def test_timeout_fails_over_to_the_next_server(proxy_ferry, cleanup):
    srv = {"a": Upstream(ups.silent(), name="a"), "b": Upstream(ups.named("b"), name="b")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@ max_fails=0; "
             "server 127.0.0.1:@b@; }",
             "proxy_pass http://backend; proxy_read_timeout 300ms;", srv)
    t0 = time.monotonic()
    results = [who(s.get()) for _ in range(2)]
    assert results == ["b", "b"]
    assert time.monotonic() - t0 >= 0.3  # one of them waited for a's timeout
    assert len(srv["a"].requests) >= 1


def test_all_servers_timing_out_is_504(proxy_ferry, cleanup):
    srv = {"a": Upstream(ups.silent(), name="a"), "b": Upstream(ups.silent(), name="b")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; server 127.0.0.1:@b@; }",
             "proxy_pass http://backend; proxy_read_timeout 300ms;", srv)
    r = s.get()
    assert r.status == 504
    assert len(srv["a"].requests) == 1 and len(srv["b"].requests) == 1


def hang_up(req, conn):
    """Reads the request and closes without answering."""
    conn.close()
    return False


def tagged_run(s, method, n):
    statuses = {}
    for i in range(n):
        r = s.get(f"/t{i}", method=method, headers=[("X-Id", str(i))],
                  body=b"payload" if method == "POST" else None)
        statuses[str(i)] = r.status
    return statuses


def ids(up):
    return {r.header("x-id") for r in up.requests}


def test_post_is_not_retried_once_sent(proxy_ferry, cleanup):
    srv = {"a": Upstream(hang_up, name="a"), "b": Upstream(ups.named("b"), name="b")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@ max_fails=0; "
             "server 127.0.0.1:@b@ max_fails=0; }", "proxy_pass http://backend;", srv)
    statuses = tagged_run(s, "POST", 6)
    at_a, at_b = ids(srv["a"]), ids(srv["b"])
    assert at_a and not (at_a & at_b)
    assert {i for i, st in statuses.items() if st == 502} == at_a
    assert {i for i, st in statuses.items() if st == 200} == at_b


def test_get_is_retried_after_the_upstream_hung_up(proxy_ferry, cleanup):
    srv = {"a": Upstream(hang_up, name="a"), "b": Upstream(ups.named("b"), name="b")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@ max_fails=0; "
             "server 127.0.0.1:@b@ max_fails=0; }", "proxy_pass http://backend;", srv)
    statuses = tagged_run(s, "GET", 6)
    assert set(statuses.values()) == {200}
    assert ids(srv["a"]) and ids(srv["a"]) <= ids(srv["b"])


def test_post_is_retried_when_the_connection_failed(proxy_ferry, cleanup):
    """nginx treats a request as non-idempotent only once it was sent: a refused
    connection moves a POST to the next server."""
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@dead1@ max_fails=0; "
             "server 127.0.0.1:@b@ max_fails=0; }", "proxy_pass http://backend;",
             make(cleanup, "b"), dead=1)
    statuses = tagged_run(s, "POST", 4)
    assert set(statuses.values()) == {200}, statuses


def test_post_is_retried_with_non_idempotent(proxy_ferry, cleanup):
    srv = {"a": Upstream(hang_up, name="a"), "b": Upstream(ups.named("b"), name="b")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@ max_fails=0; "
             "server 127.0.0.1:@b@ max_fails=0; }",
             "proxy_pass http://backend; proxy_next_upstream error timeout non_idempotent;", srv)
    statuses = tagged_run(s, "POST", 4)
    assert set(statuses.values()) == {200}
    assert ids(srv["a"]) <= ids(srv["b"])


def test_proxy_next_upstream_off_does_not_retry(proxy_ferry, cleanup):
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@dead1@ max_fails=0; "
             "server 127.0.0.1:@b@ max_fails=0; }",
             "proxy_pass http://backend; proxy_next_upstream off;", make(cleanup, "b"), dead=1)
    results = [who(s.get()) for _ in range(4)]
    assert sorted(results, key=str) == [502, 502, "b", "b"]


def test_upstream_502_is_passed_through_by_default(proxy_ferry, cleanup):
    srv = {"a": Upstream(ups.reply(status=502, reason="Bad Gateway", body=b"from a"), name="a"),
           "b": Upstream(ups.named("b"), name="b")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; server 127.0.0.1:@b@; }",
             "proxy_pass http://backend;", srv)
    bodies = sorted(s.get().body for _ in range(2))
    assert bodies == [b"b", b"from a"]


def test_proxy_next_upstream_http_502_retries(proxy_ferry, cleanup):
    srv = {"a": Upstream(ups.reply(status=502, reason="Bad Gateway", body=b"from a"), name="a"),
           "b": Upstream(ups.named("b"), name="b")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@ max_fails=0; "
             "server 127.0.0.1:@b@; }",
             "proxy_pass http://backend; proxy_next_upstream error http_502;", srv)
    assert [who(s.get()) for _ in range(4)] == ["b"] * 4
    assert len(srv["a"].requests) >= 1


# ---- keep-alive pools


def many(s, n, path="/"):
    out = []
    for _ in range(n):
        r = s.get(path)
        assert r is not None and r.status == 200, (r and r.status, s.log()[-1500:])
        out.append(r)
    return out


def test_upstream_keepalive_reuses_one_connection(proxy_ferry, cleanup):
    srv = make(cleanup, "a")
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; keepalive 4; }",
             "proxy_pass http://backend;", srv)
    many(s, 20)
    assert srv["a"].connections == 1
    reqs = srv["a"].wait_requests(20)
    assert all(not r.has("connection") for r in reqs)
    assert [r.index for r in reqs] == list(range(1, 21))


def test_upstream_block_pools_connections_by_default(proxy_ferry, cleanup):
    """Current nginx: an upstream block keeps 32 idle connections unless told."""
    srv = make(cleanup, "a")
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; }",
             "proxy_pass http://backend;", srv)
    many(s, 10)
    assert srv["a"].connections == 1


@pytest.mark.parametrize("size", [64 * 1024, 300 * 1024, 4 * 1024 * 1024])
def test_pooled_connection_is_kept_after_a_large_response(proxy_ferry, cleanup, size):
    """A response read in many pieces leaves stale readiness behind on the connection;
    the idle pool must tell it from a close (nginx peeks) and keep the connection."""
    srv = {"a": Upstream(ups.stream(size), name="a")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; keepalive 4; }",
             "proxy_pass http://backend;", srv)
    for r in many(s, 4):
        assert len(r.body) == size
    assert srv["a"].connections == 1


def test_implicit_upstream_is_not_pooled(proxy_ferry, cleanup):
    srv = make(cleanup, "a")
    s = Site(proxy_ferry, "", "proxy_pass http://127.0.0.1:@a@;", srv)
    many(s, 10)
    assert srv["a"].connections == 10


def test_keepalive_0_disables_pooling(proxy_ferry, cleanup):
    srv = make(cleanup, "a")
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; keepalive 0; }",
             "proxy_pass http://backend;", srv)
    many(s, 10)
    assert srv["a"].connections == 10


def test_keepalive_requests_limits_requests_per_connection(proxy_ferry, cleanup):
    srv = make(cleanup, "a")
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; keepalive 4; "
             "keepalive_requests 3; }", "proxy_pass http://backend;", srv)
    many(s, 9)
    assert srv["a"].connections == 3


def test_response_with_connection_close_is_not_pooled(proxy_ferry, cleanup):
    srv = {"a": Upstream(ups.reply(body=b"x", headers=[("Connection", "close")]), name="a")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; keepalive 4; }",
             "proxy_pass http://backend;", srv)
    many(s, 5)
    assert srv["a"].connections == 5


def test_http_1_0_response_is_not_pooled(proxy_ferry, cleanup):
    """An HTTP/1.0 response (no keep-alive agreed) leaves the connection unpooled even if
    the upstream keeps it open."""
    srv = {"a": Upstream(ups.reply(body=b"old", version="HTTP/1.0"), name="a")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; keepalive 4; }",
             "proxy_pass http://backend;", srv)
    many(s, 4)
    assert srv["a"].connections == 4


def test_bodiless_responses_on_a_pooled_connection_do_not_desync_it(proxy_ferry, cleanup):
    """HEAD, 204 and 304 answers carry no body (whatever their headers say): the next
    request on the same pooled connection gets its own response."""
    routes = {
        "/head": ups.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", keep=True),
        "/204": ups.raw(b"HTTP/1.1 204 No Content\r\n\r\n", keep=True),
        "/304": ups.raw(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", keep=True),
    }
    up = Upstream(ups.by_path(routes, ups.reply(body=lambda r: r.uri.encode())), name="a")
    cleanup.append(up)
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; keepalive 4; }",
             "proxy_pass http://backend;", {"a": up})
    for path, method in (("/head", "HEAD"), ("/204", "GET"), ("/304", "GET")):
        r = s.get(path, method=method)
        assert r.status in (200, 204, 304) and r.body == b""
        r = s.get(f"/after{path}")
        assert r.status == 200 and r.body == f"/after{path}".encode()
    assert up.connections == 1


def test_pool_keeps_at_most_keepalive_idle_connections(proxy_ferry, cleanup):
    srv = {"a": Upstream(ups.slow([b"x"], 0.3), name="a")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; keepalive 2; }",
             "proxy_pass http://backend;", srv)
    results = []
    threads = [threading.Thread(target=lambda: results.append(s.get().status)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [200] * 6
    assert srv["a"].connections == 6
    assert srv["a"].wait_open_conns(2, timeout=3), srv["a"].open_conns


def test_upstream_closing_after_each_response_never_fails_the_client(proxy_ferry, cleanup):
    """The upstream closes every connection right after its response (without saying so):
    ferry notices the pooled connection is gone, or retries on a fresh one."""
    srv = make(cleanup, "a", max_requests_per_conn=1)
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; keepalive 4; }",
             "proxy_pass http://backend;", srv)
    for _ in range(20):
        r = s.get()
        assert r.status == 200, s.log()[-1500:]
    assert srv["a"].connections >= 20
    assert "[error]" not in s.log()


def test_upstream_closing_idle_connections_never_fails_the_client(proxy_ferry, cleanup):
    srv = make(cleanup, "a", idle_close=0.1)
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; keepalive 4; }",
             "proxy_pass http://backend;", srv)
    for _ in range(5):
        assert s.get().status == 200, s.log()[-1500:]
        time.sleep(0.2)
    assert srv["a"].connections == 5
    assert "[error]" not in s.log()


def test_stale_pooled_connection_is_retried_on_a_fresh_one(proxy_ferry, cleanup):
    """The upstream takes a second request on a kept-alive connection and closes it
    without answering (a keep-alive race): the client still gets its response, and the
    failure counts against no server (max_fails=1 would otherwise mark the only one)."""

    def one_per_conn(req, conn):
        if req.index > 1:
            conn.close()  # read it, answer nothing
            return False
        return ups.named("a")(req, conn)

    up = Upstream(one_per_conn, name="a")
    cleanup.append(up)
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@ max_fails=1; keepalive 4; }",
             "proxy_pass http://backend;", {"a": up})
    for i in range(8):
        r = s.get(f"/n{i}")
        assert r.status == 200, (i, s.log()[-1500:])
    firsts = [r for r in up.requests if r.index == 1]
    seconds = [r for r in up.requests if r.index == 2]
    assert len(firsts) == 8 and len(seconds) >= 1  # some request met a stale connection
    assert "[error]" not in s.log()


def test_stale_pooled_connection_does_not_retry_a_post(proxy_ferry, cleanup):
    """As nginx: a POST that was sent is not repeated, even on a reused connection."""

    def one_per_conn(req, conn):
        if req.index > 1:
            conn.close()
            return False
        return ups.named("a")(req, conn)

    up = Upstream(one_per_conn, name="a")
    cleanup.append(up)
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@ max_fails=0; keepalive 4; }",
             "proxy_pass http://backend;", {"a": up})
    assert s.get("/first").status == 200
    r = s.get("/post", method="POST", body=b"once")
    posts = [q for q in up.requests if q.method == "POST"]
    assert len(posts) == 1
    assert r.status == 502


# ---- $upstream_* in the access log

LOG = "$request_uri|$upstream_addr|$upstream_status|$upstream_response_time|" \
      "$upstream_connect_time|$upstream_header_time"
T = r"\d+\.\d{3}"


def test_upstream_variables_for_one_try(proxy_ferry, cleanup):
    srv = {"a": Upstream(ups.slow([b"body"], 0.0), name="a")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "", "proxy_pass http://127.0.0.1:@a@;", srv, log_format=LOG)
    assert s.get("/one").status == 200
    line = s.access_lines(1)[-1]
    a = srv["a"].port
    assert re.match(rf"^/one\|127\.0\.0\.1:{a}\|200\|{T}\|{T}\|{T}$", line), line


def test_upstream_header_time_measures_the_wait_for_the_header(proxy_ferry, cleanup):
    def late(req, conn):
        time.sleep(0.25)
        return ups.slow([b"x", b"y"], 0.15)(req, conn)

    srv = {"a": Upstream(late, name="a")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "", "proxy_pass http://127.0.0.1:@a@;", srv, log_format=LOG)
    assert s.get("/late").status == 200
    fields = s.access_lines(1)[-1].split("|")
    response, connect, header = float(fields[3]), float(fields[4]), float(fields[5])
    assert connect < 0.1
    assert 0.25 <= header < 0.35
    assert response >= header + 0.25


def test_upstream_variables_across_a_retry_are_comma_separated(proxy_ferry, cleanup):
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@dead1@ max_fails=0; "
             "server 127.0.0.1:@a@ max_fails=0; }", "proxy_pass http://backend;",
             make(cleanup, "a"), dead=1, log_format=LOG)
    for i in range(2):
        assert s.get(f"/r{i}").status == 200
    lines = s.access_lines(2)
    d, a = s.ports["dead1"], s.ports["a"]
    retried = [x for x in lines if x.count(",") >= 1]
    assert len(retried) == 1, lines
    assert re.match(rf"^/r\d\|127\.0\.0\.1:{d}, 127\.0\.0\.1:{a}\|502, 200\|{T}, {T}\|"
                    rf"-, {T}\|-, {T}$", retried[0]), retried[0]
    direct = [x for x in lines if x not in retried][0]
    assert re.match(rf"^/r\d\|127\.0\.0\.1:{a}\|200\|{T}\|{T}\|{T}$", direct), direct


def test_upstream_variables_for_a_timeout(proxy_ferry, cleanup):
    srv = {"a": Upstream(ups.silent(), name="a")}
    cleanup.extend(srv.values())
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@a@; }",
             "proxy_pass http://backend; proxy_read_timeout 300ms;", srv, log_format=LOG)
    assert s.get("/slow").status == 504
    line = s.access_lines(1)[-1]
    a = srv["a"].port
    assert re.match(rf"^/slow\|127\.0\.0\.1:{a}\|504\|0\.[34]\d\d\|{T}\|-$", line), line


def test_upstream_variables_when_every_server_failed(proxy_ferry, cleanup):
    """One entry per server tried, no more."""
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@dead1@; server 127.0.0.1:@dead2@; }",
             "proxy_pass http://backend;", dead=2, log_format=LOG)
    assert s.get("/x").status == 502
    line = s.access_lines(1)[0]
    d1, d2 = s.ports["dead1"], s.ports["dead2"]
    assert re.match(rf"^/x\|127\.0\.0\.1:({d1}|{d2}), 127\.0\.0\.1:({d1}|{d2})\|502, 502\|"
                    rf"{T}, {T}\|-, -\|-, -$", line), line


def test_upstream_addr_names_the_group_when_no_server_is_live(proxy_ferry, cleanup):
    s = Site(proxy_ferry, "upstream backend { server 127.0.0.1:@dead1@; server 127.0.0.1:@dead2@; }",
             "proxy_pass http://backend;", dead=2, log_format=LOG)
    assert s.get("/x").status == 502
    assert s.get("/y").status == 502  # both servers are marked failed now
    lines = s.access_lines(2)
    assert re.match(rf"^/y\|backend\|502\|{T}\|-\|-$", lines[1]), lines[1]


def test_upstream_variables_are_empty_without_proxying(proxy_ferry, cleanup):
    s = Site(proxy_ferry, "", "return 200 ok;", log_format=LOG)
    assert s.get("/plain").status == 200
    assert s.access_lines(1)[-1] == "/plain|-|-|-|-|-"
