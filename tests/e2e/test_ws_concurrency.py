"""Many tunnels at once: 1,000 concurrent WebSocket tunnels (200 under the sanitizers)
with every byte of their traffic checked; idle tunnels costing two sockets and no pipe;
the per-worker pipe pool growing while many directions hold bytes and shrinking back to
its cap (64 free pipes) afterwards, with no pipe left holding bytes.
"""

import asyncio
import resource
import threading
import time

import ws_helpers as wh
from ws_helpers import ws_upstream  # noqa: F401 (fixture)

N_TUNNELS = 200 if wh.sanitized() else 1000


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))


def message(i, j):
    data = wh.pattern((i, j), 1 + (i * 7919 + j * 104729) % (64 << 10 if i % 10 == 0 else 8192))
    return data if j % 2 else data.hex()


def test_1000_concurrent_tunnels_carry_every_byte(start_ferry, ws_upstream):
    raise_nofile(4 * N_TUNNELS + 1000)
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed="map",
                           worker_connections=2 * N_TUNNELS + 200)
    fds = wh.FdWatch(ferry)
    opened = [0]

    async def scenario():
        all_open = asyncio.Event()
        handshakes = asyncio.Semaphore(100)

        async def one(i):
            async with handshakes:
                ws = await wh.ws_connect(port, compression=None, open_timeout=30)
            try:
                opened[0] += 1
                if opened[0] == N_TUNNELS:
                    all_open.set()
                await all_open.wait()
                for j in range(4):
                    m = message(i, j)
                    await ws.send(m)
                    assert await ws.recv() == m, (i, j)
            finally:
                await ws.close()

        await asyncio.gather(*(one(i) for i in range(N_TUNNELS)))

    t0 = time.monotonic()
    wh.run(scenario(), 90)
    assert ws_upstream.peak_open == N_TUNNELS, "the tunnels were not all open at once"
    assert wh.wait_until(lambda: len(wh.access_lines(ferry)) == N_TUNNELS, 10)
    assert {e["status"] for e in wh.access_lines(ferry)} == {"101"}
    fds.settled(timeout=10)
    assert time.monotonic() - t0 < 90


def test_idle_tunnels_cost_two_sockets_and_hold_no_pipe(start_ferry, ws_upstream):
    """100 tunnels each carry 64 KiB both ways, then sit idle: ferry holds exactly two
    sockets per tunnel, and the pipes it used are back in the pool (at most 64 kept)."""
    count = 100
    ferry, port = wh.start(start_ferry, ws_upstream.port, seed="simple")
    fds = wh.FdWatch(ferry)
    checked = {}

    async def scenario():
        conns = []
        try:
            for i in range(count):
                conns.append(await wh.ws_connect(port, compression=None))
            payloads = [wh.pattern(("idle", i), 64 << 10) for i in range(count)]
            await asyncio.gather(*(ws.send(p) for ws, p in zip(conns, payloads)))
            for ws, p in zip(conns, payloads):
                assert await ws.recv() == p
            await asyncio.sleep(0.2)
            checked["fds"] = fds.now()
            checked["full"] = wh.pipes_holding_bytes(ferry.pid, fds.own_pipes)
        finally:
            await asyncio.gather(*(ws.close() for ws in conns))

    wh.run(scenario(), 30)
    other, pipes = checked["fds"]
    assert other == fds.other + 2 * count, (other, fds.other)
    assert pipes - fds.pipes <= wh.PIPE_POOL_CAP_FDS, (
        f"{(pipes - fds.pipes) // 2} pipes with {count} idle tunnels")
    assert not checked["full"], checked["full"]
    fds.settled()


PUSH_PATTERN = wh.pattern("pool", wh.MIB)


class PatternStream:
    """Checks a byte stream against PUSH_PATTERN repeated, starting at `offset`."""

    def __init__(self, offset):
        self.at = offset
        self.count = 0

    def take(self, data):
        view = memoryview(data)
        while view:
            n = min(len(view), len(PUSH_PATTERN) - self.at)
            if view[:n] != PUSH_PATTERN[self.at:self.at + n]:
                raise AssertionError(f"wrong bytes at stream offset {self.count}")
            self.at = (self.at + n) % len(PUSH_PATTERN)
            self.count += n
            view = view[n:]


def test_pipe_pool_grows_under_load_then_keeps_at_most_64_free_pipes(start_ferry):
    """72 upstreams push to clients that do not read yet, until every one of those
    directions holds a pipe full of bytes (the kernel's socket buffers fill first, so
    each pushes a few MiB, at most 8). Once the clients read everything, the pool keeps
    at most 64 pipes, all of them empty."""
    count, limit = 72, 8 * wh.MIB
    stop = threading.Event()
    sent = {}

    def handler(peer, head):
        i = int(head.split(b" ")[1].rsplit(b"/", 1)[1])
        peer.send(wh.switching())
        at, total = (i * 4099) % len(PUSH_PATTERN), 0
        view = memoryview(PUSH_PATTERN)
        while total < limit and not stop.is_set():
            n = min(64 << 10, len(PUSH_PATTERN) - at)
            peer.sock.sendall(view[at:at + n])
            at, total = (at + n) % len(PUSH_PATTERN), total + n
        sent[i] = total
        peer.shutdown_write()
        peer.read_to_end(20)

    up = wh.RawUpstream(handler, timeout=30.0)
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="simple")
        fds = wh.FdWatch(ferry)
        clients = []
        for i in range(count):
            peer = wh.Peer.connect(port, timeout=20.0)
            peer.send(wh.upgrade_request(f"/ws/pool/{i}"))
            assert wh.status(peer.read_head()) == 101
            clients.append(peer)
        # Pipes holding bytes, each seen through both of its descriptors.
        busy = lambda: len(wh.pipes_holding_bytes(ferry.pid, fds.own_pipes)) // 2  # noqa: E731
        reached = wh.wait_until(lambda: busy() >= count - 4, 20, 0.2)
        peak = busy()
        stop.set()
        assert reached, f"only {peak} pipes held bytes with {count} blocked tunnels"
        for i, peer in enumerate(clients):
            check = PatternStream((i * 4099) % len(PUSH_PATTERN))
            if peer.buf:
                check.take(peer.buf)
            while True:
                chunk = peer.sock.recv(1 << 20)
                if not chunk:
                    break
                check.take(chunk)
            assert wh.wait_until(lambda: i in sent) and check.count == sent[i], (i, sent.get(i))
            peer.close()
        assert up.join(20) and not up.errors, up.errors
        other, pipes = fds.settled(timeout=10)
        assert pipes - fds.pipes <= wh.PIPE_POOL_CAP_FDS, (pipes, fds.pipes)
    finally:
        stop.set()
        up.close()


def test_full_duplex_bulk_transfer_both_ways_at_once(start_ferry):
    """Client and upstream each send 32 MiB (8 under the sanitizers) at the same time
    while reading the other's: no deadlock, no byte lost or reordered."""
    size = (8 if wh.sanitized() else 32) * wh.MIB
    from_client = wh.pattern("duplex-c", size)
    from_upstream = wh.pattern("duplex-u", size)
    got = {}

    def handler(peer, head):
        peer.send(wh.switching())
        sender = threading.Thread(target=peer.send, args=(from_upstream,), daemon=True)
        sender.start()
        got["upstream"] = peer.read_exact(size)
        sender.join(30)
        peer.shutdown_write()
        got["upstream_end"] = peer.read_to_end(10)[1]

    up = wh.RawUpstream(handler, timeout=30.0)
    try:
        ferry, port = wh.start(start_ferry, up.port, seed="simple")
        fds = wh.FdWatch(ferry)
        client, _ = wh.raw_upgrade(port, timeout=30.0)
        sender = threading.Thread(target=client.send, args=(from_client,), daemon=True)
        sender.start()
        data = client.read_exact(size)
        sender.join(30)
        assert not sender.is_alive()
        client.shutdown_write()
        assert client.read_to_end(10) == (b"", "eof")
        client.close()
        assert up.join(10) and not up.errors, up.errors
        assert data == from_upstream, "upstream -> client bytes differ"
        assert got["upstream"] == from_client, "client -> upstream bytes differ"
        assert got["upstream_end"] == "eof"
        fds.settled()
    finally:
        up.close()
