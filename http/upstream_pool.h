// Per-worker upstream state: peer choice by nginx's smooth weighted round robin with
// passive health (max_fails within fail_timeout, backups when every primary is down),
// and the keep-alive cache of idle upstream connections (`keepalive N` per group).
// Worker thread only. Reset when the configuration changes.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "core/stream.h"
#include "core/timers.h"
#include "core/tls.h"
#include "core/worker.h"
#include "http/runtime.h"

namespace ferry::http {

class UpstreamPools;

// An open connection to an upstream peer. It holds one of its worker's
// worker_connections slots until destroyed (or until a tunnel takes the slot over).
// Its descriptor stays registered with the loop for its whole life, with the
// connection itself as handler passing events to whoever uses it now (a proxy
// session, or the idle pool): reusing a kept-alive connection costs no epoll_ctl and
// no allocation.
struct UpstreamConn final : core::Deferred, core::IoHandler {
    UpstreamConn() = default;
    void on_io(uint32_t events) override;
    void on_idle_timeout();

    core::IoHandler* handler = nullptr;  // the session using it; null while idle
    std::unique_ptr<core::Stream> stream;
    const Runtime* runtime = nullptr;  // the configuration `peer` belongs to
    int group = -1;
    const Peer* peer = nullptr;
    uint32_t requests = 0;
    int64_t created_ms = 0;
    core::ConnectionSlot slot;  // its worker_connections place (a tunnel may take it)

    // While idle in the pool (owned by it): the group's list and keepalive_timeout.
    UpstreamPools* pool = nullptr;
    UpstreamConn* idle_prev = nullptr;
    UpstreamConn* idle_next = nullptr;
    core::Timer idle_timer;
};

// Closes `conn`: unregisters it and frees it after this loop iteration, since an event
// for it may already be queued. Always end an UpstreamConn's life this way.
void retire(core::EventLoop& loop, std::unique_ptr<UpstreamConn> conn);

// Which peers a request already tried (nginx's "tried" bitmap).
struct PeerChoice {
    const Peer* peer = nullptr;
    bool backup = false;
    int index = -1;
};

class UpstreamPools {
  public:
    explicit UpstreamPools(core::EventLoop& loop);
    ~UpstreamPools();
    UpstreamPools(const UpstreamPools&) = delete;
    UpstreamPools& operator=(const UpstreamPools&) = delete;

    // Starts over for a new configuration: forgets health and closes idle connections.
    void reset(const Runtime& runtime);

    // Picks a live peer of `group` not in `tried` (bit per peer; backups after
    // primaries). Returns a choice with peer == nullptr when none is left. A request
    // still running on the configuration before a reload gets the first untried peer.
    PeerChoice pick(const Runtime& rt, int group, std::vector<bool>& tried_primary,
                    std::vector<bool>& tried_backup);
    // Passive health: a failed attempt (error or timeout) counts against the peer.
    void failed(const Runtime& rt, int group, const PeerChoice& c);
    // A successful exchange resets the peer's failure count.
    void succeeded(const Runtime& rt, int group, const PeerChoice& c);
    // True when no peer of `group` is usable now (all down or failed): nginx then
    // forgets the failures so the next request can try again.
    void forgive(const Runtime& rt, int group);

    // An idle connection to `peer`, or nullptr.
    std::unique_ptr<UpstreamConn> take_idle(int group, const Peer* peer);
    // Offers a connection whose last response ended cleanly; it is kept (up to the
    // group's `keepalive`) or closed.
    void put_idle(std::unique_ptr<UpstreamConn> conn);
    size_t idle_count() const;
    // Graceful stop: closes every idle connection and keeps no more (nginx closes
    // idle keep-alive connections when a worker quits).
    void stop_pooling();

    // proxy_ssl_session_reuse: the last TLS session with `peer`, offered to the next
    // connection (kept by the worker, so no locking). Null when none.
    SSL_SESSION* tls_session(const Peer* peer) const;
    void save_tls_session(const Peer* peer, core::SslSessionPtr session);

  private:
    struct PeerState {
        int current_weight = 0;
        int effective_weight = 1;
        int fails = 0;
        int64_t checked_ms = 0;  // when the last failure was counted
        int conns = 0;
    };
    struct GroupState {
        std::vector<PeerState> primary;
        std::vector<PeerState> backup;
        UpstreamConn* idle_head = nullptr;  // most recently used first
        UpstreamConn* idle_tail = nullptr;
        size_t idle_count = 0;
    };
    const Peer* pick_from(const std::vector<Peer>& peers, std::vector<PeerState>& states,
                          std::vector<bool>& tried, int& index);
    bool alive(const Peer& p, const PeerState& s) const;
    friend struct UpstreamConn;
    void unlink_idle(UpstreamConn* c);
    // An idle connection saw readiness (the upstream closed it) or timed out.
    void drop_idle(UpstreamConn* c);

    core::EventLoop& loop_;
    const Runtime* runtime_ = nullptr;
    std::vector<GroupState> groups_;
    bool pooling_ = true;
    std::unordered_map<const Peer*, core::SslSessionPtr> tls_sessions_;
};

}  // namespace ferry::http
