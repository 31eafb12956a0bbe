// bench-ws: the echo mode (pipelined, checked) and the idle mode (many open tunnels).
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>

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

}  // namespace

// Sends frames while reading the echo, keeping at most `window` payload bytes in
// flight so that neither side's buffers deadlock.
int run_echo(const WsTarget& t, uint64_t bytes, uint64_t frame, uint64_t window) {
    uint64_t frames = (bytes + frame - 1) / frame;
    uint64_t total = frames * frame;
    std::string leftover;
    int fd = open_websocket(t, "/echo", leftover);
    set_nonblocking(fd);
    std::vector<uint8_t> f = masked_frame(op_binary, frame);
    uint8_t* payload = f.data() + (f.size() - frame);
    EchoChecker checker(frame);
    std::vector<uint8_t> buf(1 << 20);
    uint64_t sent_frames = 0, frame_off = 0,
             received =
                 checker.feed(reinterpret_cast<const uint8_t*>(leftover.data()), leftover.size());
    set_masked_sequence(payload, 0);
    uint64_t start = now_ns();
    while (received < total) {
        pollfd pfd{fd, POLLIN, 0};
        bool can_send = sent_frames < frames && sent_frames * frame < received + window;
        if (can_send) pfd.events |= POLLOUT;
        if (poll(&pfd, 1, 10000) == 0) die(fmt::format("echo stalled after {} bytes", received));
        if (pfd.revents & POLLOUT) {
            ssize_t n = send(fd, f.data() + frame_off, f.size() - frame_off, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EINTR) die_errno("send");
            frame_off += uint64_t(std::max<ssize_t>(n, 0));
            if (frame_off == f.size()) {
                frame_off = 0;
                set_masked_sequence(payload, ++sent_frames);
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(fd, buf.data(), buf.size(), 0);
            if (n == 0) die(fmt::format("connection closed after {} echoed bytes", received));
            if (n < 0 && errno != EAGAIN && errno != EINTR) die_errno("recv");
            if (n > 0) received += checker.feed(buf.data(), size_t(n));
        }
    }
    double seconds = double(now_ns() - start) / 1e9;
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    close_websocket(fd, {});
    close(fd);
    print_result(fmt::format("mode=echo bytes={} frame={} window={} seconds={:.4f} mb_per_s={:.1f}",
                             total, frame, window, seconds, double(total) / seconds / 1e6));
    return 0;
}

namespace {

struct IdleConn {
    int fd = -1;
    enum State { connecting, reading, open, failed } state = connecting;
    std::string in;
};

}  // namespace

// Opens `count` tunnels to /sink, at most `parallel` handshakes at a time, reports
// once all are established, then holds them until a signal or `hold_seconds`.
int run_idle(const WsTarget& t, uint64_t count, uint64_t parallel, double hold_seconds) {
    raise_nofile_limit();
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (sfd < 0 || ep < 0) die_errno("signalfd/epoll");
    epoll_event sev{};
    sev.events = EPOLLIN;
    sev.data.u64 = UINT64_MAX;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &sev);

    std::vector<IdleConn> conns(count);
    std::string request = handshake_request(t, "/sink");
    uint64_t started = 0, in_progress = 0, opened = 0, failed = 0, lost = 0;
    std::string first_error;
    auto fail = [&](IdleConn& c, const std::string& why) {
        if (first_error.empty()) first_error = why;
        if (c.state != IdleConn::open) --in_progress;
        if (c.state == IdleConn::open)
            ++lost;
        else
            ++failed;
        c.state = IdleConn::failed;
        close(c.fd);
    };
    uint64_t t0 = now_ns();
    bool reported = false;
    uint64_t hold_until = 0;
    epoll_event events[512];
    bool stop_requested = false;
    while (!stop_requested) {
        while (started < count && in_progress < parallel) {
            IdleConn& c = conns[started];
            c.fd = connect_tcp(t.host, t.port, true);
            ++started;
            ++in_progress;
            if (c.fd < 0) {
                fail(c, fmt::format("connect: {}", std::strerror(errno)));
                continue;
            }
            epoll_event ev{};
            ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
            ev.data.u64 = started - 1;
            epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
        }
        if (!reported && opened + failed == count) {
            reported = true;
            print_result(
                fmt::format("mode=idle established={} failed={} seconds={:.3f}{}", opened, failed,
                            double(now_ns() - t0) / 1e9,
                            first_error.empty() ? "" : " first_error=\"" + first_error + "\""));
            hold_until = now_ns() + uint64_t(hold_seconds * 1e9);
        }
        int timeout = 1000;
        if (reported && now_ns() >= hold_until) break;
        int n = epoll_wait(ep, events, 512, timeout);
        for (int i = 0; i < n; ++i) {
            if (events[i].data.u64 == UINT64_MAX) {
                stop_requested = true;
                continue;
            }
            IdleConn& c = conns[events[i].data.u64];
            if (c.state == IdleConn::failed) continue;
            if (c.state == IdleConn::open) {
                fail(c, "tunnel closed by the peer");  // any event on an idle tunnel ends it
                continue;
            }
            if (c.state == IdleConn::connecting && (events[i].events & EPOLLOUT)) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) {
                    fail(c, fmt::format("connect: {}", std::strerror(err)));
                    continue;
                }
                if (send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
                    ssize_t(request.size())) {
                    fail(c, "send of the handshake failed");
                    continue;
                }
                c.state = IdleConn::reading;
                epoll_event ev{};
                ev.events = EPOLLIN | EPOLLRDHUP;
                ev.data.u64 = events[i].data.u64;
                epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
                continue;
            }
            if (c.state != IdleConn::reading) continue;
            char buf[2048];
            ssize_t r = recv(c.fd, buf, sizeof buf, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                fail(c, r == 0 ? "closed during the handshake" : std::strerror(errno));
                continue;
            }
            c.in.append(buf, size_t(r));
            size_t end = c.in.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            std::string problem =
                check_handshake_response(std::string_view(c.in).substr(0, end + 4));
            if (!problem.empty()) {
                fail(c, problem);
                continue;
            }
            std::string().swap(c.in);
            c.state = IdleConn::open;
            --in_progress;
            ++opened;
        }
    }
    for (IdleConn& c : conns)
        if (c.state == IdleConn::open || c.state == IdleConn::reading) close(c.fd);
    fmt::print("closed established={} lost={}\n", opened, lost);
    return failed == 0 && lost == 0 ? 0 : 1;
}

}  // namespace ferry::bench
