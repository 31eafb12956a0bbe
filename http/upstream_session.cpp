// UpstreamSession: choosing the target and peer, connecting, failures and retries,
// finishing. The request and response halves live in upstream_send.cpp and
// upstream_receive.cpp, TLS in upstream_tls.cpp, the upgrade in upstream_upgrade.cpp.
#include "http/upstream_session.h"

#include <fmt/format.h>
#include <llhttp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>

#include "core/log.h"
#include "http/codec_http.h"
#include "http/connection.h"
#include "http/http_worker.h"
#include "http/uri.h"
#include "http/variables.h"

namespace ferry::http {

namespace {
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

bool idempotent(uint8_t method) {
    switch (method) {
        case HTTP_POST:
        case HTTP_LOCK:
        case HTTP_PATCH:
            return false;
        default:
            return true;
    }
}

// The codecs by kind: adding a protocol adds a line here.
std::unique_ptr<UpstreamCodec> make_codec(UpstreamCodec::Kind kind) {
    switch (kind) {
        case UpstreamCodec::Kind::http:
            return std::make_unique<HttpCodec>();
        case UpstreamCodec::Kind::count_:
            break;
    }
    return nullptr;
}

}  // namespace

UpstreamSession::UpstreamSession(HttpWorker& worker)
    : w_(worker), req_out_(&worker.buffers()), in_(&worker.buffers()) {
    read_timer_.set_callback(
        core::Timer::bind<UpstreamSession, &UpstreamSession::on_read_timeout>(), this);
    write_timer_.set_callback(
        core::Timer::bind<UpstreamSession, &UpstreamSession::on_write_timeout>(), this);
}

UpstreamSession::~UpstreamSession() {
    reset();
}

void UpstreamSession::bind(ClientConnection& client, UpstreamCodec::Kind kind) {
    c_ = &client;
    rt_ = client.runtime_ptr();
    loc_ = client.request().location;
    auto& slot = codecs_[static_cast<size_t>(kind)];
    if (!slot) slot = make_codec(kind);
    codec_ = slot.get();
    conf_ = &codec_->settings(*loc_);
    codec_->begin(*this);
}

void UpstreamSession::release() {
    w_.release_session(this);
}

// Forgets the request; strings and buffers keep their capacity for the next one.
void UpstreamSession::reset() {
    w_.loop().timers().cancel(read_timer_);
    w_.loop().timers().cancel(write_timer_);
    retire(w_.loop(), std::move(up_));
    up_tls_ = nullptr;
    if (codec_) codec_->reset();
    codec_ = nullptr;
    c_ = nullptr;
    loc_ = nullptr;
    conf_ = nullptr;
    rt_.reset();
    group_ = -1;
    adhoc_ = Peer{};
    uri_.clear();
    choice_ = PeerChoice{};
    tried_.clear();
    tried_backup_.clear();
    req_out_.clear();
    in_.release();
    a_ = Attempt{};
    x_ = Exchange{};
}

void UpstreamSession::start() {
    x_.first_try_ms = w_.loop().now();
    std::string error;
    if (!resolve_target(error)) {
        c_->log_error(conf::LogLevel::error, error);
        c_->content_failed(502);
        return;
    }
    Request& r = c_->request();
    const UpstreamGroup* g = group_ >= 0 ? &rt_->upstream(group_) : nullptr;
    r.proxy_host = g ? g->host : adhoc_.name;
    r.proxy_port = g ? g->port : std::to_string(adhoc_.addr.port());
    // *_request_buffering on (nginx's default): the whole body first, so that it has a
    // length and can be sent again to another server. A chunked body for an HTTP/1.0
    // upstream is buffered in any case, as nginx: it needs a length.
    bool buffer = conf_->request_buffering || (r.chunked && conf_->http_version == 10);
    if (buffer && c_->has_body() && !(c_->body_buffered() && c_->body_complete())) {
        x_.stage = Stage::waiting_body;
        c_->buffer_body();  // on_body_available() goes on once it is complete
        return;
    }
    if (!c_->body_buffered()) c_->stream_body();
    begin_exchange();
}

void UpstreamSession::begin_exchange() {
    x_.stage = Stage::connecting;
    if (!build_request()) return;
    connect_next();
}

int64_t UpstreamSession::body_length() const {
    const Request& r = c_->request();
    if (c_->body_buffered()) return static_cast<int64_t>(r.body.size());
    if (r.chunked) return -1;  // streamed as it arrives: sent chunked
    return r.content_length > 0 ? r.content_length : 0;
}

// Finds the upstream group (or address) and the URI to send.
bool UpstreamSession::resolve_target(std::string& error) {
    const conf::ProxyPass& pass = codec_->target(*loc_);
    Request& r = c_->request();
    if (!pass.has_variables) {
        group_ = pass.upstream;
        ProxyUriInput in;
        bool prefix = loc_->match == conf::LocationConf::Match::prefix ||
                      loc_->match == conf::LocationConf::Match::exact ||
                      loc_->match == conf::LocationConf::Match::prefix_no_regex;
        if (prefix) in.location = loc_->pattern;
        if (pass.uri) in.uri_part = *pass.uri;
        in.uri = r.uri;
        in.args = r.args;
        in.request_uri = r.target;
        in.quoted = r.uri_quoted;
        in.valid_unparsed = r.uri_valid_unparsed;
        uri_.resize(proxy_uri_size(in));
        uri_.resize(write_proxy_uri(in, uri_.data()));
        return true;
    }
    // A target with variables: the value names an upstream block or an address.
    std::string url;
    RequestVars vars(*c_);
    pass.url.evaluate(vars, url);
    std::string_view rest = url;
    uint16_t default_port = 80;
    if (rest.substr(0, 7) == "http://") {
        rest.remove_prefix(7);
    } else if (rest.substr(0, 8) == "https://") {
        rest.remove_prefix(8);
        default_port = 443;
    } else {
        error = fmt::format("invalid URL prefix in \"{}\"", url);
        return false;
    }
    size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    uri_ =
        slash == std::string_view::npos ? std::string(r.target) : std::string(rest.substr(slash));
    for (size_t i = 0; i < rt_->upstream_count(); ++i) {
        const UpstreamGroup& g = rt_->upstream(static_cast<int>(i));
        if (!g.conf->implicit && g.conf->name == authority) {
            group_ = static_cast<int>(i);
            return true;
        }
    }
    std::string_view host = authority;
    uint16_t port = default_port;
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
        host = authority.substr(0, colon);
        port = static_cast<uint16_t>(std::atoi(std::string(authority.substr(colon + 1)).c_str()));
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (!core::SockAddr::from_ip(host, port, adhoc_.addr)) {
        error = fmt::format(
            "no upstream \"{}\" and it is not an IP address (ferry has no resolver for run-time "
            "names; define an upstream block)",
            authority);
        return false;
    }
    adhoc_.name = adhoc_.addr.to_string();
    return true;
}

void UpstreamSession::connect_next() {
    x_.stage = Stage::connecting;
    const Peer* peer = nullptr;
    Request& r = c_->request();
    if (group_ >= 0) {
        choice_ = w_.upstreams().pick(*rt_, group_, tried_, tried_backup_);
        peer = choice_.peer;
        if (!peer) {
            // Every server is down or failed: nginx answers 502 naming the group, and
            // forgets the failures so that the next request tries them again.
            w_.upstreams().forgive(*rt_, group_);
            log_upstream_error(conf::LogLevel::error,
                               "no live upstreams while connecting to upstream");
            if (!r.upstream_addr.empty()) r.upstream_addr += ", ";
            r.upstream_addr += rt_->upstream(group_).conf->name;
            record_upstream(502);
            c_->content_failed(502);
            return;
        }
    } else {
        if (x_.tries > 0) {
            c_->content_failed(502);
            return;
        }
        peer = &adhoc_;
        choice_ = {};
        choice_.peer = peer;
    }
    // A retry starts over: the head again, and nothing of the last attempt counts.
    if ((x_.tries > 0 || x_.retried_stale) && !build_request()) return;
    a_ = Attempt{};
    ++x_.tries;
    up_tls_ = nullptr;
    a_.connect_start_ms = w_.loop().now();
    if (!r.upstream_addr.empty()) r.upstream_addr += ", ";
    r.upstream_addr += peer->name;

    // A pooled connection is only for requests that do not upgrade.
    if (group_ >= 0 && !x_.retried_stale && !(r.upgrade && codec_->asks_upgrade())) {
        up_ = w_.upstreams().take_idle(group_, peer);
    }
    a_.reused = static_cast<bool>(up_);
    if (!up_ && !open_connection(*peer)) return;
    up_->handler = this;
    if (a_.reused) {
        // An idle pooled connection holds no bytes (the pool closes it on any event), so
        // the response is read when epoll reports it, not by a read that finds nothing.
        a_.writable = true;
        on_connected();
        return;
    }
    w_.loop().add(up_->stream->fd(), kEvents, up_.get());
    w_.loop().timers().arm(write_timer_, w_.loop().now(), conf_->connect_timeout);
}

// A new connection to `peer`, counted against worker_connections. False when the
// session already failed (answered or retrying).
bool UpstreamSession::open_connection(const Peer& peer) {
    core::ConnectionSlot slot = w_.core().take_connection();
    if (!slot) {
        log_upstream_error(conf::LogLevel::alert,
                           "worker_connections are not enough while connecting to upstream");
        record_upstream(502);
        c_->content_failed(502);
        return false;
    }
    bool in_progress = false;
    core::UniqueFd fd = core::connect_to(peer.addr, in_progress);
    if (!fd) {
        fail(Failure::error, errno, "connect() failed");
        return false;
    }
    up_ = std::make_unique<UpstreamConn>();
    up_->slot = std::move(slot);
    up_->stream = std::make_unique<core::PlainStream>(std::move(fd));
    up_->runtime = rt_.get();
    up_->group = group_;
    up_->peer = &peer;
    up_->created_ms = w_.loop().now();
    return start_tls(peer);
}

void UpstreamSession::on_connected() {
    a_.connect_ms = w_.loop().now() - a_.connect_start_ms;
    w_.loop().timers().cancel(write_timer_);
    x_.stage = Stage::exchanging;
    if (!a_.reused && up_->peer->addr.family() != AF_UNIX) core::set_nodelay(up_->stream->fd());
    ++up_->requests;
    in_.clear();
    send_request();
}

void UpstreamSession::on_io(uint32_t events) {
    if (!up_) return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) a_.readable = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) a_.writable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) a_.peer_closed = true;
    switch (x_.stage) {
        case Stage::connecting: {
            if (!a_.writable) return;
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(up_->stream->fd(), SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                fail(Failure::error, err, "connect() failed");
                return;
            }
            if (up_tls_) {
                x_.stage = Stage::tls_handshake;
                tls_handshake();
                return;
            }
            on_connected();
            return;
        }
        case Stage::tls_handshake:
            tls_handshake();
            return;
        case Stage::exchanging:
            // Either half may end the session; each checks what it needs.
            if (a_.writable && !a_.request_sent) send_request();
            if (up_ && a_.readable && x_.stage == Stage::exchanging) read_response();
            return;
        case Stage::relaying:
            if (a_.readable) relay_body();
            return;
        case Stage::waiting_body:
        case Stage::done:
            return;
    }
}

// Whether a failed attempt may go on to another server (nginx's proxy_next_upstream):
// not once the client got a byte or the body is gone, not past the number of servers,
// and a non-idempotent request only if nothing of it reached the upstream.
bool UpstreamSession::can_retry(Failure kind) const {
    if (x_.response_started || x_.body_started) return false;
    uint16_t mask = conf_->next_upstream;
    if (mask & conf::nu_off) return false;
    if (x_.tries >= peer_count()) return false;
    if (!idempotent(c_->request().method_id) && !(mask & conf::nu_non_idempotent) && a_.sent_any) {
        return false;
    }
    if (kind == Failure::error && !(mask & conf::nu_error)) return false;
    if (kind == Failure::timeout && !(mask & conf::nu_timeout)) return false;
    if (kind == Failure::invalid_header && !(mask & conf::nu_invalid_header)) return false;
    if (kind == Failure::upgrade_refused) return false;
    if (conf_->next_upstream_tries && x_.tries >= conf_->next_upstream_tries) return false;
    if (conf_->next_upstream_timeout &&
        w_.loop().now() - x_.first_try_ms >= conf_->next_upstream_timeout) {
        return false;
    }
    return true;
}

int UpstreamSession::peer_count() const {
    if (group_ < 0) return 1;
    const UpstreamGroup& g = rt_->upstream(group_);
    return static_cast<int>(g.peers.size() + g.backups.size());
}

void UpstreamSession::log_upstream_error(conf::LogLevel level, std::string_view message) {
    c_->log_error(level, message, choice_.peer ? upstream_url() : std::string());
}

std::string UpstreamSession::upstream_url() const {
    const Peer* p = choice_.peer;
    return std::string(codec_->scheme(*loc_)) + (p ? p->name : std::string()) + uri_;
}

// Appends this attempt to the $upstream_* lists ("a, b" across retries), writing
// into the request's strings directly so that a warm connection allocates nothing.
void UpstreamSession::record_upstream(int status) {
    Request& r = c_->request();
    auto next = [](std::string& field) -> std::string& {
        if (!field.empty()) field += ", ";
        return field;
    };
    auto seconds = [](std::string& field, int64_t ms) {
        if (ms < 0) {
            field += '-';
        } else {
            append_seconds(field, ms);
        }
    };
    std::string& st = next(r.upstream_status);
    if (status) {
        char buf[8];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, status);
        (void)ec;
        st.append(buf, static_cast<size_t>(end - buf));
    } else {
        st += '-';
    }
    seconds(next(r.upstream_connect_time), a_.connect_ms);
    seconds(next(r.upstream_header_time), a_.header_ms);
    seconds(next(r.upstream_response_time), w_.loop().now() - a_.connect_start_ms);
}

// A failed attempt before the response started: count it against the peer, then try
// the next one or answer.
void UpstreamSession::fail(Failure kind, int err, std::string_view what) {
    const char* stage = x_.stage == Stage::connecting      ? "while connecting to upstream"
                        : x_.stage == Stage::tls_handshake ? "while SSL handshaking to upstream"
                        : !a_.request_sent                 ? "while sending request to upstream"
                                           : "while reading response header from upstream";
    // As nginx, a sent non-idempotent request is not repeated even on a reused
    // connection (unless proxy_next_upstream non_idempotent).
    bool repeatable = idempotent(c_->request().method_id) ||
                      (conf_->next_upstream & conf::nu_non_idempotent) || !a_.sent_any;
    bool stale = a_.reused && !x_.response_started && x_.status == 0 && !x_.body_started &&
                 repeatable && kind == Failure::error;
    if (!stale) {
        std::string msg = err ? fmt::format("{} {} {}", what, core::errno_text(err), stage)
                              : fmt::format("{} {}", what, stage);
        log_upstream_error(conf::LogLevel::error, msg);
    }
    close_upstream(false);
    if (stale) {
        // A kept-alive connection the upstream had closed: one fresh attempt to the same
        // peer, which is not counted as a failure.
        x_.retried_stale = true;
        if (group_ >= 0 && choice_.index >= 0) {
            (choice_.backup ? tried_backup_ : tried_)[choice_.index] = false;
        }
        Request& r = c_->request();
        size_t comma = r.upstream_addr.rfind(", ");
        r.upstream_addr.resize(comma == std::string::npos ? 0 : comma);
        --x_.tries;
        connect_next();
        return;
    }
    if (x_.response_started) {
        end_relay(false, {});
        return;
    }
    int status = kind == Failure::timeout ? 504 : 502;
    record_upstream(status);
    if (group_ >= 0 && kind != Failure::invalid_header) {
        w_.upstreams().failed(*rt_, group_, choice_);
    }
    if (can_retry(kind)) {
        connect_next();
        return;
    }
    x_.stage = Stage::done;
    c_->content_failed(status);
}

void UpstreamSession::close_upstream(bool reusable) {
    w_.loop().timers().cancel(read_timer_);
    w_.loop().timers().cancel(write_timer_);
    if (!up_) return;
    up_->handler = nullptr;
    if (reusable && group_ >= 0) {
        w_.upstreams().put_idle(std::move(up_));  // stays registered, events go to the pool
    } else {
        retire(w_.loop(), std::move(up_));
    }
    req_out_.clear();
    a_.borrowed = 0;
}

// The response was relayed completely.
void UpstreamSession::finish() {
    x_.stage = Stage::done;
    record_upstream(x_.status);
    if (group_ >= 0) w_.upstreams().succeeded(*rt_, group_, choice_);
    bool poolable = group_ >= 0 && !rt_->upstream(group_).conf->implicit;
    bool reusable =
        poolable && codec_->keepalive() && a_.request_sent && !a_.upstream_eof && in_.empty();
    close_upstream(reusable);
    c_->response_done(x_.framing != ClientFraming::close);
}

// The response broke after its head went to the client: close without a proper end,
// as nginx does (the client sees a truncated body).
void UpstreamSession::end_relay(bool midbody_error, std::string_view what) {
    if (midbody_error) log_upstream_error(conf::LogLevel::error, what);
    record_upstream(x_.status);
    close_upstream(false);
    x_.stage = Stage::done;
    c_->abort_response();
}

void UpstreamSession::on_client_failed() {
    x_.stage = Stage::done;
    close_upstream(false);
}

// The client half-closed while we wait on the upstream. nginx checks whether the
// connection is really gone (not just a shut write side with a request pending) and
// gives up on the upstream if so.
void UpstreamSession::on_client_maybe_closed() {
    if (x_.stage == Stage::done) return;
    char byte;
    ssize_t n = recv(c_->stream().fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        c_->log_error(conf::LogLevel::info, "client prematurely closed connection");
        c_->request().status = 499;
        if (!c_->request().upstream_addr.empty()) record_upstream(0);
        close_upstream(false);
        x_.stage = Stage::done;
        c_->abort_response();
    }
}

void UpstreamSession::on_read_timeout() {
    if (x_.stage == Stage::relaying) {
        end_relay(true, "upstream timed out (110: Connection timed out) while reading upstream");
        return;
    }
    fail(Failure::timeout, ETIMEDOUT, "upstream timed out");
}

void UpstreamSession::on_write_timeout() {
    fail(Failure::timeout, ETIMEDOUT, "upstream timed out");
}

}  // namespace ferry::http
