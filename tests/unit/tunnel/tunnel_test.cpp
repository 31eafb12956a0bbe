// The tunnel on real descriptors: AF_UNIX socket pairs stand in for the client and
// upstream connections, and a real EventLoop runs until a condition holds (bounded).
#include "tunnel/tunnel.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <string>

#include "core/worker.h"

using namespace ferry;

namespace {

struct Pair {
    int near = -1;  // the test's end
    int far = -1;   // the end ferry owns
    Pair() {
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        near = sv[0];
        far = sv[1];
    }
    ~Pair() {
        if (near >= 0) close(near);
    }
};

// Runs the loop until `done()` holds or `max_ms` pass. Returns done().
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

std::string read_all(int fd) {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        out.append(buf, static_cast<size_t>(n));
    return out;
}

bool at_eof(int fd) {
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

struct Ended final : tunnel::TunnelObserver {
    bool* ended;
    tunnel::TunnelStats* stats;
    void on_tunnel_end(const tunnel::TunnelStats& s) override {
        *ended = true;
        *stats = s;
    }
};

struct Fixture {
    core::Worker worker{0, 100};
    core::BufferPool buffers;
    tunnel::PipePool pipes{64 * 1024, 4};
    tunnel::TunnelManager tunnels{worker, buffers, pipes};
    Pair client;
    Pair upstream;
    bool ended = false;
    tunnel::TunnelStats stats;

    Fixture() {
        // splice(2) has no MSG_NOSIGNAL: ferry ignores SIGPIPE process-wide, so do we.
        signal(SIGPIPE, SIG_IGN);
        worker.loop().bind_to_current_thread();
    }

    void start(std::string to_client, std::string to_upstream, tunnel::TunnelOptions opts = {}) {
        // The tunnel owns two connection slots, as after an upgrade.
        tunnel::TunnelSide c{std::make_unique<core::PlainStream>(core::UniqueFd(client.far)),
                             worker.take_connection()};
        tunnel::TunnelSide u{std::make_unique<core::PlainStream>(core::UniqueFd(upstream.far)),
                             worker.take_connection()};
        REQUIRE(c.slot);
        REQUIRE(u.slot);
        auto obs = std::make_unique<Ended>();
        obs->ended = &ended;
        obs->stats = &stats;
        tunnels.start(std::move(c), std::move(u), std::move(to_client), std::move(to_upstream),
                      opts, std::move(obs));
    }
};

}  // namespace

TEST_CASE("leftovers go first, then spliced bytes, in both directions", "[tunnel]") {
    Fixture f;
    f.start("101 head|", "pipelined|");
    REQUIRE(write(f.client.near, "from client", 11) == 11);
    REQUIRE(write(f.upstream.near, "from upstream", 13) == 13);
    std::string at_upstream, at_client;
    REQUIRE(run_until(f.worker.loop(), [&] {
        at_upstream += read_all(f.upstream.near);
        at_client += read_all(f.client.near);
        return at_upstream.size() == 21 && at_client.size() == 22;
    }));
    CHECK(at_upstream == "pipelined|from client");
    CHECK(at_client == "101 head|from upstream");
    CHECK(f.pipes.in_use() == 0);  // drained pipes go back at once
}

TEST_CASE("EOF is passed on as a half-close and the tunnel ends when both are done", "[tunnel]") {
    Fixture f;
    f.start("", "");
    REQUIRE(write(f.client.near, "last words", 10) == 10);
    shutdown(f.client.near, SHUT_WR);
    std::string got;
    REQUIRE(run_until(f.worker.loop(), [&] {
        got += read_all(f.upstream.near);
        return at_eof(f.upstream.near);
    }));
    CHECK(got == "last words");
    CHECK_FALSE(f.ended);  // the other direction still runs
    REQUIRE(write(f.upstream.near, "reply", 5) == 5);
    shutdown(f.upstream.near, SHUT_WR);
    std::string reply;
    REQUIRE(run_until(f.worker.loop(), [&] {
        reply += read_all(f.client.near);
        return f.ended;
    }));
    CHECK(reply == "reply");
    CHECK(f.stats.end == tunnel::TunnelEnd::closed);
    CHECK(f.stats.client_to_upstream == 10);
    CHECK(f.stats.upstream_to_client == 5);
    CHECK(f.worker.connections() == 0);
    CHECK(f.tunnels.count() == 0);
}

TEST_CASE("a reset on one side closes the other promptly", "[tunnel]") {
    Fixture f;
    f.start("", "");
    // Closing the upstream's end with unread data makes the next write fail.
    close(f.upstream.near);
    f.upstream.near = -1;
    REQUIRE(write(f.client.near, "x", 1) == 1);
    REQUIRE(run_until(f.worker.loop(), [&] { return f.ended; }));
    CHECK(f.stats.end != tunnel::TunnelEnd::closed);
    CHECK(at_eof(f.client.near));
}

TEST_CASE("an idle tunnel closes after the read timeout", "[tunnel]") {
    Fixture f;
    tunnel::TunnelOptions opts;
    opts.read_timeout_ms = 50;
    f.start("", "", opts);
    REQUIRE(run_until(
        f.worker.loop(), [&] { return f.ended; }, 2000));
    CHECK(f.stats.end == tunnel::TunnelEnd::upstream_timeout);
    CHECK(f.stats.ended_ms - f.stats.started_ms >= 45);
}

TEST_CASE("activity keeps a tunnel open past its read timeout", "[tunnel]") {
    Fixture f;
    tunnel::TunnelOptions opts;
    opts.read_timeout_ms = 150;
    f.start("", "", opts);
    int64_t start = f.worker.loop().update_time();
    int sent = 0;
    run_until(f.worker.loop(), [&] {
        int64_t now = f.worker.loop().now();
        if ((now - start) / 50 > sent) {
            ++sent;
            REQUIRE(write(f.upstream.near, "k", 1) == 1);
        }
        read_all(f.client.near);
        return f.ended || now - start > 400;
    });
    CHECK_FALSE(f.ended);
}

TEST_CASE("a large transfer moves every byte unchanged", "[tunnel]") {
    Fixture f;
    f.start("", "");
    std::string data(8 * 1024 * 1024, '\0');
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<char>((i * 131) >> 3);
    size_t sent = 0;
    std::string got;
    REQUIRE(run_until(
        f.worker.loop(),
        [&] {
            if (sent < data.size()) {
                ssize_t n = write(f.client.near, data.data() + sent, data.size() - sent);
                if (n > 0) sent += static_cast<size_t>(n);
            }
            got += read_all(f.upstream.near);
            return got.size() == data.size();
        },
        10000));
    CHECK(got == data);
    CHECK(f.pipes.in_use() == 0);
}

TEST_CASE("the pipe pool keeps drained pipes up to its cap and drops dirty ones",
          "[tunnel][pipes]") {
    tunnel::PipePool pool(0, 1);
    tunnel::Pipe a = pool.acquire();
    tunnel::Pipe b = pool.acquire();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(pool.in_use() == 2);
    b.bytes = 10;  // pretend it still holds data
    pool.release(std::move(b));
    CHECK(pool.free_count() == 0);
    pool.release(std::move(a));
    CHECK(pool.free_count() == 1);
    CHECK(pool.in_use() == 0);
    tunnel::Pipe c = pool.acquire();
    CHECK(pool.created() == 2);  // reused, not made
    pool.release(std::move(c));
}
