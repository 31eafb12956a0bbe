#include "tunnel/tunnel.h"

#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <vector>

#include "tunnel/direction.h"

namespace ferry::tunnel {

namespace {
// Bytes one direction may move per wake-up before letting other connections run.
constexpr size_t kBudget = 4 * 1024 * 1024;
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
}  // namespace

// The two ends' readiness arrives through two empty IoHandler bases, so that telling
// them apart costs a vtable pointer each rather than a handler object each.
struct ClientEnd : core::IoHandler {
    void on_io(uint32_t events) final { on_client_io(events); }
    virtual void on_client_io(uint32_t events) = 0;
};
struct UpstreamEnd : core::IoHandler {
    void on_io(uint32_t events) final { on_upstream_io(events); }
    virtual void on_upstream_io(uint32_t events) = 0;
};

class Tunnel final : public core::Deferred,
                     public ClientEnd,
                     public UpstreamEnd,
                     public TunnelLinks {
  public:
    Tunnel(TunnelManager& mgr, TunnelSide client, TunnelSide upstream, const TunnelOptions& options,
           std::unique_ptr<TunnelObserver> observer)
        : mgr_(mgr),
          client_stream_(std::move(client.stream)),
          upstream_stream_(std::move(upstream.stream)),
          client_slot_(std::move(client.slot)),
          upstream_slot_(std::move(upstream.slot)),
          options_(options),
          observer_(std::move(observer)) {
        client_.stream = client_stream_.get();
        upstream_.stream = upstream_stream_.get();
        use_splice_ = client_.stream->can_splice() && upstream_.stream->can_splice();
        timer_.set_callback(Timer::bind<Tunnel, &Tunnel::on_timer>(), this);
    }

    void start(std::string to_client, std::string to_upstream) {
        started_ms_ = loop().now();
        up_.set_leftover(std::move(to_upstream));
        down_.set_leftover(std::move(to_client));
        loop().add(client_.stream->fd(), kEvents, static_cast<ClientEnd*>(this));
        loop().add(upstream_.stream->fd(), kEvents, static_cast<UpstreamEnd*>(this));
        idle_until_ = loop().now() + options_.read_timeout_ms;
        rearm();
        run();
    }

    // Runs both directions once more (queued by TunnelManager after a yield).
    void resume() {
        queued_ = false;
        if (!closed_) run();
    }
    void close(TunnelEnd end, int err);
    bool queued_ = false;

  private:
    using Timer = core::Timer;
    static constexpr int64_t kNever = INT64_MAX;

    void on_client_io(uint32_t events) override { on_event(true, events); }
    void on_upstream_io(uint32_t events) override { on_event(false, events); }

    core::EventLoop& loop() { return mgr_.loop(); }
    void on_event(bool is_client, uint32_t events) {
        if (closed_) return;
        Side& side = is_client ? client_ : upstream_;
        // Errors and hang-ups make both calls return at once, reporting what happened.
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) side.readable = true;
        if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) side.writable = true;
        run();
    }

    void run();
    bool handle(Pump p, Direction& d, bool toward_client, bool wrote);
    void rearm();
    int64_t idle_deadline() const;
    void on_timer();

    TunnelManager& mgr_;
    std::unique_ptr<core::Stream> client_stream_;
    std::unique_ptr<core::Stream> upstream_stream_;
    // Given back when the tunnel closes its sockets.
    core::ConnectionSlot client_slot_;
    core::ConnectionSlot upstream_slot_;
    Side client_;
    Side upstream_;
    Direction up_{client_, upstream_};    // client -> upstream
    Direction down_{upstream_, client_};  // upstream -> client
    TunnelOptions options_;
    std::unique_ptr<TunnelObserver> observer_;
    // One timer for the earliest of: the idle deadline, and the send deadline of each
    // direction that waits for its destination to take bytes.
    Timer timer_;
    int64_t idle_until_ = kNever;
    int64_t client_send_until_ = kNever;
    int64_t upstream_send_until_ = kNever;
    int64_t started_ms_ = 0;
    bool use_splice_ = true;
    bool closed_ = false;
};

// Returns false when the tunnel was closed.
// `wrote`: the destination took bytes during this pump. As in nginx, the send timeout
// bounds a write that makes no progress: a slow but steady reader is never cut off.
bool Tunnel::handle(Pump p, Direction& d, bool toward_client, bool wrote) {
    int64_t& send_until = toward_client ? client_send_until_ : upstream_send_until_;
    switch (p) {
        case Pump::blocked:
            if (send_until == kNever || wrote) {
                send_until = loop().now() + (toward_client ? options_.client_send_timeout_ms
                                                           : options_.upstream_send_timeout_ms);
            }
            return true;
        case Pump::src_error:
            close(toward_client ? TunnelEnd::upstream_error : TunnelEnd::client_error, d.error());
            return false;
        case Pump::dst_error:
            close(toward_client ? TunnelEnd::client_error : TunnelEnd::upstream_error, d.error());
            return false;
        case Pump::yielded:
            mgr_.queue(this);
            [[fallthrough]];
        case Pump::idle:
        case Pump::finished:
            // The client took what it held back: proxy_read_timeout starts again, as
            // nginx re-adds its upstream read timer.
            if (toward_client && send_until != kNever) {
                idle_until_ = loop().now() + options_.read_timeout_ms;
            }
            send_until = kNever;
            return true;
    }
    return true;
}

void Tunnel::run() {
    uint64_t before = up_.bytes_read() + down_.bytes_read();
    uint64_t up_written = up_.bytes_written();
    Pump to_upstream = up_.pump(mgr_.pipes(), mgr_.buffers(), use_splice_, kBudget);
    if (!handle(to_upstream, up_, false, up_.bytes_written() != up_written)) return;
    uint64_t down_written = down_.bytes_written();
    Pump to_client = down_.pump(mgr_.pipes(), mgr_.buffers(), use_splice_, kBudget);
    if (!handle(to_client, down_, true, down_.bytes_written() != down_written)) return;
    if (up_.finished() && down_.finished()) {
        close(TunnelEnd::closed, 0);
        return;
    }
    // As in nginx's upgraded mode, proxy_read_timeout is re-armed by activity in either
    // direction: the tunnel closes after that long with no bytes at all.
    if (up_.bytes_read() + down_.bytes_read() != before) {
        idle_until_ = loop().now() + options_.read_timeout_ms;
    }
    rearm();
}

// As in nginx's upgraded mode, proxy_read_timeout runs only while ferry waits for
// upstream bytes it is ready to take: not while it holds bytes a slow client has not
// taken yet (then send_timeout bounds the client's lack of progress).
int64_t Tunnel::idle_deadline() const {
    return client_send_until_ == kNever ? idle_until_ : kNever;
}

void Tunnel::rearm() {
    int64_t at = idle_deadline();
    if (client_send_until_ < at) at = client_send_until_;
    if (upstream_send_until_ < at) at = upstream_send_until_;
    int64_t now = loop().now();
    // Pushed back on every burst of traffic: only move the timer when it matters.
    loop().timers().arm_lazily(timer_, now, at > now ? at - now : 0);
}

void Tunnel::on_timer() {
    int64_t now = loop().now();
    if (client_send_until_ <= now) {
        close(TunnelEnd::client_timeout, ETIMEDOUT);
    } else if (upstream_send_until_ <= now || idle_deadline() <= now) {
        close(TunnelEnd::upstream_timeout, ETIMEDOUT);
    } else {
        rearm();  // a lazily kept deadline came early
    }
}

void Tunnel::close(TunnelEnd end, int err) {
    if (closed_) return;
    closed_ = true;
    TunnelStats stats;
    stats.end = end;
    stats.err = err;
    stats.started_ms = started_ms_;
    stats.ended_ms = loop().now();
    stats.spliced = use_splice_;
    stats.client_to_upstream = up_.bytes_written();
    stats.upstream_to_client = down_.bytes_written();
    stats.from_client = up_.bytes_read();
    stats.from_upstream = down_.bytes_read();
    loop().timers().cancel(timer_);
    loop().remove(client_.stream->fd());
    loop().remove(upstream_.stream->fd());
    up_.release(mgr_.pipes());
    down_.release(mgr_.pipes());
    client_stream_.reset();
    upstream_stream_.reset();
    client_slot_.reset();
    upstream_slot_.reset();
    if (observer_) observer_->on_tunnel_end(stats);
    observer_.reset();
    mgr_.unlink(this);
}

TunnelManager::TunnelManager(core::Worker& worker, core::BufferPool& buffers, PipePool& pipes)
    : worker_(worker), buffers_(buffers), pipes_(pipes) {}

TunnelManager::~TunnelManager() {
    close_all();
}

void TunnelManager::start(TunnelSide client, TunnelSide upstream, std::string to_client,
                          std::string to_upstream, const TunnelOptions& options,
                          std::unique_ptr<TunnelObserver> observer) {
    auto* t =
        new Tunnel(*this, std::move(client), std::move(upstream), options, std::move(observer));
    tunnels_.push_front(t);
    t->start(std::move(to_client), std::move(to_upstream));
}

void TunnelManager::queue(Tunnel* t) {
    if (t->queued_) return;
    t->queued_ = true;
    ready_.push_back(t);
    if (ready_.size() == 1) {
        loop().call_soon([this] {
            auto batch = std::move(ready_);
            ready_.clear();
            for (Tunnel* tunnel : batch) {
                if (tunnel) tunnel->resume();
            }
        });
    }
}

void TunnelManager::unlink(Tunnel* t) {
    if (t->queued_) std::replace(ready_.begin(), ready_.end(), t, static_cast<Tunnel*>(nullptr));
    tunnels_.remove(t);
    loop().defer_delete(std::unique_ptr<core::Deferred>(t));
}

void TunnelManager::close_all() {
    while (!tunnels_.empty())
        static_cast<Tunnel*>(tunnels_.front())->close(TunnelEnd::shutdown, 0);
}

}  // namespace ferry::tunnel
