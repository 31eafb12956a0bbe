"""try_files in every form: files ($uri), directories ($uri/, then index), several
candidates in order, a last URI (internal redirect, with arguments), =CODE, @named
(answered by return or by a proxied application), an internal redirection cycle; and
the deployment most nginx users run: a single-page app from root with
`try_files $uri $uri/ /index.html`, its API through proxy_pass and its WebSocket
through proxy_pass with the upgrade headers, all in one server.

NGINX_COMPARE=1 runs the same tests against /usr/sbin/nginx (1.22).
"""

import pytest

import server_helpers as sh
import upstreams as ups
import ws_helpers as wh
from server_helpers import start_server  # noqa: F401 (fixture)
from server_helpers import get


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("try") / "site"
    (root / "dir").mkdir(parents=True)
    (root / "bare").mkdir()
    (root / "assets").mkdir()
    (root / "index.html").write_bytes(b"<app/>\n")
    (root / "page.html").write_bytes(b"page.html\n")
    (root / "file.txt").write_bytes(b"file\n")
    (root / "dir" / "index.html").write_bytes(b"dir index\n")
    (root / "assets" / "app.js").write_bytes(b"console.log(1);\n")
    (root / "fallback.txt").write_bytes(b"fallback\n")
    return root


@pytest.fixture(scope="module")
def app():
    up = ups.Upstream(ups.reply(body=b"from the app"))
    yield up
    up.close()


@pytest.fixture(scope="module")
def server(site, app):
    body = f"""
    types {{ text/html html; text/plain txt; text/javascript js; }}
    server {{
        listen 127.0.0.1:@port@;
        server_name a.test;
        root {site};

        location /f/ {{ alias {site}/; try_files $uri =404; }}
        location / {{ try_files $uri $uri/ =404; }}
        location /html/ {{ alias {site}/; try_files $uri $uri.html =404; }}
        location /order/ {{ alias {site}/; try_files /page.html /file.txt =404; }}
        location /last/ {{ try_files $uri /fallback.txt; }}
        location /args/ {{ try_files $uri /show?from=$uri&$args; }}
        location = /show {{ return 200 "show uri=$uri args=$args"; }}
        location /code/ {{ try_files $uri =418; }}
        location /named/ {{ try_files $uri @named; }}
        location @named {{ return 200 "named uri=$uri"; }}
        location /app/ {{ try_files $uri @app; }}
        location @app {{ proxy_pass http://127.0.0.1:{app.port}; }}
        location /loop/ {{ try_files $uri /loop/again; }}
        location /dironly/ {{ alias {site}/; try_files $uri/ =404; }}
    }}
"""
    yield from sh.module_server(body)


def test_existing_file(server):
    _, port = server
    assert get(port, "/file.txt").body == b"file\n"
    assert get(port, "/f/file.txt").body == b"file\n"


def test_missing_file_is_the_code(server):
    _, port = server
    assert get(port, "/f/none.txt").status == 404


def test_directory_via_uri_slash_serves_its_index(server):
    _, port = server
    r = get(port, "/dir")
    assert r.status == 301  # nginx: $uri/ keeps $uri, the static module redirects
    assert get(port, "/dir/").body == b"dir index\n"


def test_directory_without_index_is_403(server):
    _, port = server
    assert get(port, "/bare/").status == 403


def test_a_directory_does_not_match_a_file_test(server):
    _, port = server
    assert get(port, "/dironly/file.txt").status == 404


def test_second_candidate(server):
    _, port = server
    r = get(port, "/html/page")
    assert r.status == 200
    assert r.body == b"page.html\n"
    assert r.header("Content-Type") == "text/html"


@sh.ferry_bug("alias with try_files: a name outside the location keeps the prefix")
def test_candidates_in_order(server):
    _, port = server
    assert get(port, "/order/anything").body == b"page.html\n"


def test_last_uri_is_an_internal_redirect(server):
    _, port = server
    r = get(port, "/last/missing")
    assert r.status == 200
    assert r.body == b"fallback\n"
    assert get(port, "/last/../file.txt").body == b"file\n"


def test_last_uri_with_arguments(server):
    _, port = server
    r = get(port, "/args/x?a=1")
    assert r.body == b"show uri=/show args=from=/args/x&a=1"


def test_code(server):
    _, port = server
    assert get(port, "/code/none").status == 418


def test_named_location(server):
    _, port = server
    r = get(port, "/named/none?q=1")
    assert r.status == 200
    assert r.body == b"named uri=/named/none"


def test_named_location_proxies_to_the_application(server, app):
    _, port = server
    before = len(app.requests)
    r = get(port, "/app/route?x=1")
    assert r.body == b"from the app"
    app.wait_requests(before + 1)
    assert app.requests[before].uri == "/app/route?x=1"


def test_redirect_cycle_is_500(server):
    proc, port = server
    assert get(port, "/loop/x").status == 500
    text = "rewrite or internal redirection cycle"
    sh.wait_until(lambda: text in proc.read_error_log())
    assert text in proc.read_error_log()


def test_try_files_at_server_level(start_server, site):  # noqa: F811
    body = f"""
    server {{
        listen 127.0.0.1:@port@;
        root {site};
        try_files $uri /index.html;
    }}
"""
    _, port = sh.one_server(start_server, body)
    assert get(port, "/file.txt").body == b"file\n"
    assert get(port, "/nothing/here").body == b"<app/>\n"


# ---- the single-page app, its API and its WebSocket in one server ------------------

@pytest.fixture
def spa(start_server, site, app):  # noqa: F811
    ws = wh.WsUpstream()
    body = f"""
    types {{ text/html html; text/javascript js; }}
    server {{
        listen 127.0.0.1:@port@;
        server_name a.test;
        root {site};
        index index.html;

        location / {{
            try_files $uri $uri/ /index.html;
        }}
        location /api/ {{
            proxy_pass http://127.0.0.1:{app.port};
        }}
        location /ws/ {{
            proxy_pass http://127.0.0.1:{ws.port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }}
    }}
"""
    _, port = sh.one_server(start_server, body)
    yield port
    ws.close()


def test_spa_front_end_api_and_websocket(spa, app):
    port = spa
    r = get(port, "/")
    assert r.status == 200 and r.body == b"<app/>\n"
    r = get(port, "/users/42/settings")  # a client-side route
    assert r.status == 200 and r.body == b"<app/>\n"
    assert r.header("Content-Type") == "text/html"
    r = get(port, "/assets/app.js")
    assert r.body == b"console.log(1);\n"
    assert r.header("Content-Type") == "text/javascript"
    before = len(app.requests)
    r = get(port, "/api/users?page=2")
    assert r.body == b"from the app"
    app.wait_requests(before + 1)
    assert app.requests[before].uri == "/api/users?page=2"

    async def talk():
        async with wh.ws_connect(port, "/ws/echo") as ws:
            await ws.send("hello over ferry")
            assert await ws.recv() == "hello over ferry"
            await ws.send(b"\x00\x01binary")
            assert await ws.recv() == b"\x00\x01binary"

    wh.run(talk(), 20)
