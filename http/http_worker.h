// The HTTP layer's state on one worker thread: the configuration in force, the client
// connections, buffer and pipe pools, upstream keep-alive pools and peer health, the
// tunnels, and the buffered access log. Everything here is touched by its worker's
// thread only.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "core/buffer.h"
#include "core/worker.h"
#include "http/access_log.h"
#include "http/runtime.h"
#include "http/upstream_pool.h"
#include "tunnel/pipe_pool.h"
#include "tunnel/tunnel.h"

namespace ferry::http {

class ClientConnection;
class ProxySession;
class TimeCache;

class HttpWorker final : public core::WorkerApp {
  public:
    HttpWorker(core::Worker& worker, std::shared_ptr<const Runtime> runtime);
    ~HttpWorker() override;

    // core::WorkerApp
    void on_accept(core::UniqueFd fd, const core::SockAddr& peer, int tag) override;
    void on_quit() override;
    void on_terminate() override;

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

    // Proxy sessions come from a pool so that their buffers and strings are reused: a
    // warmed-up worker proxies without allocating. A released session may be the
    // caller, so it is reset and pooled only after this loop iteration.
    std::unique_ptr<ProxySession> acquire_session();
    void release_session(std::unique_ptr<ProxySession> session);

    // A connection closed: unlink it and free it after this iteration. Its
    // worker_connections slot is released unless a tunnel took it over.
    void remove(ClientConnection* c, bool release_slot = true);
    size_t client_count() const { return client_count_; }

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
    std::vector<std::unique_ptr<ProxySession>> sessions_;   // ready for reuse
    std::vector<std::unique_ptr<ProxySession>> releasing_;  // reset at iteration end
    ClientConnection* clients_ = nullptr;
    size_t client_count_ = 0;
    bool quitting_ = false;
};

}  // namespace ferry::http
