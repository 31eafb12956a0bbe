"""Process lifecycle and worker limits: the pid file, SIGQUIT (graceful: stop accepting,
finish what is in flight, close idle keep-alive connections, exit 0), worker_shutdown_timeout,
SIGTERM/SIGINT (stop at once, also while clients keep connecting), two worker threads
both accepting, worker_connections refusing connections past the limit, running out of
descriptors (EMFILE) without spinning, and descriptors back to the baseline after 10,000
connections.

These check ferry's own process model (worker threads in one process), so they do not
run in NGINX_COMPARE mode.
"""

import os
import re
import signal
import socket
import struct
import threading
import time

import pytest

import conftest
import server_helpers as sh
from server_helpers import Client, req
from server_helpers import start_server  # noqa: F401 (fixture)

BIG = sh.BIG_SIZE  # 16 MiB: more than the loopback socket buffers hold

HTTP = r"""
    client_header_timeout 10s;
    keepalive_timeout 30s;
    send_timeout @send_timeout@;

    server {
        listen 127.0.0.1:@port@;
        server_name a.test;
        location / { return 200 "ok"; }
        %s
    }
""" % sh.big_location()


@pytest.fixture(autouse=True)
def _ferry_only():
    sh.ferry_only("ferry's process model")


def start(start_server, main="", send_timeout="10s", workers=1, events=None):
    kw = {"events": events} if events else {}
    return sh.one_server(
        start_server, HTTP, main=main, workers=workers,
        ports={"send_timeout": send_timeout, **sh.big_ports()}, **kw)


def connect_refused(port, timeout=3.0):
    """True once a new connection to `port` is refused (or reset before any answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(req("/"))
                s.settimeout(0.5)
                if s.recv(100) == b"":
                    return True
        except ConnectionRefusedError:
            return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            pass
        time.sleep(0.05)
    return False


def exited_within(proc, timeout):
    start_t = time.monotonic()
    rc = proc.wait(timeout)
    return rc, time.monotonic() - start_t


def big_response_pending(port):
    """A client that asked for 16 MiB and reads nothing yet (tiny receive buffer)."""
    c = Client(port, rcvbuf=4096, timeout=10.0)
    c.send(req("/big"))
    time.sleep(0.3)
    return c


# ---------------------------------------------------------------------------------
# pid file and signals

def test_pid_file_is_written_at_start_and_removed_at_exit(start_server):
    proc, port = start(start_server, main="pid @prefix@/ferry.pid;")
    path = os.path.join(proc.prefix, "ferry.pid")
    with open(path) as f:
        assert f.read() == f"{proc.pid}\n"
    assert proc.stop() == 0
    assert not os.path.exists(path), "pid file left behind after SIGTERM"


def test_sigquit_finishes_a_response_in_flight_then_exits(start_server):
    proc, port = start(start_server, main="pid @prefix@/ferry.pid;")
    pid_path = os.path.join(proc.prefix, "ferry.pid")
    c = big_response_pending(port)
    try:
        proc.send_signal(signal.SIGQUIT)
        assert connect_refused(port), "new connections still accepted after SIGQUIT"
        time.sleep(0.5)
        assert proc.proc.poll() is None, \
            f"ferry exited ({proc.proc.returncode}) with a response in flight"
        r = c.read_reply(timeout=20.0)
        assert r is not None and r.status == 200
        assert len(r.body) == BIG, f"got {len(r.body)} of {BIG} bytes"
        assert c.wait_closed(3.0), "connection kept open after the last response"
    finally:
        c.close()
    rc, took = exited_within(proc, 5.0)
    assert rc == 0, f"exit code {rc} after a graceful stop"
    assert not os.path.exists(pid_path)


def test_sigquit_lets_a_request_whose_head_is_arriving_finish(start_server):
    proc, port = start(start_server)
    with Client(port) as c:
        c.send(b"GET /slow HTTP/1.1\r\nHost: a.test\r\n")
        time.sleep(0.2)
        proc.send_signal(signal.SIGQUIT)
        time.sleep(0.5)
        assert proc.proc.poll() is None
        c.send(b"X-Late: 1\r\n\r\n")
        c.expect(200, b"ok")
        assert c.wait_closed(3.0)
    rc, took = exited_within(proc, 5.0)
    assert rc == 0


def test_sigquit_closes_idle_keepalive_connections_at_once(start_server):
    proc, port = start(start_server)
    clients = [Client(port) for _ in range(5)]
    try:
        for c in clients:
            c.send(req("/"))
            c.expect(200, b"ok")
        proc.send_signal(signal.SIGQUIT)
        for c in clients:
            assert c.wait_closed(2.0), "idle keep-alive connection kept after SIGQUIT"
            assert c.buf == b""
    finally:
        for c in clients:
            c.close()
    rc, took = exited_within(proc, 3.0)
    assert rc == 0 and took < 2.0, f"rc={rc} after {took:.2f}s"


def test_worker_shutdown_timeout_bounds_a_graceful_stop(start_server):
    proc, port = start(start_server, main="worker_shutdown_timeout 1s;", send_timeout="60s")
    c = big_response_pending(port)
    try:
        start_t = time.monotonic()
        proc.send_signal(signal.SIGQUIT)
        rc = proc.wait(6.0)
        took = time.monotonic() - start_t
        assert rc is not None, "ferry still running 6s after SIGQUIT (worker_shutdown_timeout 1s)"
        assert rc == 0
        assert 0.7 <= took <= 3.5, f"exited {took:.2f}s after SIGQUIT; worker_shutdown_timeout is 1s"
        c.read_all(timeout=3.0)
        assert c.closed
    finally:
        c.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_at_once(start_server, sig):
    proc, port = start(start_server, main="pid @prefix@/ferry.pid;")
    busy = big_response_pending(port)
    idle = Client(port)
    idle.send(req("/"))
    idle.expect(200)
    partial = Client(port)
    partial.send(b"GET / HTTP/1.1\r\n")
    time.sleep(0.2)
    try:
        proc.send_signal(sig)
        rc, took = exited_within(proc, 5.0)
        assert rc == 0, f"exit code {rc}"
        assert took < 1.5, f"took {took:.2f}s to stop"
        for c in (idle, partial):
            assert c.wait_closed(1.0)
        busy.read_all(timeout=2.0)
        assert busy.closed
        assert not os.path.exists(os.path.join(proc.prefix, "ferry.pid"))
    finally:
        for c in (busy, idle, partial):
            c.close()


# ---------------------------------------------------------------------------------
# Workers

LOG_LINE = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] (\d+)#(\d+): ")


def test_two_workers_both_accept(start_server):
    """worker_processes 2: each worker thread has its own SO_REUSEPORT listener, so
    connections are spread over both. Every missing-Host request logs an info line
    with PID#TID; the TIDs seen must be two worker threads of the process."""
    proc, port = start(start_server, workers=2)
    def tasks():
        return set(os.listdir(f"/proc/{proc.pid}/task"))
    # The first worker's listener answers before the second thread is up.
    assert sh.wait_until(lambda: len(tasks()) >= 3, 3.0), \
        f"threads: {tasks()} (main + 2 workers expected)"
    time.sleep(0.1)
    for _ in range(64):
        with Client(port) as c:
            c.send(b"GET / HTTP/1.1\r\n\r\n")
            c.expect(400)
    def host_lines():
        return [line for line in proc.read_error_log().splitlines()
                if 'without "Host" header' in line]
    lines = sh.wait_until(lambda: len(host_lines()) >= 64 and host_lines(), 3.0)
    assert lines, f"{len(host_lines())} of 64 info lines logged"
    tids = {m[3] for m in map(LOG_LINE.match, lines) if m and m[2] == str(proc.pid)}
    assert len(tids) == 2, f"info lines came from threads {tids}; want both workers"
    assert tids <= tasks(), f"{tids} are not threads of {proc.pid} ({tasks()})"
    assert str(proc.pid) not in tids, "the main thread served a connection"


def test_worker_connections_limit_refuses_and_logs(start_server):
    proc, port = start(start_server, events="worker_connections 8;")
    held = []
    try:
        for _ in range(20):
            c = Client(port)
            c.send(b"GET / HTTP/1.1\r\nHost: a.test\r\n")  # an unfinished head
            held.append(c)
        time.sleep(0.5)
        refused = [c for c in held if c.wait_closed(0.05)]
        alive = [c for c in held if not c.closed]
        assert refused, "20 connections held with worker_connections 8"
        assert 1 <= len(alive) <= 8, f"{len(alive)} connections kept, limit 8"
        for c in refused:
            assert c.buf == b"", f"a refused connection got bytes: {c.buf[:100]!r}"
        log = sh.wait_until(
            lambda: "worker_connections are not enough" in proc.read_error_log(), 2.0)
        assert log, proc.read_error_log()[-2000:]
        for c in alive:  # the accepted ones are served normally
            c.send(b"\r\n")
            c.expect(200, b"ok")
    finally:
        for c in held:
            c.close()
    # Once they are gone, new connections are served again (ferry may back off a bit).
    deadline = time.monotonic() + 5.0
    while True:
        try:
            r = sh.get(port, "/", timeout=1.0)
            assert r.status == 200
            break
        except (AssertionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert proc.proc.poll() is None


def test_descriptors_return_to_baseline_after_10000_connections(start_server):
    """5,000 sequential connections (one request, Connection: close) and 5,000 in
    concurrent batches of 100: complete requests, keep-alive ones closed by the client,
    ones that close before sending anything, ones reset (SO_LINGER 0) mid-head."""
    total = 1000 if conftest.sanitized() else 10000
    proc, port = start(start_server)
    sh.get(port, "/")  # warm-up: lazily opened descriptors belong to the baseline
    baseline = sh.settled_fds(proc)
    request_close = req("/", headers=[("Connection", "close")])
    deadline = time.monotonic() + 60

    for _ in range(total // 2):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(request_close)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert data.startswith(b"HTTP/1.1 200 "), data[:100]
        assert time.monotonic() < deadline, "too slow: 60s budget exceeded"

    linger0 = struct.pack("ii", 1, 0)
    for batch in range(total // 2 // 100):
        socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(100)]
        for i, s in enumerate(socks):
            kind = i % 4
            if kind == 0:
                s.sendall(request_close)
            elif kind == 1:
                s.sendall(req("/"))
            elif kind == 3:
                s.sendall(b"GET / HTTP/1.1\r\nHo")
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger0)
        for i, s in enumerate(socks):
            if i % 4 in (0, 1):
                data = s.recv(4096)
                assert data.startswith(b"HTTP/1.1 200 "), data[:100]
            s.close()
        assert time.monotonic() < deadline, "too slow: 60s budget exceeded"

    assert proc.proc.poll() is None, "ferry died"
    sh.wait_until(lambda: proc.fds() == baseline, 5.0)
    assert proc.fds() == baseline, f"{proc.fds()} descriptors, baseline {baseline}"
    assert sh.get(port, "/").status == 200


@pytest.mark.parametrize("sig", [signal.SIGQUIT, signal.SIGTERM])
def test_stop_signal_while_connections_arrive(start_server, sig):
    """Signals arriving while clients keep connecting: the listeners go away in the
    middle of accepting; ferry must exit 0, not crash. Several rounds, since it is a
    race."""
    for _ in range(10):
        proc, port = start(start_server)
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                        s.sendall(req("/"))
                except OSError:
                    pass

        threads = [threading.Thread(target=hammer, daemon=True) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.15)
        proc.send_signal(sig)
        rc = proc.wait(5.0)
        stop.set()
        for t in threads:
            t.join(2.0)
        assert rc == 0, f"ferry exited with {rc} on {sig.name} while clients connected"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_backs_off_and_keeps_serving(start_server):
    """worker_rlimit_nofile 64 and more clients than that: accept4() fails with EMFILE;
    ferry logs it, does not spin, keeps serving the connections it has, and accepts
    again once descriptors are free."""
    if os.environ.get("FERRY_SANITIZED") == "1":
        # UBSan's vptr check probes memory through a descriptor of its own; with none
        # left it reports "invalid vptr" on sound objects.
        pytest.skip("out of descriptors, UBSan's own checks fail")
    proc, port = start(start_server, main="worker_rlimit_nofile 64;",
                       events="worker_connections 1024;")
    keep = Client(port)
    keep.send(req("/"))
    keep.expect(200, b"ok")
    crowd = []
    try:
        for _ in range(100):  # the kernel queues them even when ferry cannot accept
            crowd.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        time.sleep(0.3)
        before = cpu_seconds(proc.pid)
        time.sleep(1.0)
        used = cpu_seconds(proc.pid) - before
        assert used < 0.5, f"ferry used {used:.2f}s of CPU in 1s while out of descriptors"
        keep.send(req("/"))
        keep.expect(200, b"ok")
        assert "Too many open files" in proc.read_error_log(), proc.read_error_log()[-2000:]
    finally:
        for s in crowd:
            s.close()
        keep.close()
    deadline = time.monotonic() + 5.0
    while True:  # accepting resumes after the back-off
        try:
            if sh.get(port, "/", timeout=1.0).status == 200:
                break
        except (AssertionError, OSError):
            pass
        assert time.monotonic() < deadline, "no longer accepting after descriptors were freed"
        time.sleep(0.2)
