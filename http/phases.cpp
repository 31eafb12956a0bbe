// ClientConnection: a request's trip through nginx's phases (ngx_http_core_run_phases):
//
//   server_rewrite -> find_location -> rewrite -> post_rewrite -> preaccess -> access
//   -> post_access -> precontent -> content
//
// Modules take part through hooks (phase_hooks.cpp); find_location, post_rewrite,
// access's rules and content are run here. An internal redirect (error_page, try_files,
// a named location) starts the trip again; after 10 of them the request ends with 500,
// as in nginx.
#include <fmt/format.h>

#include "core/log.h"
#include "http/connection.h"
#include "http/http_worker.h"
#include "http/phase_hooks.h"
#include "http/runtime.h"
#include "http/uri.h"

namespace ferry::http {

namespace {

RequestPhase next_phase(RequestPhase p) {
    return static_cast<RequestPhase>(static_cast<uint8_t>(p) + 1);
}

}  // namespace

void ClientConnection::run_phases() {
    for (;;) {
        if (phase_ == Phase::closed) return;
        int rc = phase_ok;
        switch (req_.phase) {
            case RequestPhase::server_rewrite:
            case RequestPhase::rewrite:
            case RequestPhase::preaccess:
            case RequestPhase::precontent:
                rc = run_hooks();
                break;
            case RequestPhase::find_location:
                rc = find_location_phase();
                break;
            case RequestPhase::post_rewrite:
                if (req_.uri_changed) {
                    // `rewrite ... last`: the location is chosen again for the new URI.
                    req_.uri_changed = false;
                    if (redirect_cycle(req_.uri)) return;
                    req_.phase = RequestPhase::find_location;
                    continue;
                }
                break;
            case RequestPhase::access:
                rc = access_phase();
                break;
            case RequestPhase::post_access:
                break;
            case RequestPhase::content:
                start_content();
                return;
        }
        if (rc == phase_again || rc == phase_done) return;
        if (rc >= 100) {
            finalize(rc);
            return;
        }
        req_.phase = next_phase(req_.phase);
        req_.phase_hook = 0;
    }
}

// The hooks of a generic phase: one that has nothing to do passes to the next; one that
// returns phase_ok ends the phase.
int ClientConnection::run_hooks() {
    std::span<const PhaseHook> hooks = phase_hooks(req_.phase);
    while (req_.phase_hook < hooks.size()) {
        int rc = hooks[req_.phase_hook](*this);
        if (rc == phase_next) {
            ++req_.phase_hook;
            continue;
        }
        return rc;
    }
    return phase_ok;
}

// The access phase with nginx's `satisfy all`: every check must allow (phase_ok) or
// have no opinion (phase_next); the first refusal ends the request with its status.
int ClientConnection::access_phase() {
    std::span<const PhaseHook> hooks = phase_hooks(req_.phase);
    while (req_.phase_hook < hooks.size()) {
        int rc = hooks[req_.phase_hook](*this);
        if (rc == phase_next || rc == phase_ok) {
            ++req_.phase_hook;
            continue;
        }
        return rc;
    }
    return phase_ok;
}

// nginx's find_config phase: the location for $uri, then the checks that depend on it.
int ClientConnection::find_location_phase() {
    const ServerRt& server = *req_.server;
    LocationIndex::Match m = server.locations->match(req_.uri, &req_.captures);
    req_.location = m.location;
    req_.location_rt = &runtime_->location(loc());
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
        finalize(301, url);
        return phase_done;
    }
    const conf::LocationConf& l = loc();
    if (l.internal && !req_.internal) return 404;
    if (l.client_max_body_size && req_.content_length > 0 &&
        static_cast<uint64_t>(req_.content_length) > l.client_max_body_size) {
        log_error(
            conf::LogLevel::error,
            fmt::format("client intended to send too large body: {} bytes", req_.content_length));
        keepalive_ = false;
        return 413;
    }
    return phase_ok;
}

// One internal redirect more. True (and the request answered with 500) when there were
// too many: nginx's "rewrite or internal redirection cycle".
bool ClientConnection::redirect_cycle(std::string_view target) {
    if (--req_.uri_changes > 0) return false;
    log_error(conf::LogLevel::error,
              fmt::format("rewrite or internal redirection cycle while internally redirecting "
                          "to \"{}\"",
                          target));
    finalize(500);
    return true;
}

void ClientConnection::internal_redirect(std::string_view uri, std::string_view args) {
    if (redirect_cycle(uri)) return;
    std::string new_uri(uri);
    std::string new_args(args);  // `args` may point into req_.args_storage
    req_.uri = std::move(new_uri);
    req_.args_storage = std::move(new_args);
    req_.args = req_.args_storage;
    req_.uri_valid_unparsed = false;  // proxy_pass sends the URI escaped again
    req_.internal = true;
    req_.location = nullptr;
    req_.location_rt = &runtime_->location(loc());
    req_.phase = RequestPhase::server_rewrite;
    req_.phase_hook = 0;
    run_phases();
}

void ClientConnection::named_redirect(std::string_view name) {
    const conf::LocationConf* named = req_.server->locations->find_named(name);
    if (!named) {
        log_error(conf::LogLevel::error, fmt::format("could not find named location \"{}\"", name));
        finalize(500);
        return;
    }
    if (redirect_cycle(name)) return;
    req_.internal = true;
    req_.location = named;
    req_.location_rt = &runtime_->location(*named);
    req_.phase = RequestPhase::rewrite;
    req_.phase_hook = 0;
    run_phases();
}

// The location's content handler answers the request; a handler that reads the body
// asks for it (stream_body, buffer_body), otherwise it is dropped when ferry answers.
void ClientConnection::start_content() {
    const ContentHandler* handler = req_.location_rt->content;
    if (!handler) {
        finalize(404);
        return;
    }
    handler->start(*this);
}

void ClientConnection::attach_content(ContentSessionPtr session) {
    content_ = std::move(session);
}

}  // namespace ferry::http
