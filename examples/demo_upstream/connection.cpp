#include "examples/demo_upstream/connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "examples/demo_upstream/routes.h"

namespace ferry::demo {

namespace {

// Reads land here first and only what arrived is appended to a connection's input, so
// an idle connection holds no read buffer. One is enough: the server is single-threaded.
char read_buffer[64 << 10];

// Buffers above this capacity are given back once empty, so that one large message
// does not pin its memory for the connection's lifetime.
constexpr size_t keep_capacity = 64 << 10;

// The request body's length from Content-Length, or nullopt when the header is
// malformed or repeated with different values (a request to refuse).
std::optional<uint64_t> body_length(const Request& request) {
    std::optional<uint64_t> length;
    for (const auto& h : request.headers) {
        if (!iequals(h.name, "Content-Length")) continue;
        uint64_t value = 0;
        auto [end, ec] = std::from_chars(h.value.data(), h.value.data() + h.value.size(), value);
        if (ec != std::errc() || end != h.value.data() + h.value.size() || h.value.empty())
            return std::nullopt;
        if (length && *length != value) return std::nullopt;
        length = value;
    }
    return length.value_or(0);
}

bool wants_keep_alive(const Request& request) {
    if (request.minor_version == 0) return request.has_token("Connection", "keep-alive");
    return !request.has_token("Connection", "close");
}

}  // namespace

Connection::Connection(core::UniqueFd fd, const Limits& limits)
    : limits_(limits), fd_(std::move(fd)), deadline_(Clock::now() + limits.idle_timeout) {}

bool Connection::wants_read() const {
    if (mode_ == Mode::lingering) return !peer_eof_;
    return !peer_eof_ && !close_after_write_ && out_.size() - out_sent_ < limits_.max_pending_out;
}

uint32_t Connection::wanted_events() const {
    uint32_t events = 0;
    if (wants_read()) events |= EPOLLIN | EPOLLRDHUP;
    if (out_sent_ < out_.size()) events |= EPOLLOUT;
    return events;
}

bool Connection::on_ready(uint32_t events) {
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 && wants_read()) {
        if (read_some() == Io::error) return false;
        if (mode_ != Mode::lingering) process();
    }
    if (out_sent_ < out_.size() && flush() == Io::error) return false;
    if (out_sent_ == out_.size() && (close_after_write_ || peer_eof_)) {
        if (peer_eof_) return false;  // nothing more can come, nothing left to send
        if (mode_ != Mode::lingering) start_lingering();
    }
    if (mode_ == Mode::lingering && Clock::now() >= deadline_) return false;
    if ((events & EPOLLERR) != 0) return false;  // a reset or another socket error
    update_deadline();
    return true;
}

Connection::Io Connection::read_some() {
    ssize_t n = ::recv(fd_.get(), read_buffer, sizeof read_buffer, 0);
    if (n > 0) {
        if (mode_ == Mode::lingering) return Io::progress;  // after our close, input is ignored
        in_.append(read_buffer, static_cast<size_t>(n));
        deadline_ = Clock::now() + limits_.idle_timeout;
        return Io::progress;
    }
    if (n == 0) {
        peer_eof_ = true;
        return Io::eof;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Io::blocked;
    return Io::error;
}

Connection::Io Connection::flush() {
    while (out_sent_ < out_.size()) {
        ssize_t n =
            ::send(fd_.get(), out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::blocked;
            return Io::error;
        }
        out_sent_ += static_cast<size_t>(n);
        deadline_ = Clock::now() + limits_.idle_timeout;
    }
    // Everything is sent: give back the memory a large message needed.
    if (out_.capacity() > keep_capacity) out_ = std::string();
    out_.clear();
    out_sent_ = 0;
    return Io::progress;
}

void Connection::process() {
    if (mode_ == Mode::http) process_http();
    if (mode_ == Mode::websocket && !close_after_write_) {
        size_t used = echo_->consume(in_, out_);
        in_.erase(0, used);
        if (echo_->closed()) close_after_write_ = true;
    }
    if (in_.empty() && in_.capacity() > keep_capacity) in_ = std::string();
    // A peer that closed in the middle of a request or frame gets no answer to it.
    if (peer_eof_) close_after_write_ = true;
}

void Connection::process_http() {
    size_t at = 0;
    while (at < in_.size() && !close_after_write_ && mode_ == Mode::http) {
        if (discard_ > 0) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(discard_, in_.size() - at));
            discard_ -= n;
            at += n;
            continue;
        }
        // RFC 9112 section 2.2: ignore empty lines before a request line.
        if (in_[at] == '\n' || in_.compare(at, 2, "\r\n") == 0) {
            at += in_[at] == '\n' ? 1 : 2;
            continue;
        }
        if (in_[at] == '\r' && at + 1 == in_.size()) break;  // its LF is yet to come
        Request request;
        ParseResult parsed =
            parse_request_head(std::string_view(in_).substr(at), limits_.max_head, request);
        if (parsed == ParseResult::incomplete) break;
        if (parsed == ParseResult::bad) refuse(400);
        if (parsed == ParseResult::bad_version) refuse(505);
        if (parsed == ParseResult::too_large) refuse(431);
        if (parsed != ParseResult::ok) break;
        at += request.head_size;
        if (!answer(request)) break;
    }
    in_.erase(0, at);
}

bool Connection::answer(const Request& request) {
    auto length = body_length(request);
    bool one_host =
        request.count("Host") == 1 || (request.minor_version == 0 && request.count("Host") == 0);
    if (!length || !one_host) {
        refuse(400);
        return false;
    }
    if (request.count("Transfer-Encoding") > 0) {
        // Chunked request bodies are of no use to the demo; without reading them the
        // next request cannot be found, so the connection ends here.
        refuse(request.count("Content-Length") > 0 ? 400 : 501);
        return false;
    }
    if (*length > limits_.max_body) {
        refuse(413);
        return false;
    }
    bool keep_alive = wants_keep_alive(request);
    Reply reply = route(request, *length, keep_alive);
    append_response(out_, reply.response);
    if (reply.upgrade) {
        mode_ = Mode::websocket;
        echo_.emplace(limits_.max_message);
        return false;
    }
    discard_ = *length;
    if (!reply.response.keep_alive) close_after_write_ = true;
    return !close_after_write_;
}

void Connection::refuse(int status) {
    append_response(out_, plain_response(status, false));
    close_after_write_ = true;
}

// Closing right after our last bytes could turn unread input into a reset that
// destroys those bytes at the peer; so we half-close and read until the peer's EOF
// or a short deadline (as nginx's lingering close does).
void Connection::start_lingering() {
    ::shutdown(fd_.get(), SHUT_WR);
    mode_ = Mode::lingering;
    in_ = std::string();
    deadline_ = Clock::now() + limits_.linger_timeout;
}

void Connection::update_deadline() {
    if (mode_ == Mode::websocket && out_sent_ == out_.size() && !close_after_write_)
        deadline_ = Clock::time_point::max();
    else if (mode_ == Mode::websocket && deadline_ == Clock::time_point::max())
        deadline_ = Clock::now() + limits_.idle_timeout;
}

}  // namespace ferry::demo
