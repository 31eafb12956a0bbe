// ClientConnection: what the request layer asks of a connection beyond I/O: the access
// and error log lines, per-connection variables, add_header lines, and the hand-over of
// the socket to a tunnel.
#include <random>

#include "core/log.h"
#include "core/tls_stream.h"
#include "http/access_log.h"
#include "http/connection.h"
#include "http/header_rules.h"
#include "http/http_worker.h"
#include "http/response.h"
#include "http/runtime.h"
#include "http/variables.h"

namespace ferry::http {

void ClientConnection::write_access_log() {
    if (req_.logged) return;
    req_.logged = true;
    const auto& logs =
        req_.location_rt ? req_.location_rt->access_logs : runtime_->access_logs(loc());
    if (logs.empty()) return;
    RequestVars vars(*this);
    thread_local std::string line;
    for (const AccessLogRt& target : logs) {
        if (target.conf->condition) {
            line.clear();
            target.conf->condition->evaluate(vars, line);
            if (line.empty() || line == "0") continue;
        }
        line.clear();
        format_log_line(runtime_->config().http->log_formats[target.conf->format], vars, line);
        worker_.access_log().write(target.fd, line);
    }
}

const std::vector<HeaderField>* ClientConnection::upstream_headers() const {
    return content_ ? content_->upstream_headers() : nullptr;
}

// $sent_http_NAME: from the response head as it was sent (Server, Date, the relayed
// and added headers, Connection...); several lines of one name are joined with ", ".
void ClientConnection::append_sent_header(std::string_view name, std::string& out) {
    std::string_view head = head_so_far_.empty() ? std::string_view(req_.sent_head) : head_so_far_;
    size_t eol = head.find("\r\n");  // past the status line
    bool first = true;
    while (eol != std::string_view::npos) {
        head.remove_prefix(eol + 2);
        eol = head.find("\r\n");
        std::string_view line = head.substr(0, eol);
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon != name.size()) continue;
        bool same = true;
        for (size_t i = 0; i < colon && same; ++i) {
            char c = line[i] == '-' ? '_' : static_cast<char>(tolower(line[i]));
            same = c == name[i];
        }
        if (!same) continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ')
            value.remove_prefix(1);
        if (!first) out += ", ";
        out += value;
        first = false;
    }
}

void ClientConnection::append_request_id(std::string& out) {
    if (!request_id_set_ || req_.request_id_for != requests_) {
        thread_local std::mt19937_64 rng{std::random_device{}()};
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 2; ++i) {
            uint64_t v = rng();
            for (int j = 0; j < 16; ++j)
                request_id_[i * 16 + j] = hex[(v >> (j * 4)) & 15];
        }
        request_id_set_ = true;
        req_.request_id_for = requests_;
    }
    out.append(request_id_, sizeof request_id_);
}

void ClientConnection::append_tls_variable(conf::BuiltinVar v, std::string& out) {
    if (!tls_) return;  // plain connections have no TLS session
    switch (v) {
        case conf::BuiltinVar::ssl_protocol:
            out += tls_->protocol();
            return;
        case conf::BuiltinVar::ssl_cipher:
            out += tls_->cipher();
            return;
        case conf::BuiltinVar::ssl_server_name:
            out += tls_->server_name();
            return;
        case conf::BuiltinVar::ssl_session_reused:
            out += tls_->session_reused() ? 'r' : '.';
            return;
        default:
            return;
    }
}

// add_header: for the success and redirect statuses nginx lists, or any with `always`.
// A value sees the head written so far from `head_start` ($sent_http_* of the lines
// before it, as nginx's header filter adds them in order).
void ClientConnection::append_add_headers(int status, core::Buffer& out, size_t head_start) {
    const auto& rules = loc().add_headers;
    if (!rules || rules->empty()) return;
    bool listed = false;
    for (int s : {200, 201, 204, 206, 301, 302, 303, 304, 307, 308})
        listed = listed || s == status;
    RequestVars vars(*this);
    thread_local std::string value;
    for (const conf::AddHeader& h : *rules) {
        if (!listed && !h.always) continue;
        value.clear();
        head_so_far_ = out.view().substr(head_start);
        h.value.evaluate(vars, value);
        head_so_far_ = {};
        if (value.empty()) continue;
        out.append(h.name);
        out.append(": ");
        out.append(value);
        out.append("\r\n");
    }
}

bool ClientConnection::will_keep_alive() const {
    return keepalive_ && req_.keep_alive && !quitting_ &&
           requests_ < static_cast<uint32_t>(loc().keepalive_requests) &&
           loc().keepalive_timeout > 0;
}

// nginx's keepalive_timeout second parameter: tell the client how long we keep it.
void ClientConnection::append_keepalive_header(core::Buffer& out) {
    int64_t secs = loc().keepalive_header;
    if (secs < 0 || !will_keep_alive()) return;
    out.append("Keep-Alive: timeout=");
    append_number(out, static_cast<uint64_t>(secs));
    out.append("\r\n");
}

// ---- error log lines ----------------------------------------------------------------

const std::vector<core::ErrorLog::Target>* ClientConnection::own_error_log() const {
    const LocationRt* rt = req_.location_rt;
    if (!rt) rt = &runtime_->location(loc());
    return rt->error_log.empty() ? nullptr : &rt->error_log;
}

bool ClientConnection::error_log_enabled(conf::LogLevel level) const {
    const auto* own = own_error_log();
    if (!own) return core::ErrorLog::instance().enabled(level);
    for (const core::ErrorLog::Target& t : *own) {
        if (static_cast<int>(level) >= static_cast<int>(t.level)) return true;
    }
    return false;
}

void ClientConnection::append_error_context(std::string_view upstream, std::string& line) const {
    line += ", client: ";
    line += peer_.ip();
    line += ", server: ";
    line += req_.server ? req_.server->name : address().default_server->name;
    if (!req_.request_line.empty()) {
        line += ", request: \"";
        line += req_.request_line;
        line += '"';
    }
    if (!upstream.empty()) {
        line += ", upstream: \"";
        line += upstream;
        line += '"';
    }
    if (!req_.host_header.empty()) {
        line += ", host: \"";
        line += req_.host_header;
        line += '"';
    }
}

void ClientConnection::log_error(conf::LogLevel level, std::string_view message,
                                 std::string_view upstream) {
    if (!error_log_enabled(level)) return;
    std::string line(message);
    // nginx says what the connection was doing when the head is not complete yet.
    if (phase_ == Phase::head) line += " while reading client request headers";
    append_error_context(upstream, line);
    if (const auto* own = own_error_log()) {
        core::ErrorLog::write_to(*own, level, number_, line);
    } else {
        core::ErrorLog::instance().write(level, number_, line);
    }
}

// ---- tunnel hand-over -----------------------------------------------------------------

tunnel::TunnelSide ClientConnection::take_for_tunnel(std::string& pipelined) {
    if (in_.allocated() && parsed_ < in_.end()) {
        pipelined.assign(in_.data() + parsed_, in_.end() - parsed_);
    }
    worker_.loop().timers().cancel(read_timer_);
    worker_.loop().timers().cancel(write_timer_);
    worker_.loop().remove(stream_->fd());
    tls_ = nullptr;
    return tunnel::TunnelSide{std::move(stream_), std::move(slot_)};
}

void ClientConnection::tunnel_started() {
    // The tunnel now owns the socket, its worker_connections place, and writes the access
    // log line when it ends.
    set_phase(Phase::closed);
    drop_content();
    in_.release();
    out_.clear();
    worker_.remove(this);
}

void ClientConnection::drop_content() {
    if (!content_) return;
    ContentSessionPtr session = std::move(content_);
    session->on_client_failed();  // a no-op once the session finished; else it stops it
}

}  // namespace ferry::http
