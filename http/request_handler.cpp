// The request side of ClientConnection: checking a parsed head the way nginx does,
// choosing server and location, and answering with `return`, an error page, or a
// proxy session.
#include <fmt/format.h>
#include <llhttp.h>

#include "core/log.h"
#include "http/connection.h"
#include "http/header_rules.h"
#include "http/http_date.h"
#include "http/http_worker.h"
#include "http/proxy.h"
#include "http/response.h"
#include "http/runtime.h"
#include "http/status.h"
#include "http/uri.h"
#include "http/variables.h"

namespace ferry::http {

namespace {

constexpr size_t kMaxHeaders = 1000;

bool is_redirect(int code) {
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

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

}  // namespace

// Reads the headers nginx interprets itself, in one pass. Returns false with the
// status for a head nginx refuses.
bool ClientConnection::validate_head(int& status) {
    const conf::ServerConf& srv = *address().default_server->conf;
    bool has_host = false;
    bool has_te = false;
    uint64_t seen_unique = 0;
    std::string_view te_value;
    size_t kept = 0;
    for (size_t i = 0; i < req_.headers.size(); ++i) {
        HeaderField h = req_.headers[i];
        switch (check_header_name(h.name, srv.underscores_in_headers)) {
            case HeaderNameCheck::bad_request:
                log_error(conf::LogLevel::info, "client sent invalid header line");
                status = 400;
                return false;
            case HeaderNameCheck::invalid:
                if (srv.ignore_invalid_headers) continue;  // dropped, as nginx does
                break;
            case HeaderNameCheck::valid:
                break;
        }
        // A line starting with whitespace continues the previous one (obs-fold), which
        // llhttp's lenient mode lets through; nginx refuses it.
        char before = h.name.data()[-1];
        if (!is_valid_header_value(h.value) || before == ' ' || before == '\t') {
            log_error(conf::LogLevel::info, "client sent invalid header line");
            status = 400;
            return false;
        }
        req_.headers[kept++] = h;
        const HeaderInfo* info = lookup_header(h.name);
        if (!info) continue;
        switch (info->id) {
            case KnownHeader::host:
                if (has_host) {
                    log_error(conf::LogLevel::info, "client sent duplicate host header");
                    status = 400;
                    return false;
                }
                has_host = true;
                req_.has_host = true;
                req_.host_header = h.value;
                break;
            case KnownHeader::content_length: {
                if (req_.content_length >= 0) {
                    log_error(conf::LogLevel::info, "client sent duplicate header line");
                    status = 400;
                    return false;
                }
                auto n = parse_content_length(h.value);
                if (!n) {
                    log_error(conf::LogLevel::info,
                              "client sent invalid \"Content-Length\" header");
                    status = 400;
                    return false;
                }
                req_.content_length = *n;
                break;
            }
            case KnownHeader::transfer_encoding:
                if (has_te) {
                    log_error(conf::LogLevel::info, "client sent duplicate header line");
                    status = 400;
                    return false;
                }
                has_te = true;
                te_value = h.value;
                break;
            case KnownHeader::connection: {
                uint8_t opts = parse_connection(h.value);
                if (opts & co_close) req_.keep_alive = false;
                if ((opts & co_keep_alive) && req_.http_minor == 0) req_.keep_alive = true;
                break;
            }
            case KnownHeader::expect:
                if (req_.http_minor >= 1 && equals_ignore_case(h.value, "100-continue")) {
                    req_.expect_continue = true;
                }
                break;
            case KnownHeader::upgrade:
                req_.upgrade = true;
                break;
            default:
                break;
        }
        if (info->has(hf_unique_in_request) && info->id != KnownHeader::host &&
            info->id != KnownHeader::content_length) {
            uint64_t bit = uint64_t(1) << static_cast<int>(info->id);
            if (seen_unique & bit) {
                log_error(conf::LogLevel::info, "client sent duplicate header line");
                status = 400;
                return false;
            }
            seen_unique |= bit;
        }
    }
    req_.headers.resize(kept);
    if (kept > kMaxHeaders) {  // nginx's max_headers default
        log_error(conf::LogLevel::info, "client sent too many header lines");
        status = 494;
        return false;
    }
    // nginx's order: Transfer-Encoding on HTTP/1.0, then an unknown coding, then a
    // Content-Length beside it.
    if (has_te && req_.http_minor == 0) {
        log_error(conf::LogLevel::info,
                  "client sent HTTP/1.0 request with \"Transfer-Encoding\" header");
        status = 400;
        return false;
    }
    if (has_te && parse_transfer_encoding(te_value) != TransferCoding::chunked) {
        log_error(conf::LogLevel::info, "client sent unknown \"Transfer-Encoding\"");
        status = 501;
        return false;
    }
    req_.chunked = has_te;
    if (req_.chunked && req_.content_length >= 0) {
        log_error(conf::LogLevel::info,
                  "client sent \"Content-Length\" and \"Transfer-Encoding\" headers");
        status = 400;
        return false;
    }
    if (req_.chunked) req_.content_length = -1;
    if (!has_host && req_.http_minor >= 1) {
        log_error(conf::LogLevel::info, "client sent HTTP/1.1 request without \"Host\" header");
        status = 400;
        return false;
    }
    return true;
}

// Resolves host and URI, picks server and location, and starts the handler.
void ClientConnection::route() {
    req_.head_only = req_.method_id == HTTP_HEAD;
    req_.keep_alive = req_.http_minor >= 1;
    if (plain_http_) {
        log_error(conf::LogLevel::info, "client sent plain HTTP request to HTTPS port");
        fail_request(497, {});
        return;
    }
    int status = 0;
    if (!validate_head(status)) {
        fail_request(status, {});
        return;
    }
    // nginx refuses TRACE, and CONNECT (405 for a proxy-style authority, 400 otherwise).
    bool connect_authority = req_.method_id == HTTP_CONNECT &&
                             req_.target.find(':') != std::string_view::npos &&
                             !req_.target.empty() && req_.target[0] != '/';
    if (req_.method_id == HTTP_TRACE || connect_authority) {
        log_error(conf::LogLevel::info, "client sent TRACE or CONNECT method");
        fail_request(405, {});
        return;
    }
    if (req_.method_id == HTTP_CONNECT) {
        log_error(conf::LogLevel::info, "client sent invalid request");
        fail_request(400, {});
        return;
    }
    // An absolute-form target names the host; it beats the Host header, which must
    // still be valid.
    if (req_.has_host) {
        scratch_.resize(req_.host_header.size() + 1);
        if (!validate_host(req_.host_header, scratch_.data())) {
            log_error(conf::LogLevel::info, "client sent invalid host header");
            fail_request(400, {});
            return;
        }
    }
    AbsoluteTarget abs;
    std::string_view path = req_.target;
    std::string_view host = req_.host_header;
    switch (classify_target(req_.target, &abs)) {
        case TargetForm::invalid:
            log_error(conf::LogLevel::info, "client sent invalid request");
            fail_request(400, {});
            return;
        case TargetForm::absolute:
            host = abs.host;
            path = abs.path_and_query.empty() ? std::string_view("/") : abs.path_and_query;
            req_.target = path;  // $request_uri is the path part, as in nginx
            break;
        case TargetForm::origin:
            break;
    }
    if (req_.has_host || !host.empty()) {
        scratch_.resize(host.size() + 1);
        auto valid = validate_host(host, scratch_.data());
        if (!valid) {
            log_error(conf::LogLevel::info, "client sent invalid host header");
            fail_request(400, {});
            return;
        }
        req_.host.assign(valid->host);
    }
    scratch_.resize(normalised_uri_capacity(path.size()));
    auto parsed = normalise_uri(path, true, scratch_.data());
    if (!parsed) {
        log_error(conf::LogLevel::info, "client sent invalid request");
        fail_request(400, {});
        return;
    }
    req_.uri.assign(parsed->path);
    req_.args = parsed->args;
    req_.uri_quoted = parsed->quoted;
    req_.uri_valid_unparsed = parsed->valid_unparsed;
    if (parsed->args.data() >= scratch_.data() &&
        parsed->args.data() < scratch_.data() + scratch_.size()) {
        // args must point into the request buffer, not into scratch_
        size_t at = req_.target.find('?');
        req_.args = at == std::string_view::npos ? std::string_view()
                                                 : req_.target.substr(at + 1, parsed->args.size());
    }

    const ServerRt& server =
        runtime_->find_server(tag_, req_.host, &req_.server_captures, &req_.server_regex);
    req_.server = &server;
    if (req_.server_regex) {
        req_.captures = req_.server_captures;  // $1.. until a location regex matches
        req_.captures_subject = req_.host;
        req_.captures_regex = req_.server_regex;
    }
    dispatch();
}

void ClientConnection::dispatch() {
    const ServerRt& server = *req_.server;
    const conf::ServerConf& sconf = *server.conf;
    RequestVars vars(*this);
    for (const conf::SetVar& s : sconf.sets)
        run_set(s, vars);
    if (sconf.ret) {
        req_.location = nullptr;
        handle_return(*sconf.ret);
        return;
    }
    LocationIndex::Match m = server.locations->match(req_.uri, &req_.captures);
    req_.location = m.location;
    if (m.location && m.location->regex) {
        req_.captures_subject = req_.uri;
        req_.captures_regex = m.location->regex.get();
    }
    if (m.redirect_with_slash) {
        std::string url(m.location->pattern);
        if (!req_.args.empty()) {
            url += '?';
            url += req_.args;
        }
        redirect(301, url);
        return;
    }
    const conf::LocationConf& l = loc();
    if (l.internal) {
        send_simple(404, {}, false);
        return;
    }
    if (l.client_max_body_size && req_.content_length > 0 &&
        static_cast<uint64_t>(req_.content_length) > l.client_max_body_size) {
        log_error(
            conf::LogLevel::error,
            fmt::format("client intended to send too large body: {} bytes", req_.content_length));
        send_simple(413, {}, true);
        return;
    }
    for (const conf::SetVar& s : l.sets)
        run_set(s, vars);
    if (l.ret) {
        handle_return(*l.ret);
        return;
    }
    if (l.proxy_pass) {
        start_proxy();
        return;
    }
    send_simple(404, {}, false);
}

void ClientConnection::run_set(const conf::SetVar& s, RequestVars& vars) {
    if (req_.set_values.size() <= s.id) req_.set_values.resize(s.id + 1);
    std::string value;
    s.value.evaluate(vars, value);
    req_.set_values[s.id] = std::move(value);
}

void ClientConnection::handle_return(const conf::ReturnConf& ret) {
    if (ret.code == 444) {
        // nginx's "close the connection without a response"
        req_.status = 444;
        write_access_log();
        close_now();
        return;
    }
    std::string text;
    if (ret.text) {
        RequestVars vars(*this);
        ret.text->evaluate(vars, text);
    }
    if (is_redirect(ret.code) && ret.text) {
        redirect(ret.code, text);
        return;
    }
    if (ret.text) {
        respond_text(ret.code, text);
        return;
    }
    send_simple(ret.code, {}, false);
}

// A redirect with nginx's absolute_redirect: a relative URL gets scheme, host and port.
void ClientConnection::redirect(int code, std::string_view url) {
    std::string location;
    append_absolute(url, location);
    send_simple(code, location, false);
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

void ClientConnection::respond_text(int code, std::string_view text) {
    respond(code, "text/plain", text, {});
}

// Answers with ferry's own page for `status`. `close_after` ends the connection after it.
void ClientConnection::send_simple(int status, std::string_view location, bool close_after) {
    if (close_after || closes_connection(status)) keepalive_ = false;
    std::string_view page = error_page(status);
    respond(status, page.empty() ? std::string_view() : "text/html", page, location);
}

// Before ferry answers a request itself it reads and drops the body bytes at hand, as
// nginx's discard does: a malformed body turns the answer into a 400. The rest of the
// body is dropped while and after the response goes out. False if the request failed.
bool ClientConnection::start_response() {
    if (body_state_ == BodyState::none && keepalive_ && phase_ == Phase::handling &&
        (req_.content_length > 0 || req_.chunked)) {
        body_state_ = BodyState::reading;
        discard_body_ = true;
    }
    if (body_state_ == BodyState::reading && discard_body_) {
        continue_if_expected();  // nginx's discard asks for the body too
        read_body();
        if (response_done_ || phase_ == Phase::closed) return false;
    }
    return true;
}

// Writes a complete response ferry composes itself.
void ClientConnection::respond(int status, std::string_view content_type, std::string_view body,
                               std::string_view location) {
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
    write_simple_head(out, r, worker_.times().http_date(), [&](core::Buffer& b) {
        append_add_headers(status, b);
        append_keepalive_header(b);
    });
    req_.header_bytes = out.readable_size();
    if (!req_.head_only) {
        out_.append(body);
        req_.body_bytes_sent = body.size();
    }
    response_done_ = true;
    send_output();
}

// An error found while reading or checking the request: answer and close.
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
    keepalive_ = false;
    body_state_ = BodyState::none;
    phase_ = Phase::handling;
    worker_.loop().timers().cancel(read_timer_);
    if (req_.start_ms == 0) {
        req_.start_ms = worker_.loop().now();
        req_.start_wall_ms = worker_.loop().wall_now();
    }
    out_.clear();
    send_simple(status, {}, true);
}

void ClientConnection::respond_error(int status) {
    drop_proxy();
    if (body_state_ == BodyState::reading) {
        discard_body_ = true;
        discard_body_spans();
    }
    send_simple(status, {}, false);
}

void ClientConnection::abort_response() {
    keepalive_ = false;
    write_access_log();
    drop_proxy();
    close_now();
}

void ClientConnection::start_proxy() {
    if (req_.content_length > 0 || req_.chunked) body_state_ = BodyState::reading;
    proxy_ = worker_.acquire_session();
    proxy_->bind(*this);
    proxy_->start();
}

}  // namespace ferry::http
