// The HTTP layer's state on one worker thread: the configuration in force, the client
// connections, buffer and pipe pools, upstream keep-alive pools and peer health, the
// tunnels, and the buffered access log. Everything here is touched by its worker's
// thread only.
#pragma once

#include <memory>
#include <vector>

#include "core/buffer.h"
#include "core/intrusive_list.h"
#include "core/worker.h"
#include "http/access_log.h"
#include "http/connection.h"
#include "http/runtime.h"
#include "http/upstream_pool.h"
#include "tunnel/pipe_pool.h"
#include "tunnel/tunnel.h"

namespace ferry::http {

class UpstreamSession;
class TimeCache;

class HttpWorker final : public core::WorkerApp {
  public:
    HttpWorker(core::Worker& worker, std::shared_ptr<const Runtime> runtime);
    ~HttpWorker() override;

    // core::WorkerApp
    void on_accept(core::UniqueFd fd, core::ConnectionSlot slot, const core::SockAddr& peer,
                   int tag) override;
    void on_quit() override;
    void on_terminate() override;
    size_t reclaim_idle(size_t n) override;
    size_t reclaimable() const override { return idle_.size(); }

    // Adopts a new configuration (reload): new connections and requests use it.
    void set_runtime(std::shared_ptr<const Runtime> runtime);
    const std::shared_ptr<const Runtime>& runtime() const { return runtime_; }

    core::Worker& core() { return worker_; }
    core::EventLoop& loop() { return worker_.loop(); }
    core::BufferPool& buffers() { return buffers_; }
    tunnel::TunnelManager& tunnels() { return tunnels_; }
    tunnel::PipePool& pipes() { return pipes_; }
    UpstreamPools& upstreams() { return upstreams_; }
    AccessLogWriter& access_log() { return access_log_; }
    // This thread's formatted times, refreshed to the loop's clock.
    TimeCache& times();

    // Upstream sessions come from a pool so that their buffers and strings are reused:
    // a warmed-up worker proxies without allocating. A released session may be the
    // caller, so it is reset and pooled only after this loop iteration.
    UpstreamSession* acquire_session();
    void release_session(UpstreamSession* session);

    // A connection closed: unlink it and free it after this iteration.
    void remove(ClientConnection* c);
    size_t client_count() const { return clients_.size(); }
    // Connections waiting idle between requests, the most recent first.
    void enter_idle(ClientConnection* c) { idle_.push_front(c); }
    void leave_idle(ClientConnection* c) { idle_.remove(c); }

    // A process-wide connection number for $connection and "*N" in the error log.
    static uint64_t next_connection_number();

  private:
    core::Worker& worker_;
    std::shared_ptr<const Runtime> runtime_;
    core::BufferPool buffers_;
    tunnel::PipePool pipes_;
    tunnel::TunnelManager tunnels_;
    UpstreamPools upstreams_;
    AccessLogWriter access_log_;
    std::vector<std::unique_ptr<UpstreamSession>> sessions_;   // ready for reuse
    std::vector<std::unique_ptr<UpstreamSession>> releasing_;  // reset at iteration end
    core::IntrusiveList<ClientConnection, &ClientConnection::all_link> clients_;
    core::IntrusiveList<ClientConnection, &ClientConnection::idle_link> idle_;
    bool quitting_ = false;
};

}  // namespace ferry::http
