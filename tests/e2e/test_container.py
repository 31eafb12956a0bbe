"""ferry's container image (the top-level Dockerfile), built and run as a real container
with podman, the way its users run it with Docker:

- `ferry -t` and `-T` inside the image check its default configuration, and a broken
  mounted one fails with ferry's message and exit code 1;
- the image as it is serves its default site on 8080, with ferry as PID 1, non-root;
- a mounted ferry.conf proxies HTTP and a WebSocket echo to the demo upstream on the
  host; access lines reach the container's stdout and error lines its stderr;
- a mounted config with nginx's default paths (no pid, no logs) works, under an
  arbitrary uid in group 0;
- a mounted conf.d serves TLS with mounted certificates, and `ferry -s reload` through
  the entrypoint applies an edited one;
- templates in /etc/ferry/templates are rendered from environment variables (over the
  image's default.conf, or into a mounted conf.d, subfolders included), with nginx's own
  $variables left alone; a conf.d it cannot write stops the container with a message;
- `podman stop` (SIGQUIT, the image's STOPSIGNAL) lets an in-flight request finish and
  the container exit 0; a WebSocket tunnel works on until worker_shutdown_timeout; SIGTERM
  stops at once; idle keep-alive upstream connections do not delay the stop;
- examples/kubernetes/: the manifests agree with each other, with the image and with the
  ConfigMap's config, and that config serves the probes, pages and a WebSocket in the
  image under the Deployment's security context (read-only root, uid 101, no
  capabilities, /tmp in memory), with the ports changed to free ones.

The image is built by container_helpers.build_image (once per session; podman's layer
cache makes a rebuild of unchanged sources take seconds). Skipped, saying why, only where
podman cannot run containers at all; FERRY_REQUIRE_CONTAINER=1 turns that skip into a
failure, for CI.
"""

import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

import container_helpers as ch
import demo_wire
import harness
import upstreams

UPSTREAM_PATH = os.path.join("examples", "demo_upstream", "ferry-demo-upstream")
IMAGE_CONF = "/etc/ferry/ferry.conf"


@pytest.fixture(scope="module")
def image():
    try:
        ch.check_podman()
    except ch.Unavailable as e:
        if os.environ.get("FERRY_REQUIRE_CONTAINER") == "1":
            pytest.fail(f"FERRY_REQUIRE_CONTAINER=1 but {e}")
        pytest.skip(f"container test skipped: {e}")
    name = ch.build_image(log=lambda line: print("container:", line))
    print(f"container: image {name} is {ch.image_size(name) / 1e6:.1f} MB")
    return name


@pytest.fixture
def containers():
    """start(image, ...) -> ch.Container, removed at the end of the test."""
    started = []

    def start(*args, **kw):
        c = ch.Container(*args, **kw)
        started.append(c)
        return c

    yield start
    for c in started:
        c.close()


def demo_upstream_binary():
    if os.environ.get("FERRY_DEMO_UPSTREAM"):
        return os.environ["FERRY_DEMO_UPSTREAM"]
    build_dirs = [os.environ.get("FERRY_BUILD_DIR"), os.path.dirname(harness.ferry_binary()),
                  os.path.join(harness.REPO, "build")]
    for d in filter(None, build_dirs):
        if os.access(os.path.join(d, UPSTREAM_PATH), os.X_OK):
            return os.path.join(d, UPSTREAM_PATH)
    pytest.fail(f"ferry-demo-upstream not found in {build_dirs} (set FERRY_DEMO_UPSTREAM)")


@pytest.fixture
def demo_upstream():
    """The demo upstream (page at /, WebSocket echo at /ws/echo) on a free host port."""
    port = harness.free_port()
    proc = subprocess.Popen([demo_upstream_binary(), "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert harness.wait_for_port(port), "the demo upstream did not start"
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_once(image, *args, volumes=(), podman_flags=()):
    """`podman run --rm image args` in the foreground: (exit code, stdout, stderr)."""
    cmd = ["run", "--rm", *ch.RUN_FLAGS, *podman_flags]
    for host_path, container_path, mode in volumes:
        cmd += ["-v", f"{host_path}:{container_path}:{mode}"]
    p = ch.podman(*cmd, image, *args, check=False)
    return p.returncode, p.stdout, p.stderr


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return str(path)


def world_writable_dir(path):
    """A host folder the container's user (uid 101) can write, as a mounted conf.d."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o777)
    return str(path)


def wait_logs(container, needle, stream="stdout", timeout=10.0):
    """Waits until `needle` appears on the container's stdout or stderr; returns both."""
    deadline = time.monotonic() + timeout
    while True:
        out, err = container.logs()
        if needle in (out if stream == "stdout" else err):
            return out, err
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not on the container's {stream}:\n"
                                 f"--- stdout\n{out}\n--- stderr\n{err}")
        time.sleep(0.05)


def check_pid1_is_ferry_not_root(container):
    pid = container.host_pid()
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "ferry"
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
    gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
    assert uids == ["101"] * 4 and gids == ["101"] * 4, status
    out = container.exec("sh", "-c", "id -u; cat /proc/1/comm").stdout.split()
    assert out == ["101", "ferry"]


def websocket_echo(port, message):
    with demo_wire.WireClient(port) as c:
        c.upgrade()
        c.send(demo_wire.frame(demo_wire.TEXT, message))
        echoed = c.read_frame()
        c.send(demo_wire.frame(demo_wire.CLOSE, b"\x03\xe8"))
        assert c.read_frame()[1] == demo_wire.CLOSE
        return echoed


# A ferry.conf a user would mount: the demo's, on a free port, logging as the image does.
MOUNTED_CONF = """\
worker_processes 2;
error_log stderr notice;
pid /tmp/ferry.pid;
worker_shutdown_timeout @shutdown@s;
events { worker_connections 1024; }
http {
    access_log /dev/stdout;
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    server {
        listen 127.0.0.1:@port@;
        location / { proxy_pass http://127.0.0.1:@up@; }
        location /ws/ {
            proxy_pass http://127.0.0.1:@up@;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 950s;
        }
        location /down/ { proxy_pass http://127.0.0.1:@down@; }
    }
}
"""


def mounted_conf(tmp_path, up, shutdown=10):
    port = harness.free_port()
    text = harness.fill(MOUNTED_CONF, port=port, up=up, down=harness.free_port(),
                        shutdown=shutdown)
    path = write(tmp_path / "ferry.conf", text)
    return port, [(path, IMAGE_CONF, "ro")]


# ---- the image's own configuration ---------------------------------------------------


def test_ferry_t_and_T_check_the_image_configuration(image, tmp_path):
    rc, out, err = run_once(image, "ferry", "-t")
    assert rc == 0, err
    assert err.endswith(f"ferry: configuration file {IMAGE_CONF} test is successful\n"), err
    # Options alone are ferry's too.
    assert run_once(image, "-t", "-q") == (0, "", "")
    rc, out, err = run_once(image, "ferry", "-T")
    assert rc == 0, err
    assert f"# configuration file {IMAGE_CONF}:\n" in out
    assert "# configuration file /etc/ferry/conf.d/default.conf:\n" in out
    for line in ("daemon off;", "error_log stderr notice;", "worker_processes auto;",
                 "access_log /dev/stdout;", "include /etc/ferry/conf.d/*.conf;"):
        assert line in out
    # A broken configuration fails the check, as a CI pipeline needs.
    bad = write(tmp_path / "bad.conf", "events {}\nhttp { server { listen 8080; prox_pass x; } }\n")
    rc, out, err = run_once(image, "ferry", "-t", volumes=[(bad, IMAGE_CONF, "ro")])
    assert rc == 1
    assert f'[emerg] unknown directive "prox_pass" in {IMAGE_CONF}:2:' in err
    assert err.endswith(f"ferry: configuration file {IMAGE_CONF} test failed\n")


def test_the_image_as_it_is_serves_8080_as_non_root_pid1(image, containers):
    if harness.wait_for_port(8080, timeout=0.2):
        pytest.skip("port 8080 on this host is in use; the default site needs it")
    c = containers(image)
    took = c.wait_serving(8080)
    print(f"container: serving {took:.2f}s after podman run")
    r = harness.request(8080, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (r.status, r.body) == (200, b"ok\n")
    r = harness.request(8080, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert r.status == 200 and b"ferry is running" in r.body
    check_pid1_is_ferry_not_root(c)
    out, err = wait_logs(c, '"GET / HTTP/1.1" 200 ')
    assert "/healthz" not in out  # access_log off there
    assert "[notice] 1#1: ferry " in err and "started with" in err


# ---- a mounted configuration ---------------------------------------------------------


def test_mounted_config_proxies_http_and_websocket_and_logs_to_stdout_and_stderr(
        image, containers, demo_upstream, tmp_path):
    port, volumes = mounted_conf(tmp_path, demo_upstream)
    c = containers(image, volumes=volumes)
    c.wait_serving(port)
    r = harness.request(port, b"GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
    assert r.status == 200 and b"/ws/echo" in r.body
    assert websocket_echo(port, "through the container") == (
        True, demo_wire.TEXT, b"through the container")
    r = harness.request(port, b"GET /down/ HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
    assert r.status == 502
    check_pid1_is_ferry_not_root(c)

    out, err = wait_logs(c, '"GET /ws/echo HTTP/1.1" 101 ')
    out, err = wait_logs(c, '"GET /down/ HTTP/1.1" 502 ')
    assert '"GET / HTTP/1.1" 200 ' in out
    assert re.search(r"\[error\] 1#\d+: \*\d+ connect\(\) failed .* while connecting to "
                     r"upstream", err), err
    # Each stream carries only its own kind of line.
    assert "[error]" not in out
    assert "HTTP/1.1\" " not in err


def test_mounted_conf_d_serves_tls_and_reloads_on_ferry_s_reload(image, containers, tmp_path):
    port, tls_port = harness.free_port(), harness.free_port()
    conf_d = str(tmp_path / "conf.d")
    os.mkdir(conf_d)
    site = """\
server {
    listen 127.0.0.1:@port@;
    location / { return 200 "@answer@\\n"; }
}
server {
    listen 127.0.0.1:@tls_port@ ssl;
    ssl_certificate /etc/ferry/certs/example.crt;
    ssl_certificate_key /etc/ferry/certs/example.key;
    location / { return 200 "over tls\\n"; }
}
"""
    write(os.path.join(conf_d, "site.conf"),
          harness.fill(site, port=port, tls_port=tls_port, answer="first"))
    certs = os.path.join(harness.REPO, "examples", "tls")
    c = containers(image, volumes=[(conf_d, "/etc/ferry/conf.d", "ro"),
                                   (certs, "/etc/ferry/certs", "ro")])
    c.wait_serving(port)
    get = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert harness.request(port, get).body == b"first\n"

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="example.test") as tls:
            with open(os.path.join(certs, "example.crt")) as f:
                assert tls.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(f.read())
            tls.sendall(get)
            answer = b""
            while chunk := tls.recv(4096):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\nover tls\n")

    # nginx's way, through the entrypoint (which supplies the image's -p and -c).
    write(os.path.join(conf_d, "site.conf"),
          harness.fill(site, port=port, tls_port=tls_port, answer="second"))
    reload = c.exec("ferry-entrypoint", "ferry", "-s", "reload", check=False)
    assert reload.returncode == 0, reload.stderr
    deadline = time.monotonic() + 10
    while harness.request(port, get).body != b"second\n":
        assert time.monotonic() < deadline, "the reload did not take effect"
        time.sleep(0.1)


NGINX_DEFAULTS_CONF = """\
events {}
http {
    server {
        listen 127.0.0.1:@port@;
        location / { return 200 "defaults\\n"; }
    }
}
"""


def test_nginx_default_paths_work_under_an_arbitrary_uid_in_group_root(image, containers,
                                                                      tmp_path):
    # No pid, error_log or access_log: nginx's defaults under the prefix /etc/ferry/,
    # logs/ferry.pid, logs/access.log (the container's stdout), as an uid the image does
    # not know, in group 0 (as OpenShift runs images).
    port = harness.free_port()
    conf = write(tmp_path / "ferry.conf", harness.fill(NGINX_DEFAULTS_CONF, port=port))
    c = containers(image, volumes=[(conf, IMAGE_CONF, "ro")], extra_flags=["--user", "4242:0"])
    c.wait_serving(port)
    r = harness.request(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (r.status, r.body) == (200, b"defaults\n")
    wait_logs(c, '"GET / HTTP/1.1" 200 9 ')
    assert c.exec("cat", "/etc/ferry/logs/ferry.pid").stdout == "1\n"


# ---- templates -------------------------------------------------------------------------

TEMPLATE = """\
map $http_upgrade $connection_upgrade { default upgrade; '' close; }
server {
    listen 127.0.0.1:${LISTEN_PORT};
    location / {
        proxy_pass http://${BACKEND};
        proxy_set_header X-Forwarded-Host $host;
    }
    location /ws/ {
        proxy_pass http://$BACKEND;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
    }
    # ${FERRY_TEST_NOT_SET} and $FERRY_TEST_NOT_SET stay as they are
}
"""


def test_default_conf_template_is_rendered_from_the_environment(
        image, containers, demo_upstream, tmp_path):
    # As the nginx image documents it: templates/default.conf.template replaces the
    # image's conf.d/default.conf.
    port = harness.free_port()
    templates = tmp_path / "templates"
    templates.mkdir()
    write(templates / "default.conf.template", TEMPLATE)
    backend = f"127.0.0.1:{demo_upstream}"
    c = containers(image, env={"BACKEND": backend, "LISTEN_PORT": port},
                   volumes=[(str(templates), "/etc/ferry/templates", "ro")])
    c.wait_serving(port)
    rendered = c.exec("cat", "/etc/ferry/conf.d/default.conf").stdout
    assert rendered == (TEMPLATE.replace("${LISTEN_PORT}", str(port))
                        .replace("${BACKEND}", backend).replace("$BACKEND", backend))
    assert "$host" in rendered and "${FERRY_TEST_NOT_SET}" in rendered
    r = harness.request(port, b"GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
    assert r.status == 200 and b"/ws/echo" in r.body
    assert websocket_echo(port, "templated") == (True, demo_wire.TEXT, b"templated")
    wait_logs(c, "rendering /etc/ferry/templates/default.conf.template to "
              "/etc/ferry/conf.d/default.conf", stream="stderr")
    # The image's own site is gone: nothing listens on 8080 for it.
    assert "8080" not in c.exec("ferry", "-T", "-c", IMAGE_CONF).stdout


def test_templates_in_subfolders_render_into_a_mounted_conf_d_as_an_arbitrary_uid(
        image, tmp_path):
    templates = tmp_path / "templates"
    (templates / "sites").mkdir(parents=True)
    write(templates / "sites" / "app.conf.template", "# ${BACKEND} $host\n")
    write(templates / "ignored.conf", "not a template\n")
    conf_d = world_writable_dir(tmp_path / "conf.d")
    rc, out, err = run_once(image, "ferry", "-t", volumes=[
        (str(templates), "/etc/ferry/templates", "ro"), (conf_d, "/etc/ferry/conf.d", "rw")],
        podman_flags=["--user", "4242:0", "-e", "BACKEND=app:3000"])
    assert rc == 0, err
    assert sorted(os.listdir(conf_d)) == ["sites"]
    with open(os.path.join(conf_d, "sites", "app.conf")) as f:
        assert f.read() == "# app:3000 $host\n"


def test_template_into_a_read_only_conf_d_stops_the_container_with_a_message(image, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    write(templates / "site.conf.template", TEMPLATE)
    conf_d = world_writable_dir(tmp_path / "conf.d")
    rc, out, err = run_once(image, volumes=[(str(templates), "/etc/ferry/templates", "ro"),
                                            (conf_d, "/etc/ferry/conf.d", "ro")])
    assert rc == 1
    assert "ferry-entrypoint: cannot write /etc/ferry/conf.d/site.conf" in err


# ---- stopping ----------------------------------------------------------------------------


def gated(release, body):
    """An upstream handler that answers only once `release` is set."""

    def handler(req, conn):
        if not release.wait(30):
            return False
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        return False

    return handler


def listener_closes(port, timeout=5.0):
    """True once connecting to `port` is refused (within `timeout`): the listening socket
    is gone. The log line that says a stop began comes a moment before the workers close
    their listeners, so a connection may still be accepted at first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


def test_podman_stop_lets_an_in_flight_request_finish_and_exits_0(image, containers,
                                                                   tmp_path):
    release = threading.Event()
    body = b"finished after the stop\n" * 100
    with upstreams.Upstream(gated(release, body)) as up:
        port, volumes = mounted_conf(tmp_path, up.port, shutdown=20)
        c = containers(image, volumes=volumes)
        c.wait_serving(port)
        result = {}

        def client():
            result["response"] = harness.request(
                port, b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                timeout=30.0)

        t = threading.Thread(target=client)
        t.start()
        up.wait_started(1)
        stop = subprocess.Popen([*ch.PODMAN, "stop", "-t", "30", c.id],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_logs(c, "gracefully shutting down", stream="stderr")
            assert listener_closes(port), "ferry still accepts after SIGQUIT"
            assert c.status() == "stopping"  # ferry waits for the request
            release.set()
            t.join(30)
            r = result.get("response")
            assert r is not None and (r.status, r.body) == (200, body)
            assert stop.wait(30) == 0, stop.stderr.read()
        finally:
            release.set()
            if stop.poll() is None:
                stop.kill()
                stop.wait()
    assert c.exit_code() == 0
    out, err = c.logs()
    assert '"GET /slow HTTP/1.1" 200 ' in out
    assert err.rstrip().endswith("[notice] 1#1: exit"), err


def test_podman_stop_keeps_a_websocket_until_worker_shutdown_timeout(
        image, containers, demo_upstream, tmp_path):
    port, volumes = mounted_conf(tmp_path, demo_upstream, shutdown=2)
    c = containers(image, volumes=volumes)
    c.wait_serving(port)
    with demo_wire.WireClient(port, timeout=10.0) as ws:
        ws.upgrade()
        stopped_at = time.monotonic()
        stop = subprocess.Popen([*ch.PODMAN, "stop", "-t", "30", c.id],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_logs(c, "gracefully shutting down", stream="stderr")
        # The tunnel still carries messages while ferry drains...
        ws.send(demo_wire.frame(demo_wire.TEXT, "still here"))
        assert ws.read_frame() == (True, demo_wire.TEXT, b"still here")
        # ...and is closed when worker_shutdown_timeout (2s) passes.
        assert ws.is_closed(timeout=10.0)
        closed_after = time.monotonic() - stopped_at
    assert stop.wait(30) == 0, stop.stderr.read()
    assert 1.5 <= closed_after < 8, closed_after
    assert c.exit_code() == 0
    wait_logs(c, "worker_shutdown_timeout passed", stream="stderr")


def test_sigterm_stops_at_once_despite_an_in_flight_request(image, containers, tmp_path):
    release = threading.Event()
    with upstreams.Upstream(gated(release, b"never")) as up:
        port, volumes = mounted_conf(tmp_path, up.port, shutdown=20)
        c = containers(image, volumes=volumes)
        c.wait_serving(port)
        with harness.RawClient(port, timeout=10.0) as client:
            client.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            up.wait_started(1)
            started = time.monotonic()
            ch.podman("kill", "--signal", "TERM", c.id)
            assert c.wait_exit(timeout=10) == 0
            assert time.monotonic() - started < 3
            assert client.read_response() is None  # closed without an answer
        release.set()
    out, err = c.logs()
    assert f"signal {signal.SIGTERM.value} received, exiting" in err, err


KEEPALIVE_CONF = """\
error_log stderr notice;
pid /tmp/ferry.pid;
worker_shutdown_timeout 3s;
events { worker_connections 64; }
http {
    access_log /dev/stdout;
    upstream app { server 127.0.0.1:@up@; keepalive 8; }
    server {
        listen 127.0.0.1:@port@;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
"""


def test_podman_stop_does_not_wait_for_idle_keepalive_upstream_connections(
        image, containers, tmp_path):
    with upstreams.Upstream() as up:
        port = harness.free_port()
        conf = write(tmp_path / "ferry.conf", harness.fill(KEEPALIVE_CONF, port=port,
                                                       up=up.port))
        c = containers(image, volumes=[(conf, IMAGE_CONF, "ro")])
        c.wait_serving(port)
        r = harness.request(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert r.status == 200
        assert up.wait_open_conns(1)  # the idle keep-alive connection ferry keeps
        started = time.monotonic()
        ch.podman("stop", "-t", "30", c.id)
        took = time.monotonic() - started
    assert c.exit_code() == 0
    assert took < 1.5, f"podman stop took {took:.1f}s with nothing in flight"


# ---- examples/kubernetes/ --------------------------------------------------------------

K8S_DIR = os.path.join(harness.REPO, "examples", "kubernetes")


def k8s_manifests():
    yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed")
    docs = {}
    for name in sorted(os.listdir(K8S_DIR)):
        if name.endswith(".yaml"):
            with open(os.path.join(K8S_DIR, name)) as f:
                for doc in yaml.safe_load_all(f):
                    docs[doc["kind"]] = doc
    assert set(docs) == {"ConfigMap", "Deployment", "Service"}
    return docs


def seconds(conf, directive):
    m = re.search(rf"^\s*{directive}\s+(\d+)s;", conf, re.M)
    assert m, f"{directive} not in the ConfigMap's ferry.conf"
    return int(m.group(1))


def test_kubernetes_manifests_agree_with_the_image_and_the_config(image):
    docs = k8s_manifests()
    config_map, deployment, service = docs["ConfigMap"], docs["Deployment"], docs["Service"]
    conf = config_map["data"]["ferry.conf"]
    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = pod["containers"]
    # Ports and probes: the Service targets the named port, which is the one ferry
    # listens on, and the probes ask a location the config answers itself.
    (port,) = container["ports"]
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    assert re.search(rf"^\s*listen {port['containerPort']} default_server;", conf, re.M)
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["port"] == port["name"]
        assert re.search(rf"location = {get['path']} {{\s*access_log off;\s*return 200 ",
                         conf)
    # Stopping: the grace period covers preStop and worker_shutdown_timeout.
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert (pod["terminationGracePeriodSeconds"]
            > int(pre_stop[1]) + seconds(conf, "worker_shutdown_timeout"))
    # Security: the image's user, a read-only root with the pid file on a writable /tmp.
    user = ch.podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip()
    assert user == f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert re.search(r"^pid /tmp/", conf, re.M) and "emptyDir" in volumes[mounts["/tmp"]]
    assert volumes[mounts["/etc/ferry"]]["configMap"]["name"] == config_map["metadata"]["name"]
    # worker_processes follows the CPU limit ("auto" would count the node's CPUs).
    workers = re.search(r"^worker_processes (\d+);", conf, re.M)
    assert workers and workers.group(1) == str(container["resources"]["limits"]["cpu"])


def test_kubernetes_config_serves_in_the_image_under_the_pod_security_context(
        image, containers, demo_upstream, tmp_path):
    conf = k8s_manifests()["ConfigMap"]["data"]["ferry.conf"]
    # The config as the pods see it, ferry -t included: "app" resolves to this host.
    config_dir = tmp_path / "config-map"
    config_dir.mkdir()
    write(config_dir / "ferry.conf", conf)
    pod_flags = ["--add-host", "app:127.0.0.1", "--read-only", "--tmpfs", "/tmp",
                 "--user", "101:101", "--cap-drop", "ALL", "--security-opt",
                 "no-new-privileges"]
    mount = [(str(config_dir), "/etc/ferry", "ro")]
    rc, out, err = run_once(image, "ferry", "-t", volumes=mount, podman_flags=pod_flags)
    assert rc == 0, err
    # Served on free ports: the listen and the app's port change, nothing else.
    port = harness.free_port()
    served = conf.replace("listen 8080 ", f"listen {port} ").replace(
        "server app:3000;", f"server app:{demo_upstream};")
    assert served.count(str(port)) == 1 and served.count(f"app:{demo_upstream}") == 1
    write(config_dir / "ferry.conf", served)
    c = containers(image, volumes=mount, extra_flags=pod_flags)
    c.wait_serving(port)
    r = harness.request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (r.status, r.body) == (200, b"ok\n")
    r = harness.request(port, b"GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
    assert r.status == 200 and b"/ws/echo" in r.body
    assert websocket_echo(port, "in a pod") == (True, demo_wire.TEXT, b"in a pod")
    check_pid1_is_ferry_not_root(c)
