// ProxySession: choosing the target and peer, connecting, failures and retries,
// finishing. The request and response halves live in proxy_request.cpp and
// proxy_response.cpp.
#include "http/proxy.h"

#include <llhttp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

#include <fmt/format.h>

#include "core/log.h"
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
}  // namespace

ProxySession::ProxySession(ClientConnection& client)
    : c_(client),
      w_(client.worker()),
      rt_(client.worker().runtime()),
      loc_(*client.request().location),
      conf_(client.request().location->proxy),
      req_out_(&client.worker().buffers()),
      in_(&client.worker().buffers()) {
    read_timer_.set_callback(core::Timer::bind<ProxySession, &ProxySession::on_read_timeout>(), this);
    write_timer_.set_callback(core::Timer::bind<ProxySession, &ProxySession::on_write_timeout>(),
                              this);
}

ProxySession::~ProxySession() {
    w_.loop().timers().cancel(read_timer_);
    w_.loop().timers().cancel(write_timer_);
    if (up_ && up_->stream) w_.loop().remove(up_->stream->fd());
}

void ProxySession::start() {
    first_try_ms_ = w_.loop().now();
    std::string error;
    if (!resolve_target(error)) {
        c_.log_error(conf::LogLevel::error, error);
        c_.respond_error(502);
        return;
    }
    Request& r = c_.request();
    const UpstreamGroup* g = group_ >= 0 ? &rt_->upstream(group_) : nullptr;
    r.proxy_host = g ? g->host : adhoc_.name;
    r.proxy_port = g ? g->port : std::to_string(adhoc_.addr.port());
    if (c_.request().chunked && conf_.http_version == 10) {
        // Without buffering the whole body there is no length to send an HTTP/1.0
        // upstream.
        c_.log_error(conf::LogLevel::error,
                     "chunked request body needs proxy_http_version 1.1");
        c_.respond_error(411);
        return;
    }
    build_request_head();
    connect_next();
}

// Finds the upstream group (or address) and the URI to send.
bool ProxySession::resolve_target(std::string& error) {
    const conf::ProxyPass& pass = *loc_.proxy_pass;
    Request& r = c_.request();
    if (!pass.has_variables) {
        group_ = pass.upstream;
        ProxyUriInput in;
        bool prefix = loc_.match == conf::LocationConf::Match::prefix ||
                      loc_.match == conf::LocationConf::Match::exact ||
                      loc_.match == conf::LocationConf::Match::prefix_no_regex;
        if (prefix) in.location = loc_.pattern;
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
    // proxy_pass with variables: the value names an upstream block or an address.
    std::string url;
    RequestVars vars(c_);
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
    uri_ = slash == std::string_view::npos ? std::string(r.target) : std::string(rest.substr(slash));
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

void ProxySession::connect_next() {
    phase_ = Phase::connecting;
    const Peer* peer = nullptr;
    if (group_ >= 0) {
        choice_ = w_.upstreams().pick(*rt_, group_, tried_, tried_backup_);
        peer = choice_.peer;
        if (!peer) {
            w_.upstreams().forgive(*rt_, group_);
            log_upstream_error(conf::LogLevel::error, "no live upstreams while connecting to upstream");
            record_upstream(502);
            c_.respond_error(502);
            return;
        }
    } else {
        if (tries_ > 0) {
            c_.respond_error(502);
            return;
        }
        peer = &adhoc_;
        choice_ = {};
        choice_.peer = peer;
    }
    ++tries_;
    connect_start_ms_ = w_.loop().now();
    connect_ms_ = -1;
    header_ms_ = -1;
    Request& r = c_.request();
    if (!r.upstream_addr.empty()) r.upstream_addr += ", ";
    r.upstream_addr += peer->name;

    // A pooled connection is only for plain HTTP/1.1 requests that do not upgrade.
    if (group_ >= 0 && !retried_stale_ && !(r.upgrade && sent_upgrade_)) {
        up_ = w_.upstreams().take_idle(group_, peer);
    }
    reused_ = static_cast<bool>(up_);
    if (!up_) {
        if (!w_.core().take_connection()) {
            log_upstream_error(conf::LogLevel::alert,
                               "worker_connections are not enough while connecting to upstream");
            record_upstream(502);
            c_.respond_error(502);
            return;
        }
        bool in_progress = false;
        core::UniqueFd fd = core::connect_to(peer->addr, in_progress);
        if (!fd) {
            int err = errno;
            w_.core().release_connection();
            fail(Failure::error, err, "connect() failed");
            return;
        }
        up_ = std::make_unique<UpstreamConn>();
        up_->slot_owner = &w_.core();
        up_->stream = std::make_unique<core::PlainStream>(std::move(fd));
        up_->runtime = rt_.get();
        up_->group = group_;
        up_->peer = peer;
        up_->created_ms = w_.loop().now();
    }
    w_.loop().add(up_->stream->fd(), kEvents, this);
    readable_ = false;
    writable_ = false;
    if (reused_) {
        readable_ = writable_ = true;
        on_connected();
        return;
    }
    w_.loop().timers().arm(write_timer_, w_.loop().now(), conf_.connect_timeout);
}

void ProxySession::on_connected() {
    connect_ms_ = w_.loop().now() - connect_start_ms_;
    w_.loop().timers().cancel(write_timer_);
    phase_ = Phase::sending;
    if (up_->peer->addr.family() != AF_UNIX) core::set_nodelay(up_->stream->fd());
    ++up_->requests;
    if (c_.request().content_length > 0 || c_.request().chunked) c_.continue_if_expected();
    in_.clear();
    head_reader_.begin(0);
    send_request();
}

void ProxySession::on_io(uint32_t events) {
    if (!up_) return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) writable_ = true;
    if (phase_ == Phase::connecting) {
        if (!writable_) return;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(up_->stream->fd(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            fail(Failure::error, err, "connect() failed");
            return;
        }
        on_connected();
        return;
    }
    // Either half may end the session (and free it); each checks what it needs.
    if (writable_ && phase_ == Phase::sending) send_request();
    if (up_ && readable_ && (phase_ == Phase::sending || phase_ == Phase::head)) read_response();
    else if (up_ && readable_ && phase_ == Phase::body) relay_body();
}

bool ProxySession::can_retry(Failure kind) const {
    if (response_started_ || body_started_) return false;
    uint16_t mask = conf_.next_upstream;
    if (mask & conf::nu_off) return false;
    if (!idempotent(c_.request().method_id) && !(mask & conf::nu_non_idempotent)) return false;
    if (kind == Failure::error && !(mask & conf::nu_error)) return false;
    if (kind == Failure::timeout && !(mask & conf::nu_timeout)) return false;
    if (kind == Failure::invalid_header && !(mask & conf::nu_invalid_header)) return false;
    if (kind == Failure::upgrade_refused) return false;
    if (conf_.next_upstream_tries && tries_ >= conf_.next_upstream_tries) return false;
    if (conf_.next_upstream_timeout &&
        w_.loop().now() - first_try_ms_ >= conf_.next_upstream_timeout) {
        return false;
    }
    return true;
}

void ProxySession::log_upstream_error(conf::LogLevel level, std::string_view message) {
    std::string line(message);
    c_.log_error(level, line + (choice_.peer ? ", upstream: \"" + upstream_url() + "\"" : ""));
}

std::string ProxySession::upstream_url() const {
    const Peer* p = choice_.peer;
    std::string scheme = loc_.proxy_pass->scheme == conf::ProxyPass::Scheme::https ? "https://"
                                                                                  : "http://";
    return scheme + (p ? p->name : std::string()) + uri_;
}

void ProxySession::record_upstream(int status) {
    Request& r = c_.request();
    auto add = [](std::string& field, const std::string& value) {
        if (!field.empty()) field += ", ";
        field += value;
    };
    add(r.upstream_status, status ? std::to_string(status) : std::string("-"));
    auto secs = [](int64_t ms) {
        std::string s;
        if (ms < 0) return std::string("-");
        append_seconds(s, ms);
        return s;
    };
    int64_t now = w_.loop().now();
    add(r.upstream_connect_time, secs(connect_ms_));
    add(r.upstream_header_time, secs(header_ms_));
    add(r.upstream_response_time, secs(now - connect_start_ms_));
}

// A failed attempt: count it against the peer, then try the next one or answer.
void ProxySession::fail(Failure kind, int err, std::string_view what) {
    const char* stage = phase_ == Phase::connecting ? "while connecting to upstream"
                        : phase_ == Phase::sending  ? "while sending request to upstream"
                                                    : "while reading response header from upstream";
    bool stale = reused_ && !response_started_ && status_ == 0 && !body_started_ &&
                 kind == Failure::error;
    std::string msg = err ? fmt::format("{} {} {}", what, core::errno_text(err), stage)
                          : fmt::format("{} {}", what, stage);
    if (!stale) log_upstream_error(kind == Failure::timeout ? conf::LogLevel::error
                                                            : conf::LogLevel::error,
                                   msg);
    close_upstream(false);
    if (stale) {
        // A kept-alive connection the upstream had closed: one fresh attempt to the same
        // peer, which is not counted as a failure.
        retried_stale_ = true;
        if (group_ >= 0 && choice_.index >= 0) {
            (choice_.backup ? tried_backup_ : tried_)[choice_.index] = false;
        }
        Request& r = c_.request();
        size_t comma = r.upstream_addr.rfind(", ");
        r.upstream_addr.resize(comma == std::string::npos ? 0 : comma);
        --tries_;
        connect_next();
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
    if (response_started_) {
        c_.abort_response();
        return;
    }
    c_.respond_error(status);
}

void ProxySession::close_upstream(bool reusable) {
    w_.loop().timers().cancel(read_timer_);
    w_.loop().timers().cancel(write_timer_);
    if (!up_) return;
    w_.loop().remove(up_->stream->fd());
    if (reusable && group_ >= 0) {
        w_.upstreams().put_idle(std::move(up_));
    }
    up_.reset();
    req_out_.clear();
    borrowed_ = 0;
}

// The response was relayed completely.
void ProxySession::finish() {
    phase_ = Phase::done;
    Request& r = c_.request();
    record_upstream(status_);
    if (group_ >= 0) w_.upstreams().succeeded(*rt_, group_, choice_);
    bool reusable = upstream_keepalive_ && request_sent_ && !upstream_eof_ && in_.empty();
    close_upstream(reusable);
    (void)r;
    c_.response_done(framing_ != Framing::close || client_chunked_);
}

void ProxySession::on_client_failed() {
    phase_ = Phase::done;
    close_upstream(false);
}

// The client half-closed while we wait on the upstream. nginx checks whether the
// connection is really gone (not just a shut write side with a request pending) and
// gives up on the upstream if so.
void ProxySession::on_client_maybe_closed() {
    char byte;
    ssize_t n = recv(c_.stream().fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        c_.log_error(conf::LogLevel::info, "client prematurely closed connection");
        c_.request().status = 499;
        if (!c_.request().upstream_addr.empty()) record_upstream(0);
        close_upstream(false);
        phase_ = Phase::done;
        c_.abort_response();
    }
}

void ProxySession::on_read_timeout() {
    fail(Failure::timeout, ETIMEDOUT, "upstream timed out");
}

void ProxySession::on_write_timeout() {
    fail(Failure::timeout, ETIMEDOUT, "upstream timed out");
}

}  // namespace ferry::http
