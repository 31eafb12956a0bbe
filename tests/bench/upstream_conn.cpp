#include "tests/bench/upstream_conn.h"

#include <fmt/format.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "tests/bench/pattern.h"

namespace ferry::bench {

namespace {

constexpr size_t echo_buffer_size = 1 << 20;
constexpr size_t max_request_head = 64 << 10;
constexpr uint64_t default_source_frame = 256 << 10;

constexpr std::string_view small_response =
    "HTTP/1.1 200 OK\r\nServer: bench-upstream\r\nContent-Type: text/plain\r\n"
    "Content-Length: 13\r\n\r\nHello, world\n";

bool would_block() {
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool contains_token(std::string_view value, std::string_view token) {
    for (size_t i = 0; i + token.size() <= value.size(); ++i)
        if (strncasecmp(value.data() + i, token.data(), token.size()) == 0) return true;
    return false;
}

uint64_t to_number(std::string_view s, bool& ok) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    ok = ec == std::errc() && p == s.data() + s.size() && !s.empty();
    return v;
}

// Appends a control frame (pong or close) with `payload` to `out`.
void append_control(std::string& out, uint8_t opcode, std::string_view payload) {
    uint8_t h[max_header_size];
    size_t n = encode_header(h, opcode, payload.size(), true, nullptr);
    out.append(reinterpret_cast<char*>(h), n);
    out.append(payload);
}

}  // namespace

UpstreamConn::~UpstreamConn() {
    close(fd_);
}

bool UpstreamConn::pump(LoopContext& ctx) {
    for (;;) {
        if (kind_ == ConnKind::ws_echo) return pump_echo();
        bool progress = false;
        if (!flush_out(progress)) return false;
        if (kind_ == ConnKind::http && !pending_output() && !in_.empty() && !want_close_) {
            size_t before = in_.size();
            handle_http_input();
            if (in_.size() != before || kind_ != ConnKind::http) continue;
        }
        // Back-pressure: HTTP reads no further requests while a response is queued.
        bool can_read = !peer_eof_ && (kind_ != ConnKind::http || !pending_output());
        if (can_read && !read_into_scratch(ctx, progress)) return false;
        if (!progress) break;
    }
    if (pending_output()) return true;
    return !(want_close_ || peer_eof_);
}

bool UpstreamConn::read_into_scratch(LoopContext& ctx, bool& progress) {
    ssize_t n = read(fd_, ctx.scratch, ctx.scratch_size);
    if (n < 0) return would_block();
    progress = true;
    if (n == 0) {
        peer_eof_ = true;
        return true;
    }
    if (kind_ == ConnKind::http) {
        in_.append(reinterpret_cast<char*>(ctx.scratch), size_t(n));
        if (!pending_output()) handle_http_input();
    } else {
        feed_sink(ctx.scratch, size_t(n));
    }
    return true;
}

// Answers every complete request in in_, stopping after one that queued a body (the
// next is answered when the body is written) or switched to WebSocket.
void UpstreamConn::handle_http_input() {
    while (kind_ == ConnKind::http && !pending_output() && !want_close_) {
        size_t end = in_.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (in_.size() > max_request_head) want_close_ = true;
            return;
        }
        std::string_view head(in_.data(), end + 4);
        size_t consumed = end + 4;
        std::string_view cl = find_header(head, "Content-Length");
        if (!cl.empty()) {
            bool ok = false;
            uint64_t len = to_number(cl, ok);
            if (!ok || len > max_request_head) {
                want_close_ = true;
                return;
            }
            if (in_.size() < consumed + len) return;  // body still arriving
            consumed += len;
        }
        handle_request(head);
        in_.erase(0, consumed);
    }
    if (kind_ == ConnKind::ws_echo && !in_.empty()) {
        std::memcpy(echo_.get() + e_rd_, in_.data(), in_.size());
        e_rd_ += in_.size();
        in_.clear();
        echo_transform();
    } else if (kind_ != ConnKind::http && !in_.empty()) {
        std::string rest;
        rest.swap(in_);
        feed_sink(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());
    }
}

// Queues the response to one request (head: request line and headers).
void UpstreamConn::handle_request(std::string_view head) {
    size_t sp1 = head.find(' ');
    size_t sp2 = head.find(' ', sp1 + 1);
    size_t eol = head.find("\r\n");
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp2 > eol) {
        out_ += "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        want_close_ = true;
        return;
    }
    std::string_view method = head.substr(0, sp1);
    std::string_view target = head.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = head.substr(sp2 + 1, eol - sp2 - 1);
    std::string_view connection = find_header(head, "Connection");
    bool keep_alive = version == "HTTP/1.1" ? !contains_token(connection, "close")
                                            : contains_token(connection, "keep-alive");
    if (target.rfind("/ws/", 0) == 0 && iequals(find_header(head, "Upgrade"), "websocket")) {
        start_websocket(target.substr(4), find_header(head, "Sec-WebSocket-Key"));
        return;
    }
    bool head_only = method == "HEAD";
    if (target.rfind("/size/", 0) == 0) {
        bool ok = false;
        uint64_t size = to_number(target.substr(6), ok);
        if (ok) {
            out_ += fmt::format(
                "HTTP/1.1 200 OK\r\nServer: bench-upstream\r\nContent-Type: "
                "application/octet-stream\r\nContent-Length: {}\r\n{}\r\n",
                size, keep_alive ? "" : "Connection: close\r\n");
            body_left_ = head_only ? 0 : size;
            body_sent_ = 0;
            want_close_ = !keep_alive;
            return;
        }
    }
    if (keep_alive) {
        out_ += head_only ? small_response.substr(0, small_response.size() - 13) : small_response;
    } else {
        std::string_view r = small_response;
        size_t headers_end = r.find("\r\n\r\n") + 2;
        out_.append(r.substr(0, headers_end));
        out_ += "Connection: close\r\n\r\n";
        if (!head_only) out_.append(r.substr(headers_end + 2));
        want_close_ = true;
    }
}

// Switches to a WebSocket mode named by the path after /ws/: echo, sink,
// source/BYTES[/FRAME_SIZE].
void UpstreamConn::start_websocket(std::string_view mode, std::string_view key) {
    ConnKind kind = ConnKind::http;
    if (mode == "echo") kind = ConnKind::ws_echo;
    if (mode == "sink") kind = ConnKind::ws_sink;
    if (mode.rfind("source/", 0) == 0) {
        std::string_view rest = mode.substr(7);
        size_t slash = rest.find('/');
        bool ok = false, ok_frame = true;
        source_left_ = to_number(rest.substr(0, slash), ok);
        source_frame_ = default_source_frame;
        if (slash != std::string_view::npos)
            source_frame_ = to_number(rest.substr(slash + 1), ok_frame);
        if (ok && ok_frame && source_frame_ > 0) kind = ConnKind::ws_source;
    }
    if (kind == ConnKind::http || key.empty()) {
        out_ += "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        want_close_ = true;
        source_left_ = 0;
        return;
    }
    out_ += fmt::format(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key));
    kind_ = kind;
    if (kind == ConnKind::ws_echo) {
        // The 101 goes out through the echo buffer, ahead of any echoed frame.
        echo_.reset(new uint8_t[echo_buffer_size]);
        std::memcpy(echo_.get(), out_.data() + out_off_, out_.size() - out_off_);
        e_out_ = e_parse_ = e_rd_ = out_.size() - out_off_;
        out_.clear();
        out_off_ = 0;
    }
}

void UpstreamConn::feed_sink(const uint8_t* p, size_t n) {
    const uint8_t* end = p + n;
    for (;;) {
        switch (reader_.next(p, end)) {
            case FrameReader::need_more:
                return;
            case FrameReader::error:
                want_close_ = peer_eof_ = true;
                return;
            case FrameReader::header:
                if (reader_.frame().opcode & 0x08) control_.clear();
                break;
            case FrameReader::payload:
                if (reader_.frame().opcode & 0x08) {
                    size_t at = control_.size();
                    control_.append(reinterpret_cast<const char*>(reader_.chunk),
                                    reader_.chunk_size);
                    if (reader_.frame().masked)
                        apply_mask(reinterpret_cast<uint8_t*>(control_.data()) + at,
                                   reader_.chunk_size, reader_.frame().mask, reader_.chunk_offset);
                } else {
                    sink_bytes_ += reader_.chunk_size;
                }
                break;
            case FrameReader::frame_end:
                if (reader_.frame().opcode == op_ping) append_control(out_, op_pong, control_);
                if (reader_.frame().opcode == op_close) {
                    // A source still sending stops; its close goes out after the frame.
                    source_left_ = 0;
                    if (!close_sent_ && frame_left_ == 0)
                        append_control(out_, op_close, control_.substr(0, 2));
                    close_sent_ = true;
                    want_close_ = peer_eof_ = true;
                    return;
                }
                break;
        }
    }
}

bool UpstreamConn::flush_out(bool& progress) {
    while (out_off_ < out_.size()) {
        ssize_t n = send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
        if (n < 0) return would_block();
        out_off_ += size_t(n);
        progress = true;
    }
    out_.clear();
    out_off_ = 0;
    while (body_left_ > 0) {
        size_t at = size_t(body_sent_ % pattern_size);
        size_t len = size_t(std::min<uint64_t>(body_left_, pattern_size - at));
        ssize_t n = send(fd_, pattern() + at, len, MSG_NOSIGNAL);
        if (n < 0) return would_block();
        body_left_ -= uint64_t(n);
        body_sent_ += uint64_t(n);
        progress = true;
    }
    if (kind_ == ConnKind::ws_source) return flush_source(progress);
    return true;
}

// Sends source frames (header + pattern payload) until source_left_ is spent, then
// queues a close frame.
bool UpstreamConn::flush_source(bool& progress) {
    while (source_left_ > 0 || frame_left_ > 0 || frame_header_sent_ < frame_header_size_) {
        if (frame_left_ == 0 && frame_header_sent_ == frame_header_size_) {
            uint64_t len = std::min(source_frame_, source_left_);
            frame_header_size_ = encode_header(frame_header_, op_binary, len, true, nullptr);
            frame_header_sent_ = 0;
            frame_left_ = frame_len_ = len;
            source_left_ -= len;
        }
        iovec iov[2];
        int count = 0;
        if (frame_header_sent_ < frame_header_size_)
            iov[count++] = {frame_header_ + frame_header_sent_,
                            frame_header_size_ - frame_header_sent_};
        if (frame_left_ > 0) {
            size_t at = size_t((frame_len_ - frame_left_) % pattern_size);
            size_t len = size_t(std::min<uint64_t>(frame_left_, pattern_size - at));
            iov[count++] = {const_cast<uint8_t*>(pattern()) + at, len};
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = size_t(count);
        ssize_t n = sendmsg(fd_, &msg, MSG_NOSIGNAL);
        if (n < 0) return would_block();
        progress = true;
        size_t header_part = std::min(size_t(n), frame_header_size_ - frame_header_sent_);
        frame_header_sent_ += header_part;
        frame_left_ -= uint64_t(size_t(n) - header_part);
        if (source_left_ == 0 && frame_left_ == 0 && frame_header_sent_ == frame_header_size_ &&
            !close_sent_) {
            close_sent_ = true;
            append_control(out_, op_close, std::string_view("\x03\xe8", 2));
            return flush_out(progress);
        }
    }
    return true;
}

}  // namespace ferry::bench

namespace ferry::bench {

// Echo: read into the buffer, unmask and shift frames in place, write the result.
bool UpstreamConn::pump_echo() {
    for (;;) {
        bool progress = false;
        if (e_sent_ < e_out_) {
            ssize_t n = send(fd_, echo_.get() + e_sent_, e_out_ - e_sent_, MSG_NOSIGNAL);
            if (n < 0 && !would_block()) return false;
            if (n > 0) {
                e_sent_ += size_t(n);
                progress = true;
            }
        }
        bool drained = e_sent_ == e_out_ && e_parse_ > 0;
        bool full = e_rd_ == echo_buffer_size && (e_sent_ > 0 || e_parse_ > e_out_);
        if (drained || full) compact_echo();
        if (!peer_eof_ && e_rd_ < echo_buffer_size) {
            ssize_t n = read(fd_, echo_.get() + e_rd_, echo_buffer_size - e_rd_);
            if (n < 0 && !would_block()) return false;
            if (n == 0) peer_eof_ = true;
            if (n > 0) {
                e_rd_ += size_t(n);
                echo_transform();
            }
            progress = progress || n >= 0;
        }
        if (!progress) break;
    }
    return !((peer_eof_ || want_close_) && e_sent_ == e_out_);
}

// Moves pending output to the buffer's start and unparsed input right after it.
void UpstreamConn::compact_echo() {
    uint8_t* b = echo_.get();
    size_t out_len = e_out_ - e_sent_;
    size_t in_len = e_rd_ - e_parse_;
    std::memmove(b, b + e_sent_, out_len);
    std::memmove(b + out_len, b + e_parse_, in_len);
    e_sent_ = 0;
    e_out_ = e_parse_ = out_len;
    e_rd_ = out_len + in_len;
}

// Turns the client's masked frames in [parse, rd) into unmasked frames at `out`,
// answering pings and a close; a close stops reading.
void UpstreamConn::echo_transform() {
    uint8_t* b = echo_.get();
    bool control = false;
    while (e_parse_ < e_rd_ || (e_in_payload_ && e_left_ == 0)) {
        control = (e_frame_.opcode & 0x08) != 0;
        if (e_in_payload_) {
            size_t n = size_t(std::min<uint64_t>(e_left_, e_rd_ - e_parse_));
            if (e_frame_.masked) apply_mask(b + e_parse_, n, e_frame_.mask, e_off_);
            if (control) {
                control_.append(reinterpret_cast<char*>(b + e_parse_), n);
            } else {
                if (e_out_ != e_parse_) std::memmove(b + e_out_, b + e_parse_, n);
                e_out_ += n;
            }
            e_parse_ += n;
            e_left_ -= n;
            e_off_ += n;
            if (e_left_ > 0) continue;
            e_in_payload_ = false;
            if (!control || e_frame_.opcode == op_pong) continue;
            // The reply is shorter than the masked frame it answers, so it fits.
            uint8_t opcode = e_frame_.opcode == op_ping ? op_pong : op_close;
            std::string_view payload = opcode == op_close ? std::string_view(control_).substr(0, 2)
                                                          : std::string_view(control_);
            e_out_ += encode_header(b + e_out_, opcode, payload.size(), true, nullptr);
            std::memcpy(b + e_out_, payload.data(), payload.size());
            e_out_ += payload.size();
            if (opcode == op_close) {
                want_close_ = peer_eof_ = true;
                e_rd_ = e_parse_;
                return;
            }
            continue;
        }
        FrameHeader h;
        int r = parse_header(b + e_parse_, e_rd_ - e_parse_, h);
        if (r == 0) return;
        if (r < 0) {
            want_close_ = peer_eof_ = true;
            return;
        }
        e_parse_ += h.header_size;
        e_frame_ = h;
        e_left_ = h.length;
        e_off_ = 0;
        e_in_payload_ = true;
        if (h.opcode & 0x08)
            control_.clear();
        else
            e_out_ += encode_header(b + e_out_, h.opcode, h.length, h.fin, nullptr);
    }
}

}  // namespace ferry::bench
