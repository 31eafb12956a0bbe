"""The proxies under test: equivalent configurations for ferry, nginx and HAProxy, and
starting and stopping them. Every proxy listens on 127.0.0.1:PORT, and with TLS on
127.0.0.1:TLS_PORT (the run's self-signed certificate), forwards to the bench upstream
over plain HTTP with an upstream keep-alive pool larger than the load's connection
count, and tunnels WebSocket under /ws/."""

import os
import subprocess
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
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        ssl_session_timeout 5m;

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
# maxconn descriptors plus the pipes fit under the 20,000 hard limit. TLS: the same
# protocols, session cache size (nginx's 10 MB hold about 40,000 sessions) and
# lifetime as the nginx-language config; HAProxy wants certificate and key in one file.
HAPROXY_CONF = """\
global
    nbthread {workers}
    maxconn 9500
    maxpipes 200
    tune.ssl.cachesize 40000
    tune.ssl.lifetime 300

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
    bind 127.0.0.1:{tls_port} ssl crt {pem} alpn http/1.1 ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3
    default_backend bench_upstream

backend bench_upstream
    server upstream 127.0.0.1:{upstream_port}
"""


def make_certificate(workdir):
    """The run's self-signed certificate (ECDSA P-256, CN=localhost). Returns
    {"cert", "key", "pem"}: certificate, key, and both in one file (HAProxy)."""
    paths = {k: os.path.join(workdir, f"tls-{k}.pem") for k in ("cert", "key", "pem")}
    proc = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "7", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", paths["key"], "-out", paths["cert"]], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"openssl req failed: {proc.stderr.strip()[-500:]}")
    with open(paths["pem"], "w") as out:
        for k in ("cert", "key"):
            with open(paths[k]) as f:
                out.write(f.read())
    return paths


class Proxy:
    """One proxy under test. `name` is ferry, nginx, haproxy or direct (no proxy:
    the load goes straight to the upstream, which has no TLS listener)."""

    def __init__(self, name, binary, workdir, port, tls_port, upstream_port, pool, cert):
        self.name = name
        self.binary = binary
        self.workdir = workdir
        self.port = port
        self.tls_port = tls_port
        self.upstream_port = upstream_port
        self.pool = pool
        self.cert = cert
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
                      tls_port=self.tls_port, upstream_port=self.upstream_port, pool=self.pool,
                      **self.cert)
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
        """Starts the proxy and waits until it answers GET / with 200 and accepts on
        its TLS port. Raises RuntimeError with the end of its log when it does not."""
        self.workers = workers
        if self.name == "direct":
            return
        for port in (self.port, self.tls_port):
            if procs.port_open(port):
                raise RuntimeError(f"port {port} is already in use")
        prefix, conf = self.write_config()
        log = os.path.join(prefix, "logs", "stdout.log")
        self.proc = procs.spawn(self.name, self.command(prefix, conf), log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if procs.http_get_status(self.port) == 200 and procs.port_open(self.tls_port):
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
            while time.monotonic() < deadline and (procs.port_open(self.port) or
                                                   procs.port_open(self.tls_port)):
                time.sleep(0.05)

    def alive(self):
        return self.name == "direct" or (self.proc is not None and self.proc.poll() is None)
