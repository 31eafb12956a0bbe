"""Reload (SIGHUP, or ferry -s reload): a good configuration takes over at request
boundaries, a bad one is refused while the one in force keeps serving, listening
sockets are opened and closed as the new configuration says, and no request is refused
while a reload happens."""

import os
import re
import signal
import socket
import threading
import time

import harness

CONF = """
worker_processes 2;
error_log @prefix@/logs/error.log info;
pid @prefix@/logs/ferry.pid;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:@port@;
        location / { return 200 "@answer@\\n"; }
    }
    @extra@
}
"""


def write_conf(f, text, extra=""):
    with open(f.conf_path, "w") as out:
        out.write(harness.fill(CONF, prefix=f.prefix, port=f.ports["port"], answer=text,
                               extra=extra))


def body(port, path="/"):
    r = harness.request(port, f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    return r.body.decode().strip() if r else None


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def start(start_ferry, text="one", extra=""):
    port = harness.free_port()
    conf = harness.fill(CONF, answer=text, extra=extra)
    return start_ferry(conf, ports={"port": port})


def test_reload_serves_the_new_configuration(start_ferry):
    f = start(start_ferry)
    port = f.ports["port"]
    assert body(port) == "one"
    write_conf(f, "two")
    f.send_signal(signal.SIGHUP)
    assert wait_for(lambda: body(port) == "two"), f.read_error_log()[-2000:]
    assert "reconfigured" in f.read_error_log()


def test_a_kept_alive_connection_switches_at_the_next_request(start_ferry):
    f = start(start_ferry)
    port = f.ports["port"]
    with harness.RawClient(port) as c:
        c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert c.read_response().body == b"one\n"
        write_conf(f, "two")
        f.send_signal(signal.SIGHUP)
        assert wait_for(lambda: body(port) == "two")
        c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert c.read_response().body == b"two\n"


def test_a_bad_configuration_is_refused_and_the_old_one_keeps_serving(start_ferry):
    f = start(start_ferry)
    port = f.ports["port"]
    with open(f.conf_path, "w") as out:
        out.write("events {} http { server { listen 127.0.0.1:%d; location / { return 200 "
                  "\"broken\" } } }" % port)  # missing ';'
    f.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "reload failed" in f.read_error_log()), f.read_error_log()[-2000:]
    assert body(port) == "one"
    assert f.proc.poll() is None


def test_a_new_listen_port_opens_and_a_removed_one_closes(start_ferry):
    f = start(start_ferry)
    port = f.ports["port"]
    other = harness.free_port()
    extra = 'server { listen 127.0.0.1:%d; location / { return 200 "other\\n"; } }' % other
    write_conf(f, "one", extra)
    f.send_signal(signal.SIGHUP)
    assert wait_for(lambda: harness.wait_for_port(other, timeout=0.2)), f.read_error_log()
    assert body(other) == "other"
    write_conf(f, "one")
    f.send_signal(signal.SIGHUP)

    def closed():
        try:
            socket.create_connection(("127.0.0.1", other), timeout=0.5).close()
            return False
        except OSError:
            return True
    assert wait_for(closed), "the removed port still accepts connections"
    assert body(port) == "one"


def test_no_request_is_refused_while_reloading(start_ferry):
    f = start(start_ferry)
    port = f.ports["port"]
    failures = []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                if body(port) not in ("one", "two"):
                    failures.append("bad answer")
            except OSError as e:
                failures.append(repr(e))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(10):
            write_conf(f, "two" if i % 2 == 0 else "one")
            f.send_signal(signal.SIGHUP)
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
    assert failures == [], failures[:5]


def test_ferry_s_reload_signals_the_running_process(start_ferry, ferry_binary):
    f = start(start_ferry)
    port = f.ports["port"]
    write_conf(f, "two")
    import subprocess
    rc = subprocess.run([ferry_binary, "-p", f.prefix + "/", "-c", f.conf_path, "-s", "reload"],
                        capture_output=True, timeout=10).returncode
    assert rc == 0
    assert wait_for(lambda: body(port) == "two")
    assert os.path.exists(os.path.join(f.prefix, "logs", "ferry.pid"))


def test_a_refused_reload_names_the_error_and_its_file_line_in_the_error_log(start_ferry):
    """Issue 13: the [emerg] line with FILE:LINE goes to the error log in force (nginx's
    shape: `[emerg] PID#TID: MESSAGE in FILE:LINE`), not only to stderr, which a
    container may send nowhere; the old configuration keeps serving."""
    f = start(start_ferry)
    port = f.ports["port"]
    lines = harness.fill(CONF, prefix=f.prefix, port=port, answer="two", extra="").split("\n")
    at = next(i for i, ln in enumerate(lines) if "location /" in ln)
    lines.insert(at, "        bogus_directive on;")
    with open(f.conf_path, "w") as out:
        out.write("\n".join(lines))
    f.send_signal(signal.SIGHUP)
    want = re.compile(r'^\S+ \S+ \[emerg\] \d+#\d+: unknown directive "bogus_directive" in '
                      + re.escape(f.conf_path) + f":{at + 1}$", re.M)
    assert wait_for(lambda: want.search(f.read_error_log())), f.read_error_log()[-2000:]
    assert body(port) == "one"
    assert f.proc.poll() is None
    # a reload that fails after parsing (a certificate that cannot be read) says why too
    write_conf(f, "two", "server { listen 127.0.0.1:%d ssl; ssl_certificate %s/none.pem; "
               "ssl_certificate_key %s/none.key; }" % (harness.free_port(), f.prefix, f.prefix))
    f.send_signal(signal.SIGHUP)
    assert wait_for(lambda: f'cannot load certificate "{f.prefix}/none.pem"'
                    in f.read_error_log()), f.read_error_log()[-2000:]
    assert body(port) == "one"
