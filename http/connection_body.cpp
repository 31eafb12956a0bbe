// ClientConnection: the request body. Body bytes are parsed in place in the read
// buffer and handed out as spans (to a content session, or dropped), without a copy.
// The client's body timer runs only while ferry wants more bytes: while the content
// has not taken the spans already read (its upstream is slower than the client), ferry
// reads nothing and no client timeout runs.
#include <fmt/format.h>

#include "http/connection.h"
#include "http/http_worker.h"
#include "http/runtime.h"

namespace ferry::http {

std::string_view ClientConnection::next_body_span() {
    if (discard_body_) return {};
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

bool ClientConnection::body_pending() const {
    return !discard_body_ && span_index_ < reader_.spans().size();
}

void ClientConnection::stream_body() {
    continue_if_expected();
    if (body_state_ != BodyState::none || !has_body()) return;
    body_state_ = BodyState::reading;
    set_phase(Phase::body);
}

// Reads the whole body now; the content hears on_body_available() once it is complete.
void ClientConnection::buffer_body() {
    continue_if_expected();
    if (body_state_ != BodyState::none || !has_body()) return;
    body_state_ = BodyState::reading;
    buffering_ = true;
    set_phase(Phase::body);
    read_body();
}

// Keeps the spans just parsed: all of them when buffering (they are then consumed),
// else a copy of a streamed body as long as it fits client_body_buffer_size (nginx's
// $request_body). False when the request failed (answered).
bool ClientConnection::keep_body_spans() {
    const conf::LocationConf& l = loc();
    std::string error;
    for (const BodySpan& s : reader_.spans()) {
        std::string_view data(in_.data() + s.offset, s.length);
        if (buffering_) {
            bool was_in_file = req_.body.in_file();
            if (!req_.body.append(data, l.client_body_buffer_size, l.client_body_temp_path,
                                  error)) {
                log_error(conf::LogLevel::crit, error);
                content_failed(500);
                return false;
            }
            if (!was_in_file && req_.body.in_file()) {
                // As nginx, a hint that client_body_buffer_size is small for this body.
                log_error(conf::LogLevel::warn,
                          fmt::format("a client request body is buffered to a temporary file "
                                      "in {}",
                                      l.client_body_temp_path));
            }
            continue;
        }
        if (req_.body_copy_dropped) continue;
        if (req_.body.size() + data.size() > l.client_body_buffer_size) {
            req_.body.clear();
            req_.body_copy_dropped = true;
            continue;
        }
        req_.body.append(data, l.client_body_buffer_size, {}, error);
    }
    if (buffering_) discard_body_spans();
    return true;
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
    if (response_started_) {
        abort_response();
        return true;
    }
    drop_content();
    body_state_ = BodyState::none;
    keepalive_ = false;
    set_phase(Phase::responding);
    send_simple(413, {}, true);
    return true;
}

void ClientConnection::discard_body_spans() {
    span_index_ = reader_.spans().size();
    span_offset_ = 0;
}

// From now on the body is read and dropped (ferry answers itself, or the content gave
// up on it).
void ClientConnection::discard_body() {
    if (body_state_ == BodyState::none && keepalive_ && (req_.content_length > 0 || req_.chunked)) {
        body_state_ = BodyState::reading;
        set_phase(Phase::body);
    }
    if (body_state_ != BodyState::reading) return;
    discard_body_ = true;
    discard_body_spans();
}

// The whole body was read.
void ClientConnection::after_body_read() {
    body_state_ = BodyState::done;
    set_phase(Phase::responding);
    wait_for_client(ReadWait::nothing);
    if (discard_body_) {
        discard_body_spans();
        if (response_done_ && out_.drained()) finish_request();
    } else if (content_) {
        content_->on_body_available();
    }
}

// Parses and reads body bytes until the consumer has spans to send, the body ends, or
// the socket has nothing more. Body bytes land after the head in in_; once every span
// was consumed the region is reused.
void ClientConnection::read_body() {
    if (body_state_ != BodyState::reading || body_pending()) {
        // Not ready for more: the content still holds bytes read earlier.
        if (body_state_ == BodyState::reading) wait_for_client(ReadWait::nothing);
        return;
    }
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
                    if (!discard_body_ && !keep_body_spans()) return;
                    after_body_read();
                    return;
                case RequestReader::Event::body:
                    if (discard_body_) {
                        reader_.clear_spans();
                        continue;
                    }
                    if (chunked_body_too_large()) return;
                    if (!keep_body_spans()) return;
                    if (buffering_) continue;  // read on until the body is complete
                    wait_for_client(ReadWait::nothing);
                    if (content_) content_->on_body_available();
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
                close_now();
                return;
            }
            // Waiting for more body: client_body_timeout while someone wants it; once
            // ferry has answered and only drops it, the lingering timeouts.
            wait_for_client(discard_body_ && response_done_ ? ReadWait::discard : ReadWait::body);
            return;
        }
    }
}

}  // namespace ferry::http
