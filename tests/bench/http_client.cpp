// bench-http: HTTP load for what wrk does not measure well: the throughput of large
// responses on one keep-alive connection (get), and new connections per second with
// one request each (connect).
#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include "tests/bench/bench_util.h"
#include "tests/bench/pattern.h"
#include "tests/bench/ws_frame.h"

using namespace ferry::bench;

namespace {

constexpr const char* usage = R"(usage: bench-http MODE [options]

HTTP/1.1 load client for ferry's benchmark (wrk covers keep-alive requests/s).

modes:
  get       GET --path --repeat times on one keep-alive connection, discarding the
            bodies (Content-Length, chunked or close-delimited); reports MB/s
  connect   --concurrency clients, each opening a connection, sending one request
            with "Connection: close" and reading until the server closes, for
            --duration seconds; reports connections/s and latency percentiles

options:
  --connect ADDR     [HOST:]PORT (default 127.0.0.1:27180)
  --path PATH        request target (get: /size/104857600, connect: /)
  --repeat N         get: measured transfers (default 5)
  --warmup N         get: transfers before measuring (default 1)
  --verify           get: compare every body byte with the upstream's pattern
  --concurrency N    connect: connections in progress at once (default 50)
  --duration S       connect: seconds (default 10)
  --help             this text

Results: one line "result mode=... key=value ... cpu_seconds=S" on stdout.
)";

size_t read_some(int fd, uint8_t* buf, size_t size) {
    for (;;) {
        ssize_t n = recv(fd, buf, size, 0);
        if (n >= 0) return size_t(n);
        if (errno != EINTR) die_errno("recv");
    }
}

// Compares [p, p+n) with the upstream's body pattern, where p[0] is body byte `at`.
void check_pattern(const uint8_t* p, size_t n, uint64_t at) {
    while (n > 0) {
        size_t off = size_t(at % pattern_size);
        size_t len = std::min(n, pattern_size - off);
        if (std::memcmp(p, pattern() + off, len) != 0)
            die(fmt::format("body mismatch near byte {}", at));
        p += len;
        n -= len;
        at += len;
    }
}

// Reads one response to a GET and discards its body. Returns the body's size.
// `carry` holds bytes read past the previous response.
uint64_t read_response(int fd, std::vector<uint8_t>& buf, std::string& carry, bool verify) {
    std::string head = carry;
    size_t end;
    while ((end = head.find("\r\n\r\n")) == std::string::npos) {
        size_t n = read_some(fd, buf.data(), buf.size());
        if (n == 0) die("connection closed before the response head");
        head.append(reinterpret_cast<char*>(buf.data()), n);
    }
    std::string rest = head.substr(end + 4);
    head.resize(end + 4);
    if (head.compare(0, 13, "HTTP/1.1 200 ") != 0 && head.compare(0, 13, "HTTP/1.0 200 ") != 0)
        die("unexpected response: " + head.substr(0, head.find("\r\n")));
    std::string_view cl = find_header(head, "Content-Length");
    std::string_view te = find_header(head, "Transfer-Encoding");
    bool chunked = !te.empty();
    bool until_close = cl.empty() && !chunked;
    uint64_t left = cl.empty() ? 0 : parse_size(cl);
    uint64_t body = 0;
    // Chunked framing: `in_data` bytes of chunk data left, or a size line to read.
    uint64_t in_data = 0;
    std::string line;
    bool done = !chunked && !until_close && left == 0;
    auto consume = [&](const uint8_t* p, size_t n) -> size_t {
        size_t used = 0;
        while (used < n && !done) {
            if (!chunked) {
                size_t take = until_close ? n - used : size_t(std::min<uint64_t>(left, n - used));
                if (verify) check_pattern(p + used, take, body);
                body += take;
                used += take;
                if (!until_close) left -= take;
                done = !until_close && left == 0;
                continue;
            }
            if (in_data > 0) {
                size_t take = size_t(std::min<uint64_t>(in_data, n - used));
                body += take;
                used += take;
                in_data -= take;
                continue;
            }
            line.push_back(char(p[used++]));
            if (line.size() < 2 || line.compare(line.size() - 2, 2, "\r\n") != 0) continue;
            if (line == "\r\n") {  // end of a chunk's data, or of the trailer
                line.clear();
                continue;
            }
            uint64_t size = std::strtoull(line.c_str(), nullptr, 16);
            line.clear();
            if (size == 0) done = true;  // trailers are not expected here
            in_data = size;
        }
        return used;
    };
    size_t used = consume(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());
    carry = rest.substr(used);
    while (!done) {
        size_t n = read_some(fd, buf.data(), buf.size());
        if (n == 0) {
            if (until_close) break;
            die(fmt::format("connection closed after {} body bytes", body));
        }
        used = consume(buf.data(), n);
        if (used < n) carry.append(reinterpret_cast<char*>(buf.data()) + used, n - used);
    }
    if (chunked) carry.erase(0, std::min<size_t>(carry.size(), 2));  // the last chunk's CRLF
    return body;
}

int run_get(const std::string& host, uint16_t port, const std::string& path, uint64_t repeat,
            uint64_t warmup, bool verify) {
    int fd = connect_tcp(host, port, false);
    if (fd < 0) die_errno("connect");
    std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: {}:{}\r\n\r\n", path, host, port);
    std::vector<uint8_t> buf(1 << 20);
    std::string carry;
    uint64_t bytes = 0, total_ns = 0;
    std::vector<double> per;
    for (uint64_t i = 0; i < warmup + repeat; ++i) {
        uint64_t t0 = now_ns();
        send_all(fd, request.data(), request.size());
        uint64_t body = read_response(fd, buf, carry, verify);
        uint64_t ns = now_ns() - t0;
        if (i < warmup) continue;
        bytes += body;
        total_ns += ns;
        per.push_back(double(body) / (double(ns) / 1e9) / 1e6);
    }
    close(fd);
    std::sort(per.begin(), per.end());
    double seconds = double(total_ns) / 1e9;
    fmt::print(
        "result mode=get bytes={} transfers={} seconds={:.4f} mb_per_s={:.1f} best_mb_per_s={:.1f} "
        "cpu_seconds={:.3f}\n",
        bytes, repeat, seconds, double(bytes) / seconds / 1e6, per.empty() ? 0.0 : per.back(),
        cpu_seconds());
    return 0;
}

struct Slot {
    int fd = -1;
    uint64_t started = 0;
    bool sent = false;  // request written: from now on, read
    std::string head;
};

int run_connect(const std::string& host, uint16_t port, const std::string& path,
                uint64_t concurrency, double duration) {
    raise_nofile_limit();
    std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\r\n",
                                      path, host, port);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    std::vector<Slot> slots(concurrency);
    uint64_t done = 0, errors = 0;
    std::string first_error;
    std::vector<uint32_t> micros;
    micros.reserve(1 << 20);
    uint64_t t0 = now_ns();
    uint64_t deadline = t0 + uint64_t(duration * 1e9);
    auto start = [&](size_t i) {
        Slot& s = slots[i];
        s.head.clear();
        s.sent = false;
        s.started = now_ns();
        s.fd = connect_tcp(host, port, true);
        if (s.fd < 0) {
            ++errors;
            if (first_error.empty()) first_error = std::strerror(errno);
            return;
        }
        epoll_event ev{};
        ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
    };
    auto finish = [&](size_t i, const char* error) {
        Slot& s = slots[i];
        close(s.fd);
        s.fd = -1;
        if (error) {
            ++errors;
            if (first_error.empty()) first_error = error;
        } else {
            ++done;
            micros.push_back(uint32_t((now_ns() - s.started) / 1000));
        }
        if (now_ns() < deadline) start(i);
    };
    for (size_t i = 0; i < slots.size(); ++i)
        start(i);
    epoll_event events[256];
    size_t active = slots.size();
    while (active > 0) {
        int n = epoll_wait(ep, events, 256, 1000);
        for (int k = 0; k < n; ++k) {
            size_t i = events[k].data.u64;
            Slot& s = slots[i];
            if (s.fd < 0) continue;
            if (!s.sent && (events[k].events & EPOLLOUT)) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0 || send(s.fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
                    finish(i, err ? std::strerror(err) : "send failed");
                    continue;
                }
                s.sent = true;
                epoll_event ev{};
                ev.events = EPOLLIN | EPOLLRDHUP;
                ev.data.u64 = i;
                epoll_ctl(ep, EPOLL_CTL_MOD, s.fd, &ev);
                continue;
            }
            char buf[4096];
            ssize_t r = recv(s.fd, buf, sizeof buf, 0);
            if (r < 0 && errno == EAGAIN) continue;
            if (r > 0) {
                if (s.head.size() < 64) s.head.append(buf, size_t(r));
                continue;
            }
            bool ok = r == 0 && s.head.compare(0, 13, "HTTP/1.1 200 ") == 0;
            finish(i, ok ? nullptr : (r < 0 ? "connection reset" : "no 200 response before close"));
        }
        active = 0;
        for (const Slot& s : slots)
            active += s.fd >= 0;
    }
    double seconds = double(now_ns() - t0) / 1e9;
    std::sort(micros.begin(), micros.end());
    auto pct = [&](double p) {
        return micros.empty()
                   ? 0u
                   : micros[std::min(micros.size() - 1, size_t(p * double(micros.size())))];
    };
    fmt::print(
        "result mode=connect connections={} errors={} seconds={:.3f} conn_per_s={:.0f} p50_us={} "
        "p99_us={} cpu_seconds={:.3f}{}\n",
        done, errors, seconds, double(done) / seconds, pct(0.5), pct(0.99), cpu_seconds(),
        first_error.empty() ? "" : " first_error=\"" + first_error + "\"");
    return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    set_tool_name("bench-http");
    Options o(argc, argv, {"connect", "path", "repeat", "warmup", "concurrency", "duration"},
              {"help", "verify"});
    if (o.has("help") || o.mode().empty()) {
        fmt::print(o.has("help") ? stdout : stderr, "{}", usage);
        return o.has("help") ? 0 : 2;
    }
    signal(SIGPIPE, SIG_IGN);
    std::string host;
    uint16_t port = 0;
    split_host_port(o.str("connect", "127.0.0.1:27180"), host, port);
    if (o.mode() == "get")
        return run_get(host, port, o.str("path", "/size/104857600"), o.size("repeat", 5),
                       o.size("warmup", 1), o.has("verify"));
    if (o.mode() == "connect")
        return run_connect(host, port, o.str("path", "/"), o.size("concurrency", 50),
                           o.number("duration", 10));
    die("unknown mode \"" + o.mode() + "\" (see --help)");
}
