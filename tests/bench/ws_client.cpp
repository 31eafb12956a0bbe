// bench-ws: handshake and frame helpers, the oneway and rtt modes, and main().
#include "tests/bench/ws_client.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>

#include "tests/bench/bench_util.h"
#include "tests/bench/frame_reader.h"
#include "tests/bench/pattern.h"

namespace ferry::bench {

namespace {

constexpr std::string_view sample_key = "dGhlIHNhbXBsZSBub25jZQ==";

// Reads into `buf` once; exits on error or EOF (`what` names the wait).
size_t read_some(Conn& c, uint8_t* buf, size_t size, const char* what) {
    for (;;) {
        size_t n = 0;
        Io io = conn_recv(c, buf, size, n);
        if (io == Io::ok) return n;
        if (io == Io::eof) die(fmt::format("connection closed while {}", what));
        if (io == Io::error) die(fmt::format("{} while {}", io_error(), what));
    }
}

}  // namespace

std::string handshake_request(const WsTarget& t, const std::string& path) {
    return fmt::format(
        "GET {}{} HTTP/1.1\r\nHost: {}:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        t.prefix, path, t.host, t.port, sample_key);
}

std::string check_handshake_response(std::string_view head) {
    if (head.substr(0, 13) != "HTTP/1.1 101 ")
        return fmt::format("handshake refused: {}", head.substr(0, head.find("\r\n")));
    if (find_header(head, "Sec-WebSocket-Accept") != accept_key(sample_key))
        return "handshake: wrong Sec-WebSocket-Accept";
    return {};
}

Conn open_websocket(const WsTarget& t, const std::string& path, std::string& leftover) {
    Conn c = open_conn(t.host, t.port, t.tls);
    std::string request = handshake_request(t, path);
    conn_write_all(c, request.data(), request.size());
    std::string in;
    uint8_t buf[4096];
    size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        size_t n = read_some(c, buf, sizeof buf, "waiting for the handshake response");
        in.append(reinterpret_cast<char*>(buf), n);
    }
    std::string problem = check_handshake_response(std::string_view(in).substr(0, end + 4));
    if (!problem.empty()) die(problem);
    leftover = in.substr(end + 4);
    return c;
}

std::vector<uint8_t> masked_frame(uint8_t opcode, size_t payload_size) {
    if (payload_size > pattern_size) die("frames are at most 1 MiB");
    std::vector<uint8_t> frame(max_header_size + payload_size);
    size_t h = encode_header(frame.data(), opcode, payload_size, true, client_mask);
    frame.resize(h + payload_size);
    std::memcpy(frame.data() + h, pattern(), payload_size);
    apply_mask(frame.data() + h, payload_size, client_mask, 0);
    return frame;
}

void set_masked_sequence(uint8_t* payload, uint64_t seq) {
    for (int i = 0; i < 8; ++i)
        payload[i] = uint8_t(seq >> (8 * i)) ^ client_mask[i & 3];
}

void close_websocket(Conn& c, std::string leftover) {
    uint8_t close_frame[8];
    size_t h = encode_header(close_frame, op_close, 2, true, client_mask);
    close_frame[h] = 0x03 ^ client_mask[0];
    close_frame[h + 1] = 0xe8 ^ client_mask[1];
    conn_write_all(c, close_frame, h + 2);
    FrameReader reader;
    std::vector<uint8_t> buf(1 << 20);
    std::memcpy(buf.data(), leftover.data(), std::min(leftover.size(), buf.size()));
    size_t n = leftover.size();
    for (;;) {
        const uint8_t* p = buf.data();
        const uint8_t* end = p + n;
        for (auto ev = reader.next(p, end); ev != FrameReader::need_more;
             ev = reader.next(p, end)) {
            if (ev == FrameReader::error) die("malformed frame while closing");
            if (ev == FrameReader::frame_end && reader.frame().opcode == op_close) return;
        }
        n = read_some(c, buf.data(), buf.size(), "waiting for the close frame");
    }
}

void print_result(const std::string& fields) {
    fmt::print("result {} cpu_seconds={:.3f}\n", fields, cpu_seconds());
    std::fflush(stdout);
}

// Client → sink ("up") or source → client ("down"): `bytes` of payload in frames of
// `frame` bytes; the clock stops when the peer's close frame arrives.
int run_oneway(const WsTarget& t, const std::string& direction, uint64_t bytes, uint64_t frame) {
    uint64_t frames = (bytes + frame - 1) / frame;
    uint64_t total = frames * frame;
    std::string leftover;
    uint64_t start = 0;
    Conn c;
    if (direction == "up") {
        c = open_websocket(t, "/sink", leftover);
        std::vector<uint8_t> f = masked_frame(op_binary, frame);
        start = now_ns();
        for (uint64_t i = 0; i < frames; ++i)
            conn_write_all(c, f.data(), f.size());
        close_websocket(c, leftover);
    } else if (direction == "down") {
        start = now_ns();
        c = open_websocket(t, fmt::format("/source/{}/{}", total, frame), leftover);
        FrameReader reader;
        std::vector<uint8_t> buf(1 << 20);
        std::memcpy(buf.data(), leftover.data(), leftover.size());
        size_t n = leftover.size();
        uint64_t got = 0;
        bool closed = false;
        while (!closed) {
            const uint8_t* p = buf.data();
            const uint8_t* end = p + n;
            for (auto ev = reader.next(p, end); ev != FrameReader::need_more;
                 ev = reader.next(p, end)) {
                if (ev == FrameReader::error) die("malformed frame from the source");
                if (ev == FrameReader::payload && reader.frame().opcode == op_binary)
                    got += reader.chunk_size;
                if (ev == FrameReader::frame_end && reader.frame().opcode == op_close)
                    closed = true;
            }
            if (!closed) n = read_some(c, buf.data(), buf.size(), "receiving from the source");
        }
        if (got != total) die(fmt::format("received {} bytes, expected {}", got, total));
        uint8_t reply[8];
        size_t h = encode_header(reply, op_close, 0, true, client_mask);
        conn_write_all(c, reply, h);
    } else {
        die("--direction is up or down");
    }
    double seconds = double(now_ns() - start) / 1e9;
    std::string tls = tls_field(c);
    conn_close(c, true);
    print_result(
        fmt::format("mode=oneway direction={} bytes={} frame={} seconds={:.4f} mb_per_s={:.1f}{}",
                    direction, total, frame, seconds, double(total) / seconds / 1e6, tls));
    return 0;
}

// One message at a time through /echo: send `size` bytes, wait for all of them back.
int run_rtt(const WsTarget& t, uint64_t size, uint64_t samples, uint64_t warmup) {
    if (size < 8 || size > 125) die("rtt messages are 8 to 125 bytes");
    std::string leftover;
    Conn c = open_websocket(t, "/echo", leftover);
    if (!leftover.empty()) die("unexpected data after the handshake");
    std::vector<uint8_t> f = masked_frame(op_binary, size);
    uint8_t* payload = f.data() + (f.size() - size);
    std::vector<uint8_t> expect(pattern(), pattern() + size);
    std::vector<uint8_t> in(2 + size);
    std::vector<double> micros;
    micros.reserve(samples);
    for (uint64_t i = 0; i < warmup + samples; ++i) {
        set_masked_sequence(payload, i);
        for (int b = 0; b < 8; ++b)
            expect[size_t(b)] = uint8_t(i >> (8 * b));
        uint64_t t0 = now_ns();
        conn_write_all(c, f.data(), f.size());
        size_t got = 0;
        while (got < in.size())
            got += read_some(c, in.data() + got, in.size() - got, "waiting for the echo");
        uint64_t t1 = now_ns();
        if (in[0] != (0x80 | op_binary) || in[1] != size ||
            std::memcmp(in.data() + 2, expect.data(), size) != 0)
            die(fmt::format("echo mismatch in message {}", i));
        if (i >= warmup) micros.push_back(double(t1 - t0) / 1e3);
    }
    close_websocket(c, {});
    std::string tls = tls_field(c);
    conn_close(c, true);
    std::sort(micros.begin(), micros.end());
    auto pct = [&](double p) {
        return micros[std::min(micros.size() - 1, size_t(p * double(micros.size())))];
    };
    double sum = 0;
    for (double m : micros)
        sum += m;
    print_result(
        fmt::format("mode=rtt size={} samples={} p50_us={:.1f} p99_us={:.1f} p999_us={:.1f} "
                    "max_us={:.1f} mean_us={:.1f}{}",
                    size, samples, pct(0.5), pct(0.99), pct(0.999), micros.back(),
                    sum / double(micros.size()), tls));
    return 0;
}

}  // namespace ferry::bench

using namespace ferry::bench;

namespace {

constexpr const char* usage = R"(usage: bench-ws MODE [options]

WebSocket load client for ferry's benchmark (client frames masked with a fixed key).

modes:
  oneway   --direction up: send --bytes to /sink; down: receive --bytes from /source
           (MB/s, the clock stops when the peer's close frame arrives)
  echo     send --bytes to /echo while reading them back, at most --window bytes in
           flight; every echoed byte is checked (MB/s = bytes echoed per second)
  rtt      --size-byte messages to /echo one at a time: p50/p99/p999 in microseconds
           over --samples after --warmup
  idle     open --count tunnels to /sink (--parallel handshakes at once), print
           "established ..." once all are open, keep them idle until SIGTERM/SIGINT
           or --hold seconds, then close them

options:
  --connect ADDR    [HOST:]PORT of the proxy or upstream (default 127.0.0.1:27180)
  --prefix PATH     path prefix of the endpoints (default /ws)
  --bytes N         payload bytes, suffixes k/m/g (default 1g)
  --frame N         payload bytes per frame, at most 1m (default 256k)
  --direction D     oneway: up or down (default up)
  --window N        echo: bytes in flight (default 4m)
  --size N          rtt: message size (default 64)
  --samples N       rtt: measured round trips (default 20000)
  --warmup N        rtt: round trips before measuring (default 1000)
  --count N         idle: tunnels (default 1000)
  --parallel N      idle: handshakes in progress at once (default 200)
  --hold SECONDS    idle: how long to keep tunnels open (default 600)
  --tls             wss://: TLS client (no certificate verification, SNI localhost,
                    ALPN http/1.1, no session cache: every tunnel is a full handshake)
  --help            this text

Results: one line "result mode=... key=value ... cpu_seconds=S" on stdout.
)";

}  // namespace

int main(int argc, char** argv) {
    set_tool_name("bench-ws");
    Options o(argc, argv,
              {"connect", "prefix", "bytes", "frame", "direction", "window", "size", "samples",
               "warmup", "count", "parallel", "hold"},
              {"help", "tls"});
    if (o.has("help") || o.mode().empty()) {
        fmt::print(o.has("help") ? stdout : stderr, "{}", usage);
        return o.has("help") ? 0 : 2;
    }
    signal(SIGPIPE, SIG_IGN);
    WsTarget t;
    split_host_port(o.str("connect", "127.0.0.1:27180"), t.host, t.port);
    t.prefix = o.str("prefix", "/ws");
    // Idle tunnels release their TLS buffers; the other modes read ahead.
    if (o.has("tls")) t.tls = tls_client_context(o.mode() != "idle");
    uint64_t frame = o.size("frame", 256 << 10);
    if (frame == 0 || frame > pattern_size) die("--frame must be 1 byte to 1m");
    const std::string& mode = o.mode();
    if (mode == "oneway")
        return run_oneway(t, o.str("direction", "up"), o.size("bytes", 1ull << 30), frame);
    if (mode == "echo")
        return run_echo(t, o.size("bytes", 1ull << 30), frame, o.size("window", 4 << 20));
    if (mode == "rtt")
        return run_rtt(t, o.size("size", 64), o.size("samples", 20000), o.size("warmup", 1000));
    if (mode == "idle")
        return run_idle(t, o.size("count", 1000), o.size("parallel", 200), o.number("hold", 600));
    die("unknown mode \"" + mode + "\" (see --help)");
}
