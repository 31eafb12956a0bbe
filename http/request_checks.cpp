// ClientConnection: checking a parsed head the way nginx does (the headers nginx
// interprets itself, the method, the host and the URI), then choosing the server.
#include <fmt/format.h>
#include <llhttp.h>

#include "core/log.h"
#include "http/connection.h"
#include "http/header_rules.h"
#include "http/runtime.h"
#include "http/uri.h"

namespace ferry::http {

namespace {
constexpr size_t kMaxHeaders = 1000;
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
    req_.location_rt = &runtime_->location(server.conf->defaults);
    if (req_.server_regex) {
        req_.captures = req_.server_captures;  // $1.. until a location regex matches
        req_.captures_subject = req_.host;
        req_.captures_regex = req_.server_regex;
    }
    // As nginx, plain HTTP on a TLS port is refused once the server is known, so that
    // the server's `error_page 497` can answer it.
    if (plain_http_) {
        log_error(conf::LogLevel::info, "client sent plain HTTP request to HTTPS port");
        finalize(497);
        return;
    }
    req_.phase = RequestPhase::server_rewrite;
    run_phases();
}

}  // namespace ferry::http
