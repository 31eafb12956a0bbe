// The request pipeline on real descriptors: a client connection on one end of an
// AF_UNIX socket pair, served by an HttpWorker with a configuration loaded from text,
// its loop run until a condition holds (bounded). An upstream, where there is one, is
// a listening unix socket the test accepts and answers itself.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <string>

#include "conf/loader.h"
#include "core/log.h"
#include "core/worker.h"
#include "http/http_worker.h"
#include "http/runtime.h"

using namespace ferry;

namespace {

bool run_until(core::EventLoop& loop, const std::function<bool()>& done, int max_ms = 3000) {
    struct Poll {
        core::EventLoop* loop;
        const std::function<bool()>* done;
        int64_t deadline;
        core::Timer timer;
        void tick() {
            if ((*done)() || loop->now() >= deadline) {
                loop->stop();
                return;
            }
            loop->timers().arm(timer, loop->now(), 1);
        }
    } poll{&loop, &done, loop.update_time() + max_ms, {}};
    poll.timer.set_callback(core::Timer::bind<Poll, &Poll::tick>(), &poll);
    loop.timers().arm(poll.timer, loop.now(), 0);
    loop.run();
    return done();
}

std::string read_some(int fd) {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        out.append(buf, static_cast<size_t>(n));
    return out;
}

size_t count(const std::string& s, const std::string& what) {
    size_t n = 0;
    for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1))
        ++n;
    return n;
}

bool at_eof(int fd) {
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

// A worker serving `http_body` (inside http{}), and a way to open client connections.
struct Site {
    core::Worker worker{0, 64};
    std::shared_ptr<const http::Runtime> runtime;
    std::unique_ptr<http::HttpWorker> app;

    explicit Site(const std::string& http_body) {
        signal(SIGPIPE, SIG_IGN);
        worker.loop().bind_to_current_thread();
        core::ErrorLog::instance().configure({{2, core::LogLevel::emerg}});
        conf::LoadOptions o;
        o.prefix = "/tmp/";
        o.conf_file = "/tmp/ferry-pipeline-test.conf";
        o.conf_text =
            "error_log stderr emerg;\nevents {}\nhttp {\naccess_log off;\n" + http_body + "\n}\n";
        conf::LoadResult loaded = conf::load(o);
        for (const auto& d : loaded.diagnostics)
            INFO(d.message);
        REQUIRE(loaded.config);
        conf::Diagnostics diags;
        runtime = http::Runtime::build(loaded.config, diags);
        REQUIRE(runtime);
        app = std::make_unique<http::HttpWorker>(worker, runtime);
    }
    ~Site() {
        app.reset();
        worker.loop().drain();
    }

    // A new client connection; returns the test's end.
    int connect() {
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        core::SockAddr peer = core::SockAddr::unix_path("");
        app->on_accept(core::UniqueFd(sv[1]), worker.take_connection(), peer, 0);
        return sv[0];
    }

    // Sends `request` on a new connection and collects what comes back until `done`.
    std::string exchange(const std::string& request,
                         const std::function<bool(const std::string&)>& done) {
        int fd = connect();
        REQUIRE(write(fd, request.data(), request.size()) == ssize_t(request.size()));
        std::string got;
        run_until(worker.loop(), [&] {
            got += read_some(fd);
            return done(got);
        });
        close(fd);
        return got;
    }
};

// A listening unix socket standing in for an upstream.
struct UnixUpstream {
    std::string path;
    int listener = -1;
    int conn = -1;
    std::string received;

    UnixUpstream() {
        path = "/tmp/ferry-pipeline-up-" + std::to_string(getpid()) + ".sock";
        unlink(path.c_str());
        listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
        REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(listen(listener, 8) == 0);
    }
    ~UnixUpstream() {
        if (conn >= 0) close(conn);
        close(listener);
        unlink(path.c_str());
    }
    // Accepts and reads what is there (call from a run_until predicate).
    void poll() {
        if (conn < 0) conn = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (conn >= 0) received += read_some(conn);
    }
    void send(const std::string& s) {
        REQUIRE(::write(conn, s.data(), s.size()) == ssize_t(s.size()));
    }
};

}  // namespace

TEST_CASE("pipelined requests get one response each, in order", "[http][pipeline]") {
    Site site("server { listen 127.0.0.1:1; location / { return 200 \"$uri\\n\"; } }");
    std::string got =
        site.exchange("GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\n",
                      [](const std::string& g) { return g.find("/two\n") != std::string::npos; });
    CHECK(count(got, "HTTP/1.1 200") == 2);
    CHECK(got.find("/one\n") < got.find("/two\n"));
}

TEST_CASE("error_page to a named location answers with its content", "[http][pipeline]") {
    Site site(
        "server { listen 127.0.0.1:1;\n"
        "  location @named { return 200 \"named $uri\\n\"; }\n"
        "  location / { error_page 404 = @named; return 404; } }");
    std::string got = site.exchange("GET /x HTTP/1.1\r\nHost: a\r\n\r\n", [](const std::string& g) {
        return g.find("named /x\n") != std::string::npos;
    });
    CHECK(got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(count(got, "HTTP/1.1") == 1);
}

TEST_CASE("internal redirects stop after ten with 500", "[http][pipeline]") {
    Site site(
        "server { listen 127.0.0.1:1; recursive_error_pages on;\n"
        "  location / { error_page 404 /again; return 404; } }");
    std::string got = site.exchange("GET /x HTTP/1.1\r\nHost: a\r\n\r\n", [](const std::string& g) {
        return g.find("</html>") != std::string::npos;
    });
    CHECK(got.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0) == 0);
}

TEST_CASE("a proxied request reaches the upstream and its response the client",
          "[http][pipeline][upstream]") {
    UnixUpstream up;
    Site site("server { listen 127.0.0.1:1; location / { proxy_pass http://unix:" + up.path +
              ":; } }");
    int fd = site.connect();
    std::string req = "GET /path?q=1 HTTP/1.1\r\nHost: a\r\n\r\n";
    REQUIRE(write(fd, req.data(), req.size()) == ssize_t(req.size()));
    REQUIRE(run_until(site.worker.loop(), [&] {
        up.poll();
        return up.received.find("\r\n\r\n") != std::string::npos;
    }));
    CHECK(up.received.rfind("GET /path?q=1 HTTP/1.1\r\nHost: localhost\r\n", 0) == 0);
    up.send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
    std::string got;
    REQUIRE(run_until(site.worker.loop(), [&] {
        got += read_some(fd);
        return got.find("\r\n\r\nabc") != std::string::npos;
    }));
    CHECK(got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    close(fd);
}

TEST_CASE("an invalid chunked body after the head went upstream gets one 400 and closes both",
          "[http][pipeline][upstream]") {
    UnixUpstream up;
    // Streamed (not buffered): the head goes upstream before the body is read.
    Site site(
        "server { listen 127.0.0.1:1; location / { proxy_request_buffering off; "
        "proxy_pass http://unix:" +
        up.path + ":; } }");
    int fd = site.connect();
    std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    REQUIRE(write(fd, head.data(), head.size()) == ssize_t(head.size()));
    REQUIRE(run_until(site.worker.loop(), [&] {
        up.poll();
        return up.received.find("\r\n\r\n") != std::string::npos;
    }));
    std::string bad = "ffffffffffffffffff\r\n";
    REQUIRE(write(fd, bad.data(), bad.size()) == ssize_t(bad.size()));
    std::string got;
    bool upstream_closed = false;
    run_until(site.worker.loop(), [&] {
        got += read_some(fd);
        up.poll();
        upstream_closed = upstream_closed || at_eof(up.conn);
        return upstream_closed && at_eof(fd);
    });
    CHECK(got.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    CHECK(count(got, "HTTP/1.1 ") == 1);
    CHECK(upstream_closed);
    close(fd);
}
