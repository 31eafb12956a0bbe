// UpstreamSession: `101 Switching Protocols`. Both sockets and the bytes already read on
// each side go to a tunnel; the HTTP objects are freed, and the access log line, mostly
// formatted now, is finished when the tunnel ends.
#include <cerrno>

#include "http/connection.h"
#include "http/header_rules.h"
#include "http/http_date.h"
#include "http/http_worker.h"
#include "http/response.h"
#include "http/tunnel_record.h"
#include "http/upstream_session.h"
#include "http/variables.h"
#include "tunnel/tunnel.h"

namespace ferry::http {

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

    TunnelRecord::Heads heads;
    heads.request_start_ms = r.start_ms;
    heads.request = r.request_length;
    heads.response = response_head;
    heads.upstream_sent = r.upstream_bytes_sent;
    heads.upstream_received = upstream_received;
    std::unique_ptr<TunnelRecord> log = TunnelRecord::make(*c_, heads, upstream_url());
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
