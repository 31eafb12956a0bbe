// UpstreamSession: `101 Switching Protocols`. Both sockets and the bytes already read on
// each side go to a tunnel; the HTTP objects are freed, and the access log line, mostly
// formatted now, is finished when the tunnel ends.
#include <cerrno>

#include "http/access_log.h"
#include "http/connection.h"
#include "http/header_rules.h"
#include "http/http_date.h"
#include "http/http_worker.h"
#include "http/response.h"
#include "http/upstream_session.h"
#include "http/variables.h"
#include "tunnel/tunnel.h"

namespace ferry::http {

namespace {

// The access log lines of an upgraded request, waiting for the tunnel's totals.
class TunnelLog final : public tunnel::TunnelObserver {
  public:
    struct Line {
        int fd;
        std::string text;
        std::vector<LogHole> holes;
    };

    TunnelLog(HttpWorker& worker, int64_t request_start_ms, uint64_t request_head_bytes,
              uint64_t response_head_bytes, uint64_t upstream_head_sent,
              uint64_t upstream_head_received, std::vector<Line> lines)
        : worker_(worker),
          start_ms_(request_start_ms),
          request_head_(request_head_bytes),
          response_head_(response_head_bytes),
          upstream_head_sent_(upstream_head_sent),
          upstream_head_received_(upstream_head_received),
          lines_(std::move(lines)) {}

    // Bytes read with the request head but belonging to the tunnel: they count in
    // $request_length as the tunnel's own reads do.
    void add_client_leftover(uint64_t n) { request_head_ += n; }

    void on_tunnel_end(const tunnel::TunnelStats& st) override {
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
    }

  private:
    void fill(conf::BuiltinVar v, const tunnel::TunnelStats& st, std::string& out) {
        uint64_t to_client = st.upstream_to_client;  // the 101 head included
        auto num = [&](uint64_t n) { out += std::to_string(n); };
        switch (v) {
            case conf::BuiltinVar::request_time:
            case conf::BuiltinVar::upstream_response_time:
                append_seconds(out, st.ended_ms - start_ms_);
                return;
            case conf::BuiltinVar::bytes_sent:
                num(to_client);
                return;
            case conf::BuiltinVar::body_bytes_sent:
                num(to_client > response_head_ ? to_client - response_head_ : 0);
                return;
            case conf::BuiltinVar::request_length:
                num(request_head_ + st.from_client);
                return;
            case conf::BuiltinVar::upstream_bytes_sent:
                num(upstream_head_sent_ + st.client_to_upstream);
                return;
            case conf::BuiltinVar::upstream_bytes_received:
                num(upstream_head_received_ + st.from_upstream);
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

    HttpWorker& worker_;
    int64_t start_ms_;
    uint64_t request_head_;
    uint64_t response_head_;
    uint64_t upstream_head_sent_;
    uint64_t upstream_head_received_;
    std::vector<Line> lines_;
};

}  // namespace

void UpstreamSession::start_upgrade() {
    Request& r = c_->request();
    r.status = 101;
    record_upstream(101);
    if (group_ >= 0) w_.upstreams().succeeded(*rt_, group_, choice_);
    const UpstreamHead& up_head = codec_->head();

    // The 101 for the client: upstream headers minus hop-by-hop ones, then the Upgrade
    // the upstream chose and Connection: upgrade.
    std::string head = "HTTP/1.1 101 Switching Protocols\r\nServer: ";
    head += server_header();
    head += "\r\nDate: ";
    head += w_.times().http_date();
    head += "\r\n";
    std::string_view upgrade;
    for (const HeaderField& h : up_head.headers) {
        const HeaderInfo* info = lookup_header(h.name);
        if (info && info->id == KnownHeader::upgrade) {
            upgrade = h.value;
            continue;
        }
        if (info && (info->has(hf_hop_by_hop) || info->has(hf_framing) ||
                     info->has(hf_hidden_from_client))) {
            continue;
        }
        head.append(h.name).append(": ").append(h.value).append("\r\n");
    }
    if (!upgrade.empty()) head.append("Upgrade: ").append(upgrade).append("\r\n");
    head += "Connection: upgrade\r\n\r\n";
    uint64_t response_head = head.size();
    c_->record_sent_head(head);
    // What the upstream sent after its 101 (left in in_) goes to the client right after
    // our head. $upstream_bytes_received counts it: the tunnel never reads those bytes.
    uint64_t upstream_received = r.upstream_bytes_received;
    head.append(in_.view());

    // Prepare the log lines now, while the request's variables still exist.
    std::vector<TunnelLog::Line> lines;
    const auto& logs = rt_->access_logs(*loc_);
    if (!logs.empty()) {
        RequestVars vars(*c_);
        for (const AccessLogRt& target : logs) {
            TunnelLog::Line line;
            line.fd = target.fd;
            if (target.conf->condition) {
                std::string cond;
                target.conf->condition->evaluate(vars, cond);
                if (cond.empty() || cond == "0") continue;
            }
            format_log_line(rt_->config().http->log_formats[target.conf->format], vars, line.text,
                            &line.holes);
            lines.push_back(std::move(line));
        }
    }
    // Without access logs an idle tunnel carries no log state at all.
    std::unique_ptr<TunnelLog> log;
    if (!lines.empty()) {
        log =
            std::make_unique<TunnelLog>(w_, r.start_ms, r.request_length, response_head,
                                        r.upstream_bytes_sent, upstream_received, std::move(lines));
    }
    r.logged = true;  // the tunnel writes the line

    tunnel::TunnelOptions opts;
    opts.read_timeout_ms = conf_->read_timeout;
    opts.upstream_send_timeout_ms = conf_->send_timeout;
    opts.client_send_timeout_ms = loc_->send_timeout;

    w_.loop().timers().cancel(read_timer_);
    w_.loop().timers().cancel(write_timer_);
    w_.loop().remove(up_->stream->fd());
    // The tunnel takes both connections and their worker_connections places.
    tunnel::TunnelSide upstream{std::move(up_->stream), std::move(up_->slot)};
    retire(w_.loop(), std::move(up_));
    in_.release();
    x_.stage = Stage::done;

    std::string pipelined;
    tunnel::TunnelSide client = c_->take_for_tunnel(pipelined);
    if (log) log->add_client_leftover(pipelined.size());
    w_.tunnels().start(std::move(client), std::move(upstream), std::move(head),
                       std::move(pipelined), opts, std::move(log));
    c_->tunnel_started();  // frees the client connection; this session follows
}

}  // namespace ferry::http
