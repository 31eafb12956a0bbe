// ProxySession: the request toward the upstream. The head is built once per request
// (proxy_set_header rules, then the client's headers minus hop-by-hop ones); the body
// streams from the client's read buffer without a copy.
#include <llhttp.h>

#include <cerrno>

#include "http/connection.h"
#include "http/header_rules.h"
#include "http/http_worker.h"
#include "http/proxy.h"
#include "http/response.h"
#include "http/variables.h"

namespace ferry::http {

namespace {

bool named_in(std::string_view name, const std::vector<conf::HeaderRule>* rules) {
    if (!rules) return false;
    for (const conf::HeaderRule& rule : *rules) {
        if (equals_ignore_case(rule.name, name)) return true;
    }
    return false;
}

// RFC 9110 7.6.1: headers the client listed in Connection are for this hop only.
// (nginx passes them on; ferry does not.)
bool named_in_connection(const Request& r, std::string_view name) {
    for (const HeaderField& h : r.headers) {
        if (equals_ignore_case(h.name, "connection") && has_token(h.value, name)) return true;
    }
    return false;
}

void append_header(core::Buffer& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
}

}  // namespace

void ProxySession::build_request_head() {
    Request& r = c_->request();
    core::Buffer& out = req_out_.own();
    out.clear();
    out.append(r.method);
    out.append(" ");
    out.append(uri_);
    out.append(conf_->http_version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");

    const std::vector<conf::HeaderRule>* rules = conf_->set_headers.get();
    RequestVars vars(*c_);
    thread_local std::string value;
    s_.sent_upgrade = false;
    if (!named_in("host", rules)) append_header(out, "Host", r.proxy_host);
    if (rules) {
        for (const conf::HeaderRule& rule : *rules) {
            value.clear();
            rule.value.evaluate(vars, value);
            if (value.empty()) continue;  // an empty value means "do not send"
            append_header(out, rule.name, value);
            if (equals_ignore_case(rule.name, "upgrade")) s_.sent_upgrade = true;
        }
    }
    for (const HeaderField& h : r.headers) {
        const HeaderInfo* info = lookup_header(h.name);
        if (info && (info->has(hf_not_forwarded_upstream) || info->has(hf_framing) ||
                     info->id == KnownHeader::host)) {
            continue;
        }
        if (named_in(h.name, rules) || named_in_connection(r, h.name)) continue;
        append_header(out, h.name, h.value);
    }
    s_.body_chunked = false;
    if (r.chunked) {
        out.append("Transfer-Encoding: chunked\r\n");
        s_.body_chunked = true;
    } else if (r.content_length >= 0 && (r.content_length > 0 || r.method_id == HTTP_POST ||
                                         r.method_id == HTTP_PUT || r.method_id == HTTP_PATCH)) {
        out.append("Content-Length: ");
        append_number(out, static_cast<uint64_t>(r.content_length));
        out.append("\r\n");
    }
    out.append("\r\n");
}

// Queues the next piece of the request body in req_out_. Returns false when nothing
// can be queued now.
bool ProxySession::next_body_piece() {
    std::string_view span = c_->next_body_span();
    if (!span.empty()) {
        if (s_.body_chunked) {
            char header[max_chunk_header_size + 2];
            size_t n = 0;
            if (s_.chunk_open) {
                header[n++] = '\r';
                header[n++] = '\n';
            }
            n += write_chunk_header(span.size(), header + n);
            req_out_.append(std::string_view(header, n));
            s_.chunk_open = true;
        }
        req_out_.borrow(span);
        s_.borrowed = span.size();
        s_.body_started = true;
        return true;
    }
    const Request& r = c_->request();
    bool has_body = r.content_length > 0 || r.chunked;
    if (c_->body_complete() || !has_body) {
        if (s_.body_chunked && !s_.last_chunk_sent) {
            if (s_.chunk_open) req_out_.append(chunk_end);
            req_out_.append(last_chunk);
            s_.chunk_open = false;
            s_.last_chunk_sent = true;
            return true;
        }
    }
    return false;
}

// Writes the head and then the body as it arrives, until the request is sent or the
// upstream stops taking bytes.
void ProxySession::send_request() {
    if (s_.in_send || !up_ || s_.phase == Phase::done) return;
    s_.in_send = true;
    for (;;) {
        if (!up_ || s_.phase == Phase::done) break;  // the client went away meanwhile
        int err = 0;
        uint64_t before = c_->request().upstream_bytes_sent;
        OutQueue::Result res = req_out_.flush(*up_->stream, c_->request().upstream_bytes_sent, err);
        if (c_->request().upstream_bytes_sent != before) s_.attempt_sent = true;
        if (res == OutQueue::Result::failed) {
            s_.in_send = false;
            fail(Failure::error, err, "writev() failed");
            return;
        }
        if (res == OutQueue::Result::blocked) {
            s_.writable = false;
            w_.loop().timers().arm_lazily(write_timer_, w_.loop().now(), conf_->send_timeout);
            s_.in_send = false;
            return;
        }
        w_.loop().timers().cancel(write_timer_);
        if (s_.borrowed) {
            c_->body_span_sent(s_.borrowed);
            s_.borrowed = 0;
        }
        if (next_body_piece()) continue;
        bool has_body = c_->request().content_length > 0 || c_->request().chunked;
        if (!has_body || (c_->body_complete() && !c_->body_pending())) {
            if (!s_.request_sent) {
                s_.request_sent = true;
                if (s_.phase == Phase::sending) s_.phase = Phase::head;
                w_.loop().timers().arm(read_timer_, w_.loop().now(), conf_->read_timeout);
            }
            s_.in_send = false;
            return;
        }
        // Read more body from the client. on_body_available() returns at once while
        // s_.in_send is set; this loop picks the new spans up instead (no recursion).
        c_->resume_body();
        if (c_->body_pending() || c_->body_complete()) continue;
        break;
    }
    s_.in_send = false;
}

void ProxySession::on_body_available() {
    if (s_.phase == Phase::sending || s_.phase == Phase::head || s_.phase == Phase::body) {
        if (!s_.request_sent) send_request();
    }
}

}  // namespace ferry::http
