// bench-upstream: the benchmark's upstream server. HTTP/1.1 keep-alive with a small
// fixed response and /size/N responses, and WebSocket endpoints /ws/echo, /ws/sink
// and /ws/source/N[/FRAME]. One epoll loop per thread, each with its own
// SO_REUSEPORT listener, so that it is never the bottleneck of a measurement.
#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "tests/bench/bench_util.h"
#include "tests/bench/pattern.h"
#include "tests/bench/upstream_conn.h"

using namespace ferry::bench;

namespace {

constexpr const char* usage = R"(usage: bench-upstream [--listen [HOST:]PORT] [--threads N]

The benchmark's upstream server (IPv4 only).

  --listen ADDR   address to listen on (default 127.0.0.1:27180)
  --threads N     epoll loops, each with its own SO_REUSEPORT listener (default 1)
  --help          this text

HTTP/1.1 (keep-alive, pipelining, Connection: close, HTTP/1.0):
  GET /size/N     200 with an N-byte body (a fixed pseudo-random pattern)
  GET <other>     200 with "Hello, world\n" (13 bytes)
WebSocket (GET with Upgrade: websocket):
  /ws/echo                 every frame back, unmasked (pings answered with pongs)
  /ws/sink                 discards data frames; answers a close with a close
  /ws/source/N[/FRAME]     sends N payload bytes in binary frames of FRAME bytes
                           (default 256 KiB), then a close frame

Prints "listening on ADDR" on stdout once ready; runs until killed.
)";

void run_loop(int listener) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die_errno("epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) != 0) die_errno("epoll_ctl");
    std::vector<uint8_t> scratch(256 << 10);
    LoopContext ctx{scratch.data(), scratch.size()};
    epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die_errno("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            auto* conn = static_cast<UpstreamConn*>(events[i].data.ptr);
            if (conn) {
                if (!conn->pump(ctx)) delete conn;
                continue;
            }
            for (int k = 0; k < 64; ++k) {
                int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) break;
                auto* c = new UpstreamConn(fd);
                epoll_event cev{};
                cev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
                cev.data.ptr = c;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) != 0) delete c;
            }
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    set_tool_name("bench-upstream");
    Options opts(argc, argv, {"listen", "threads"}, {"help"});
    if (opts.has("help") || !opts.mode().empty()) {
        fmt::print(opts.has("help") ? stdout : stderr, "{}", usage);
        return opts.has("help") ? 0 : 2;
    }
    std::string host;
    uint16_t port = 0;
    split_host_port(opts.str("listen", "127.0.0.1:27180"), host, port);
    int threads = int(opts.number("threads", 1));
    if (threads < 1) die("--threads must be at least 1");
    signal(SIGPIPE, SIG_IGN);
    raise_nofile_limit();
    pattern();  // build it before any connection needs it
    std::vector<int> listeners;
    for (int i = 0; i < threads; ++i)
        listeners.push_back(listen_tcp(host, port));
    fmt::print("listening on {}:{} ({} thread{})\n", host, port, threads, threads == 1 ? "" : "s");
    std::fflush(stdout);
    std::vector<std::thread> loops;
    for (int i = 1; i < threads; ++i)
        loops.emplace_back(run_loop, listeners[size_t(i)]);
    run_loop(listeners[0]);
}
