"""The demo a newcomer sees: ferry on examples/demo.conf in front of ferry-demo-upstream.

examples/demo.sh (the README's first quick-start command) runs exactly this pair. Here
both run on free ports (a temporary copy of demo.conf with its ports and pid file
replaced), started the way demo.sh starts them, and:

- examples/demo.sh itself serves the demo on 8080 and stops everything on Ctrl-C
  (skipped when 8080 or 8081 is taken, or FERRY_BINARY is not in a meson build);
- the page and a WebSocket echo work through ferry on one port (Python's websockets);
- a message typed into the page in headless Chromium comes back through the tunnel
  (skipped only when chromium is not installed);
- the demo upstream on its own speaks RFC 6455 and HTTP/1.1 correctly, refuses bad
  input without dying, and serves many clients at once.

Environment: FERRY_BINARY (default build/ferry), FERRY_DEMO_UPSTREAM (default
<build>/examples/demo_upstream/ferry-demo-upstream), CHROMIUM (default chromium).
"""

import asyncio
import os
import secrets
import signal
import subprocess
import time

import pytest

import demo_browser
import demo_wire
import harness
from conftest import sanitized

DEMO_CONF = os.path.join(harness.REPO, "examples", "demo.conf")
UPSTREAM_PATH = os.path.join("examples", "demo_upstream", "ferry-demo-upstream")
TUNNEL_LOGGED = b'"GET /ws/echo HTTP/1.1" 101 '


def upstream_binary():
    if os.environ.get("FERRY_DEMO_UPSTREAM"):
        return os.environ["FERRY_DEMO_UPSTREAM"]
    build_dirs = [os.environ.get("FERRY_BUILD_DIR"), os.path.dirname(harness.ferry_binary()),
                  os.path.join(harness.REPO, "build")]
    for d in filter(None, build_dirs):
        if os.access(os.path.join(d, UPSTREAM_PATH), os.X_OK):
            return os.path.join(d, UPSTREAM_PATH)
    pytest.fail(f"ferry-demo-upstream not found in {build_dirs} (set FERRY_DEMO_UPSTREAM)")


class Process:
    """A child process whose stdout and stderr go to files in `directory`."""

    def __init__(self, args, directory, name, **popen_args):
        self.out_path = os.path.join(directory, name + ".stdout")
        self.err_path = os.path.join(directory, name + ".stderr")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, **popen_args)

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def stop(self, timeout=10):
        """SIGTERM, as demo.sh's trap and Ctrl-C do; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return f"hung for {timeout}s after SIGTERM"


def check_stopped_cleanly(process, name):
    rc = process.stop()
    err = process.stderr()
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert marker not in err, f"{name} reported a memory or UB error:\n{err[-4000:]}"
    assert rc == 0, f"{name} exited with {rc}: {err[-2000:]}"


def start_upstream(directory):
    port = harness.free_port()
    up = Process([upstream_binary(), "--listen", f"127.0.0.1:{port}"], directory, "upstream")
    if not harness.wait_for_port(port):
        up.stop()
        pytest.fail(f"the demo upstream did not listen on {port}: {up.stderr()}")
    return up, port


def demo_conf_copy(directory, port, upstream_port):
    """demo.conf with its ports and pid file replaced; everything else verbatim."""
    with open(DEMO_CONF) as f:
        text = f.read()
    replacements = {"127.0.0.1:8080": f"127.0.0.1:{port}",
                    "127.0.0.1:8081": f"127.0.0.1:{upstream_port}",
                    "/tmp/ferry-demo.pid": os.path.join(directory, "ferry.pid")}
    for old, new in replacements.items():
        assert old in text, f"examples/demo.conf no longer mentions {old}"
        text = text.replace(old, new)
    path = os.path.join(directory, "demo.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


class Demo:
    def __init__(self, directory):
        self.upstream, self.upstream_port = start_upstream(directory)
        self.port = harness.free_port()
        conf = demo_conf_copy(directory, self.port, self.upstream_port)
        # As demo.sh runs it (no -e): errors go to stderr, the access log to stdout.
        self.ferry = Process([harness.ferry_binary(), "-p", directory + "/", "-c", conf],
                             directory, "ferry")
        if not harness.wait_for_port(self.port):
            self.close(check=False)
            pytest.fail(f"ferry did not listen on {self.port}: {self.ferry.stderr()}")

    def wait_for_access_log(self, needle, timeout=5.0):
        """The access log (ferry's stdout) once it holds `needle`, failing after timeout."""
        deadline = time.monotonic() + timeout
        while needle not in self.ferry.stdout():
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in ferry's access log:\n"
                                     f"{self.ferry.stdout().decode(errors='replace')}")
            time.sleep(0.05)
        return self.ferry.stdout()

    def close(self, check=True):
        if not check:
            self.ferry.stop()
            self.upstream.stop()
            return
        try:
            check_stopped_cleanly(self.ferry, "ferry")
        finally:
            check_stopped_cleanly(self.upstream, "ferry-demo-upstream")


@pytest.fixture
def demo(tmp_path):
    if not os.access(harness.ferry_binary(), os.X_OK):
        pytest.fail(f"ferry binary not found at {harness.ferry_binary()} (set FERRY_BINARY)")
    d = Demo(str(tmp_path))
    yield d
    d.close()


@pytest.fixture
def upstream(tmp_path):
    up, port = start_upstream(str(tmp_path))
    up.port = port
    yield up
    check_stopped_cleanly(up, "ferry-demo-upstream")


# ---------------------------------------------------------------------------------
# Through ferry

def test_demo_conf_passes_the_config_test():
    examples = os.path.dirname(DEMO_CONF)
    r = subprocess.run([harness.ferry_binary(), "-t", "-p", examples + "/", "-c", DEMO_CONF],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr


def test_page_and_websocket_echo_work_through_ferry_on_one_port(demo):
    page = harness.request(demo.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert page.status == 200
    assert page.header("Content-Type") == "text/html; charset=utf-8"
    for element in (b'id="msg"', b'id="send"', b'id="log"', b'id="status"', b"/ws/echo"):
        assert element in page.body
    missing = harness.request(demo.port, b"GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert missing.status == 404
    asyncio.run(asyncio.wait_for(
        demo_wire.echo_conversation(f"ws://127.0.0.1:{demo.port}/ws/echo",
                                    (4 if sanitized() else 16) << 20), 30))
    # The tunnel's access log line is written when it ends.
    demo.wait_for_access_log(TUNNEL_LOGGED)


def test_many_concurrent_echoes_through_ferry(demo):
    clients = 20 if sanitized() else 100
    asyncio.run(asyncio.wait_for(
        demo_wire.concurrent_echoes(f"ws://127.0.0.1:{demo.port}/ws/echo", clients, 10), 30))


def children(pid):
    """The pids whose parent is `pid`, with their command lines."""
    found = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            found[int(entry)] = cmdline
    return found


@pytest.mark.parametrize("ending", ["ctrl-c", "ferry-exits"])
def test_demo_sh_serves_the_demo_and_stops_the_upstream_when_it_ends(tmp_path, ending):
    build = os.path.dirname(os.path.abspath(harness.ferry_binary()))
    if not os.path.exists(os.path.join(build, "build.ninja")):
        pytest.skip(f"FERRY_BINARY is not in a meson build directory ({build})")
    for port in (8080, 8081):
        if harness.wait_for_port(port, timeout=0.1):
            pytest.skip(f"port {port} is in use; demo.sh needs 8080 and 8081")
    dry_run = subprocess.run(["ninja", "-C", build, "-n", "ferry", UPSTREAM_PATH],
                             capture_output=True, text=True, timeout=30)
    if "no work to do" not in dry_run.stdout:
        pytest.skip(f"{build} is not up to date: demo.sh would spend time building it")
    # As from a terminal: SIGINT at its default. A suite started in the background of a
    # non-interactive shell inherits it ignored, and bash cannot trap an ignored signal.
    script = Process(["bash", os.path.join(harness.REPO, "examples", "demo.sh")],
                     str(tmp_path), "demo.sh", env=dict(os.environ, FERRY_BUILD_DIR=build),
                     start_new_session=True,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert harness.wait_for_port(8080, timeout=15), script.stderr()
        assert "open http://127.0.0.1:8080/" in script.stderr()
        assert harness.request(8080, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").status == 200
        asyncio.run(asyncio.wait_for(
            demo_wire.concurrent_echoes("ws://127.0.0.1:8080/ws/echo", 2, 3), 10))
        if ending == "ctrl-c":
            # Ctrl-C in a terminal signals the whole foreground process group.
            os.killpg(script.proc.pid, signal.SIGINT)
            expected_rc = 130
        else:
            ferry = [p for p, cmd in children(script.proc.pid).items() if "demo.conf" in cmd]
            assert len(ferry) == 1, children(script.proc.pid)
            os.kill(ferry[0], signal.SIGTERM)
            expected_rc = 0
        assert script.proc.wait(15) == expected_rc, script.stderr()
        with pytest.raises(ProcessLookupError):  # the upstream and ferry are gone too
            os.killpg(script.proc.pid, 0)
    finally:
        try:
            os.killpg(script.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        script.proc.wait(5)


@pytest.mark.skipif(demo_browser.chromium_binary() is None,
                    reason="chromium is not installed (apt-get install -y chromium)")
def test_message_typed_into_the_page_comes_back_through_the_tunnel(demo):
    browser = demo_browser.Chromium(demo_browser.chromium_binary())
    try:
        asyncio.run(asyncio.wait_for(drive_demo_page(browser, demo.port), 40))
    except BaseException as e:
        raise AssertionError(f"{e!r}\nchromium's log:\n{browser.log()}") from e
    finally:
        browser.close()
    log = demo.wait_for_access_log(TUNNEL_LOGGED)
    assert b'"GET / HTTP/1.1" 200 ' in log


ECHOED_TEXTS = "[...document.querySelectorAll('#log li.echo .text')].map(e => e.textContent)"
SENT_TEXTS = "[...document.querySelectorAll('#log li.sent .text')].map(e => e.textContent)"


async def drive_demo_page(browser, port):
    page = await demo_browser.Page.connect(browser.page_websocket_url())
    try:
        await page.call("Page.enable")
        await page.navigate(f"http://127.0.0.1:{port}/")
        await page.wait_for("document.getElementById('status')?.dataset.state === 'open'",
                            15, "the page's WebSocket to open")
        first = "hello through ferry " + secrets.token_hex(4)
        await page.type_text("#msg", first)
        await page.click("#send")
        await page.wait_for(f"{ECHOED_TEXTS}.includes({first!r})", 10, "the first echo")
        second = "sent with Enter: h\u00e9llo \u2713 " + secrets.token_hex(4)
        await page.type_text("#msg", second)
        await page.press_enter()
        await page.wait_for(f"{ECHOED_TEXTS}.length === 2", 10, "the second echo")
        assert await page.evaluate(ECHOED_TEXTS) == [first, second]
        assert await page.evaluate(SENT_TEXTS) == [first, second]
        assert await page.evaluate("document.getElementById('msg').value") == ""
        assert await page.evaluate("document.getElementById('status').dataset.state") == "open"
        # Leaving the page closes its WebSocket, which ends the tunnel.
        await page.navigate("about:blank")
    finally:
        await page.close()


# ---------------------------------------------------------------------------------
# The demo upstream on its own

def test_upstream_handshake_and_frames_follow_rfc6455(upstream):
    demo_wire.check_rfc6455_conversation(upstream.port)


@pytest.mark.parametrize("case", demo_wire.PROTOCOL_ERRORS, ids=lambda c: c[0])
def test_upstream_closes_on_protocol_errors(upstream, case):
    name, frames, expected_code = case
    demo_wire.check_protocol_error(upstream.port, frames, expected_code)


def test_upstream_http_keep_alive_pipelining_and_routes(upstream):
    demo_wire.check_http_conversation(upstream.port)


def test_upstream_survives_bad_input_and_releases_descriptors(upstream):
    # a connection of an earlier test may still be closing: start from a settled count
    baseline = settled_fds(upstream.proc.pid)
    for raw, expected_status in demo_wire.BAD_REQUESTS:
        demo_wire.check_refused(upstream.port, raw, expected_status)
    demo_wire.send_garbage_after_upgrade(upstream.port)
    assert upstream.proc.poll() is None, "the upstream died"
    page = harness.request(upstream.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert page.status == 200
    deadline = time.monotonic() + 5
    while harness.open_fds(upstream.proc.pid) > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    assert harness.open_fds(upstream.proc.pid) <= baseline


def settled_fds(pid):
    """The descriptor count once it has not changed for 0.3 s (bounded at 5 s)."""
    count, since = harness.open_fds(pid), time.monotonic()
    deadline = since + 5
    while time.monotonic() < deadline and time.monotonic() - since < 0.3:
        time.sleep(0.05)
        now = harness.open_fds(pid)
        if now != count:
            count, since = now, time.monotonic()
    return count


def test_upstream_serves_many_concurrent_clients(upstream):
    clients = 50 if sanitized() else 400
    asyncio.run(asyncio.wait_for(
        demo_wire.concurrent_echoes(f"ws://127.0.0.1:{upstream.port}/ws/echo", clients, 10),
        40))
