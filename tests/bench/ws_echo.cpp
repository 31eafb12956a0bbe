// bench-ws: the echo mode (pipelined, checked).
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>

#include <cstring>
#include <vector>

#include "tests/bench/bench_util.h"
#include "tests/bench/frame_reader.h"
#include "tests/bench/pattern.h"
#include "tests/bench/ws_client.h"

namespace ferry::bench {

namespace {

// Checks echoed frames against what was sent: frame k carries k in its first 8
// bytes and the pattern after them.
class EchoChecker {
  public:
    explicit EchoChecker(uint64_t frame) : frame_(frame), expect_(pattern(), pattern() + frame) {}

    // Consumes received bytes; returns the payload bytes they completed.
    uint64_t feed(const uint8_t* p, size_t n) {
        const uint8_t* end = p + n;
        uint64_t payload = 0;
        for (auto ev = reader_.next(p, end); ev != FrameReader::need_more;
             ev = reader_.next(p, end)) {
            const FrameHeader& h = reader_.frame();
            if (ev == FrameReader::error) die("malformed frame from the echo");
            if (ev == FrameReader::header) {
                if (h.opcode != op_binary || h.length != frame_ || h.masked)
                    die(fmt::format("echo frame {}: opcode {} length {}", frames_, h.opcode,
                                    h.length));
                for (int b = 0; b < 8; ++b)
                    expect_[size_t(b)] = uint8_t(frames_ >> (8 * b));
            }
            if (ev == FrameReader::payload) {
                if (std::memcmp(reader_.chunk, expect_.data() + reader_.chunk_offset,
                                reader_.chunk_size) != 0)
                    die(fmt::format("echo mismatch in frame {} near offset {}", frames_,
                                    reader_.chunk_offset));
                payload += reader_.chunk_size;
            }
            if (ev == FrameReader::frame_end) ++frames_;
        }
        return payload;
    }

  private:
    uint64_t frame_;
    uint64_t frames_ = 0;
    std::vector<uint8_t> expect_;
    FrameReader reader_;
};

// Reads what arrived: one recv on plain TCP; over TLS, every record already read
// ahead. Returns the payload bytes completed.
uint64_t receive_echo(Conn& c, std::vector<uint8_t>& buf, EchoChecker& checker, uint64_t received) {
    uint64_t payload = 0;
    do {
        size_t n = 0;
        Io io = conn_recv(c, buf.data(), buf.size(), n);
        if (io == Io::eof)
            die(fmt::format("connection closed after {} echoed bytes", received + payload));
        if (io == Io::error) die(io_error());
        if (io != Io::ok) break;
        payload += checker.feed(buf.data(), n);
    } while (conn_pending(c));
    return payload;
}

}  // namespace

// Sends frames while reading the echo, keeping at most `window` payload bytes in
// flight so that neither side's buffers deadlock.
int run_echo(const WsTarget& t, uint64_t bytes, uint64_t frame, uint64_t window) {
    uint64_t frames = (bytes + frame - 1) / frame;
    uint64_t total = frames * frame;
    std::string leftover;
    Conn c = open_websocket(t, "/echo", leftover);
    set_nonblocking(c.fd);
    std::vector<uint8_t> f = masked_frame(op_binary, frame);
    uint8_t* payload = f.data() + (f.size() - frame);
    EchoChecker checker(frame);
    std::vector<uint8_t> buf(1 << 20);
    uint64_t sent_frames = 0, frame_off = 0,
             received =
                 checker.feed(reinterpret_cast<const uint8_t*>(leftover.data()), leftover.size());
    auto can_send = [&] { return sent_frames < frames && sent_frames * frame < received + window; };
    set_masked_sequence(payload, 0);
    uint64_t start = now_ns();
    while (received < total) {
        pollfd pfd{c.fd, POLLIN, 0};
        if (can_send()) pfd.events |= POLLOUT;
        if (poll(&pfd, 1, 10000) == 0) die(fmt::format("echo stalled after {} bytes", received));
        // One send on plain TCP; over TLS, records until the socket is full (what one
        // send of the rest of the frame does on plain TCP).
        for (Io io = Io::ok; (pfd.revents & POLLOUT) && io == Io::ok && can_send();) {
            size_t n = 0;
            io = conn_send(c, f.data() + frame_off, f.size() - frame_off, n);
            if (io == Io::error) die(io_error());
            frame_off += n;
            if (frame_off == f.size()) {
                frame_off = 0;
                set_masked_sequence(payload, ++sent_frames);
            }
            if (!c.ssl) break;
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
            received += receive_echo(c, buf, checker, received);
    }
    double seconds = double(now_ns() - start) / 1e9;
    int flags = fcntl(c.fd, F_GETFL);
    fcntl(c.fd, F_SETFL, flags & ~O_NONBLOCK);
    close_websocket(c, {});
    std::string tls = tls_field(c);
    conn_close(c, true);
    print_result(
        fmt::format("mode=echo bytes={} frame={} window={} seconds={:.4f} mb_per_s={:.1f}{}", total,
                    frame, window, seconds, double(total) / seconds / 1e6, tls));
    return 0;
}

}  // namespace ferry::bench
