"""The proxies under test: equivalent configurations for ferry, nginx and HAProxy, and
starting and stopping them. Every proxy listens on 127.0.0.1:PORT, forwards to the
bench upstream with an upstream keep-alive pool larger than the load's connection
count, and tunnels WebSocket under /ws/."""

import os
import time

from . import procs

# The location blocks of the nginx-language config: the HTTP one clears Connection so
# that nginx 1.22 keeps upstream connections alive (ferry does that by default); the
# WebSocket one is the seed's example with the seed's long read timeout.
NGINX_CONF = """\
worker_processes {workers};
worker_rlimit_nofile 20000;
error_log {prefix}/logs/error.log warn;
pid {prefix}/logs/{name}.pid;

events {{
    worker_connections 20000;
}}

http {{
    access_log off;
    keepalive_requests 100000;

    upstream bench_upstream {{
        server 127.0.0.1:{upstream_port};
        keepalive {pool};
        keepalive_requests 100000;
    }}

    server {{
        listen 127.0.0.1:{port};

        location / {{
            proxy_pass http://bench_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}

        location /ws/ {{
            proxy_pass http://bench_upstream;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 950s;
            proxy_send_timeout 950s;
        }}
    }}
}}
"""

# HAProxy: threads for workers, splice for tunnels, idle server connections shared by
# all clients (what nginx's keepalive pool does). maxpipes is lowered so that 2 x
# maxconn descriptors plus the pipes fit under the 20,000 hard limit.
HAPROXY_CONF = """\
global
    nbthread {workers}
    maxconn 9500
    maxpipes 200

defaults
    mode http
    maxconn 9500
    option http-keep-alive
    option splice-auto
    http-reuse always
    timeout connect 5s
    timeout client 950s
    timeout server 950s
    timeout tunnel 950s
    timeout http-keep-alive 75s

frontend bench
    bind 127.0.0.1:{port}
    default_backend bench_upstream

backend bench_upstream
    server upstream 127.0.0.1:{upstream_port}
"""


class Proxy:
    """One proxy under test. `name` is ferry, nginx, haproxy or direct (no proxy:
    the load goes straight to the upstream)."""

    def __init__(self, name, binary, workdir, port, upstream_port, pool):
        self.name = name
        self.binary = binary
        self.workdir = workdir
        self.port = port
        self.upstream_port = upstream_port
        self.pool = pool
        self.proc = None
        self.workers = 1

    @property
    def target_port(self):
        return self.upstream_port if self.name == "direct" else self.port

    def prefix(self):
        return os.path.join(self.workdir, f"{self.name}-w{self.workers}")

    def write_config(self):
        prefix = self.prefix()
        os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
        values = dict(workers=self.workers, prefix=prefix, name=self.name, port=self.port,
                      upstream_port=self.upstream_port, pool=self.pool)
        template = HAPROXY_CONF if self.name == "haproxy" else NGINX_CONF
        path = os.path.join(prefix, f"{self.name}.conf")
        with open(path, "w") as f:
            f.write(template.format(**values))
        return prefix, path

    def command(self, prefix, conf):
        if self.name == "ferry":
            return [self.binary, "-p", prefix + "/", "-c", conf]
        if self.name == "nginx":
            return [self.binary, "-p", prefix + "/", "-c", conf, "-e", f"{prefix}/logs/error.log",
                    "-g", "daemon off; master_process on;"]
        return [self.binary, "-db", "-f", conf]

    def start(self, workers):
        """Starts the proxy and waits until it answers GET / with 200. Raises
        RuntimeError with the end of its log when it does not."""
        self.workers = workers
        if self.name == "direct":
            return
        if procs.port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use")
        prefix, conf = self.write_config()
        log = os.path.join(prefix, "logs", "stdout.log")
        self.proc = procs.spawn(self.name, self.command(prefix, conf), log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if procs.http_get_status(self.port) == 200:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not start serving: {self.log_tail()}")

    def log_tail(self, lines=5):
        text = []
        for name in ("stdout.log", "error.log"):
            try:
                with open(os.path.join(self.prefix(), "logs", name), errors="replace") as f:
                    text += f.read().splitlines()[-lines:]
            except OSError:
                pass
        return " | ".join(text) or "(no log)"

    def pids(self):
        return procs.group_pids(self.proc.pid) if self.proc else []

    def stop(self):
        if self.proc:
            procs.stop(self.proc)
            self.proc = None
            # A new listener must be able to bind; wait until nobody accepts here.
            deadline = time.monotonic() + 5
            while procs.port_open(self.port) and time.monotonic() < deadline:
                time.sleep(0.05)

    def alive(self):
        return self.name == "direct" or (self.proc is not None and self.proc.poll() is None)
