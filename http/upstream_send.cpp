// UpstreamSession: the request toward the upstream. The codec writes the head once per
// attempt; the body streams from the client's read buffer without a copy, framed by
// the codec (chunked coding, FastCGI records...).
#include <cerrno>

#include "core/log.h"
#include "core/socket.h"
#include "http/connection.h"
#include "http/http_worker.h"
#include "http/upstream_session.h"

namespace ferry::http {

// The head for a new attempt. False when the codec refused the request (answered).
bool UpstreamSession::build_request() {
    core::Buffer& out = req_out_.own();
    out.clear();
    int status = codec_->create_request(uri_, out);
    if (status == 0) return true;
    x_.stage = Stage::done;
    c_->content_failed(status);
    return false;
}

// Queues the next piece of the request body in req_out_. Returns false when nothing
// can be queued now.
bool UpstreamSession::next_body_piece() {
    if (c_->body_buffered()) return next_buffered_piece();
    std::string_view span = c_->next_body_span();
    if (!span.empty()) {
        size_t max = codec_->max_body_piece();
        if (max && span.size() > max) span = span.substr(0, max);
        std::string_view tail = codec_->frame_body_piece(span.size(), req_out_.own());
        req_out_.borrow(span, tail);
        a_.borrowed = span.size();
        x_.body_started = true;
        return true;
    }
    return c_->body_complete() && queue_body_end();
}

// A piece of a buffered body: from memory without a copy, from its file through
// file_piece_. Sent again from the start by every attempt.
bool UpstreamSession::next_buffered_piece() {
    const RequestBody& body = c_->request().body;
    if (a_.body_sent < body.size()) {
        size_t max = codec_->max_body_piece();
        size_t want = max ? max : 64 * 1024;
        std::string_view piece;
        if (!body.in_file()) {
            piece = body.memory().substr(static_cast<size_t>(a_.body_sent), want);
        } else {
            file_piece_.resize(want);
            long n = body.read_at(a_.body_sent, file_piece_.data(), want);
            if (n <= 0) {
                c_->log_error(conf::LogLevel::crit,
                              "pread() of a request body file failed " + core::errno_text(errno));
                return false;
            }
            piece = std::string_view(file_piece_.data(), static_cast<size_t>(n));
        }
        std::string_view tail = codec_->frame_body_piece(piece.size(), req_out_.own());
        req_out_.borrow(piece, tail);
        a_.borrowed = piece.size();
        return true;
    }
    return queue_body_end();
}

// The codec's framing after the last piece (the last chunk), queued once per attempt.
bool UpstreamSession::queue_body_end() {
    if (a_.body_end_queued) return false;
    a_.body_end_queued = true;
    size_t before = req_out_.pending();
    codec_->end_body(req_out_.own());
    return req_out_.pending() != before;
}

// Writes the head and then the body as it arrives, until the request is sent or the
// upstream stops taking bytes. The send timer runs only while the upstream holds
// bytes back; while ferry waits for the client's body, the client's timer runs.
void UpstreamSession::send_request() {
    if (x_.in_send || !up_ || a_.request_sent) return;
    x_.in_send = true;
    for (;;) {
        if (!up_ || x_.stage == Stage::done) break;  // the client went away meanwhile
        int err = 0;
        uint64_t& sent = c_->request().upstream_bytes_sent;
        uint64_t before = sent;
        OutQueue::Result res = req_out_.flush(*up_->stream, sent, err);
        if (sent != before) a_.sent_any = true;
        if (res == OutQueue::Result::failed) {
            x_.in_send = false;
            fail(Failure::error, err, "writev() failed");
            return;
        }
        if (res == OutQueue::Result::blocked) {
            a_.writable = false;
            w_.loop().timers().arm_lazily(write_timer_, w_.loop().now(), conf_->send_timeout);
            x_.in_send = false;
            return;
        }
        w_.loop().timers().cancel(write_timer_);
        if (a_.borrowed) {
            if (c_->body_buffered()) {
                a_.body_sent += a_.borrowed;
            } else {
                c_->body_span_sent(a_.borrowed);
            }
            a_.borrowed = 0;
        }
        if (next_body_piece()) continue;
        if (c_->body_complete() && !c_->body_pending()) {
            a_.request_sent = true;
            // The response may have started while the body was still going out.
            if (x_.stage == Stage::exchanging) wait_for_upstream();
            break;
        }
        // Read more body from the client. on_body_available() returns at once while
        // x_.in_send is set; this loop picks the new spans up instead (no recursion).
        c_->resume_body();
        if (c_->body_pending() || c_->body_complete()) continue;
        break;
    }
    x_.in_send = false;
}

void UpstreamSession::on_body_available() {
    if (x_.stage == Stage::waiting_body) {
        if (c_->body_complete()) begin_exchange();
        return;
    }
    if (x_.stage == Stage::exchanging || x_.stage == Stage::relaying) send_request();
}

}  // namespace ferry::http
