// A tunnel carries bytes both ways between a client and an upstream after a
// `101 Switching Protocols`, without looking at them. Plain sockets on both sides move
// bytes with splice(2) through pooled pipes; with TLS on a side, the same directions
// copy through a small buffer held only while bytes are in flight.
//
// Lifetime: owned by its worker's TunnelManager; ends when both directions have seen
// EOF and passed it on (half-close), on an error or reset on either side, or on a
// timeout; then the observer hears the totals and both descriptors close.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/event_loop.h"
#include "core/intrusive_list.h"
#include "core/stream.h"
#include "core/timers.h"
#include "core/worker.h"
#include "tunnel/pipe_pool.h"

namespace ferry::tunnel {

enum class TunnelEnd : uint8_t {
    closed,            // both directions finished
    client_error,      // reset or error on the client side
    upstream_error,    // reset or error on the upstream side
    upstream_timeout,  // proxy_read_timeout without upstream data (or send timeout)
    client_timeout,    // send_timeout writing to the client
    shutdown,          // worker stopped
};

struct TunnelStats {
    uint64_t client_to_upstream = 0;  // bytes written to the upstream, leftovers included
    uint64_t upstream_to_client = 0;  // bytes written to the client, leftovers included
    uint64_t from_upstream = 0;       // bytes read from the upstream
    uint64_t from_client = 0;         // bytes read from the client
    int64_t started_ms = 0;           // monotonic
    int64_t ended_ms = 0;
    TunnelEnd end = TunnelEnd::closed;
    int err = 0;           // errno of the failure, if any
    bool spliced = false;  // both sides plain: the splice path ran
};

// Hears how a tunnel ended (the HTTP layer writes its access log line here).
class TunnelObserver {
  public:
    virtual ~TunnelObserver() = default;
    virtual void on_tunnel_end(const TunnelStats& stats) = 0;
};

struct TunnelOptions {
    int64_t read_timeout_ms = 60000;           // proxy_read_timeout
    int64_t upstream_send_timeout_ms = 60000;  // proxy_send_timeout
    int64_t client_send_timeout_ms = 60000;    // send_timeout
};

// One end of a tunnel: its stream, and the worker_connections place it holds until the
// tunnel ends.
struct TunnelSide {
    std::unique_ptr<core::Stream> stream;
    core::ConnectionSlot slot;
};

class Tunnel;
// The links by which a TunnelManager lists its tunnels (a base of Tunnel, which is
// private to tunnel.cpp).
struct TunnelLinks {
    core::ListHook link;
};

// Per-worker owner of tunnels and their pipe pool. Worker thread only.
class TunnelManager {
  public:
    TunnelManager(core::Worker& worker, core::BufferPool& buffers, PipePool& pipes);
    ~TunnelManager();
    TunnelManager(const TunnelManager&) = delete;
    TunnelManager& operator=(const TunnelManager&) = delete;

    // Starts a tunnel. The two streams' descriptors must be registered with nobody
    // (the caller removed them from the loop). `to_client` and `to_upstream` are bytes
    // already in userspace that go first (the 101 head and what followed it; what the
    // client pipelined after its request). The two connections stay counted against
    // worker_connections (by their slots) until the tunnel ends.
    void start(TunnelSide client, TunnelSide upstream, std::string to_client,
               std::string to_upstream, const TunnelOptions& options,
               std::unique_ptr<TunnelObserver> observer);

    // Ends every tunnel now (worker stop).
    void close_all();
    size_t count() const { return tunnels_.size(); }
    PipePool& pipes() { return pipes_; }
    core::BufferPool& buffers() { return buffers_; }
    core::EventLoop& loop() { return worker_.loop(); }

  private:
    friend class Tunnel;
    void unlink(Tunnel* t);
    void queue(Tunnel* t);  // resume `t` next iteration
    core::Worker& worker_;
    core::BufferPool& buffers_;
    PipePool& pipes_;
    core::IntrusiveList<TunnelLinks, &TunnelLinks::link> tunnels_;
    std::vector<Tunnel*> ready_;  // yielded tunnels to resume; closed ones become nullptr
};

}  // namespace ferry::tunnel
