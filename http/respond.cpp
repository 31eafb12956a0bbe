// ClientConnection: the answers ferry gives itself: finalizing a request with a status
// (error_page, or ferry's own page), responses it composes, bad requests, and the
// hand-back from content sessions. One request gets exactly one response: once a head
// is queued, nothing else may start one; a failure after that closes the connection.
#include <fmt/format.h>
#include <llhttp.h>

#include "core/log.h"
#include "http/connection.h"
#include "http/header_rules.h"
#include "http/http_date.h"
#include "http/http_worker.h"
#include "http/response.h"
#include "http/runtime.h"
#include "http/status.h"
#include "http/variables.h"

namespace ferry::http {

namespace {

// Statuses after which nginx does not keep the connection (special_response_handler).
bool closes_connection(int status) {
    switch (status) {
        case 400:
        case 413:
        case 414:
        case 494:
        case 495:
        case 496:
        case 497:
        case 500:
        case 501:
            return true;
        default:
            return false;
    }
}

bool is_redirect(int code) {
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

}  // namespace

void ClientConnection::finalize(int status, std::string_view location) {
    if (response_started_ || phase_ == Phase::closed) return;
    drop_content();
    if (status == 444) {
        // nginx's "close the connection without a response"
        req_.status = 444;
        write_access_log();
        close_now();
        return;
    }
    req_.err_status = status;
    if (closes_connection(status)) keepalive_ = false;
    if (try_error_page(status)) return;
    std::string absolute;
    if (!location.empty()) append_absolute(location, absolute);
    send_simple(status, absolute, false);
}

bool ClientConnection::has_error_page(int status) const {
    const auto& pages = loc().error_pages;
    if (!pages || req_.error_page || req_.uri_changes == 0) return false;
    for (const conf::ErrorPage& p : *pages) {
        if (p.status == status) return true;
    }
    return false;
}

// nginx's error_page: the first rule of the location for `status` answers, once per
// request unless recursive_error_pages is on, and not after ten internal redirects.
bool ClientConnection::try_error_page(int status) {
    const auto& pages = loc().error_pages;
    if (!pages || req_.error_page || req_.uri_changes == 0) return false;
    if (!loc().recursive_error_pages) req_.error_page = true;
    const conf::ErrorPage* page = nullptr;
    for (const conf::ErrorPage& p : *pages) {
        if (p.status == status) {
            page = &p;
            break;
        }
    }
    if (!page) return false;
    if (page->overwrite >= 0) req_.err_status = page->overwrite;
    std::string target;
    RequestVars vars(*this);
    page->target.evaluate(vars, target);
    if (!target.empty() && (target[0] == '/' || target[0] == '@')) {
        // The body cannot be given to the new location if part of it was streamed
        // already: it is dropped, and the request goes on without one (nginx's discard).
        // A buffered body is kept whole and goes again.
        if (body_state_ != BodyState::none && !(buffering_ && body_state_ == BodyState::done)) {
            discard_body();
            req_.content_length = 0;
            req_.chunked = false;
        }
        if (target[0] == '@') {
            named_redirect(target);
            return true;
        }
        std::string args = page->args;
        if (page->target.has_variables()) {
            size_t q = target.find('?');
            if (q != std::string::npos) {
                args = target.substr(q + 1);
                target.resize(q);
            }
        }
        if (req_.method_id != HTTP_HEAD) {
            req_.method = "GET";
            req_.method_id = HTTP_GET;
        }
        internal_redirect(target, args);
        return true;
    }
    if (!is_redirect(page->overwrite)) req_.err_status = 302;
    std::string absolute;
    append_absolute(target, absolute);
    send_simple(req_.err_status, absolute, false);
    return true;
}

// Answers with ferry's own page for `status`. `close_after` ends the connection after it.
void ClientConnection::send_simple(int status, std::string_view location, bool close_after) {
    if (close_after || closes_connection(status)) keepalive_ = false;
    int sent = status_for_client(status);
    std::string_view page = error_page(sent);
    respond(sent, page.empty() ? std::string_view() : "text/html", page, location);
}

// Before ferry answers a request itself it reads and drops the body bytes at hand, as
// nginx's discard does: a malformed body turns the answer into a 400. The rest of the
// body is dropped while and after the response goes out. False if the request failed.
bool ClientConnection::start_response() {
    discard_body();
    if (body_state_ == BodyState::reading) {
        continue_if_expected();  // nginx's discard asks for the body too
        read_body();
        if (response_started_ || phase_ == Phase::closed) return false;
    }
    return true;
}

// Writes a complete response ferry composes itself.
void ClientConnection::respond(int status, std::string_view content_type, std::string_view body,
                               std::string_view location) {
    if (response_started_ || phase_ == Phase::closed) return;
    drop_content();
    status = status_for_client(status);
    req_.status = wire_status(status);  // nginx logs 494-497 as the 400 it sends
    if (!start_response()) return;
    SimpleResponse r;
    r.status = wire_status(status);
    if (status == 204 || status == 304) body = {};  // no body, and no length for one
    r.content_type = body.empty() && (status == 204 || status == 304) ? "" : content_type;
    r.content_length = status == 204 || status == 304 ? -1 : static_cast<int64_t>(body.size());
    r.location = location;
    r.keep_alive = will_keep_alive();
    r.http_minor = req_.http_minor;
    core::Buffer& out = out_.own();
    size_t head_start = out.readable_size();
    write_simple_head(out, r, worker_.times().http_date(), [&](core::Buffer& b) {
        append_add_headers(status, b, head_start);
        append_keepalive_header(b);
    });
    req_.header_bytes = out.readable_size();
    record_sent_head(out.view().substr(head_start));
    if (!req_.head_only) {
        out_.append(body);
        req_.body_bytes_sent = body.size();
    }
    response_started_ = true;
    response_done_ = true;
    send_output();
}

// An error found while reading or checking the request: answer and close. Whatever
// served the request so far is dropped first, so that it cannot answer too; if a
// response already started, the connection just closes.
void ClientConnection::fail_request(int status, std::string_view reason) {
    // A head refused before it was complete is logged with its request line, if that
    // much arrived (nginx's $request).
    if (req_.request_line.empty() && in_.allocated()) {
        std::string_view seen(in_.data() + req_start_, in_.end() - req_start_);
        for (const HeaderSpan& h : req_.spans) {
            std::string_view name(in_.data() + h.name_off, h.name_len);
            if (equals_ignore_case(name, "host") && h.value_off + h.value_len <= in_.end()) {
                req_.host_header = std::string_view(in_.data() + h.value_off, h.value_len);
            }
        }
        size_t eol = seen.find('\n');
        if (eol != std::string_view::npos) {
            std::string_view line = seen.substr(0, eol);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            req_.request_line = line;
        }
    }
    if (!reason.empty()) log_error(conf::LogLevel::info, reason);
    drop_content();
    keepalive_ = false;
    if (response_started_) {
        abort_response();
        return;
    }
    body_state_ = BodyState::none;
    discard_body_ = false;
    set_phase(Phase::responding);
    wait_for_client(ReadWait::nothing);
    if (req_.start_ms == 0) {
        req_.start_ms = worker_.loop().now();
        req_.start_wall_ms = worker_.loop().wall_now();
    }
    out_.clear();
    send_simple(status, {}, true);
}

void ClientConnection::content_failed(int status) {
    drop_content();
    if (response_started_) {
        abort_response();
        return;
    }
    if (body_state_ == BodyState::reading) discard_body();
    finalize(status);
}

void ClientConnection::response_done(bool reusable) {
    drop_content();
    response_done_ = true;
    if (!reusable) keepalive_ = false;
    if (!out_.drained()) return;  // send_output() finishes once drained
    if (body_state_ == BodyState::reading) {
        // The response went out before the body ended (e.g. an upstream that answered
        // early): read and drop the rest, then go on.
        discard_body();
        read_body();
        return;
    }
    finish_request();
}

void ClientConnection::abort_response() {
    keepalive_ = false;
    write_access_log();
    drop_content();
    close_now();
}

// nginx's absolute_redirect with server_name_in_redirect off: a URL starting with '/'
// gets the scheme, the request's host (else the address the connection came to) and
// the port when it is not the scheme's.
void ClientConnection::append_absolute(std::string_view url, std::string& out) {
    if (url.empty() || url.front() != '/') {
        out.append(url);
        return;
    }
    const AddressRt& a = address();
    out += a.ssl ? "https://" : "http://";
    if (!req_.host.empty()) {
        out += req_.host;
    } else if (local().family() == AF_INET6) {
        out += '[' + local().ip() + ']';
    } else {
        out += local().ip();
    }
    uint16_t port = local().port();
    if (port != (a.ssl ? 443 : 80) && local().family() != AF_UNIX) {
        out += ':';
        out += std::to_string(port);
    }
    out.append(url);
}

}  // namespace ferry::http
