"""Test harness: start the real ferry binary on 127.0.0.1 and talk to it over sockets.

Everything here is bounded: every wait has a deadline, every process is stopped at the
end of its test, and a ferry that crashed or leaked descriptors fails the test.
"""

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def nginx_compare():
    """NGINX_COMPARE=1 (with FERRY_BINARY=/usr/sbin/nginx) runs tests against the local
    nginx, to check their expectations themselves."""
    return os.environ.get("NGINX_COMPARE", "") not in ("", "0")


def nginx_compare_lines(pid=True):
    """(main, http) directives nginx needs to run unprivileged in a test prefix under
    NGINX_COMPARE=1; empty strings for ferry."""
    if not nginx_compare():
        return "", ""
    main = "\ndaemon off;\nmaster_process off;\n"
    if pid:
        main += "pid @prefix@/logs/nginx.pid;\n"
    http = "".join(f"    {kind}_temp_path @prefix@/{name};\n" for kind, name in (
        ("client_body", "client_body"), ("proxy", "proxy"), ("fastcgi", "fastcgi"),
        ("uwsgi", "uwsgi"), ("scgi", "scgi")))
    return main, "\n" + http


def ferry_binary():
    return os.environ.get("FERRY_BINARY", os.path.join(REPO, "build", "ferry"))


def free_port():
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(text, **values):
    """Replaces @NAME@ placeholders with values."""
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    return text


def wait_for_port(port, timeout=10.0, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def wait_for(predicate, timeout=5.0, step=0.02):
    """Polls `predicate` until it is true (returns True) or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except FileNotFoundError:
        return -1


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


class Ferry:
    """A ferry process running a config given as text.

    The config may use @NAME@ placeholders filled from `ports` (e.g. @port@, @up@) and
    @prefix@ for the temporary prefix directory (nginx's braces rule out str.format). The process runs in the foreground with
    `daemon off` (the default) and error_log going to {prefix}/error.log unless the
    config says otherwise.
    """

    def __init__(self, conf, ports=None, wait_ports=None, extra_args=(), env=None,
                 expect_start=True):
        self.dir = tempfile.TemporaryDirectory(prefix="ferry-test-")
        self.prefix = self.dir.name
        os.makedirs(os.path.join(self.prefix, "logs"), exist_ok=True)
        self.ports = dict(ports or {})
        self.conf_path = os.path.join(self.prefix, "ferry.conf")
        with open(self.conf_path, "w") as f:
            f.write(fill(conf, prefix=self.prefix, **self.ports))
        self.error_log = os.path.join(self.prefix, "logs", "error.log")
        args = [ferry_binary(), "-p", self.prefix + "/", "-c", self.conf_path,
                "-e", self.error_log, *extra_args]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env)
        self.stdout = b""
        self.stderr = b""
        self.expect_clean_exit = expect_start
        if expect_start:
            for p in (wait_ports if wait_ports is not None else list(self.ports.values())[:1]):
                if not wait_for_port(p):
                    self.stop()
                    raise RuntimeError(
                        f"ferry did not listen on {p}: rc={self.proc.returncode} "
                        f"stderr={self.stderr.decode(errors='replace')} "
                        f"log={self.read_error_log()}")

    @property
    def pid(self):
        return self.proc.pid

    def fds(self):
        return open_fds(self.proc.pid)

    def rss_kib(self):
        return rss_kib(self.proc.pid)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=10):
        try:
            out, err = self.proc.communicate(timeout=timeout)
            self.stdout += out or b""
            self.stderr += err or b""
        except subprocess.TimeoutExpired:
            return None
        return self.proc.returncode

    def stop(self, sig=None, timeout=10):
        """Stops ferry (SIGTERM by default) and returns its exit code (killing it if it
        hangs)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig if sig is not None else signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.proc.kill()
            self.wait(5)
            raise RuntimeError("ferry did not stop within %ss" % timeout)
        return rc

    def read_error_log(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def sanitizer_report(self):
        """The AddressSanitizer/UBSan/LeakSanitizer report ferry printed, if any."""
        text = (self.stderr or b"").decode(errors="replace") + self.read_error_log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            at = text.find(marker)
            if at >= 0:
                return text[max(0, at - 200):at + 4000]
        return None

    def close(self, check=True):
        """Stops ferry. With `check`, a non-zero exit or a sanitizer report fails."""
        try:
            rc = self.proc.returncode
            if self.proc.poll() is None:
                rc = self.stop()
            report = self.sanitizer_report()
            if check and report:
                raise AssertionError("ferry reported a memory or UB error:\n" + report)
            if check and rc not in (0, None) and self.expect_clean_exit:
                raise AssertionError(
                    f"ferry exited with {rc}: {self.stderr.decode(errors='replace')[-2000:]}")
        finally:
            self.dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Response:
    def __init__(self, status, reason, headers, body, raw, version):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value), names as sent
        self.body = body
        self.raw = raw
        self.version = version

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]


class RawClient:
    """A client that sends exact bytes and reads responses off one connection."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.timeout = timeout

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read_response(self, head_request=False):
        """Reads one response; returns a Response or None if the peer closed first."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, *reason = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k, v.strip()))
        status = int(status)
        lower = {k.lower(): v for k, v in headers}
        body = b""
        if head_request or status in (204, 304) or 100 <= status < 200:
            pass
        elif "chunked" in lower.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in lower:
            n = int(lower["content-length"])
            while len(self.buf) < n:
                if not self._fill():
                    break
            body, self.buf = self.buf[:n], self.buf[n:]
        else:
            while self._fill():
                pass
            body, self.buf = self.buf, b""
        return Response(status, reason[0] if reason else "", headers, body, head, version)

    def _read_chunked(self):
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                if not self._fill():
                    return body
            line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while b"\r\n" not in self.buf:
                    if not self._fill():
                        return body
                # trailers end with an empty line
                while not self.buf.startswith(b"\r\n"):
                    _, self.buf = self.buf.split(b"\r\n", 1)
                    while b"\r\n" not in self.buf:
                        if not self._fill():
                            return body
                self.buf = self.buf[2:]
                return body
            while len(self.buf) < size + 2:
                if not self._fill():
                    return body
            body += self.buf[:size]
            self.buf = self.buf[size + 2:]

    def is_closed(self, timeout=2.0):
        """True if the server closes the connection (EOF or reset) within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(self.timeout)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def request(port, raw, **kw):
    """Sends one raw request on a new connection and returns the first response."""
    with RawClient(port, **kw) as c:
        c.send(raw)
        return c.read_response(head_request=raw.startswith(b"HEAD") if isinstance(raw, bytes)
                               else raw.startswith("HEAD"))


class BackgroundServer:
    """Runs a callable(server_socket, stop_event) in a thread on a fresh listening socket."""

    def __init__(self, handler, port=None):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port or 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=handler, args=(self.sock, self.stop_event),
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.stop_event.set()
        try:
            self.sock.close()
        except OSError:
            pass
        self.thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
