"""ferry's command line: nginx's options, messages and exit codes (-t -T -q -v -V -h -s -g
-p -c and bad options), plus ferry's additions to -t: the column, the offending line with
a caret under it, and hints."""

import os
import re
import signal
import subprocess
import time

import pytest

import harness

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "examples")


def run(binary, *args, cwd=None):
    p = subprocess.run([binary, *args], capture_output=True, text=True, cwd=cwd, timeout=30)
    return p.returncode, p.stdout, p.stderr


def write_conf(tmp_path, text, name="nginx.conf"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


MINIMAL = "events {}\nhttp { access_log off; server { listen 127.0.0.1:18080; } }\n"


# ---- -t --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["all-directives.conf", "seed-upgrade-literal.conf",
                                  "seed-upgrade-map.conf"])
def test_t_accepts_the_examples(ferry_binary, name):
    conf = os.path.join(EXAMPLES, name)
    rc, out, err = run(ferry_binary, "-t", "-c", conf)
    assert rc == 0, err
    assert f"ferry: the configuration file {conf} syntax is ok\n" in err
    assert err.endswith(f"ferry: configuration file {conf} test is successful\n")
    assert out == ""


def test_t_reports_an_error_with_position_line_caret_and_hint(ferry_binary, tmp_path):
    conf = write_conf(tmp_path, "events {}\nhttp {\n\tserver {\n\t\tproxy_pas http://x;\n\t}\n}\n")
    rc, out, err = run(ferry_binary, "-t", "-c", conf)
    assert rc == 1
    assert err == (
        f'ferry: [emerg] unknown directive "proxy_pas" in {conf}:4:3\n'
        "  4 | \t\tproxy_pas http://x;\n"
        "    | \t\t^\n"
        '  hint: did you mean "proxy_pass"?\n'
        f"ferry: configuration file {conf} test failed\n")


def test_t_prints_warnings_and_still_succeeds(ferry_binary, tmp_path):
    conf = write_conf(tmp_path, MINIMAL.replace("access_log off;", "access_log off; sendfile on;"))
    rc, _, err = run(ferry_binary, "-t", "-c", conf)
    assert rc == 0
    assert re.search(r'^ferry: \[warn\] "sendfile" is ignored by ferry in .*:2:24$', err, re.M)
    assert "test is successful" in err


def test_websocket_lint_warns_with_a_fix(ferry_binary):
    conf = os.path.join(EXAMPLES, "seed-upgrade-literal.conf")
    rc, _, err = run(ferry_binary, "-t", "-c", conf)
    assert rc == 0
    assert "asks every request to upgrade" in err
    assert "hint: fix: map $http_upgrade $connection_upgrade" in err


def test_q_prints_only_errors(ferry_binary, tmp_path):
    ok = write_conf(tmp_path, MINIMAL.replace("access_log off;", "access_log off; gzip on;"))
    assert run(ferry_binary, "-t", "-q", "-c", ok) == (0, "", "")
    assert run(ferry_binary, "-tq", "-c", ok) == (0, "", "")
    bad = write_conf(tmp_path, "events {}\nbogus;\n", "bad.conf")
    rc, _, err = run(ferry_binary, "-tqc", bad)
    assert rc == 1
    assert err.startswith('ferry: [emerg] unknown directive "bogus"')
    assert err.endswith(f"ferry: configuration file {bad} test failed\n")


def test_T_dumps_every_file_read(ferry_binary, tmp_path):
    inc = write_conf(tmp_path, "# included\n", "conf.d/a.conf")
    main_text = MINIMAL + "include conf.d/*.conf;\n"
    conf = write_conf(tmp_path, main_text)
    rc, out, err = run(ferry_binary, "-T", "-c", conf)
    assert rc == 0, err
    assert out == (f"# configuration file {conf}:\n{main_text}\n"
                   f"# configuration file {inc}:\n# included\n\n")
    assert "test is successful" in err


def test_missing_configuration_file(ferry_binary, tmp_path):
    conf = str(tmp_path / "none.conf")
    rc, _, err = run(ferry_binary, "-t", "-c", conf)
    assert rc == 1
    assert err == (f'ferry: [emerg] open() "{conf}" failed (2: No such file or directory)\n'
                   f"ferry: configuration file {conf} test failed\n")


def test_p_sets_the_prefix_for_relative_paths(ferry_binary, tmp_path):
    write_conf(tmp_path, MINIMAL, "conf/nginx.conf")
    rc, _, err = run(ferry_binary, "-t", "-p", str(tmp_path))
    assert rc == 0, err
    assert f"configuration file {tmp_path}/conf/nginx.conf test is successful" in err
    rc, _, err = run(ferry_binary, "-t", "-p", str(tmp_path), "-c", "conf/nginx.conf")
    assert rc == 0, err


def test_g_adds_directives_before_the_file(ferry_binary, tmp_path):
    conf = write_conf(tmp_path, MINIMAL + "daemon off;\n")
    rc, _, err = run(ferry_binary, "-t", "-c", conf, "-g", "worker_processes 2;")
    assert rc == 0, err
    rc, _, err = run(ferry_binary, "-t", "-c", conf, "-g", "daemon on;")
    assert rc == 1
    assert f'"daemon" directive is duplicate in {conf}:3:1' in err
    rc, _, err = run(ferry_binary, "-t", "-c", conf, "-g", "bogus 1;")
    assert rc == 1
    assert err.startswith('ferry: [emerg] unknown directive "bogus" in command line\n'
                          "  -g | bogus 1;\n"
                          "     | ^\n")


# ---- -v -V -h and the README table -----------------------------------------------


def test_v_prints_versions(ferry_binary):
    rc, out, err = run(ferry_binary, "-v")
    assert (rc, out) == (0, "")
    assert re.match(r"ferry version: ferry/\d+\.\d+\.\d+\n", err)
    assert re.search(r"^nginx version: nginx/1\.31\.\d+\b", err, re.M)


# nginx-tests' lib/Test/Nginx.pm has_module(): a feature's pattern, matched against the
# whole of `-V`'s output; a feature without one is matched by its bare name.
HAS_MODULE = {
    "sni": r"TLS SNI support enabled",
    "mail": r"--with-mail((?!\S)|=dynamic)",
    "flv": r"--with-http_flv_module",
    "perl": r"--with-http_perl_module",
    "auth_request": r"--with-http_auth_request_module",
    "realip": r"--with-http_realip_module",
    "sub": r"--with-http_sub_module",
    "upstream_least_conn": r"(?s)^(?!.*--without-http_upstream_least_conn_mod)",
    "upstream_least_time": r"(?s)^(?!.*--without-http_upstream_least_time_mod)",
    "upstream_keepalive": r"(?s)^(?!.*--without-http_upstream_keepalive_modu)",
    "upstream_sticky": r"(?s)^(?!.*--without-http_upstream_sticky)",
    "http": r"(?s)^(?!.*--without-http(?!\S))",
    "cache": r"(?s)^(?!.*--without-http-cache)",
    "pop3": r"(?s)^(?!.*--without-mail_pop3_module)",
    "imap": r"(?s)^(?!.*--without-mail_imap_module)",
    "smtp": r"(?s)^(?!.*--without-mail_smtp_module)",
    "pcre": r"(?s)^(?!.*--without-pcre)",
    "stream": r"--with-stream((?!\S)|=dynamic)",
    "stream_ssl": r"--with-stream_ssl_module",
    "stream_upstream_least_conn": r"(?s)^(?!.*--without-stream_upstream_least_conn_m)",
    "stream_upstream_least_time": r"(?s)^(?!.*--without-stream_upstream_least_time_m)",
    "stream_upstream_random": r"(?s)^(?!.*--without-stream_upstream_random_modul)",
}
for _m in ("charset", "gzip", "ssi", "mirror", "userid", "access", "auth_basic", "autoindex",
           "geo", "map", "referer", "rewrite", "proxy", "fastcgi", "uwsgi", "scgi", "grpc",
           "memcached", "limit_conn", "limit_req", "empty_gif", "browser", "upstream_hash",
           "upstream_ip_hash", "upstream_random", "upstream_zone", "split_clients", "tunnel"):
    HAS_MODULE[_m] = r"(?s)^(?!.*--without-http_%s_module)" % _m
for _m in ("access", "geo", "limit_conn", "map", "pass", "return", "set", "split_clients",
           "upstream_hash", "upstream_zone"):
    HAS_MODULE["stream_" + _m] = r"(?s)^(?!.*--without-stream_%s_module)" % _m

# What ferry implements, as has_module() must answer; every other feature the test files
# ask for (nginx-tests' has() lists) must answer no, so that their files are skipped.
FERRY_HAS = {"http", "proxy", "map", "rewrite", "upstream_keepalive", "pcre", "http_ssl", "sni"}
ASKED = FERRY_HAS | set(HAS_MODULE) | {
    "http_v2", "http_v3", "stub_status", "slice", "mp4", "gzip_static", "gunzip", "addition",
    "dav", "secure_link", "random_index", "image_filter", "xslt", "stream_ssl_preread",
    "stream_realip", "mail_ssl", "http_geoip", "stream_geoip", "--with-debug"}


def has_module(v_output, feature):
    return re.search(HAS_MODULE.get(feature, re.escape(feature)), v_output) is not None


@pytest.mark.skipif(harness.nginx_compare(), reason="ferry's module set")
def test_V_prints_nginx_s_shape_and_the_modules_for_nginx_tests(ferry_binary):
    """nginx-tests reads -V to skip the files of modules the binary lacks: every feature
    its test files ask for answers as ferry's module table says."""
    rc, out, err = run(ferry_binary, "-V")
    assert (rc, out) == (0, "")
    lines = err.splitlines()
    assert re.match(r"ferry version: ferry/\d+\.\d+\.\d+$", lines[0])
    assert re.match(r"nginx version: nginx/1\.31\.\d+\b", lines[1])
    assert re.match(r"built by (gcc|clang) \d", lines[2])
    assert re.match(r"built with OpenSSL \d+\.\d+\.\d+ ", lines[3])
    assert lines[4] == "TLS SNI support enabled"
    assert lines[5].startswith("configure arguments: --with")
    assert len(lines) == 6
    flags = lines[5][len("configure arguments:"):].split(" ")[1:]
    assert all(re.match(r"--with(out)?-[a-z0-9_-]+$", f) for f in flags), flags
    assert "--with-http_ssl_module" in flags and "--without-http_access_module" in flags
    answers = {f: has_module(err, f) for f in sorted(ASKED)}
    assert {f for f, yes in answers.items() if yes} == FERRY_HAS, answers
    # has_version() reads the nginx line
    assert re.search(r"nginx version: nginx/([0-9.]+)", err).group(1).startswith("1.31.")


def test_h_prints_usage(ferry_binary):
    for flag in ("-h", "-?"):
        rc, _, err = run(ferry_binary, flag)
        assert rc == 0
        assert "Usage: ferry [-?hvVtTq] [-s signal] [-p prefix]" in err
        assert "-s signal" in err


def test_directives_markdown_matches_the_readme(ferry_binary):
    rc, out, _ = run(ferry_binary, "--directives-markdown")
    assert rc == 0
    readme = open(os.path.join(REPO, "README.md")).read()
    table = readme.split("<!-- directives:begin -->\n")[1].split("<!-- directives:end -->")[0]
    assert out == table


# ---- bad options -----------------------------------------------------------------


@pytest.mark.parametrize("args,message", [
    (["x"], 'invalid option: "x"'),
    (["-Z"], 'invalid option: "Z"'),
    (["-tZ"], 'invalid option: "Z"'),
    (["-c"], 'option "-c" requires file name'),
    (["-p"], 'option "-p" requires directory name'),
    (["-e"], 'option "-e" requires file name'),
    (["-g"], 'option "-g" requires parameter'),
    (["-s"], 'option "-s" requires parameter'),
    (["-s", "restart"], 'invalid option: "-s restart"'),
])
def test_bad_options(ferry_binary, args, message):
    rc, out, err = run(ferry_binary, *args)
    assert (rc, out, err) == (1, "", f"ferry: {message}\n")


# ---- -s ----------------------------------------------------------------------------


def signal_conf(tmp_path, pid_path):
    return write_conf(tmp_path, f"pid {pid_path};\n" + MINIMAL)


def test_s_without_pid_file(ferry_binary, tmp_path):
    pid = tmp_path / "ferry.pid"
    conf = signal_conf(tmp_path, pid)
    rc, _, err = run(ferry_binary, "-s", "reload", "-c", conf)
    assert rc == 1
    assert err == f'ferry: [error] open() "{pid}" failed (2: No such file or directory)\n'


def test_s_with_a_bad_pid_file(ferry_binary, tmp_path):
    pid = tmp_path / "ferry.pid"
    pid.write_text("not-a-pid\n")
    conf = signal_conf(tmp_path, pid)
    rc, _, err = run(ferry_binary, "-s", "stop", "-c", conf)
    assert rc == 1
    assert err == f'ferry: [error] invalid PID number "not-a-pid" in "{pid}"\n'


@pytest.mark.parametrize("name,signo", [("reload", signal.SIGHUP), ("reopen", signal.SIGUSR1),
                                        ("quit", signal.SIGQUIT), ("stop", signal.SIGTERM)])
def test_s_signals_the_process_in_the_pid_file(ferry_binary, tmp_path, name, signo):
    # A stand-in master: reports the first signal it receives, then exits.
    child = subprocess.Popen(
        ["/usr/bin/python3", "-c",
         "import signal, sys, time\n"
         "def got(n, f):\n    print(n, flush=True); sys.exit(0)\n"
         "for s in (signal.SIGHUP, signal.SIGUSR1, signal.SIGQUIT, signal.SIGTERM):\n"
         "    signal.signal(s, got)\n"
         "print('ready', flush=True)\n"
         "time.sleep(30)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        pid = tmp_path / "ferry.pid"
        pid.write_text(f"{child.pid}\n")
        rc, out, err = run(ferry_binary, "-s", name, "-c", signal_conf(tmp_path, pid))
        assert (rc, out, err) == (0, "", "")
        assert child.stdout.readline() == f"{int(signo)}\n"
    finally:
        child.kill()
        child.wait()


def test_s_to_a_process_that_is_gone(ferry_binary, tmp_path):
    gone = subprocess.Popen(["/bin/true"])
    gone.wait()
    pid = tmp_path / "ferry.pid"
    pid.write_text(f"{gone.pid}\n")
    rc, _, err = run(ferry_binary, "-s", "quit", "-c", signal_conf(tmp_path, pid))
    assert rc == 1
    assert err == f"ferry: [alert] kill({gone.pid}, 3) failed (3: No such process)\n"
