"""The measurements. Each group runs one load against one target (a proxy or the
upstream directly) and returns its figures, the CPU use of the load generator, the
proxy and the upstream during the load, and notes about anything that went wrong."""

import os
import re
import select
import signal
import time

from . import procs

# key: (label, unit, higher_is_better). Labels get their sizes from the settings.
FIGURES = {
    "http_rps": ("HTTP keep-alive requests/s (wrk -c 50, 13-byte response)", "req/s", True),
    "http_p99": ("HTTP keep-alive p99 latency", "ms", False),
    "conn_rate": ("New connections/s (one request each, 50 at once)", "conn/s", True),
    "large_mbps": ("{large} response throughput", "MB/s", True),
    "ws_up_mbps": ("WebSocket one-way {ws}, client to upstream", "MB/s", True),
    "ws_down_mbps": ("WebSocket one-way {ws}, upstream to client", "MB/s", True),
    "ws_echo_mbps": ("WebSocket echo {echo} (bytes echoed per second)", "MB/s", True),
    "rtt_pin_p50": ("64-byte round trip p50, every process on CPU 0", "µs", False),
    "rtt_pin_p99": ("64-byte round trip p99, every process on CPU 0", "µs", False),
    "rtt_p50": ("64-byte round trip p50, unpinned", "µs", False),
    "rtt_p99": ("64-byte round trip p99, unpinned", "µs", False),
    "idle_bytes": ("Proxy memory per idle tunnel ({idle} tunnels, RSS growth / tunnels)", "bytes", False),
    "idle_fds": ("Proxy descriptors per idle tunnel", "fds", False),
    "idle_kernel": ("Kernel slab per idle tunnel (whole machine: 4 sockets per tunnel)", "bytes", False),
    # Over TLS (HTTPS, wss://), terminated by the proxy; the upstream stays plain HTTP.
    "https_rps": ("HTTPS keep-alive requests/s (wrk -c 50, 13-byte response)", "req/s", True),
    "https_p99": ("HTTPS keep-alive p99 latency", "ms", False),
    "tls_conn_rate": ("New TLS connections/s (full handshakes, no resumption; one request each, "
                      "50 at once, {tls_threads} client threads)", "conn/s", True),
    "https_large_mbps": ("{large} response throughput over HTTPS", "MB/s", True),
    "wss_up_mbps": ("wss:// one-way {ws}, client to upstream", "MB/s", True),
    "wss_down_mbps": ("wss:// one-way {ws}, upstream to client", "MB/s", True),
    "wss_echo_mbps": ("wss:// echo {echo} (bytes echoed per second)", "MB/s", True),
    "wss_rtt_pin_p50": ("wss:// 64-byte round trip p50, every process on CPU 0", "µs", False),
    "wss_rtt_pin_p99": ("wss:// 64-byte round trip p99, every process on CPU 0", "µs", False),
    "wss_idle_bytes": ("Proxy memory per idle wss:// tunnel ({idle} tunnels, RSS growth / tunnels)",
                       "bytes", False),
    "wss_idle_fds": ("Proxy descriptors per idle wss:// tunnel", "fds", False),
    "wss_idle_kernel": ("Kernel slab per idle wss:// tunnel (whole machine: 4 sockets per tunnel)",
                        "bytes", False),
}

# Group name -> figures it yields, in table order.
GROUPS = {
    "http": ["http_rps", "http_p99"],
    "conn": ["conn_rate"],
    "large": ["large_mbps"],
    "ws-up": ["ws_up_mbps"],
    "ws-down": ["ws_down_mbps"],
    "ws-echo": ["ws_echo_mbps"],
    "rtt-pinned": ["rtt_pin_p50", "rtt_pin_p99"],
    "rtt": ["rtt_p50", "rtt_p99"],
    "idle": ["idle_bytes", "idle_fds", "idle_kernel"],
    "https": ["https_rps", "https_p99"],
    "tls-conn": ["tls_conn_rate"],
    "https-large": ["https_large_mbps"],
    "wss-up": ["wss_up_mbps"],
    "wss-down": ["wss_down_mbps"],
    "wss-echo": ["wss_echo_mbps"],
    "wss-rtt-pinned": ["wss_rtt_pin_p50", "wss_rtt_pin_p99"],
    "wss-idle": ["wss_idle_bytes", "wss_idle_fds", "wss_idle_kernel"],
}

# The groups measured over TLS (on the proxies' TLS port; no direct column: the
# upstream does not speak TLS).
TLS_GROUPS = ["https", "tls-conn", "https-large", "wss-up", "wss-down", "wss-echo",
              "wss-rtt-pinned", "wss-idle"]
TLS_FIGURES = [key for group in TLS_GROUPS for key in GROUPS[group]]

# What a second round with 2 workers measures: throughput, not latency or memory.
TWO_WORKER_GROUPS = ["http", "conn", "large", "ws-up", "ws-down", "ws-echo",
                     "https", "tls-conn", "https-large", "wss-up", "wss-down", "wss-echo"]

FULL = dict(wrk_seconds=10, wrk_connections=50, conn_seconds=5, large_bytes=100 << 20,
            large_repeat=5, ws_bytes=2 << 30, echo_bytes=1 << 30, rtt_samples=20000,
            rtt_warmup=2000, idle_count=9000)
QUICK = dict(wrk_seconds=3, wrk_connections=50, conn_seconds=2, large_bytes=100 << 20,
             large_repeat=2, ws_bytes=512 << 20, echo_bytes=256 << 20, rtt_samples=5000,
             rtt_warmup=500, idle_count=2000)


def human_bytes(n):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def tls_conn_threads(cpus):
    """bench-http connect's threads for tls-conn: an OpenSSL 3.0 client handshake costs
    more CPU than the server's (it decodes the certificate and checks the server's
    signature), so one thread would cap the rate. One per core, at most 4."""
    return max(1, min(4, len(cpus)))


def figure_label(key, settings):
    return FIGURES[key][0].format(large=human_bytes(settings["large_bytes"]),
                                  tls_threads=settings.get("tls_conn_threads", 1),
                                  ws=human_bytes(settings["ws_bytes"]),
                                  echo=human_bytes(settings["echo_bytes"]),
                                  idle=f"{settings['idle_count']:,}")


def parse_result(text):
    """key=value pairs of the tools' "result ..." line (values may be quoted)."""
    for line in text.splitlines():
        if line.startswith("result "):
            return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}
    return None


class Context:
    """What every measurement needs: tool paths, settings, the upstream process.
    `tls_seen` collects what TLS negotiated with each proxy (from the tools' tls=...)."""

    def __init__(self, tools, settings, upstream_proc, cpus):
        self.tools = tools
        self.settings = settings
        self.upstream = upstream_proc
        self.cpus = cpus
        self.tls_seen = {}


def _measured(ctx, proxy, argv, timeout, cpus=None):
    proxy_pids = proxy.pids()
    upstream_pids = procs.group_pids(ctx.upstream.pid)
    p0, u0 = procs.cpu_seconds(proxy_pids), procs.cpu_seconds(upstream_pids)
    m0 = procs.machine_busy_seconds()
    out, err, rc, cpu, wall = procs.run_measured(argv, timeout, cpus=cpus)
    p1, u1 = procs.cpu_seconds(proxy_pids), procs.cpu_seconds(upstream_pids)
    m1 = procs.machine_busy_seconds()
    usage = {"load": 100 * cpu / wall, "proxy": 100 * (p1 - p0) / wall, "upstream": 100 * (u1 - u0) / wall}
    # Everything else the machine did meanwhile: other users of its cores.
    usage["other"] = max(0.0, 100 * (m1 - m0) / wall - usage["load"] - usage["proxy"] - usage["upstream"])
    return out, err, rc, usage


def _failure(what, out, err, rc):
    tail = (err.strip() or out.strip()).splitlines()[-2:]
    return f"{what} failed (exit {rc}): {' / '.join(tail) or 'no output'}"


def _tool(ctx, proxy, argv, timeout, what, cpus=None):
    """Runs one of our tools; returns (result dict or None, usage, notes)."""
    out, err, rc, usage = _measured(ctx, proxy, argv, timeout, cpus)
    result = parse_result(out)
    if result is None:
        return None, usage, [_failure(what, out, err, rc)]
    if "tls" in result:
        ctx.tls_seen[proxy.name] = result["tls"]
    notes = []
    if rc != 0:  # a result with errors counted in it (e.g. refused connections)
        notes.append(f"{what}: exit {rc}; " + " ".join(f"{k}={v}" for k, v in result.items()
                                                        if k in ("errors", "first_error")))
    return result, usage, notes


def _port(proxy, tls):
    return proxy.tls_port if tls else proxy.target_port


def _tls_flag(tls):
    return ["--tls"] if tls else []


def _http(ctx, proxy, tls):
    s = ctx.settings
    url = f"{'https' if tls else 'http'}://127.0.0.1:{_port(proxy, tls)}/"
    base = ["wrk", "-t", "1", "-c", str(s["wrk_connections"])]
    procs.run_measured(base + ["-d", "1s", url], 30)  # warm-up: fill pools, connections
    out, err, rc, usage = _measured(ctx, proxy, base + ["-d", f"{s['wrk_seconds']}s", "--latency", url],
                                    s["wrk_seconds"] + 30)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if rc != 0 or not rps or not p99:
        return {}, usage, [_failure("wrk", out, err, rc)]
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    notes = []
    for pattern in (r"Socket errors:[^\n]*", r"Non-2xx or 3xx responses:[^\n]*"):
        m = re.search(pattern, out)
        if m:
            notes.append(f"wrk: {m.group(0).strip()}")
    prefix = "https_" if tls else "http_"
    return ({prefix + "rps": float(rps.group(1)), prefix + "p99": float(p99.group(1)) * scale},
            usage, notes)


def _conn(ctx, proxy, tls):
    s = ctx.settings
    argv = [ctx.tools["http"], "connect", "--connect", str(_port(proxy, tls)),
            "--concurrency", "50", "--duration", str(s["conn_seconds"])]
    if tls:
        argv += ["--tls", "--threads", str(s["tls_conn_threads"])]
    r, usage, notes = _tool(ctx, proxy, argv, s["conn_seconds"] + 30, "bench-http connect")
    if r and int(r.get("resumed", 0)):
        notes.append(f"bench-http connect: {r['resumed']} resumed sessions (expected none)")
    key = "tls_conn_rate" if tls else "conn_rate"
    return ({key: float(r["conn_per_s"])} if r else {}), usage, notes


def _large(ctx, proxy, tls):
    s = ctx.settings
    argv = [ctx.tools["http"], "get", "--connect", str(_port(proxy, tls)),
            "--path", f"/size/{s['large_bytes']}", "--repeat", str(s["large_repeat"])] + _tls_flag(tls)
    r, usage, notes = _tool(ctx, proxy, argv, 120, "bench-http get")
    key = "https_large_mbps" if tls else "large_mbps"
    return ({key: float(r["mb_per_s"])} if r else {}), usage, notes


def _ws(ctx, proxy, mode, extra, key, tls, timeout=180):
    argv = [ctx.tools["ws"], mode, "--connect", str(_port(proxy, tls))] + extra + _tls_flag(tls)
    r, usage, notes = _tool(ctx, proxy, argv, timeout, f"bench-ws {mode}")
    return ({key: float(r["mb_per_s"])} if r else {}), usage, notes


def _ws_up(ctx, proxy, tls):
    return _ws(ctx, proxy, "oneway", ["--bytes", str(ctx.settings["ws_bytes"])],
               "wss_up_mbps" if tls else "ws_up_mbps", tls)


def _ws_down(ctx, proxy, tls):
    return _ws(ctx, proxy, "oneway", ["--direction", "down", "--bytes", str(ctx.settings["ws_bytes"])],
               "wss_down_mbps" if tls else "ws_down_mbps", tls)


def _ws_echo(ctx, proxy, tls):
    return _ws(ctx, proxy, "echo", ["--bytes", str(ctx.settings["echo_bytes"])],
               "wss_echo_mbps" if tls else "ws_echo_mbps", tls)


def _rtt(ctx, proxy, pinned, tls=False):
    s = ctx.settings
    argv = [ctx.tools["ws"], "rtt", "--connect", str(_port(proxy, tls)),
            "--samples", str(s["rtt_samples"]), "--warmup", str(s["rtt_warmup"])] + _tls_flag(tls)
    pids = proxy.pids() + procs.group_pids(ctx.upstream.pid)
    if pinned:
        procs.set_affinity(pids, {0})
    try:
        r, usage, notes = _tool(ctx, proxy, argv, 120, "bench-ws rtt", cpus=[0] if pinned else None)
    finally:
        if pinned:
            procs.set_affinity(pids, set(ctx.cpus))
    if not r:
        return {}, usage, notes
    prefix = ("wss_" if tls else "") + ("rtt_pin_" if pinned else "rtt_")
    return {prefix + "p50": float(r["p50_us"]), prefix + "p99": float(r["p99_us"])}, usage, notes


def _idle_run(ctx, proxy, count, on_established, tls=False):
    """Opens `count` idle tunnels, calls on_established() while they are open, closes
    them. Returns (result dict or None, notes)."""
    argv = [ctx.tools["ws"], "idle", "--connect", str(_port(proxy, tls)), "--count", str(count),
            "--hold", "600"] + _tls_flag(tls)
    client = procs.spawn_piped("bench-ws idle", argv)
    result, extra = None, None
    try:
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([client.stdout], [], [], 1.0)
            if ready:
                line = client.stdout.readline()
                if not line or line.startswith("result "):
                    break
            elif client.poll() is not None:
                break
        result = parse_result(line) if line else None
        if result and "tls" in result:
            ctx.tls_seen[proxy.name] = result["tls"]
        if result and int(result.get("established", 0)) > 0:
            extra = on_established(int(result["established"]))
    finally:
        if client.poll() is None:
            client.send_signal(signal.SIGTERM)
        try:
            rest, err = client.communicate(timeout=60)
        except Exception:  # noqa: BLE001 - a stuck client is killed below anyway
            rest, err = "", ""
        procs.stop(client)
    notes = []
    if result is None:
        notes.append(f"bench-ws idle: no result ({err.strip()[-200:] or 'no output'})")
    elif int(result.get("failed", 0)) or "lost=0" not in rest:
        notes.append(f"bench-ws idle: established {result.get('established')}, failed "
                     f"{result.get('failed')} ({result.get('first_error', '')}); {rest.strip()}")
    return result, extra, notes


def _idle(ctx, proxy, tls):
    """Memory per idle tunnel, measured on a freshly started proxy after a small
    warm-up (so that one-time allocations are not counted per tunnel)."""
    if proxy.name == "direct":
        return {}, None, []
    proxy.stop()
    proxy.start(proxy.workers)
    _idle_run(ctx, proxy, 100, lambda n: None, tls)
    time.sleep(0.5)
    pids = proxy.pids()
    rss0, fds0 = procs.rss_bytes(pids), procs.fd_count(pids)
    slab0, _ = procs.kernel_memory()

    def sample(n):
        time.sleep(1.0)  # let the last handshakes' buffers settle
        slab1, tcp1 = procs.kernel_memory()
        return dict(n=n, rss=procs.rss_bytes(pids), fds=procs.fd_count(pids), slab=slab1)

    result, after, notes = _idle_run(ctx, proxy, ctx.settings["idle_count"], sample, tls)
    if not after:
        return {}, None, notes
    n = after["n"]
    prefix = "wss_idle_" if tls else "idle_"
    values = {prefix + "bytes": (after["rss"] - rss0) / n, prefix + "fds": (after["fds"] - fds0) / n,
              prefix + "kernel": (after["slab"] - slab0) / n}
    return values, None, notes


def _over_tls(measure):
    """The TLS variant of a measurement: on the proxy's TLS port; nothing for the
    direct connection (the upstream has no TLS listener)."""
    def run(ctx, proxy):
        if proxy.name == "direct":
            return {}, None, []
        return measure(ctx, proxy, True)
    return run


def _plain(measure):
    return lambda ctx, proxy: measure(ctx, proxy, False)


MEASURE = {
    "http": _plain(_http),
    "conn": _plain(_conn),
    "large": _plain(_large),
    "ws-up": _plain(_ws_up),
    "ws-down": _plain(_ws_down),
    "ws-echo": _plain(_ws_echo),
    "rtt-pinned": lambda ctx, proxy: _rtt(ctx, proxy, True),
    "rtt": lambda ctx, proxy: _rtt(ctx, proxy, False),
    "idle": _plain(_idle),
    "https": _over_tls(_http),
    "tls-conn": _over_tls(_conn),
    "https-large": _over_tls(_large),
    "wss-up": _over_tls(_ws_up),
    "wss-down": _over_tls(_ws_down),
    "wss-echo": _over_tls(_ws_echo),
    "wss-rtt-pinned": _over_tls(lambda ctx, proxy, tls: _rtt(ctx, proxy, True, tls)),
    "wss-idle": _over_tls(_idle),
}


def generated_config(prefix, port, upstream_port, locations=10000, map_entries=1000):
    """An nginx-language config with `locations` locations (90% prefix, 9% exact,
    1% regex) and a map of `map_entries` entries (1% regex) used by every proxied
    location: what `ferry -t` and `nginx -t` are timed on."""
    lines = ["worker_processes 1;", f"error_log {prefix}/logs/error.log warn;",
             f"pid {prefix}/logs/t.pid;", "events { worker_connections 1024; }", "http {",
             "    access_log off;", "    map_hash_max_size 4096;", "    map $uri $bench_route {",
             "        default none;"]
    for i in range(map_entries):
        lines.append(f"        ~^/mr{i}/ regex{i};" if i % 100 == 99 else f"        /m/{i} value{i};")
    lines += ["    }", "    upstream bench_upstream {", f"        server 127.0.0.1:{upstream_port};",
              "        keepalive 16;", "    }", "    server {", f"        listen 127.0.0.1:{port};",
              "        server_name bench.example;"]
    for i in range(locations):
        if i % 100 == 99:
            lines.append(f"        location ~ ^/r{i}/(\\d+)$ {{ return 200 \"$1\\n\"; }}")
        elif i % 100 >= 90:
            lines.append(f"        location = /e{i} {{ return 200 \"e{i}\\n\"; }}")
        else:
            lines.append(f"        location /p{i}/ {{ proxy_pass http://bench_upstream; "
                         f"proxy_set_header X-Route $bench_route; }}")
    lines += ["    }", "}", ""]
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    path = os.path.join(prefix, "generated.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def time_config_test(argv, runs=3):
    """Median wall time of `argv` (a -t run), or (None, why) when it fails."""
    times = []
    for _ in range(runs):
        start = time.monotonic()
        out, err, rc, _cpu, _wall = procs.run_measured(argv, 60)
        if rc != 0:
            return None, _failure(" ".join(os.path.basename(a) for a in argv[:2]), out, err, rc)
        times.append(time.monotonic() - start)
    times.sort()
    return times[len(times) // 2], None
