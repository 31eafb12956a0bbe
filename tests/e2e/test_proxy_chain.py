"""ferry in front of other servers: Python's http.server (an HTTP/1.0 server that ends
bodies with the close) and a second ferry (which answers with its own connection's
request count, so reuse of upstream connections shows end to end)."""

import http.server
import threading

import pytest

import harness
from upstreams import fetch, make_conf, proxy_ferry  # noqa: F401


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"path={self.path} host={self.headers['Host']} " \
               f"xff={self.headers.get('X-Forwarded-For')}".encode()
        self.send_response(200, "Fine")
        self.send_header("Content-Type", "text/plain")
        if self.path.startswith("/length"):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        self.send_response(201)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[::-1])

    def log_message(self, *args):
        pass


@pytest.fixture
def python_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()
    t.join(5)


def test_python_http_server_close_delimited_body_reaches_the_client(proxy_ferry, python_server):
    port = harness.free_port()
    proxy_ferry(make_conf("""
        server {
            listen 127.0.0.1:@port@;
            location /py/ {
                proxy_pass http://127.0.0.1:@py@/;
                proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            }
        }"""), ports={"port": port, "py": python_server})
    with harness.RawClient(port) as c:
        for path in ("/py/a?b=1", "/py/length/x"):
            c.send(f"GET {path} HTTP/1.1\r\nHost: chain.test\r\n\r\n")
            r = c.read_response()
            assert r.status == 200 and r.reason == "Fine"
            assert r.body == (f"path={path[3:]} host=127.0.0.1:{python_server} "
                              f"xff=127.0.0.1").encode()
            assert r.header_all("server") == ["ferry"]
    r = fetch(port, "/py/echo", method="POST", body=b"abcdef")
    assert r.status == 201 and r.body == b"fedcba"


def test_ferry_behind_ferry_reuses_pooled_connections(proxy_ferry):
    back, front = harness.free_port(), harness.free_port()
    proxy_ferry(make_conf("""
        server {
            listen 127.0.0.1:@back@;
            location / {
                return 200 "uri=$request_uri host=$host n=$connection_requests xff=$http_x_forwarded_for";
            }
        }"""), ports={"back": back})
    proxy_ferry(make_conf("""
        upstream inner {
            server 127.0.0.1:@back@;
            keepalive 4;
        }
        server {
            listen 127.0.0.1:@front@;
            location /app/ {
                proxy_pass http://inner/;
                proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            }
        }"""), ports={"front": front, "back": back})
    seen = []
    for i in range(5):
        r = fetch(front, f"/app/p{i}?q={i}", headers=[("X-Forwarded-For", "198.51.100.9")])
        assert r.status == 200
        seen.append(r.body.decode())
    assert seen == [f"uri=/p{i}?q={i} host=inner n={i + 1} xff=198.51.100.9, 127.0.0.1"
                    for i in range(5)]
