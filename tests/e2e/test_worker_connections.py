"""worker_connections under pressure: idle keep-alive connections are closed, oldest
first, to serve newcomers (nginx's "worker_connections are not enough, reusing
connections"); a connection in the middle of a request is never the one closed. Run
with NGINX_COMPARE=1 FERRY_BINARY=/usr/sbin/nginx to check against nginx."""

import harness
from upstreams import build_request, make_conf

CONF = make_conf("""
    server {
        listen 127.0.0.1:@port@;
        location / { return 200 "ok\\n"; }
    }
""", worker_connections=16)


def keepalive_client(port):
    c = harness.RawClient(port, timeout=5.0)
    c.send(build_request())
    r = c.read_response()
    return c, r


def test_idle_keepalive_connections_make_room_for_new_ones(start_ferry):
    port = harness.free_port()
    f = start_ferry(CONF, ports={"port": port})
    clients = []
    try:
        for i in range(40):
            c, r = keepalive_client(port)
            clients.append(c)
            assert r is not None and r.status == 200, f"connection {i} got no response"
        # The oldest were closed to make room; the newest still work.
        newest = clients[-1]
        newest.send(build_request())
        assert newest.read_response().status == 200
        assert harness.wait_for(lambda: "worker_connections are not enough, reusing connections"
                                in f.read_error_log())
    finally:
        for c in clients:
            c.close()


def test_a_connection_in_the_middle_of_a_request_is_not_reused(start_ferry):
    port = harness.free_port()
    f = start_ferry(CONF, ports={"port": port})
    busy = harness.RawClient(port, timeout=5.0)
    clients = []
    try:
        busy.send(b"GET /busy HTTP/1.1\r\nHost: a.test\r\n")  # the head is not complete
        for _ in range(40):
            c, r = keepalive_client(port)
            clients.append(c)
            assert r is not None and r.status == 200
        busy.send(b"\r\n")
        r = busy.read_response()
        assert r is not None and r.status == 200, f.read_error_log()[-500:]
    finally:
        busy.close()
        for c in clients:
            c.close()
