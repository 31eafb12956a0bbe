// ClientConnection: the request body. Body bytes are parsed in place in the read
// buffer and handed out as spans (to a proxy session, or dropped), without a copy.
#include <fmt/format.h>

#include "http/connection.h"
#include "http/http_worker.h"
#include "http/proxy.h"
#include "http/runtime.h"

namespace ferry::http {

std::string_view ClientConnection::next_body_span() {
    const auto& spans = reader_.spans();
    if (span_index_ >= spans.size()) return {};
    const BodySpan& s = spans[span_index_];
    return {in_.data() + s.offset + span_offset_, s.length - span_offset_};
}

void ClientConnection::body_span_sent(size_t n) {
    const auto& spans = reader_.spans();
    span_offset_ += n;
    if (span_index_ < spans.size() && span_offset_ >= spans[span_index_].length) {
        ++span_index_;
        span_offset_ = 0;
    }
}

void ClientConnection::resume_body() {
    if (body_state_ == BodyState::reading && !body_pending()) read_body();
}

// A chunked body has no length up front: client_max_body_size is checked as it
// arrives (nginx: "client intended to send too large chunked body").
bool ClientConnection::chunked_body_too_large() {
    uint64_t limit = loc().client_max_body_size;
    if (!req_.chunked || limit == 0) return false;
    for (const BodySpan& s : reader_.spans())
        req_.body_decoded += s.length;
    if (req_.body_decoded <= limit) return false;
    log_error(
        conf::LogLevel::error,
        fmt::format("client intended to send too large chunked body: {} bytes", req_.body_decoded));
    if (proxy_ && proxy_->response_started()) {
        abort_response();
        return true;
    }
    drop_proxy();
    body_state_ = BodyState::none;
    keepalive_ = false;
    send_simple(413, {}, true);
    return true;
}

void ClientConnection::discard_body_spans() {
    span_index_ = reader_.spans().size();
    span_offset_ = 0;
}

// Parses and reads body bytes until the consumer has spans to send, the body ends, or
// the socket has nothing more. Body bytes land after the head in in_; once every span
// was consumed the region is reused.
void ClientConnection::read_body() {
    if (body_state_ != BodyState::reading || body_pending()) return;
    reader_.clear_spans();
    span_index_ = span_offset_ = 0;
    size_t head_end = reader_.head_end();
    if (parsed_ == in_.end() && in_.end() > head_end) {
        in_.clear();
        in_.commit(head_end);  // keep [0, head_end): the head's views point there
        parsed_ = head_end;
    }
    for (;;) {
        if (parsed_ < in_.end() || reader_.message_complete() == false) {
            size_t consumed = 0;
            RequestReader::Event ev = reader_.parse(in_.data(), parsed_, in_.end(), consumed);
            parsed_ += consumed;
            req_.body_received += consumed;
            req_.request_length += consumed;
            switch (ev) {
                case RequestReader::Event::error:
                    fail_request(400, reader_.error_reason());
                    return;
                case RequestReader::Event::message_done:
                    body_state_ = BodyState::done;
                    worker_.loop().timers().cancel(read_timer_);
                    if (discard_body_) {
                        discard_body_spans();
                        if (response_done_ && out_.drained()) finish_request();
                    } else if (proxy_) {
                        proxy_->on_body_available();
                    }
                    return;
                case RequestReader::Event::body:
                    if (discard_body_) {
                        reader_.clear_spans();
                        continue;
                    }
                    if (chunked_body_too_large()) return;
                    if (proxy_) proxy_->on_body_available();
                    return;
                default:
                    break;
            }
        }
        if (in_.writable_size() == 0) {
            // Every span was consumed (or discarded): reuse the room after the head.
            if (body_pending()) return;
            reader_.clear_spans();
            in_.clear();
            in_.commit(head_end);
            parsed_ = head_end;
        }
        bool eof = false;
        if (!fill_buffer(in_.writable_size() ? in_.writable_size() : 4096, eof)) {
            if (eof) {
                log_error(conf::LogLevel::info,
                          "client prematurely closed connection while reading client request body");
                if (response_done_) write_access_log();  // the answer went out: log it
                if (proxy_) proxy_->on_client_failed();
                close_now();
                return;
            }
            arm_body_timer();
            return;
        }
    }
}

// Waiting for more body: client_body_timeout while someone wants it; once ferry has
// answered and only drops it, nginx's lingering_timeout between reads and
// lingering_time in all.
void ClientConnection::arm_body_timer() {
    int64_t now = worker_.loop().now();
    if (!(discard_body_ && response_done_)) {
        worker_.loop().timers().arm_lazily(read_timer_, now, loc().client_body_timeout);
        return;
    }
    if (linger_deadline_ == 0) linger_deadline_ = now + loc().lingering_time;
    int64_t left = linger_deadline_ - now;
    int64_t wait = left < loc().lingering_timeout ? left : loc().lingering_timeout;
    worker_.loop().timers().arm(read_timer_, now, wait > 0 ? wait : 0);
}

}  // namespace ferry::http
