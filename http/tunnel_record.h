// What the HTTP layer keeps of an upgraded request while its tunnel runs: the access
// log lines, formatted at the upgrade with holes for the totals only the tunnel's end
// knows, and (when info lines are logged at all) the error-log context to say why the
// tunnel ended, as nginx's "... while proxying upgraded connection" lines. Nothing of
// it exists for a tunnel that needs neither, so an idle tunnel stays small.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/log.h"
#include "http/access_log.h"
#include "tunnel/tunnel.h"

namespace ferry::http {

class ClientConnection;
class HttpWorker;

class TunnelRecord final : public tunnel::TunnelObserver {
  public:
    struct Line {
        int fd;
        std::string text;
        std::vector<LogHole> holes;
    };
    // Byte counts of the HTTP exchange before the tunnel.
    struct Heads {
        int64_t request_start_ms = 0;
        uint64_t request = 0;            // request head (and pipelined bytes)
        uint64_t response = 0;           // the 101 head sent to the client
        uint64_t upstream_sent = 0;      // request head sent upstream
        uint64_t upstream_received = 0;  // 101 head (and what followed) from upstream
    };

    // The record for `c`'s upgraded request, or null when nothing is to be logged.
    // `upstream` names the peer for error lines ("http://127.0.0.1:8080/ws").
    static std::unique_ptr<TunnelRecord> make(ClientConnection& c, const Heads& heads,
                                              std::string_view upstream);

    void add_client_leftover(uint64_t n) { heads_.request += n; }
    void on_tunnel_end(const tunnel::TunnelStats& st) override;

  private:
    struct ErrorContext {
        uint64_t conn = 0;
        std::string context;
        std::vector<core::ErrorLog::Target> targets;  // empty: the main error log
    };

    TunnelRecord(HttpWorker& worker, const Heads& heads) : worker_(worker), heads_(heads) {}
    void fill(conf::BuiltinVar v, const tunnel::TunnelStats& st, std::string& out);
    void log_end(const tunnel::TunnelStats& st);

    HttpWorker& worker_;
    Heads heads_;
    std::vector<Line> lines_;
    std::unique_ptr<ErrorContext> error_;
};

}  // namespace ferry::http
