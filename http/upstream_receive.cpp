// UpstreamSession: the response from the upstream. The codec parses the head; the
// session checks it, rewrites it for the client and relays the body from its read
// buffer straight into the client's write queue (no copy), one piece at a time, so
// memory does not grow with the body and a slow client slows the upstream down.
#include <fmt/format.h>

#include <cerrno>

#include "core/log.h"
#include "http/chunked.h"
#include "http/connection.h"
#include "http/header_rules.h"
#include "http/http_date.h"
#include "http/http_worker.h"
#include "http/response.h"
#include "http/status.h"
#include "http/upstream_session.h"

namespace ferry::http {

namespace {

bool passes(const conf::ProxyConf& conf, std::string_view name) {
    for (const std::string& h : conf.pass_headers) {
        if (equals_ignore_case(h, name)) return true;
    }
    return false;
}

bool hidden(const conf::ProxyConf& conf, std::string_view name, const HeaderInfo* info) {
    if (passes(conf, name)) return false;
    if (info && info->has(hf_hidden_from_client)) return true;
    for (const std::string& h : conf.hide_headers) {
        if (equals_ignore_case(h, name)) return true;
    }
    return false;
}

void append_header_line(core::Buffer& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
}

}  // namespace

// Reads from the upstream into in_. Returns true if bytes arrived. Otherwise `eof`
// tells an end of stream, with a_.read_error the errno of a failed read (a reset).
bool UpstreamSession::read_upstream(bool& eof) {
    eof = false;
    a_.read_error = 0;
    // Wait for epoll, unless the TLS stream holds bytes it read ahead: epoll will not
    // report those (see ClientConnection::fill_buffer).
    if (!a_.readable && !up_->stream->has_pending()) return false;
    if (!in_.reserve(1)) return false;
    if (in_.writable_size() == 0) return false;
    core::IoResult r = up_->stream->read(in_.writable(), in_.writable_size());
    if (r.status == core::Io::ok) {
        in_.commit(r.n);
        c_->request().upstream_bytes_received += r.n;
        if (r.drained && !a_.peer_closed) a_.readable = false;
        return true;
    }
    if (r.status == core::Io::again) {
        a_.readable = false;
        return false;
    }
    eof = true;
    if (r.status == core::Io::error) a_.read_error = r.err;
    return false;
}

// Waiting for upstream bytes that ferry is ready to take: proxy_read_timeout runs.
void UpstreamSession::wait_for_upstream() {
    w_.loop().timers().arm_lazily(read_timer_, w_.loop().now(), conf_->read_timeout);
}

void UpstreamSession::read_response() {
    if (!up_ || x_.stage != Stage::exchanging) return;
    for (;;) {
        if (a_.parsed < in_.end()) {
            size_t body_at = 0;
            std::string error;
            UpstreamCodec::HeadStatus st =
                codec_->process_header(in_.data(), a_.parsed, in_.end(), body_at, error);
            a_.parsed = in_.end();
            if (st == UpstreamCodec::HeadStatus::error) {
                fail(Failure::invalid_header, 0, error);
                return;
            }
            if (st == UpstreamCodec::HeadStatus::done) {
                on_response_head(body_at);
                return;
            }
        }
        bool eof = false;
        if (!read_upstream(eof)) {
            if (eof) {
                if (a_.read_error) {
                    fail(Failure::error, a_.read_error, "recv() failed");
                } else {
                    fail(Failure::error, 0, "upstream prematurely closed connection");
                }
                return;
            }
            // While the request is still going out the send timer covers us.
            if (a_.request_sent) wait_for_upstream();
            return;
        }
    }
}

// False (with nginx's warning) for a second line of a header nginx takes once from an
// upstream's response.
bool UpstreamSession::once_in_response(const HeaderField& h, const HeaderInfo& info,
                                       uint64_t& seen) {
    uint64_t bit = uint64_t{1} << static_cast<unsigned>(info.id);
    if (!(seen & bit)) {
        seen |= bit;
        return true;
    }
    for (const HeaderField& first : codec_->head().headers) {
        if (!equals_ignore_case(first.name, h.name)) continue;
        log_upstream_error(conf::LogLevel::warn,
                           fmt::format("upstream sent duplicate header line: \"{}: {}\", previous "
                                       "value: \"{}: {}\", ignored",
                                       h.name, h.value, first.name, first.value));
        break;
    }
    return false;
}

void UpstreamSession::on_response_head(size_t body_at) {
    const UpstreamHead& head = codec_->head();
    int status = head.status;
    x_.status = status;
    a_.header_ms = w_.loop().now() - a_.connect_start_ms;
    w_.loop().timers().cancel(read_timer_);
    Request& r = c_->request();
    if (retry_on_status(status)) return;
    bool switching = status == 101;
    if (switching && codec_->can_upgrade()) {
        in_.consume(body_at - in_.start());
        start_upgrade();
        return;
    }
    if (switching && r.upgrade) {
        // The client asked, but the request that went upstream did not (the config
        // drops Upgrade, or proxy_http_version 1.0): no tunnel ferry did not set up.
        fail(Failure::upgrade_refused, 0,
             "upstream sent \"101 Switching Protocols\" to a request that did not ask to "
             "upgrade");
        return;
    }
    // A 101 to a request that did not ask to upgrade is passed on as nginx does: the
    // head alone, and both connections close after it.
    if (switching) c_->set_no_keepalive();
    if (conf_->intercept_errors && status >= 300 && c_->has_error_page(status)) {
        // proxy_intercept_errors: error_page answers instead of the upstream's body.
        record_upstream(status);
        if (group_ >= 0) w_.upstreams().succeeded(*rt_, group_, choice_);
        close_upstream(false);
        x_.stage = Stage::done;
        c_->content_failed(status);
        return;
    }
    bool no_body = r.head_only || status == 204 || status == 304 || switching;
    std::string error;
    if (!codec_->init_body(no_body, error)) {
        fail(Failure::invalid_header, 0, error);
        return;
    }
    r.status = status;
    write_client_head();
    x_.stage = Stage::relaying;
    x_.response_started = true;
    // The body starts with the bytes that came after the head.
    in_.consume(body_at - in_.start());
    x_.body_done = codec_->body_complete();
    relay_body();
}

// proxy_next_upstream http_500|502|503|504|403|404|429: such an answer goes to the
// next server while one is left (5xx count as the server's failures, 403/404 do not,
// as in nginx); the last server's answer is passed on as it is. True if retried.
bool UpstreamSession::retry_on_status(int status) {
    static constexpr std::pair<int, uint16_t> kStatuses[] = {
        {500, conf::nu_http_500}, {502, conf::nu_http_502}, {503, conf::nu_http_503},
        {504, conf::nu_http_504}, {403, conf::nu_http_403}, {404, conf::nu_http_404},
        {429, conf::nu_http_429}};
    uint16_t bit = 0;
    for (const auto& [code, flag] : kStatuses) {
        if (code == status) bit = flag;
    }
    if (!bit || !(conf_->next_upstream & bit) || !can_retry(Failure::http_status)) return false;
    log_upstream_error(conf::LogLevel::warn,
                       fmt::format("upstream sent \"{}\" status, trying the next one", status));
    record_upstream(status);
    if (group_ >= 0 && status >= 500) w_.upstreams().failed(*rt_, group_, choice_);
    x_.status = 0;
    close_upstream(false);
    connect_next();
    return true;
}

void UpstreamSession::write_client_head() {
    const UpstreamHead& head = codec_->head();
    Request& r = c_->request();
    core::Buffer& out = c_->out().own();
    size_t head_start = out.readable_size();
    bool http11_client = r.http_minor >= 1;
    bool no_body = codec_->body_complete() && head.content_length < 0;
    if (head.content_length >= 0 || no_body) {
        x_.framing = no_body ? ClientFraming::none : ClientFraming::length;
    } else {
        // A body of unknown length goes to an HTTP/1.1 client chunked, so the connection
        // can be kept; an HTTP/1.0 client gets it until the close.
        x_.framing = http11_client ? ClientFraming::chunked : ClientFraming::close;
    }
    bool keepalive = x_.framing != ClientFraming::close;

    out.append("HTTP/1.1 ");
    int status = c_->status_for_client(x_.status);
    append_number(out, static_cast<uint64_t>(status));
    out.append(" ");
    out.append(head.reason.empty() || status != x_.status ? reason_phrase(status) : head.reason);
    out.append("\r\n");
    // ferry's own Server and Date, unless proxy_pass_header lets the upstream's through.
    if (!passes(*conf_, "server")) append_header_line(out, "Server", server_header());
    if (!passes(*conf_, "date")) append_header_line(out, "Date", w_.times().http_date());
    // Headers the upstream listed in its Connection header are for that hop only.
    std::string_view up_connection;
    for (const HeaderField& h : head.headers) {
        if (equals_ignore_case(h.name, "connection")) up_connection = h.value;
    }
    thread_local std::string value, absolute;
    uint64_t seen_single = 0;
    for (const HeaderField& h : head.headers) {
        const HeaderInfo* info = lookup_header(h.name);
        if (info && info->has(hf_single_in_response) && !once_in_response(h, *info, seen_single))
            continue;
        // nginx passes an upstream's Upgrade line to the client on any status (a 426
        // names the protocol it wants).
        bool upgrade = info && info->id == KnownHeader::upgrade;
        if (info && !upgrade &&
            (info->has(hf_hop_by_hop) || info->id == KnownHeader::content_length ||
             info->id == KnownHeader::transfer_encoding)) {
            continue;
        }
        if (hidden(*conf_, h.name, info)) continue;
        if (!upgrade && !up_connection.empty() && has_token(up_connection, h.name)) continue;
        if (info && info->id == KnownHeader::location) {
            value.clear();
            absolute.clear();
            codec_->rewrite_location(h.value, value);
            c_->append_absolute(value, absolute);
            append_header_line(out, h.name, absolute);
        } else if (equals_ignore_case(h.name, "refresh")) {
            value.clear();
            codec_->rewrite_refresh(h.value, value);
            append_header_line(out, h.name, value);
        } else {
            append_header_line(out, h.name, h.value);
        }
    }
    if (head.content_length >= 0 && status != 204 && status != 304) {
        out.append("Content-Length: ");
        append_number(out, static_cast<uint64_t>(head.content_length));
        out.append("\r\n");
    }
    if (x_.framing == ClientFraming::chunked) out.append("Transfer-Encoding: chunked\r\n");
    c_->append_add_headers(status, out, head_start);
    if (keepalive) c_->append_keepalive_header(out);
    if (!keepalive) c_->set_no_keepalive();
    out.append(keepalive && c_->will_keep_alive() ? "Connection: keep-alive\r\n\r\n"
                                                  : "Connection: close\r\n\r\n");
    c_->record_sent_head(out.view().substr(head_start));
}

// Moves body bytes from in_ to the client queue, reading the upstream when in_ is
// empty, until the client stops taking bytes, the upstream has none, or the body ends.
void UpstreamSession::relay_body() {
    if (x_.in_relay || x_.stage != Stage::relaying) return;
    x_.in_relay = true;
    for (;;) {
        // A piece lent to the client queue goes out with the bytes queued before it
        // (the head, chunk framing) in one write; the next waits until it is written.
        // Meanwhile ferry takes no upstream bytes, so no upstream timer runs: the client
        // connection's send_timeout covers a client that stops reading.
        if (c_->out().has_borrowed()) {
            c_->send_output();  // reports back via on_client_drained(), which loops here
            if (x_.stage != Stage::relaying) break;
            if (!c_->out().drained()) {
                w_.loop().timers().cancel(read_timer_);
                break;
            }
        }
        if (x_.pending_consume) {
            in_.consume(x_.pending_consume);
            x_.pending_consume = 0;
        }
        if (x_.body_done) {
            if (!c_->out().drained()) {
                c_->send_output();
                if (x_.stage != Stage::relaying || !c_->out().drained()) break;
            }
            x_.in_relay = false;
            finish();
            return;
        }
        bool progressed = false;
        if (!queue_body_step(progressed)) {
            x_.in_relay = false;
            return;  // failed
        }
        if (progressed) continue;
        // in_ holds nothing usable: read more.
        bool eof = false;
        if (!in_.empty()) in_.compact();
        if (read_upstream(eof)) continue;
        if (eof) {
            a_.upstream_eof = true;
            if (codec_->eof_ends_body()) {
                x_.body_done = true;
                if (x_.framing == ClientFraming::chunked) {
                    if (x_.chunk_crlf_due) c_->out().append(chunk_end);
                    c_->out().append(last_chunk);
                }
                continue;
            }
            x_.in_relay = false;
            end_relay(true, a_.read_error ? "recv() failed " + core::errno_text(a_.read_error) +
                                                " while reading upstream"
                                          : std::string("upstream prematurely closed connection "
                                                        "while reading upstream"));
            return;
        }
        // Nothing more for now: what is queued (the head) goes out meanwhile.
        if (!c_->out().drained()) {
            c_->send_output();
            if (x_.stage != Stage::relaying) break;
        }
        wait_for_upstream();
        break;
    }
    x_.in_relay = false;
}

// Queues the next body step from in_. `progressed` tells whether anything was queued
// or consumed. Returns false when the session ended (a framing error).
bool UpstreamSession::queue_body_step(bool& progressed) {
    progressed = false;
    std::string_view avail = in_.view();
    if (avail.empty() && !codec_->body_complete()) return true;
    BodyStep step = codec_->next_body(avail);
    switch (step.status) {
        case BodyStep::Status::error:
            end_relay(true, std::string(step.error) + " while reading upstream");
            return false;
        case BodyStep::Status::done:
            x_.body_done = true;
            if (x_.framing == ClientFraming::chunked) {
                if (x_.chunk_crlf_due) c_->out().append(chunk_end);
                c_->out().append(last_chunk);
            }
            break;
        case BodyStep::Status::data:
            if (x_.framing == ClientFraming::chunked && !step.data.empty()) {
                // A chunk's CRLF follows its data: it goes out with the next chunk's
                // head (the queue writes owned bytes before the borrowed span).
                char header[max_chunk_header_size + 2];
                size_t n = 0;
                if (x_.chunk_crlf_due) {
                    header[n++] = '\r';
                    header[n++] = '\n';
                }
                n += write_chunk_header(step.data.size(), header + n);
                c_->out().append(std::string_view(header, n));
                x_.chunk_crlf_due = true;
            }
            if (!step.data.empty()) c_->out().borrow(step.data);
            c_->request().body_bytes_sent += step.data.size();
            if (codec_->body_complete()) x_.body_done = true;
            break;
        case BodyStep::Status::need_more:
            break;
    }
    if (step.consumed) {
        // Consumed once the borrowed data is written (relay_body).
        x_.pending_consume = step.consumed;
        progressed = true;
    }
    return true;
}

void UpstreamSession::on_client_drained() {
    if (x_.stage == Stage::relaying) relay_body();
}

const std::vector<HeaderField>* UpstreamSession::upstream_headers() const {
    if (x_.status == 0 || !codec_) return nullptr;
    return &codec_->head().headers;
}

}  // namespace ferry::http
