#include "http/tunnel_record.h"

#include "core/socket.h"
#include "http/connection.h"
#include "http/http_date.h"
#include "http/http_worker.h"
#include "http/runtime.h"
#include "http/variables.h"

namespace ferry::http {

std::unique_ptr<TunnelRecord> TunnelRecord::make(ClientConnection& c, const Heads& heads,
                                                 std::string_view upstream) {
    std::unique_ptr<TunnelRecord> rec(new TunnelRecord(c.worker(), heads));
    const Runtime& rt = c.runtime();
    const auto& logs = rt.access_logs(c.loc());
    if (!logs.empty()) {
        // Formatted now, while the request's variables still exist.
        RequestVars vars(c);
        for (const AccessLogRt& target : logs) {
            if (target.conf->condition) {
                std::string cond;
                target.conf->condition->evaluate(vars, cond);
                if (cond.empty() || cond == "0") continue;
            }
            Line line;
            line.fd = target.fd;
            format_log_line(rt.config().http->log_formats[target.conf->format], vars, line.text,
                            &line.holes);
            rec->lines_.push_back(std::move(line));
        }
    }
    if (c.error_log_enabled(conf::LogLevel::info)) {
        rec->error_ = std::make_unique<ErrorContext>();
        rec->error_->conn = c.number();
        c.append_error_context(upstream, rec->error_->context);
        if (const auto* own = c.own_error_log()) rec->error_->targets = *own;
    }
    if (rec->lines_.empty() && !rec->error_) return nullptr;
    return rec;
}

void TunnelRecord::on_tunnel_end(const tunnel::TunnelStats& st) {
    std::string out;
    for (Line& line : lines_) {
        out.clear();
        size_t at = 0;
        for (const LogHole& hole : line.holes) {
            out.append(line.text, at, hole.at - at);
            at = hole.at;
            fill(hole.var, st, out);
        }
        out.append(line.text, at, std::string::npos);
        worker_.access_log().write(line.fd, out);
    }
    if (error_) log_end(st);
}

// nginx's lines for a tunnel that did not end by both sides closing (all at info, as
// errors of a client connection are).
void TunnelRecord::log_end(const tunnel::TunnelStats& st) {
    std::string line;
    switch (st.end) {
        case tunnel::TunnelEnd::closed:
        case tunnel::TunnelEnd::shutdown:
            return;
        case tunnel::TunnelEnd::upstream_timeout:
            line = "upstream timed out (110: Connection timed out)";
            break;
        case tunnel::TunnelEnd::client_timeout:
            line = "client timed out (110: Connection timed out)";
            break;
        case tunnel::TunnelEnd::client_error:
        case tunnel::TunnelEnd::upstream_error:
            line = "recv() failed " + core::errno_text(st.err ? st.err : ECONNRESET);
            break;
    }
    line += " while proxying upgraded connection";
    line += error_->context;
    if (error_->targets.empty()) {
        core::ErrorLog::instance().write(conf::LogLevel::info, error_->conn, line);
    } else {
        core::ErrorLog::write_to(error_->targets, conf::LogLevel::info, error_->conn, line);
    }
}

void TunnelRecord::fill(conf::BuiltinVar v, const tunnel::TunnelStats& st, std::string& out) {
    uint64_t to_client = st.upstream_to_client;  // the 101 head included
    auto num = [&](uint64_t n) { out += std::to_string(n); };
    switch (v) {
        case conf::BuiltinVar::request_time:
        case conf::BuiltinVar::upstream_response_time:
            append_seconds(out, st.ended_ms - heads_.request_start_ms);
            return;
        case conf::BuiltinVar::bytes_sent:
            num(to_client);
            return;
        case conf::BuiltinVar::body_bytes_sent:
            num(to_client > heads_.response ? to_client - heads_.response : 0);
            return;
        case conf::BuiltinVar::request_length:
            num(heads_.request + st.from_client);
            return;
        case conf::BuiltinVar::upstream_bytes_sent:
            num(heads_.upstream_sent + st.client_to_upstream);
            return;
        case conf::BuiltinVar::upstream_bytes_received:
            num(heads_.upstream_received + st.from_upstream);
            return;
        case conf::BuiltinVar::msec:
            out += worker_.times().msec();
            return;
        case conf::BuiltinVar::time_local:
            out += worker_.times().time_local();
            return;
        case conf::BuiltinVar::time_iso8601:
            out += worker_.times().time_iso8601();
            return;
        default:
            return;
    }
}

}  // namespace ferry::http
