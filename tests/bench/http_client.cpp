// bench-http: HTTP load for what wrk does not measure well: the throughput of large
// responses on one keep-alive connection (get), and new connections per second with
// one request each (connect, in http_connect.cpp); over plain TCP or TLS (--tls).
#include "tests/bench/http_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include "tests/bench/bench_util.h"
#include "tests/bench/client_conn.h"
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
  --threads N        connect: threads sharing the connections (default 1)
  --tls              TLS client (no certificate verification, SNI localhost, ALPN
                     http/1.1, no session cache: every connection of connect is a
                     full handshake)
  --help             this text

Results: one line "result mode=... key=value ... cpu_seconds=S" on stdout.
)";

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
uint64_t read_response(Conn& c, std::vector<uint8_t>& buf, std::string& carry, bool verify) {
    std::string head = carry;
    size_t end;
    while ((end = head.find("\r\n\r\n")) == std::string::npos) {
        size_t n = conn_read(c, buf.data(), buf.size());
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
        size_t n = conn_read(c, buf.data(), buf.size());
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
            uint64_t warmup, bool verify, SSL_CTX* tls) {
    Conn c = open_conn(host, port, tls);
    std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: {}:{}\r\n\r\n", path, host, port);
    std::vector<uint8_t> buf(1 << 20);
    std::string carry;
    uint64_t bytes = 0, total_ns = 0;
    std::vector<double> per;
    for (uint64_t i = 0; i < warmup + repeat; ++i) {
        uint64_t t0 = now_ns();
        conn_write_all(c, request.data(), request.size());
        uint64_t body = read_response(c, buf, carry, verify);
        uint64_t ns = now_ns() - t0;
        if (i < warmup) continue;
        bytes += body;
        total_ns += ns;
        per.push_back(double(body) / (double(ns) / 1e9) / 1e6);
    }
    std::string tls_seen = tls_field(c);
    conn_close(c, true);
    std::sort(per.begin(), per.end());
    double seconds = double(total_ns) / 1e9;
    fmt::print(
        "result mode=get bytes={} transfers={} seconds={:.4f} mb_per_s={:.1f} best_mb_per_s={:.1f} "
        "cpu_seconds={:.3f}{}\n",
        bytes, repeat, seconds, double(bytes) / seconds / 1e6, per.empty() ? 0.0 : per.back(),
        cpu_seconds(), tls_seen);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    set_tool_name("bench-http");
    Options o(argc, argv,
              {"connect", "path", "repeat", "warmup", "concurrency", "duration", "threads"},
              {"help", "verify", "tls"});
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
                       o.size("warmup", 1), o.has("verify"),
                       o.has("tls") ? tls_client_context(true) : nullptr);
    if (o.mode() == "connect")
        return run_connect(host, port, o.str("path", "/"), o.size("concurrency", 50),
                           o.number("duration", 10), o.size("threads", 1),
                           o.has("tls") ? tls_client_context(false) : nullptr);
    die("unknown mode \"" + o.mode() + "\" (see --help)");
}
