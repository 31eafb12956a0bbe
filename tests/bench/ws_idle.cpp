// bench-ws: the idle mode (many open tunnels, plain or wss://).
#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <vector>

#include "tests/bench/bench_util.h"
#include "tests/bench/ws_client.h"

namespace ferry::bench {

namespace {

struct IdleConn {
    Conn conn;
    enum State { connecting, handshaking, reading, open, failed } state = connecting;
    std::string in;
};

constexpr uint64_t signal_key = UINT64_MAX;  // the signalfd's epoll key

// The tunnels and their opening: connect, TLS handshake (wss://), WebSocket
// handshake, then nothing until the end.
class IdleTunnels {
  public:
    IdleTunnels(const WsTarget& t, uint64_t count, int ep)
        : t_(t), conns_(count), request_(handshake_request(t, "/sink")), ep_(ep) {}

    uint64_t opened = 0, failed = 0, lost = 0;
    std::string first_error;
    std::string tls_seen;  // what TLS negotiated on the first tunnel (wss://)

    bool all_done() const { return opened + failed == conns_.size(); }

    // Starts connections until `parallel` handshakes are in progress.
    void open_more(uint64_t parallel) {
        while (started_ < conns_.size() && in_progress_ < parallel) {
            IdleConn& c = conns_[started_];
            c.conn.fd = connect_tcp(t_.host, t_.port, true);
            ++started_;
            ++in_progress_;
            if (c.conn.fd < 0) {
                fail(c, fmt::format("connect: {}", std::strerror(errno)));
                continue;
            }
            watch(started_ - 1, EPOLL_CTL_ADD, EPOLLOUT | EPOLLIN | EPOLLRDHUP);
        }
    }

    void on_event(uint64_t i, uint32_t events) {
        IdleConn& c = conns_[i];
        if (c.state == IdleConn::failed) return;
        if (c.state == IdleConn::open) {
            on_open_event(c);
            return;
        }
        if (c.state == IdleConn::connecting && (events & EPOLLOUT)) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c.conn.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                fail(c, fmt::format("connect: {}", std::strerror(err)));
                return;
            }
            if (!t_.tls) {
                send_request(i);
                return;
            }
            tls_start(c.conn, t_.tls);
            c.state = IdleConn::handshaking;
        }
        if (c.state == IdleConn::handshaking) {
            handshake(i);
            return;
        }
        if (c.state == IdleConn::reading) read_response(c);
    }

    void close_all() {
        for (IdleConn& c : conns_)
            if (c.state != IdleConn::failed && c.conn.fd >= 0) conn_close(c.conn, false);
    }

  private:
    void watch(uint64_t i, int op, uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = i;
        epoll_ctl(ep_, op, conns_[i].conn.fd, &ev);
    }

    void fail(IdleConn& c, const std::string& why) {
        if (first_error.empty()) first_error = why;
        if (c.state == IdleConn::open) {
            ++lost;
        } else {
            --in_progress_;
            ++failed;
        }
        c.state = IdleConn::failed;
        conn_close(c.conn, false);
    }

    // Any data or end on an established tunnel ends it. Over TLS, records with no
    // data (a session ticket sent after the handshake) are not an event.
    void on_open_event(IdleConn& c) {
        if (c.conn.ssl) {
            char buf[256];
            size_t n = 0;
            Io io = conn_recv(c.conn, buf, sizeof buf, n);
            if (io == Io::want_read || io == Io::want_write) return;
        }
        fail(c, "tunnel closed by the peer");
    }

    void handshake(uint64_t i) {
        IdleConn& c = conns_[i];
        Io io = tls_handshake_step(c.conn);
        if (io == Io::want_read || io == Io::want_write) {
            watch(i, EPOLL_CTL_MOD, io == Io::want_read ? EPOLLIN | EPOLLRDHUP : EPOLLOUT);
            return;
        }
        if (io != Io::ok) {
            fail(c, io == Io::eof ? std::string("closed during the TLS handshake") : io_error());
            return;
        }
        if (tls_seen.empty()) tls_seen = tls_description(c.conn);
        send_request(i);
    }

    void send_request(uint64_t i) {
        IdleConn& c = conns_[i];
        size_t n = 0;
        if (conn_send(c.conn, request_.data(), request_.size(), n) != Io::ok ||
            n != request_.size()) {
            fail(c, "send of the handshake failed");
            return;
        }
        c.state = IdleConn::reading;
        watch(i, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
    }

    void read_response(IdleConn& c) {
        char buf[2048];
        size_t n = 0;
        Io io = conn_recv(c.conn, buf, sizeof buf, n);
        if (io == Io::want_read || io == Io::want_write) return;
        if (io != Io::ok) {
            fail(c, io == Io::eof ? std::string("closed during the handshake") : io_error());
            return;
        }
        c.in.append(buf, n);
        size_t end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) return;
        std::string problem = check_handshake_response(std::string_view(c.in).substr(0, end + 4));
        if (!problem.empty()) {
            fail(c, problem);
            return;
        }
        std::string().swap(c.in);
        c.state = IdleConn::open;
        --in_progress_;
        ++opened;
    }

    const WsTarget& t_;
    std::vector<IdleConn> conns_;
    std::string request_;
    int ep_;
    uint64_t started_ = 0, in_progress_ = 0;
};

// SIGTERM and SIGINT as events of `ep`.
void watch_signals(int ep) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) die_errno("signalfd");
    epoll_event sev{};
    sev.events = EPOLLIN;
    sev.data.u64 = signal_key;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &sev);
}

}  // namespace

// Opens `count` tunnels to /sink, at most `parallel` handshakes at a time, reports
// once all are established, then holds them until a signal or `hold_seconds`.
int run_idle(const WsTarget& t, uint64_t count, uint64_t parallel, double hold_seconds) {
    raise_nofile_limit();
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die_errno("epoll_create1");
    watch_signals(ep);
    IdleTunnels tunnels(t, count, ep);
    uint64_t t0 = now_ns();
    bool reported = false;
    uint64_t hold_until = 0;
    epoll_event events[512];
    bool stop_requested = false;
    while (!stop_requested) {
        tunnels.open_more(parallel);
        if (!reported && tunnels.all_done()) {
            reported = true;
            std::string extra = t.tls ? fmt::format(" tls=\"{}\"", tunnels.tls_seen) : "";
            if (!tunnels.first_error.empty())
                extra += fmt::format(" first_error=\"{}\"", tunnels.first_error);
            print_result(fmt::format("mode=idle established={} failed={} seconds={:.3f}{}",
                                     tunnels.opened, tunnels.failed, double(now_ns() - t0) / 1e9,
                                     extra));
            hold_until = now_ns() + uint64_t(hold_seconds * 1e9);
        }
        if (reported && now_ns() >= hold_until) break;
        int n = epoll_wait(ep, events, 512, 1000);
        for (int i = 0; i < n; ++i) {
            if (events[i].data.u64 == signal_key)
                stop_requested = true;
            else
                tunnels.on_event(events[i].data.u64, events[i].events);
        }
    }
    tunnels.close_all();
    fmt::print("closed established={} lost={}\n", tunnels.opened, tunnels.lost);
    return tunnels.failed == 0 && tunnels.lost == 0 ? 0 : 1;
}

}  // namespace ferry::bench
