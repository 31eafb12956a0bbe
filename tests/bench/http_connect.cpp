// bench-http connect: new connections per second, one request each, over plain TCP
// or TLS (then every connection is a full handshake: the client keeps no sessions).
// With --threads, each thread runs its share of the connections in its own epoll
// loop: an OpenSSL 3.0 client handshake costs more CPU than the server's (it decodes
// the certificate and checks the server's signature), so one thread would be the
// bottleneck of a TLS load.
#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/bench_util.h"
#include "tests/bench/client_conn.h"
#include "tests/bench/http_client.h"

namespace ferry::bench {

namespace {

struct Slot {
    Conn conn;
    enum State { idle, connecting, handshaking, reading } state = idle;
    uint64_t started = 0;
    std::string head;
};

// One thread's load: `concurrency` slots, each running one connection after another
// until the deadline.
class ConnectLoad {
  public:
    ConnectLoad(const std::string& host, uint16_t port, const std::string& path,
                uint64_t concurrency, SSL_CTX* tls)
        : host_(host), port_(port), tls_(tls), slots_(concurrency) {
        request_ = fmt::format("GET {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\r\n", path,
                               host, port);
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) die_errno("epoll_create1");
        micros.reserve(1 << 20);
    }

    uint64_t done = 0, errors = 0, resumed = 0;
    std::string first_error, tls_seen;
    std::vector<uint32_t> micros;  // latency of each connection

    void run(uint64_t deadline) {
        deadline_ = deadline;
        for (size_t i = 0; i < slots_.size(); ++i)
            start(i);
        epoll_event events[256];
        size_t active = slots_.size();
        while (active > 0) {
            int n = epoll_wait(ep_, events, 256, 1000);
            for (int k = 0; k < n; ++k)
                on_event(events[k].data.u64, events[k].events);
            if (now_ns() > deadline_ + stall_ns) abandon_stalled();
            active = 0;
            for (const Slot& s : slots_)
                active += s.state != Slot::idle;
        }
        close(ep_);
    }

  private:
    // How long connections still open at the deadline may take to finish.
    static constexpr uint64_t stall_ns = 5000000000;

    // Ends the connections that did not finish in time, as errors saying where they
    // stopped (a proxy that never answers must not hang the load).
    void abandon_stalled() {
        for (size_t i = 0; i < slots_.size(); ++i) {
            Slot& s = slots_[i];
            const char* where = s.state == Slot::connecting    ? "connecting"
                                : s.state == Slot::handshaking ? "in the TLS handshake"
                                : s.head.empty()               ? "request sent, no response"
                                                               : "response not finished";
            if (s.state != Slot::idle)
                finish(i, fmt::format("stalled: {} {} s after the end of the load", where,
                                      stall_ns / 1000000000));
        }
    }

    void watch(size_t i, int op, uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = i;
        epoll_ctl(ep_, op, slots_[i].conn.fd, &ev);
    }

    void start(size_t i) {
        Slot& s = slots_[i];
        s.head.clear();
        s.started = now_ns();
        s.conn.fd = connect_tcp(host_, port_, true);
        if (s.conn.fd < 0) {
            error(std::strerror(errno));
            return;
        }
        s.state = Slot::connecting;
        watch(i, EPOLL_CTL_ADD, EPOLLOUT | EPOLLIN | EPOLLRDHUP);
    }

    void error(const std::string& what) {
        ++errors;
        if (first_error.empty()) first_error = what;
    }

    void finish(size_t i, const std::string& error_text) {
        Slot& s = slots_[i];
        conn_close(s.conn, false);
        s.state = Slot::idle;
        if (!error_text.empty()) {
            error(error_text);
        } else {
            ++done;
            micros.push_back(uint32_t((now_ns() - s.started) / 1000));
        }
        if (now_ns() < deadline_) start(i);
    }

    // The request is small: one write puts all of it in the socket buffer.
    void send_request(size_t i) {
        Slot& s = slots_[i];
        size_t n = 0;
        if (conn_send(s.conn, request_.data(), request_.size(), n) != Io::ok ||
            n != request_.size()) {
            finish(i, "send failed");
            return;
        }
        s.state = Slot::reading;
        watch(i, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
    }

    void handshake(size_t i) {
        Slot& s = slots_[i];
        Io io = tls_handshake_step(s.conn);
        if (io == Io::want_read || io == Io::want_write) {
            watch(i, EPOLL_CTL_MOD, io == Io::want_read ? EPOLLIN | EPOLLRDHUP : EPOLLOUT);
            return;
        }
        if (io != Io::ok) {
            finish(i, io == Io::eof ? std::string("closed during the TLS handshake") : io_error());
            return;
        }
        resumed += SSL_session_reused(s.conn.ssl);
        if (tls_seen.empty()) tls_seen = tls_description(s.conn);
        send_request(i);
    }

    void on_event(size_t i, uint32_t events) {
        Slot& s = slots_[i];
        if (s.state == Slot::connecting && (events & EPOLLOUT)) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(s.conn.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                finish(i, std::strerror(err));
                return;
            }
            if (!tls_) {
                send_request(i);
                return;
            }
            tls_start(s.conn, tls_);
            s.state = Slot::handshaking;
        }
        if (s.state == Slot::handshaking) {
            handshake(i);
            return;
        }
        if (s.state == Slot::idle) return;
        // Reading the response until the server closes. Over TLS, read every record
        // that arrived (tickets, response, close_notify); plain TCP: one recv.
        char buf[4096];
        for (;;) {
            size_t n = 0;
            Io io = conn_recv(s.conn, buf, sizeof buf, n);
            if (io == Io::ok) {
                if (s.head.size() < 64) s.head.append(buf, n);
                if (s.conn.ssl) continue;
                return;
            }
            if (io == Io::want_read || io == Io::want_write) return;
            bool ok = io == Io::eof && s.head.compare(0, 13, "HTTP/1.1 200 ") == 0;
            finish(i, ok              ? std::string()
                      : io == Io::eof ? std::string("no 200 response before close")
                                      : io_error());
            return;
        }
    }

    std::string host_;
    uint16_t port_;
    SSL_CTX* tls_;
    std::vector<Slot> slots_;
    std::string request_;
    int ep_ = -1;
    uint64_t deadline_ = 0;
};

// Adds up the threads' loads and prints the result line. Returns the exit status.
int report(std::vector<std::unique_ptr<ConnectLoad>>& loads, double seconds, bool tls) {
    uint64_t done = 0, errors = 0, resumed = 0;
    std::string first_error, tls_seen;
    std::vector<uint32_t> micros;
    for (auto& load : loads) {
        done += load->done;
        errors += load->errors;
        resumed += load->resumed;
        if (first_error.empty()) first_error = load->first_error;
        if (tls_seen.empty()) tls_seen = load->tls_seen;
        micros.insert(micros.end(), load->micros.begin(), load->micros.end());
    }
    std::sort(micros.begin(), micros.end());
    auto pct = [&](double p) {
        return micros.empty()
                   ? 0u
                   : micros[std::min(micros.size() - 1, size_t(p * double(micros.size())))];
    };
    std::string extra;
    if (tls) extra = fmt::format(" resumed={} tls=\"{}\"", resumed, tls_seen);
    if (!first_error.empty()) extra += fmt::format(" first_error=\"{}\"", first_error);
    fmt::print(
        "result mode=connect connections={} errors={} seconds={:.3f} conn_per_s={:.0f} "
        "p50_us={} p99_us={} threads={} cpu_seconds={:.3f}{}\n",
        done, errors, seconds, double(done) / seconds, pct(0.5), pct(0.99), loads.size(),
        cpu_seconds(), extra);
    return errors == 0 ? 0 : 1;
}

}  // namespace

int run_connect(const std::string& host, uint16_t port, const std::string& path,
                uint64_t concurrency, double duration, uint64_t threads, SSL_CTX* tls) {
    raise_nofile_limit();
    threads = std::clamp<uint64_t>(threads, 1, std::max<uint64_t>(concurrency, 1));
    std::vector<std::unique_ptr<ConnectLoad>> loads;
    for (uint64_t i = 0; i < threads; ++i) {
        uint64_t share = concurrency / threads + (i < concurrency % threads ? 1 : 0);
        loads.push_back(std::make_unique<ConnectLoad>(host, port, path, share, tls));
    }
    uint64_t t0 = now_ns();
    uint64_t deadline = t0 + uint64_t(duration * 1e9);
    std::vector<std::thread> others;
    for (uint64_t i = 1; i < threads; ++i)
        others.emplace_back([&loads, i, deadline] { loads[i]->run(deadline); });
    loads[0]->run(deadline);
    for (std::thread& t : others)
        t.join();
    return report(loads, double(now_ns() - t0) / 1e9, tls != nullptr);
}

}  // namespace ferry::bench
