"""Helpers for the WebSocket upgrade and tunnel tests (test_ws_*.py).

- The two seed configs of ../shared/seed/ (examples/), verbatim, inside an http {} with
  an access log whose format exposes the tunnel's byte counts and times.
- `WsUpstream`: a `websockets` server on 127.0.0.1 in its own thread and event loop,
  with behaviours chosen by path (echo, fragmented echo, server-initiated close, ping,
  sink, push) and a record of how each connection ended.
- `RawUpstream` and `Peer`: plain sockets for exact bytes (custom Upgrade tokens,
  pipelined bytes, half-close, resets).
- `FdWatch`: ferry's descriptors (sockets/files vs pipes) against a baseline, and the
  pipes' contents (all must be drained once idle).

Every wait here is bounded.
"""

import asyncio
import base64
import fcntl
import hashlib
import os
import random
import socket
import struct
import termios
import threading
import time

import pytest
import websockets

import harness

MIB = 1 << 20
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RAW_TOKEN = "x-ferry-raw/1"  # a non-WebSocket Upgrade token: the tunnel is opaque
PIPE_POOL_CAP_FDS = 128      # 64 free pipes kept by the pool, two descriptors each
LINGER_RESET = struct.pack("ii", 1, 0)


def sanitized():
    return os.environ.get("FERRY_SANITIZED") == "1"


# ---------------------------------------------------------------------------------
# Configs: the seeds verbatim (only the upstream port filled in), inside an http {}.

SEED_SIMPLE_LOCATION = (
    'location /ws/ { proxy_pass http://localhost:@up@; proxy_http_version 1.1; '
    'proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade"; }')

SEED_MAP_HTTP = "map $http_upgrade $connection_upgrade { default upgrade; '' close; }"
SEED_MAP_LOCATION = (
    'location /ws/ { proxy_pass http://localhost:@up@; proxy_http_version 1.1; '
    'proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; }')
SEED_TIMEOUT_HTTP = "proxy_read_timeout 950s;"

SEEDS = {
    # seed example 1: the simple location
    "simple": ("", SEED_SIMPLE_LOCATION),
    # seed example 2: map in http, the location using it, and the long read timeout
    "map": (SEED_MAP_HTTP + "\n    " + SEED_TIMEOUT_HTTP, SEED_MAP_LOCATION),
}

LOG_FORMAT = ("log_format tunnel '$request|$status|$request_time|$bytes_sent|$body_bytes_sent|"
              "$request_length|$upstream_bytes_sent|$upstream_bytes_received|$upstream_status';")
LOG_FIELDS = ["request", "status", "request_time", "bytes_sent", "body_bytes_sent",
              "request_length", "upstream_bytes_sent", "upstream_bytes_received",
              "upstream_status"]




# Under NGINX_COMPARE=1 only part of the set is meant to pass: nginx 1.22 does not
# half-close (it ends the tunnel at the first EOF), logs differently and has no pipe pool.
nginx_compare = harness.nginx_compare


def conf(seed="simple", http_extra="", server_extra="", main_extra="",
         worker_connections=1024, listen_extra=""):
    """A full config: one worker, error log at info, the access log in `tunnel` format,
    and the seed's http-level lines and location in a server on @port@ (upstream @up@).
    `http_extra` goes after the seed's http-level lines, `server_extra` after its
    location."""
    seed_http, seed_location = SEEDS[seed]
    nginx_main, nginx_http = harness.nginx_compare_lines()
    return f"""
worker_processes 1;
error_log @prefix@/logs/error.log info;
{nginx_main}{main_extra}
events {{
    worker_connections {worker_connections};
}}

http {{
    {nginx_http}{LOG_FORMAT}
    access_log @prefix@/logs/access.log tunnel;
    {seed_http}
    {http_extra}

    server {{
        listen 127.0.0.1:@port@ {listen_extra};
        {seed_location}
        {server_extra}
    }}
}}
"""


def start(start_ferry, up_port, more_ports=None, **conf_kw):
    """Starts ferry on a free port with conf(**conf_kw) in front of `up_port` (and
    `more_ports` for other @NAME@ placeholders); returns (ferry, port)."""
    port = harness.free_port()
    f = start_ferry(conf(**conf_kw), ports={"port": port, "up": up_port, **(more_ports or {})})
    return f, port


def access_lines(ferry):
    """The access log's lines as dicts of LOG_FIELDS."""
    path = os.path.join(ferry.prefix, "logs", "access.log")
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    return [dict(zip(LOG_FIELDS, line.split("|"))) for line in text.splitlines() if line]


def wait_until(predicate, timeout=5.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def run(coro, timeout=30.0):
    """Runs a coroutine in a fresh event loop with an overall deadline."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


# ---------------------------------------------------------------------------------
# Descriptors


def fd_kinds(pid):
    """(non-pipe descriptors, pipe descriptors) of process `pid`."""
    other = pipes = 0
    d = f"/proc/{pid}/fd"
    for name in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, name))
        except OSError:
            continue  # closed meanwhile
        if target.startswith("pipe:"):
            pipes += 1
        else:
            other += 1
    return other, pipes


def pipe_fds(pid):
    """The descriptor numbers of `pid`'s pipes."""
    found = set()
    d = f"/proc/{pid}/fd"
    for name in os.listdir(d):
        try:
            if os.readlink(os.path.join(d, name)).startswith("pipe:"):
                found.add(int(name))
        except OSError:
            pass
    return found


def pipes_holding_bytes(pid, ignore=()):
    """Pipes of `pid` (but those in `ignore`) that hold unread bytes: {fd: bytes}. Each
    pipe is opened again through /proc (a new reader of the same pipe) and asked with
    FIONREAD."""
    full = {}
    d = f"/proc/{pid}/fd"
    for name in os.listdir(d):
        path = os.path.join(d, name)
        if int(name) in ignore:
            continue
        try:
            if not os.readlink(path).startswith("pipe:"):
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            n = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
        finally:
            os.close(fd)
        if n:
            full[int(name)] = n
    return full


class FdWatch:
    """ferry's descriptors at a quiet moment, to compare with after the test's traffic.

    Sockets and files must come back to the baseline exactly; pipes may stay (the
    pool keeps up to 64 drained pipes) but never more than the pool's cap above the
    baseline, and none may hold bytes."""

    def __init__(self, ferry):
        self.ferry = ferry
        # A quiet moment: the same counts twice, 50 ms apart.
        last = None
        for _ in range(40):
            now = fd_kinds(ferry.pid)
            if now == last:
                break
            last = now
            time.sleep(0.05)
        self.other, self.pipes = now
        # stdout/stderr are pipes to the test: not the pool's
        self.own_pipes = pipe_fds(ferry.pid)

    def now(self):
        return fd_kinds(self.ferry.pid)

    def settled(self, timeout=5.0):
        """Asserts the descriptors come back to the baseline within `timeout`."""
        ok = wait_until(lambda: self.now()[0] == self.other, timeout)
        other, pipes = self.now()
        assert ok, f"{other} non-pipe descriptors, baseline {self.other}"
        assert pipes - self.pipes <= PIPE_POOL_CAP_FDS, (
            f"{pipes} pipe descriptors, baseline {self.pipes}: the pool keeps more than "
            f"{PIPE_POOL_CAP_FDS // 2} pipes")
        full = pipes_holding_bytes(self.ferry.pid, self.own_pipes)
        assert not full, f"pipes still holding bytes once idle: {full}"
        return other, pipes


# ---------------------------------------------------------------------------------
# The WebSocket upstream


class WsUpstream:
    """A `websockets` server on 127.0.0.1 in a thread; behaviour by path:

    /ws/echo          echoes every message as received (text stays text)
    /ws/echo-frag     echoes every message in 1,000-byte fragments
    /ws/close-after   closes with 4002 "server bye" after the first message
    /ws/ping          pings the client, then sends "pong:<payload>" once answered
    /ws/sink          reads and counts, never answers
    /ws/push          sends "push <n>" every 0.25 s

    `closed` collects (path, close_code, close_reason) as connections end; `open_now`
    and `peak_open` count connections open at once."""

    def __init__(self, **serve_kw):
        self.serve_kw = dict(max_size=None, ping_interval=None, max_queue=None)
        self.serve_kw.update(serve_kw)
        self.closed = []
        self.received = {}  # path -> bytes received (sink)
        self.open_now = 0
        self.peak_open = 0
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
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except Exception as e:  # reported by close()
            self.error = e
            self._ready.set()
        finally:
            self._loop.close()

    async def _main(self):
        self._stop = asyncio.get_running_loop().create_future()
        async with websockets.serve(self._handler, "127.0.0.1", 0, backlog=2048,
                                    **self.serve_kw) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop

    async def _handler(self, ws):
        path = ws.path.split("?")[0]
        self.open_now += 1
        self.peak_open = max(self.peak_open, self.open_now)
        try:
            await self._behave(ws, path)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.open_now -= 1
            await ws.wait_closed()
            self.closed.append((path, ws.close_code, ws.close_reason))

    async def _behave(self, ws, path):
        if path == "/ws/echo":
            async for message in ws:
                await ws.send(message)
        elif path == "/ws/echo-frag":
            async for message in ws:
                await ws.send(message[i:i + 1000] for i in range(0, len(message), 1000))
        elif path == "/ws/close-after":
            await ws.recv()
            await ws.close(4002, "server bye")
        elif path == "/ws/ping":
            payload = b"ping from upstream"
            await asyncio.wait_for(await ws.ping(payload), 5)
            await ws.send("pong:" + payload.decode())
            async for _ in ws:
                pass
        elif path == "/ws/sink":
            async for message in ws:
                self.received[path] = self.received.get(path, 0) + len(message)
        elif path == "/ws/push":
            n = 0
            while True:
                await ws.send(f"push {n}")
                n += 1
                await asyncio.sleep(0.25)
        else:
            await ws.close(4004, "unknown path")

    def close(self):
        if self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(
                    lambda: self._stop.done() or self._stop.set_result(None))
            except RuntimeError:
                pass
        self._thread.join(10)


@pytest.fixture
def ws_upstream():
    up = WsUpstream()
    yield up
    up.close()


def ws_url(port, path="/ws/echo"):
    return f"ws://127.0.0.1:{port}{path}"


def ws_connect(port, path="/ws/echo", **kw):
    """websockets.connect through ferry with no size limit and no keepalive pings."""
    args = dict(max_size=None, ping_interval=None, open_timeout=10, close_timeout=5,
                max_queue=None)
    args.update(kw)
    return websockets.connect(ws_url(port, path), **args)


# ---------------------------------------------------------------------------------
# Raw peers


def accept_value(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def upgrade_request(path="/ws/raw", token=RAW_TOKEN, extra="", upgrade=True):
    """A request head asking to upgrade to `token` (or a plain GET with upgrade=False)."""
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if upgrade:
        head += f"Upgrade: {token}\r\nConnection: Upgrade\r\n"
    return (head + extra + "\r\n").encode()


def switching(token=RAW_TOKEN, extra=""):
    return (f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: {token}\r\n"
            f"Connection: Upgrade\r\n{extra}\r\n").encode()


class Peer:
    """One socket with a read buffer; every read is bounded by `timeout`."""

    def __init__(self, sock, timeout=5.0):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""
        self.timeout = timeout

    @classmethod
    def connect(cls, port, timeout=5.0):
        return cls(socket.create_connection(("127.0.0.1", port), timeout=timeout), timeout)

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n=1 << 20):
        chunk = self.sock.recv(n)
        if not chunk:
            raise EOFError(f"EOF with {len(self.buf)} bytes buffered")
        self.buf += chunk

    def read_head(self):
        """The next head (up to and including the blank line), as bytes."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        at = self.buf.index(b"\r\n\r\n") + 4
        head, self.buf = self.buf[:at], self.buf[at:]
        return head

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_to_end(self, timeout=None):
        """Reads until the peer ends; returns (bytes, how) where how is "eof", "reset"
        or "timeout" (then the bytes so far)."""
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        how = "timeout"
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    how = "eof"
                    break
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            how = "reset"
        except socket.timeout:
            pass
        finally:
            self.sock.settimeout(self.timeout)
        data, self.buf = self.buf, b""
        return data, how

    def ended_within(self, timeout):
        """Seconds until the peer ended the connection (EOF or reset), or None."""
        t0 = time.monotonic()
        _, how = self.read_to_end(timeout)
        return None if how == "timeout" else time.monotonic() - t0

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def reset(self):
        """Closes with an RST (SO_LINGER 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        self.sock.close()

    def close(self):
        self.sock.close()


def header(head, name):
    """A header's value from a raw head, or None."""
    for line in head.decode("latin-1").split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def status(head):
    return int(head.split(b" ", 2)[1])


class RawUpstream:
    """A listening socket on 127.0.0.1; every accepted connection runs
    `handler(peer, head)` in its own thread after its request head was read (`peer.buf`
    holds whatever followed the head); the connection closes when the handler returns. `peers` lists them; `errors` what the handlers
    raised (checked by `close(check=True)`)."""

    def __init__(self, handler, timeout=5.0):
        self.handler = handler
        self.timeout = timeout
        self.peers = []
        self.heads = []
        self.errors = []
        self.threads = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.accepted = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                s, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            peer = Peer(s, self.timeout)
            self.peers.append(peer)
            t = threading.Thread(target=self._serve, args=(peer,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, peer):
        try:
            head = peer.read_head()
            self.heads.append(head)
            self.accepted.set()
            self.handler(peer, head)
        except Exception as e:  # noqa: BLE001 - reported by close()
            self.errors.append(e)
        finally:
            peer.close()

    def join(self, timeout=10.0):
        """Waits for the handlers to return."""
        deadline = time.monotonic() + timeout
        for t in list(self.threads):
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)

    def close(self):
        self.stopping.set()
        self.sock.close()
        for p in self.peers:
            try:
                p.close()
            except OSError:
                pass
        self.thread.join(5)
        for t in self.threads:
            t.join(2)


def raw_upgrade(port, path="/ws/raw", token=RAW_TOKEN, then=b"", timeout=5.0):
    """Connects, sends an upgrade request (plus `then` in the same write) and reads the
    101 head. Returns (peer, head); peer.buf holds what followed the head."""
    p = Peer.connect(port, timeout)
    p.send(upgrade_request(path, token) + then)
    head = p.read_head()
    assert status(head) == 101, head
    return p, head


def pattern(seed, n):
    """n deterministic pseudo-random bytes that differ per seed."""
    return random.Random(repr(seed)).randbytes(n)
