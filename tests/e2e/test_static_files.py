"""Static files: root, alias (prefix and regex with captures), index, the directory
redirect, 403/404/405, MIME types (types, default_type), the validators nginx sends
(Last-Modified, ETag in its "mtime-size" hex shape) and the conditional and range
requests answered from them, HEAD, large bodies over plain HTTP and TLS, and a traversal
corpus that must never reach a file outside the root.

The files live under a temporary root created by the module's fixture.
NGINX_COMPARE=1 runs the same tests against /usr/sbin/nginx (1.22).
"""

import email.utils
import os
import socket
import ssl

import pytest

import server_helpers as sh
from tls_helpers import pki  # noqa: F401 (fixture)
from server_helpers import start_server  # noqa: F401 (fixture)
from server_helpers import Client, get, req

BIG = 3 * 1024 * 1024 + 17  # several chunks, not a multiple of any buffer size


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("static")
    root = base / "site"
    (root / "dir").mkdir(parents=True)
    (root / "two").mkdir()
    (root / "empty").mkdir()
    (root / "hello.txt").write_bytes(b"hello, world\n")
    (root / "page.html").write_bytes(b"<p>page</p>\n")
    (root / "data.unknownext").write_bytes(b"?")
    (root / "noext").write_bytes(b"plain")
    (root / ".hidden").write_bytes(b"hidden\n")
    (root / "dir" / "index.html").write_bytes(b"dir index\n")
    (root / "two" / "second.html").write_bytes(b"second index\n")
    (root / "digits.txt").write_bytes(b"0123456789")
    (root / "big.bin").write_bytes(os.urandom(BIG))
    (root / "empty.txt").write_bytes(b"")
    img = base / "images"
    img.mkdir()
    (img / "logo.png").write_bytes(b"\x89PNG fake")
    (base / "secret.txt").write_bytes(b"SECRET OUTSIDE THE ROOT\n")
    return base


def http_body(base):
    return f"""
    types {{
        text/plain txt;
        text/html html;
        image/png png;
        application/octet-stream bin;
    }}
    default_type application/x-default;

    server {{
        listen 127.0.0.1:@port@;
        server_name a.test;
        root {base}/site;

        location / {{ }}
        location /two/ {{ index first.html second.html; }}
        location /img/ {{ alias {base}/images/; }}
        location ~ ^/re/(?<name>[a-z]+)\\.png$ {{ alias {base}/images/$name.png; }}
        location /noetag/ {{ alias {base}/site/; etag off; }}
        location /before/ {{ alias {base}/site/; if_modified_since before; }}
        location /imsoff/ {{ alias {base}/site/; if_modified_since off; }}
        location /typed/ {{ alias {base}/site/; types {{ text/x-own txt; }} }}
        location /quiet/ {{ alias {base}/site/; log_not_found off; }}
        location /vars/ {{
            return 200 "root=$document_root file=$request_filename real=$realpath_root";
        }}
    }}
"""


@pytest.fixture(scope="module")
def server(site):
    yield from sh.module_server(http_body(site))


def mtime_http(path):
    return email.utils.formatdate(int(os.stat(path).st_mtime), usegmt=True)


def nginx_etag(path):
    st = os.stat(path)
    return f'"{int(st.st_mtime):x}-{st.st_size:x}"'


# ---- plain files --------------------------------------------------------------------

def test_file_with_type_length_and_validators(server, site):
    proc, port = server
    r = get(port, "/hello.txt")
    assert r.status == 200
    assert r.body == b"hello, world\n"
    assert r.header("Content-Type") == "text/plain"
    assert r.header("Content-Length") == "13"
    assert r.header("Last-Modified") == mtime_http(site / "site" / "hello.txt")
    assert r.header("ETag") == nginx_etag(site / "site" / "hello.txt")
    assert r.header("Accept-Ranges") == "bytes"
    assert get(port, "/page.html").header("Content-Type") == "text/html"


def test_default_type_for_unknown_or_missing_extension(server):
    _, port = server
    assert get(port, "/data.unknownext").header("Content-Type") == "application/x-default"
    assert get(port, "/noext").header("Content-Type") == "application/x-default"


def test_types_block_replaces_inherited_types(server):
    _, port = server
    assert get(port, "/typed/hello.txt").header("Content-Type") == "text/x-own"
    assert get(port, "/typed/page.html").header("Content-Type") == "application/x-default"


def test_head_has_the_headers_and_no_body(server):
    _, port = server
    with Client(port) as c:
        c.send(req("/hello.txt", method="HEAD") + req("/page.html"))
        head = c.read_reply(head=True)
        after = c.read_reply()
    assert head.status == 200
    assert head.header("Content-Length") == "13"
    assert head.body == b""
    assert after.status == 200 and after.body == b"<p>page</p>\n"  # nothing stray between


def test_hidden_files_are_served(server):
    _, port = server
    assert get(port, "/.hidden").body == b"hidden\n"


def test_empty_file(server):
    _, port = server
    r = get(port, "/empty.txt")
    assert r.status == 200
    assert r.header("Content-Length") == "0"
    assert r.body == b""


def test_missing_file_is_404_and_logged(server, site):
    proc, port = server
    r = get(port, "/nope.txt")
    assert r.status == 404
    path = site / "site" / "nope.txt"
    sh.wait_until(lambda: f'open() "{path}" failed (2: No such file or directory)'
                  in proc.read_error_log())
    assert f'open() "{path}" failed (2: No such file or directory)' in proc.read_error_log()


def test_log_not_found_off(server, site):
    proc, port = server
    assert get(port, "/quiet/missing-quietly.txt").status == 404
    assert get(port, "/hello.txt").status == 200  # a request after it, to order the log
    assert "missing-quietly" not in proc.read_error_log()


def test_file_below_a_file_is_404(server):
    _, port = server
    assert get(port, "/hello.txt/more").status == 404


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(server, method):
    _, port = server
    r = get(port, "/hello.txt", method=method)
    assert r.status == 405


def test_post_to_a_file_is_405_and_to_a_missing_one_404(server):
    _, port = server
    assert get(port, "/hello.txt", method="POST", headers=[("Content-Length", "3")],
               body="abc").status == 405
    assert get(port, "/absent.txt", method="POST", headers=[("Content-Length", "0")]).status == 404


# ---- directories --------------------------------------------------------------------

def test_directory_without_slash_redirects(server):
    _, port = server
    r = get(port, "/dir?x=1")
    assert r.status == 301
    assert r.header("Location") == f"http://a.test:{port}/dir/?x=1"


def test_directory_index(server):
    _, port = server
    r = get(port, "/dir/")
    assert r.status == 200
    assert r.body == b"dir index\n"
    assert r.header("Content-Type") == "text/html"


def test_first_existing_index_of_several(server):
    _, port = server
    assert get(port, "/two/").body == b"second index\n"


def test_directory_without_index_is_403(server, site):
    proc, port = server
    assert get(port, "/empty/").status == 403
    text = f'directory index of "{site}/site/empty/" is forbidden'
    sh.wait_until(lambda: text in proc.read_error_log())
    assert text in proc.read_error_log()


def test_missing_directory_is_404(server):
    _, port = server
    assert get(port, "/nodir/").status == 404


# ---- alias --------------------------------------------------------------------------

def test_prefix_alias(server):
    _, port = server
    r = get(port, "/img/logo.png")
    assert r.status == 200
    assert r.body == b"\x89PNG fake"
    assert r.header("Content-Type") == "image/png"


def test_regex_alias_with_named_capture(server):
    _, port = server
    assert get(port, "/re/logo.png").body == b"\x89PNG fake"
    assert get(port, "/re/other.png").status == 404


def test_file_variables(server, site):
    _, port = server
    r = get(port, "/vars/x")
    real = os.path.realpath(site / "site")
    assert r.body.decode() == f"root={site}/site file={site}/site/vars/x real={real}"


# ---- conditional requests -----------------------------------------------------------

def test_if_none_match_gives_304(server, site):
    _, port = server
    etag = nginx_etag(site / "site" / "hello.txt")
    for value in (etag, f'"nope", {etag}', "*", "W/" + etag):
        r = get(port, "/hello.txt", headers=[("If-None-Match", value)])
        assert r.status == 304, value
        assert r.body == b""
        assert r.header("ETag") == etag
        assert r.header("Content-Length") is None
    assert get(port, "/hello.txt", headers=[("If-None-Match", '"other"')]).status == 200


def test_if_modified_since_exact(server, site):
    _, port = server
    lm = mtime_http(site / "site" / "hello.txt")
    assert get(port, "/hello.txt", headers=[("If-Modified-Since", lm)]).status == 304
    later = email.utils.formatdate(os.stat(site / "site" / "hello.txt").st_mtime + 3600,
                                   usegmt=True)
    assert get(port, "/hello.txt", headers=[("If-Modified-Since", later)]).status == 200
    assert get(port, "/hello.txt", headers=[("If-Modified-Since", "garbage")]).status == 200


def test_if_modified_since_before_and_off(server, site):
    _, port = server
    later = email.utils.formatdate(os.stat(site / "site" / "hello.txt").st_mtime + 3600,
                                   usegmt=True)
    assert get(port, "/before/hello.txt", headers=[("If-Modified-Since", later)]).status == 304
    lm = mtime_http(site / "site" / "hello.txt")
    assert get(port, "/imsoff/hello.txt", headers=[("If-Modified-Since", lm)]).status == 200


def test_if_match_and_if_unmodified_since_give_412(server, site):
    _, port = server
    etag = nginx_etag(site / "site" / "hello.txt")
    assert get(port, "/hello.txt", headers=[("If-Match", '"nope"')]).status == 412
    assert get(port, "/hello.txt", headers=[("If-Match", etag)]).status == 200
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert get(port, "/hello.txt", headers=[("If-Unmodified-Since", old)]).status == 412


def test_etag_off(server):
    _, port = server
    r = get(port, "/noetag/hello.txt")
    assert r.status == 200
    assert r.header("ETag") is None
    assert r.header("Last-Modified") is not None


# ---- ranges -------------------------------------------------------------------------

@pytest.mark.parametrize("spec,body,content_range", [
    ("bytes=0-3", b"0123", "bytes 0-3/10"),
    ("bytes=4-", b"456789", "bytes 4-9/10"),
    ("bytes=-3", b"789", "bytes 7-9/10"),
    ("bytes=8-100", b"89", "bytes 8-9/10"),
])
def test_single_range(server, spec, body, content_range):
    _, port = server
    r = get(port, "/digits.txt", headers=[("Range", spec)])
    assert r.status == 206
    assert r.body == body
    assert r.header("Content-Range") == content_range
    assert r.header("Content-Length") == str(len(body))


def test_unsatisfiable_range_is_416(server):
    _, port = server
    r = get(port, "/digits.txt", headers=[("Range", "bytes=10-20")])
    assert r.status == 416
    assert r.header("Content-Range") == "bytes */10"


def test_if_range_mismatch_sends_the_whole_file(server, site):
    _, port = server
    etag = nginx_etag(site / "site" / "digits.txt")
    r = get(port, "/digits.txt", headers=[("Range", "bytes=0-1"), ("If-Range", '"old"')])
    assert r.status == 200 and r.body == b"0123456789"
    r = get(port, "/digits.txt", headers=[("Range", "bytes=0-1"), ("If-Range", etag)])
    assert r.status == 206 and r.body == b"01"


# ---- large bodies -------------------------------------------------------------------

def test_large_file_then_keepalive(server, site):
    _, port = server
    expected = (site / "site" / "big.bin").read_bytes()
    with Client(port, timeout=20) as c:
        c.send(req("/big.bin") + req("/hello.txt"))
        big = c.read_reply(timeout=20)
        small = c.read_reply()
    assert big.status == 200
    assert big.body == expected
    assert small.body == b"hello, world\n"


def test_large_range_from_the_middle(server, site):
    _, port = server
    expected = (site / "site" / "big.bin").read_bytes()[100000:2100000]
    r = get(port, "/big.bin", timeout=20, headers=[("Range", "bytes=100000-2099999")])
    assert r.status == 206
    assert r.body == expected


def test_large_file_over_tls(start_server, site, pki):  # noqa: F811
    cert, key = pki.a_cert, pki.a_key
    body = f"""
    server {{
        listen 127.0.0.1:@port@ ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {site}/site;
    }}
"""
    proc, port = sh.one_server(start_server, body)
    expected = (site / "site" / "big.bin").read_bytes()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname="a.test") as s:
            s.sendall(req("/big.bin", headers=["Connection: close"]))
            data = bytearray()
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    head, _, got = bytes(data).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert got == expected


# ---- traversal ----------------------------------------------------------------------

TRAVERSALS = [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/%c0%ae%c0%ae%c0%afsecret.txt",
    "/..\\secret.txt",
    "/%5c..%5csecret.txt",
    "/dir/../../secret.txt",
    "/dir/%2e%2e/%2e%2e/secret.txt",
    "//..//secret.txt",
    "/./.././secret.txt",
    "/img/../../secret.txt",
    "/img/%2e%2e/%2e%2e/secret.txt",
    "/RE/../../secret.txt",
    "/hello.txt%00.png",
    "/re/%2e%2e%2fsecret.png",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_never_leaves_the_root(server, target):
    _, port = server
    with Client(port) as c:
        c.send(req(target))
        r = c.read_reply()
    if r is None:
        return  # closed without an answer: nothing leaked
    assert b"SECRET" not in r.body
    assert r.status in (400, 404), (target, r.status)


@pytest.mark.parametrize("target", ["/../secret.txt", "/%2e%2e/secret.txt"])
def test_traversal_in_absolute_form(server, target):
    _, port = server
    with Client(port) as c:
        c.send(f"GET http://a.test{target} HTTP/1.1\r\nHost: a.test\r\n\r\n")
        r = c.read_reply()
    assert r is None or b"SECRET" not in r.body


def test_alias_without_trailing_slash_cannot_climb(start_server, site):
    sh.ferry_only("nginx serves /i../ below an alias that ends in '/' (a known pitfall)")
    body = f"""
    server {{
        listen 127.0.0.1:@port@;
        location /i {{ alias {site}/images/; }}
    }}
"""
    _, port = sh.one_server(start_server, body)
    assert get(port, "/i/logo.png").status == 200
    r = get(port, "/i../secret.txt")
    assert b"SECRET" not in r.body
    assert r.status == 404
