#include "http/connection.h"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

#include "core/log.h"
#include "core/tls_stream.h"
#include "http/http_worker.h"
#include "http/runtime.h"

namespace ferry::http {

namespace {
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
}  // namespace

ClientConnection::ClientConnection(HttpWorker& worker, std::unique_ptr<core::Stream> stream,
                                   core::ConnectionSlot slot, const core::SockAddr& peer,
                                   int listener_tag, uint64_t number)
    : worker_(worker),
      runtime_(worker.runtime()),
      stream_(std::move(stream)),
      slot_(std::move(slot)),
      peer_(peer),
      tag_(listener_tag),
      number_(number),
      in_(&worker.buffers()),
      out_(&worker.buffers()) {
    read_timer_.set_callback(
        core::Timer::bind<ClientConnection, &ClientConnection::on_read_timeout>(), this);
    write_timer_.set_callback(
        core::Timer::bind<ClientConnection, &ClientConnection::on_write_timeout>(), this);
}

ClientConnection::~ClientConnection() = default;

const AddressRt& ClientConnection::address() const {
    return runtime_->address(tag_);
}

const core::SockAddr& ClientConnection::local() {
    if (!local_known_ && stream_) {
        local_.len = sizeof local_.storage;
        if (getsockname(stream_->fd(), local_.get(), &local_.len) != 0) local_.len = 0;
        local_known_ = true;
    }
    return local_;
}

const conf::LocationConf& ClientConnection::loc() const {
    if (req_.location) return *req_.location;
    return req_.server ? req_.server->conf->defaults : address().default_server->conf->defaults;
}

void ClientConnection::start() {
    worker_.loop().add(stream_->fd(), kEvents, this);
    begin_request();
    // client_header_timeout bounds the TLS handshake too, as in nginx.
    wait_for_client(ReadWait::header);
    if (address().ssl) {
        set_phase(Phase::handshake);
        handshake();
        return;
    }
    read_head();
}

// The first byte tells a TLS ClientHello from plain HTTP sent to a TLS port (which
// nginx answers with "400 The plain HTTP request was sent to HTTPS port"); then the
// handshake runs on the connection's readiness like any read or write.
void ClientConnection::handshake() {
    if (!tls_) {
        int err = 0;
        switch (core::probe_first_byte(stream_->fd(), err)) {
            case core::FirstByte::again:
                readable_ = false;
                return;
            case core::FirstByte::closed:
            case core::FirstByte::error:
                close_now();
                return;
            case core::FirstByte::plain:
                plain_http_ = true;
                set_phase(Phase::head);
                read_head();
                return;
            case core::FirstByte::tls:
                break;
        }
        std::string error;
        auto tls = core::TlsStream::accept(stream_->take_fd(), address().ssl_ctx.get(), error);
        if (!tls) {
            log_error(conf::LogLevel::crit, error);
            close_now();
            return;
        }
        tls_ = tls.get();
        stream_ = std::move(tls);
    }
    core::IoResult r = stream_->handshake();
    if (r.status == core::Io::again) {
        if (r.want_read) readable_ = false;
        if (r.want_write) writable_ = false;
        return;
    }
    if (r.status != core::Io::ok) {
        // A client's bad or cut-short handshake is its own business: one info line.
        log_error(tls_->error_is_peer_fault() ? conf::LogLevel::info : conf::LogLevel::crit,
                  tls_->error_text() + " while SSL handshaking");
        close_now();
        return;
    }
    set_phase(Phase::head);
    read_head();  // the request may already sit in OpenSSL's buffer
}

void ClientConnection::on_io(uint32_t events) {
    if (phase_ == Phase::closed) return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) writable_ = true;
    if (events & (EPOLLRDHUP | EPOLLHUP)) peer_closed_ = true;
    if (writable_) on_writable();
    if (phase_ != Phase::closed && readable_) on_readable();
}

void ClientConnection::on_readable() {
    switch (phase_) {
        case Phase::handshake:
            handshake();
            return;
        case Phase::idle:
        case Phase::head:
            read_head();
            return;
        case Phase::body:
            read_body();
            return;
        case Phase::responding:
            if (content_ && peer_closed_) content_->on_client_maybe_closed();
            return;
        case Phase::lingering:
            linger();
            return;
        case Phase::closed:
            return;
    }
}

void ClientConnection::on_writable() {
    if (phase_ == Phase::handshake) {
        handshake();
        return;
    }
    if (out_.drained()) return;
    send_output();
}

// Reads into in_, keeping the current request's bytes in place. Returns false when
// nothing more can be read now (EAGAIN, EOF, error); `eof` tells EOF or error.
// readable_ is what epoll last reported, but a TLS handshake finished on EPOLLOUT may
// read ahead the request sent with the client's Finished, and epoll never reports bytes
// that already left the socket: a stream holding some is read whatever readable_ says.
bool ClientConnection::fill_buffer(size_t room, bool& eof) {
    eof = false;
    if (!readable_ && !stream_->has_pending()) return false;
    if (!in_.reserve(room)) {
        eof = true;
        return false;
    }
    core::IoResult r = stream_->read(in_.writable(), in_.writable_size());
    if (r.status == core::Io::ok) {
        in_.commit(r.n);
        if (r.drained && !peer_closed_) readable_ = false;
        return true;
    }
    if (r.status == core::Io::again) {
        readable_ = false;
        return false;
    }
    eof = true;
    readable_ = false;
    return false;
}

void ClientConnection::begin_request() {
    req_.clear();
    linger_deadline_ = 0;
    // Keep the next request's bytes at the front: its offsets must survive growth.
    if (in_.allocated()) {
        in_.consume(parsed_ - in_.start());
        in_.compact();
    }
    req_start_ = 0;
    parsed_ = 0;
    body_state_ = BodyState::none;
    span_index_ = span_offset_ = 0;
    discard_body_ = false;
    buffering_ = false;
    response_started_ = false;
    response_done_ = false;
    continue_sent_ = false;
    reader_.begin(req_, 0, head_limits());
}

HeadLimits ClientConnection::head_limits() const {
    const conf::ServerConf& srv = *address().default_server->conf;
    HeadLimits limits;
    limits.line_max = srv.large_client_header_buffers_size;
    limits.head_max = srv.large_client_header_buffers_size * srv.large_client_header_buffers_num;
    return limits;
}

// A reload takes effect at request boundaries: the connection takes the configuration in
// force, provided its listen address is still in it (else it goes on with the one it
// has until it closes). True if it changed.
bool ClientConnection::adopt_runtime() {
    const std::shared_ptr<const Runtime>& current = worker_.runtime();
    if (current == runtime_) return false;
    const core::SockAddr& addr = address().addr;
    const auto& addrs = current->addresses();
    for (size_t i = 0; i < addrs.size(); ++i) {
        if (addrs[i].addr == addr) {
            runtime_ = current;
            tag_ = static_cast<int>(i);
            return true;
        }
    }
    return false;
}

// Entering or leaving `idle` moves the connection in and out of the worker's list of
// connections that may be closed to make room (nginx's reusable connections).
void ClientConnection::set_phase(Phase p) {
    if (phase_ == p) return;
    if (phase_ == Phase::idle) worker_.leave_idle(this);
    phase_ = p;
    if (p == Phase::idle) worker_.enter_idle(this);
}

// Every client read timeout is decided here, from what the connection waits for. A
// timeout runs only while ferry waits for bytes it is ready to take: none while the
// content has not taken the body bytes already read.
void ClientConnection::wait_for_client(ReadWait why) {
    core::Timers& timers = worker_.loop().timers();
    int64_t now = worker_.loop().now();
    ReadWait before = read_wait_;
    read_wait_ = why;
    switch (why) {
        case ReadWait::nothing:
            timers.cancel(read_timer_);
            return;
        case ReadWait::header:
            // client_header_timeout bounds the whole head (and the TLS handshake), as in
            // nginx: armed once, not pushed back by each read.
            if (before != ReadWait::header || !read_timer_.armed()) {
                timers.arm(read_timer_, now, address().default_server->conf->client_header_timeout);
            }
            return;
        case ReadWait::keepalive:
            timers.arm(read_timer_, now, loc().keepalive_timeout);
            return;
        case ReadWait::body:
            timers.arm_lazily(read_timer_, now, loc().client_body_timeout);
            return;
        case ReadWait::discard:
        case ReadWait::linger: {
            // Dropping what the client still sends: lingering_timeout between reads,
            // lingering_time in all.
            if (linger_deadline_ == 0) linger_deadline_ = now + loc().lingering_time;
            int64_t left = linger_deadline_ - now;
            int64_t wait = left < loc().lingering_timeout ? left : loc().lingering_timeout;
            timers.arm(read_timer_, now, wait > 0 ? wait : 0);
            return;
        }
    }
}

void ClientConnection::read_head() {
    const conf::ServerConf& srv = *address().default_server->conf;
    size_t head_max = srv.large_client_header_buffers_size * srv.large_client_header_buffers_num;
    for (;;) {
        size_t end = in_.allocated() ? in_.end() : 0;
        if (parsed_ < end) {
            if (phase_ == Phase::idle) {
                // A reload while the connection waited: the request takes the new
                // configuration (before a byte of it is parsed).
                if (adopt_runtime()) reader_.begin(req_, 0, head_limits());
                set_phase(Phase::head);
                req_.start_ms = worker_.loop().now();
                req_.start_wall_ms = worker_.loop().wall_now();
                wait_for_client(ReadWait::header);
            }
            size_t consumed = 0;
            RequestReader::Event ev = reader_.parse(in_.data(), parsed_, end, consumed);
            parsed_ += consumed;
            if (ev == RequestReader::Event::head_done) {
                // The head must fit the large buffers (nginx's 494) even when it arrived
                // in one read.
                if (reader_.head_end() - req_start_ > head_max) {
                    fail_request(494, "client sent too large request");
                    return;
                }
                on_head_done();
                return;
            }
            if (ev == RequestReader::Event::error) {
                fail_request(reader_.error_status(), reader_.error_reason());
                return;
            }
            continue;  // need_more: all parsed
        }
        size_t room = head_max + 1 > end ? head_max + 1 - end : 0;
        if (room > 4096) room = 4096;
        if (room == 0) {
            fail_request(494, "client sent too large request");
            return;
        }
        bool eof = false;
        if (!fill_buffer(room, eof)) {
            if (eof) {
                // A client that leaves between requests is not an error; one that leaves
                // mid-head is logged at info, as nginx does.
                if (parsed_ > 0)
                    log_error(conf::LogLevel::info, "client prematurely closed connection");
                close_now();
            } else if (phase_ == Phase::idle && in_.allocated() && in_.empty()) {
                in_.release();  // an idle keep-alive connection holds no buffer
            }
            return;
        }
    }
}

void ClientConnection::on_head_done() {
    ++requests_;
    if (req_.start_ms == 0) {
        req_.start_ms = worker_.loop().now();
        req_.start_wall_ms = worker_.loop().wall_now();
    }
    wait_for_client(ReadWait::nothing);
    set_phase(Phase::responding);
    route();
}

// ---- output ---------------------------------------------------------------------------

void ClientConnection::send_output() {
    if (phase_ == Phase::closed) return;
    int err = 0;
    OutQueue::Result r = out_.flush(*stream_, req_.bytes_sent, err);
    if (r == OutQueue::Result::failed) {
        if (err != EPIPE && err != ECONNRESET) {
            log_error(conf::LogLevel::info,
                      fmt::format("writev() failed {}", core::errno_text(err)));
        }
        close_now();
        return;
    }
    if (r == OutQueue::Result::blocked) {
        writable_ = false;
        if (!write_timer_.armed()) {
            worker_.loop().timers().arm(write_timer_, worker_.loop().now(), loc().send_timeout);
        }
        return;
    }
    worker_.loop().timers().cancel(write_timer_);
    if (content_) {
        content_->on_client_drained();
        return;
    }
    if (!response_done_) return;
    if (body_state_ != BodyState::reading) {
        finish_request();
    } else if (discard_body_) {
        read_body();  // drop the rest of the body, then go on to the next request
    }
}

void ClientConnection::continue_if_expected() {
    if (!req_.expect_continue || continue_sent_) return;
    continue_sent_ = true;
    // Written before any response byte, so the queue is empty here.
    out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    send_output();
}

// ---- finishing ------------------------------------------------------------------------

void ClientConnection::finish_request() {
    if (phase_ == Phase::closed) return;
    write_access_log();
    drop_content();
    worker_.loop().timers().cancel(write_timer_);
    bool reuse = will_keep_alive() && body_state_ != BodyState::reading;
    if (!reuse) {
        if (needs_lingering_close()) {
            linger();
        } else {
            close_now();
        }
        return;
    }
    next_request();
}

// nginx's `lingering_close on`: drain the client before closing only when it may still
// be sending (a body not read to its end, bytes past the request, a socket not known to
// be empty); else a reset cannot destroy the response, and closing at once saves the
// shutdown and the wait for the client's FIN.
bool ClientConnection::needs_lingering_close() const {
    if (body_state_ == BodyState::reading || readable_) return true;
    return in_.allocated() && parsed_ < in_.end();
}

void ClientConnection::next_request() {
    // keepalive_timeout is the location's that served the request.
    int64_t keepalive_timeout = loc().keepalive_timeout;
    adopt_runtime();
    begin_request();
    set_phase(Phase::idle);
    read_wait_ = ReadWait::keepalive;
    worker_.loop().timers().arm(read_timer_, worker_.loop().now(), keepalive_timeout);
    if (in_.allocated() && in_.empty()) in_.release();
    read_head();
}

void ClientConnection::quit() {
    quitting_ = true;
    if (phase_ == Phase::idle) close_now();
}

// Closes after the response: stop sending, keep reading (and dropping) what the
// client still sends for a while, so that our response is not destroyed by a reset
// caused by unread data (nginx's lingering close).
void ClientConnection::linger() {
    if (phase_ != Phase::lingering) {
        if (!out_.drained()) {
            keepalive_ = false;
            return;
        }
        set_phase(Phase::lingering);
        stream_->shutdown_write();
        in_.release();
    }
    char sink[4096];
    for (;;) {
        core::IoResult r = stream_->read(sink, sizeof sink);
        if (r.status == core::Io::ok) continue;
        if (r.status == core::Io::again &&
            (linger_deadline_ == 0 || worker_.loop().now() < linger_deadline_)) {
            wait_for_client(ReadWait::linger);
            return;
        }
        close_now();
        return;
    }
}

void ClientConnection::close_now() {
    if (phase_ == Phase::closed) return;
    set_phase(Phase::closed);
    drop_content();
    worker_.loop().timers().cancel(read_timer_);
    worker_.loop().timers().cancel(write_timer_);
    if (stream_) {
        worker_.loop().remove(stream_->fd());
        tls_ = nullptr;
        stream_.reset();
    }
    slot_.reset();
    in_.release();
    out_.clear();
    worker_.remove(this);
}

void ClientConnection::on_read_timeout() {
    switch (read_wait_) {
        case ReadWait::nothing:
            return;
        case ReadWait::keepalive:
            close_now();  // keepalive_timeout: nothing to say
            return;
        case ReadWait::linger:
            close_now();
            return;
        case ReadWait::discard:
            // Done dropping an unwanted body (lingering_timeout or lingering_time).
            write_access_log();
            close_now();
            return;
        case ReadWait::header:
            if (phase_ == Phase::handshake) {
                log_error(conf::LogLevel::info,
                          "client timed out (110: Connection timed out) while SSL handshaking");
                close_now();
                return;
            }
            // log_error() adds "while reading client request headers" in this phase.
            log_error(conf::LogLevel::info, "client timed out (110: Connection timed out)");
            req_.status = 408;
            write_access_log();
            close_now();
            return;
        case ReadWait::body:
            break;
    }
    log_error(conf::LogLevel::info,
              "client timed out (110: Connection timed out) while reading client request body");
    if (content_ || out_.pending() || response_started_) {
        drop_content();
        req_.status = req_.status ? req_.status : 408;
        write_access_log();
        close_now();
        return;
    }
    keepalive_ = false;
    discard_body_ = false;
    body_state_ = BodyState::none;
    set_phase(Phase::responding);
    send_simple(408, {}, true);
}

void ClientConnection::on_write_timeout() {
    // nginx names what it was doing: relaying an upstream's response, or its own.
    log_error(conf::LogLevel::info, content_ ? "client timed out (110: Connection timed out) "
                                               "while sending to client"
                                             : "client timed out (110: Connection timed out) "
                                               "while sending response to client");
    drop_content();
    write_access_log();
    close_now();
}

}  // namespace ferry::http
