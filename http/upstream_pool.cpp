#include "http/upstream_pool.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

namespace ferry::http {

// An idle connection that has bytes to read, an EOF or an error is closing or broken:
// an upstream does not speak unasked. Other readiness is stale: an edge queued while
// the last response was being read, or write space freed by late ACKs. Like nginx, a
// peek tells them apart.
void UpstreamConn::on_io(uint32_t events) {
    if (handler) {
        handler->on_io(events);
        return;
    }
    if (!pool) return;
    if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
    if (!(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && stream) {
        char byte;
        ssize_t n = recv(stream->fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    }
    pool->drop_idle(this);
}

void UpstreamConn::on_idle_timeout() {
    if (pool) pool->drop_idle(this);
}

void retire(core::EventLoop& loop, std::unique_ptr<UpstreamConn> conn) {
    if (!conn) return;
    conn->handler = nullptr;
    if (conn->stream) loop.remove(conn->stream->fd());
    loop.defer_delete(std::move(conn));
}

UpstreamPools::UpstreamPools(core::EventLoop& loop) : loop_(loop) {}

UpstreamPools::~UpstreamPools() {
    for (auto& g : groups_) {
        while (g.idle_head)
            drop_idle(g.idle_head);
    }
}

void UpstreamPools::unlink_idle(UpstreamConn* c) {
    GroupState& g = groups_[c->group];
    if (c->idle_prev) c->idle_prev->idle_next = c->idle_next;
    if (c->idle_next) c->idle_next->idle_prev = c->idle_prev;
    if (g.idle_head == c) g.idle_head = c->idle_next;
    if (g.idle_tail == c) g.idle_tail = c->idle_prev;
    c->idle_prev = c->idle_next = nullptr;
    c->pool = nullptr;
    --g.idle_count;
    loop_.timers().cancel(c->idle_timer);
}

void UpstreamPools::drop_idle(UpstreamConn* c) {
    unlink_idle(c);
    retire(loop_, std::unique_ptr<UpstreamConn>(c));  // the pool owned it
}

void UpstreamPools::reset(const Runtime& runtime) {
    for (auto& g : groups_) {
        while (g.idle_head)
            drop_idle(g.idle_head);
    }
    runtime_ = &runtime;
    tls_sessions_.clear();  // peers are the configuration's: their sessions go with it
    groups_.clear();
    groups_.resize(runtime.upstream_count());
    for (size_t i = 0; i < groups_.size(); ++i) {
        const UpstreamGroup& up = runtime.upstream(static_cast<int>(i));
        groups_[i].primary.resize(up.peers.size());
        groups_[i].backup.resize(up.backups.size());
        for (size_t p = 0; p < up.peers.size(); ++p) {
            groups_[i].primary[p].effective_weight = up.peers[p].weight;
        }
        for (size_t p = 0; p < up.backups.size(); ++p) {
            groups_[i].backup[p].effective_weight = up.backups[p].weight;
        }
    }
}

bool UpstreamPools::alive(const Peer& p, const PeerState& s) const {
    if (p.down) return false;
    if (p.max_conns && s.conns >= p.max_conns) return false;
    if (p.max_fails && s.fails >= p.max_fails && loop_.now() - s.checked_ms <= p.fail_timeout) {
        return false;
    }
    return true;
}

// nginx's smooth weighted round robin: every live peer gains its weight, the richest
// is chosen and pays the total back.
const Peer* UpstreamPools::pick_from(const std::vector<Peer>& peers, std::vector<PeerState>& states,
                                     std::vector<bool>& tried, int& index) {
    if (tried.size() < peers.size()) tried.resize(peers.size(), false);
    int best = -1;
    int total = 0;
    for (size_t i = 0; i < peers.size(); ++i) {
        if (tried[i] || !alive(peers[i], states[i])) continue;
        PeerState& s = states[i];
        s.current_weight += s.effective_weight;
        total += s.effective_weight;
        if (s.effective_weight < peers[i].weight) ++s.effective_weight;
        if (best < 0 || s.current_weight > states[best].current_weight) best = static_cast<int>(i);
    }
    if (best < 0) return nullptr;
    states[best].current_weight -= total;
    // A peer whose failure window has passed gets one try: restart its window.
    if (states[best].fails >= peers[best].max_fails && peers[best].max_fails) {
        states[best].checked_ms = loop_.now();
    }
    tried[best] = true;
    index = best;
    return &peers[best];
}

PeerChoice UpstreamPools::pick(const Runtime& rt, int group, std::vector<bool>& tried_primary,
                               std::vector<bool>& tried_backup) {
    PeerChoice c;
    const UpstreamGroup& up = rt.upstream(group);
    if (&rt != runtime_) {
        if (tried_primary.size() < up.peers.size()) tried_primary.resize(up.peers.size(), false);
        for (size_t i = 0; i < up.peers.size(); ++i) {
            if (!tried_primary[i] && !up.peers[i].down) {
                tried_primary[i] = true;
                c.peer = &up.peers[i];
                c.index = static_cast<int>(i);
                return c;
            }
        }
        return c;
    }
    GroupState& g = groups_[group];
    c.peer = pick_from(up.peers, g.primary, tried_primary, c.index);
    if (!c.peer && !up.backups.empty()) {
        c.peer = pick_from(up.backups, g.backup, tried_backup, c.index);
        c.backup = c.peer != nullptr;
    }
    return c;
}

void UpstreamPools::failed(const Runtime& rt, int group, const PeerChoice& c) {
    if (!c.peer || &rt != runtime_) return;
    // As in nginx, a group of one server never marks it unavailable, and max_fails=0
    // turns the accounting off.
    const UpstreamGroup& up = rt.upstream(group);
    if (up.peers.size() + up.backups.size() == 1 || c.peer->max_fails == 0) return;
    GroupState& g = groups_[group];
    PeerState& s = c.backup ? g.backup[c.index] : g.primary[c.index];
    ++s.fails;
    s.checked_ms = loop_.now();
    // Weight recovers gradually after failures, as in nginx.
    s.effective_weight -= c.peer->weight / (c.peer->max_fails ? c.peer->max_fails : 1);
    if (s.effective_weight < 0) s.effective_weight = 0;
}

void UpstreamPools::forgive(const Runtime& rt, int group) {
    if (&rt != runtime_) return;
    GroupState& g = groups_[group];
    for (auto& s : g.primary)
        s.fails = 0;
    for (auto& s : g.backup)
        s.fails = 0;
}

void UpstreamPools::succeeded(const Runtime& rt, int group, const PeerChoice& c) {
    if (!c.peer || &rt != runtime_) return;
    GroupState& g = groups_[group];
    PeerState& s = c.backup ? g.backup[c.index] : g.primary[c.index];
    s.fails = 0;
}

std::unique_ptr<UpstreamConn> UpstreamPools::take_idle(int group, const Peer* peer) {
    if (group < 0 || static_cast<size_t>(group) >= groups_.size()) return nullptr;
    for (UpstreamConn* c = groups_[group].idle_head; c; c = c->idle_next) {
        if (c->peer != peer || c->runtime != runtime_) continue;
        unlink_idle(c);
        return std::unique_ptr<UpstreamConn>(c);
    }
    return nullptr;
}

void UpstreamPools::stop_pooling() {
    pooling_ = false;
    for (auto& g : groups_) {
        while (g.idle_head)
            drop_idle(g.idle_head);
    }
}

void UpstreamPools::put_idle(std::unique_ptr<UpstreamConn> conn) {
    if (!pooling_ || !runtime_ || conn->runtime != runtime_ || conn->group < 0 ||
        static_cast<size_t>(conn->group) >= groups_.size()) {
        retire(loop_, std::move(conn));
        return;
    }
    const conf::UpstreamConf& uc = *runtime_->upstream(conn->group).conf;
    if (uc.keepalive <= 0 || conn->requests >= static_cast<uint32_t>(uc.keepalive_requests) ||
        loop_.now() - conn->created_ms >= uc.keepalive_time) {
        retire(loop_, std::move(conn));
        return;
    }
    GroupState& g = groups_[conn->group];
    // Over the limit, the least recently used connection goes.
    if (g.idle_count >= static_cast<size_t>(uc.keepalive) && g.idle_tail) drop_idle(g.idle_tail);
    UpstreamConn* c = conn.release();  // owned by the pool while idle
    c->handler = nullptr;
    c->pool = this;
    c->idle_timer.set_callback(core::Timer::bind<UpstreamConn, &UpstreamConn::on_idle_timeout>(),
                               c);
    loop_.timers().arm(c->idle_timer, loop_.now(), uc.keepalive_timeout);
    c->idle_next = g.idle_head;
    if (g.idle_head) g.idle_head->idle_prev = c;
    g.idle_head = c;
    if (!g.idle_tail) g.idle_tail = c;
    ++g.idle_count;
}

size_t UpstreamPools::idle_count() const {
    size_t n = 0;
    for (const auto& g : groups_)
        n += g.idle_count;
    return n;
}

SSL_SESSION* UpstreamPools::tls_session(const Peer* peer) const {
    auto it = tls_sessions_.find(peer);
    return it == tls_sessions_.end() ? nullptr : it->second.get();
}

void UpstreamPools::save_tls_session(const Peer* peer, core::SslSessionPtr session) {
    tls_sessions_[peer] = std::move(session);
}

}  // namespace ferry::http
