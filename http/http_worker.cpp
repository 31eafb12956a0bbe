#include "http/http_worker.h"

#include <atomic>

#include "http/connection.h"
#include "http/http_date.h"
#include "http/upstream_session.h"

namespace ferry::http {

namespace {
constexpr size_t kPooledSessions = 256;
}

HttpWorker::HttpWorker(core::Worker& worker, std::shared_ptr<const Runtime> runtime)
    : worker_(worker),
      runtime_(std::move(runtime)),
      tunnels_(worker, buffers_, pipes_),
      upstreams_(worker.loop()) {
    upstreams_.reset(*runtime_);
    worker_.loop().set_idle_hook([this] { access_log_.flush(); });
}

HttpWorker::~HttpWorker() {
    on_terminate();
    // Closed connections and sessions are freed after the loop iteration; free them now,
    // while the pools they return buffers to still exist.
    worker_.loop().drain();
    access_log_.flush();
    releasing_.clear();
    sessions_.clear();
}

uint64_t HttpWorker::next_connection_number() {
    static std::atomic<uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

TimeCache& HttpWorker::times() {
    TimeCache& t = thread_time_cache();
    int64_t wall = worker_.loop().wall_now();
    timespec ts;
    ts.tv_sec = wall / 1000;
    ts.tv_nsec = (wall % 1000) * 1000000;
    t.update(ts);
    return t;
}

void HttpWorker::on_accept(core::UniqueFd fd, core::ConnectionSlot slot, const core::SockAddr& peer,
                           int tag) {
    if (static_cast<size_t>(tag) >= runtime_->addresses().size()) return;
    // Responses are written whole; small ones must not wait for delayed ACKs (nginx's
    // tcp_nodelay on).
    if (peer.family() != AF_UNIX) core::set_nodelay(fd.get());
    auto stream = std::make_unique<core::PlainStream>(std::move(fd));
    auto* c = new ClientConnection(*this, std::move(stream), std::move(slot), peer, tag,
                                   next_connection_number());
    clients_.push_front(c);
    c->start();
}

void HttpWorker::remove(ClientConnection* c) {
    clients_.remove(c);
    idle_.remove(c);
    worker_.loop().defer_delete(std::unique_ptr<core::Deferred>(c));
}

// Closes the connections idle the longest; each gives its slot back as it closes.
size_t HttpWorker::reclaim_idle(size_t n) {
    size_t closed = 0;
    while (closed < n && !idle_.empty()) {
        idle_.back()->terminate();
        ++closed;
    }
    return closed;
}

void HttpWorker::on_quit() {
    quitting_ = true;
    upstreams_.stop_pooling();            // idle upstream connections would hold the exit back
    for (ClientConnection* c : clients_)  // the iterator tolerates c closing itself
        c->quit();
}

void HttpWorker::on_terminate() {
    while (!clients_.empty())
        clients_.front()->terminate();
    tunnels_.close_all();
}

UpstreamSession* HttpWorker::acquire_session() {
    if (sessions_.empty()) return new UpstreamSession(*this);
    UpstreamSession* s = sessions_.back().release();
    sessions_.pop_back();
    return s;
}

void HttpWorker::release_session(UpstreamSession* session) {
    if (releasing_.empty()) {
        worker_.loop().defer([this] {
            for (auto& s : releasing_) {
                s->reset();
                if (sessions_.size() < kPooledSessions) sessions_.push_back(std::move(s));
            }
            releasing_.clear();
        });
    }
    releasing_.emplace_back(session);
}

void HttpWorker::set_runtime(std::shared_ptr<const Runtime> runtime) {
    runtime_ = std::move(runtime);
    upstreams_.reset(*runtime_);
}

}  // namespace ferry::http
