#include "tunnel/tunnel.h"

#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "tunnel/direction.h"

namespace ferry::tunnel {

namespace {
// Bytes one direction may move per wake-up before letting other connections run.
constexpr size_t kBudget = 4 * 1024 * 1024;
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
}  // namespace

class Tunnel final : public core::Deferred {
public:
    Tunnel(TunnelManager& mgr, std::unique_ptr<core::Stream> client,
           std::unique_ptr<core::Stream> upstream, const TunnelOptions& options,
           std::unique_ptr<TunnelObserver> observer)
        : mgr_(mgr),
          client_stream_(std::move(client)),
          upstream_stream_(std::move(upstream)),
          options_(options),
          observer_(std::move(observer)),
          client_handler_(*this, true),
          upstream_handler_(*this, false) {
        client_.stream = client_stream_.get();
        upstream_.stream = upstream_stream_.get();
        use_splice_ = client_.stream->can_splice() && upstream_.stream->can_splice();
        idle_timer_.set_callback(Timer::bind<Tunnel, &Tunnel::on_idle_timeout>(), this);
        client_send_timer_.set_callback(Timer::bind<Tunnel, &Tunnel::on_client_send_timeout>(),
                                        this);
        upstream_send_timer_.set_callback(
            Timer::bind<Tunnel, &Tunnel::on_upstream_send_timeout>(), this);
    }

    void start(std::string to_client, std::string to_upstream) {
        stats_.started_ms = loop().now();
        stats_.spliced = use_splice_;
        up_.set_leftover(std::move(to_upstream));
        down_.set_leftover(std::move(to_client));
        loop().add(client_.stream->fd(), kEvents, &client_handler_);
        loop().add(upstream_.stream->fd(), kEvents, &upstream_handler_);
        loop().timers().arm(idle_timer_, loop().now(), options_.read_timeout_ms);
        run();
    }

    // Runs both directions once more (queued by TunnelManager after a yield).
    void resume() {
        queued_ = false;
        if (!closed_) run();
    }
    void close(TunnelEnd end, int err);
    bool queued_ = false;
    Tunnel* prev_ = nullptr;
    Tunnel* next_ = nullptr;

private:
    using Timer = core::Timer;

    struct Handler final : core::IoHandler {
        Handler(Tunnel& t, bool client) : tunnel(t), is_client(client) {}
        void on_io(uint32_t events) override { tunnel.on_event(is_client, events); }
        Tunnel& tunnel;
        bool is_client;
    };

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
    bool handle(Pump p, Direction& d, bool toward_client);
    void on_idle_timeout() { close(TunnelEnd::upstream_timeout, ETIMEDOUT); }
    void on_client_send_timeout() { close(TunnelEnd::client_timeout, ETIMEDOUT); }
    void on_upstream_send_timeout() { close(TunnelEnd::upstream_timeout, ETIMEDOUT); }

    TunnelManager& mgr_;
    std::unique_ptr<core::Stream> client_stream_;
    std::unique_ptr<core::Stream> upstream_stream_;
    Side client_;
    Side upstream_;
    Direction up_{client_, upstream_};    // client -> upstream
    Direction down_{upstream_, client_};  // upstream -> client
    TunnelOptions options_;
    std::unique_ptr<TunnelObserver> observer_;
    Handler client_handler_;
    Handler upstream_handler_;
    Timer idle_timer_;
    Timer client_send_timer_;
    Timer upstream_send_timer_;
    TunnelStats stats_;
    bool use_splice_ = true;
    bool closed_ = false;
};

// Returns false when the tunnel was closed.
bool Tunnel::handle(Pump p, Direction& d, bool toward_client) {
    Timer& send_timer = toward_client ? client_send_timer_ : upstream_send_timer_;
    int64_t send_timeout =
        toward_client ? options_.client_send_timeout_ms : options_.upstream_send_timeout_ms;
    switch (p) {
        case Pump::blocked:
            if (!send_timer.armed()) loop().timers().arm(send_timer, loop().now(), send_timeout);
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
            loop().timers().cancel(send_timer);
            return true;
    }
    return true;
}

void Tunnel::run() {
    uint64_t before = up_.bytes_read() + down_.bytes_read();
    Pump to_upstream = up_.pump(mgr_.pipes(), mgr_.buffers(), use_splice_, kBudget);
    if (!handle(to_upstream, up_, false)) return;
    Pump to_client = down_.pump(mgr_.pipes(), mgr_.buffers(), use_splice_, kBudget);
    if (!handle(to_client, down_, true)) return;
    if (up_.finished() && down_.finished()) {
        close(TunnelEnd::closed, 0);
        return;
    }
    // As in nginx's upgraded mode, proxy_read_timeout is re-armed by activity in either
    // direction: the tunnel closes after that long with no bytes at all.
    if (up_.bytes_read() + down_.bytes_read() != before) {
        loop().timers().arm_lazily(idle_timer_, loop().now(), options_.read_timeout_ms);
    }
}

void Tunnel::close(TunnelEnd end, int err) {
    if (closed_) return;
    closed_ = true;
    stats_.end = end;
    stats_.err = err;
    stats_.ended_ms = loop().now();
    stats_.client_to_upstream = up_.bytes_written();
    stats_.upstream_to_client = down_.bytes_written();
    stats_.from_client = up_.bytes_read();
    stats_.from_upstream = down_.bytes_read();
    loop().timers().cancel(idle_timer_);
    loop().timers().cancel(client_send_timer_);
    loop().timers().cancel(upstream_send_timer_);
    loop().remove(client_.stream->fd());
    loop().remove(upstream_.stream->fd());
    up_.release(mgr_.pipes());
    down_.release(mgr_.pipes());
    client_stream_.reset();
    upstream_stream_.reset();
    if (observer_) observer_->on_tunnel_end(stats_);
    observer_.reset();
    mgr_.unlink(this);
}

TunnelManager::TunnelManager(core::Worker& worker, core::BufferPool& buffers, PipePool& pipes)
    : worker_(worker), buffers_(buffers), pipes_(pipes) {}

TunnelManager::~TunnelManager() { close_all(); }

void TunnelManager::start(std::unique_ptr<core::Stream> client,
                          std::unique_ptr<core::Stream> upstream, std::string to_client,
                          std::string to_upstream, const TunnelOptions& options,
                          std::unique_ptr<TunnelObserver> observer) {
    auto* t = new Tunnel(*this, std::move(client), std::move(upstream), options,
                         std::move(observer));
    t->next_ = head_;
    if (head_) head_->prev_ = t;
    head_ = t;
    ++count_;
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
    if (t->prev_) t->prev_->next_ = t->next_;
    if (t->next_) t->next_->prev_ = t->prev_;
    if (head_ == t) head_ = t->next_;
    --count_;
    worker_.release_connection();
    worker_.release_connection();
    loop().defer_delete(std::unique_ptr<core::Deferred>(t));
}

void TunnelManager::close_all() {
    while (head_) head_->close(TunnelEnd::shutdown, 0);
}

}  // namespace ferry::tunnel
