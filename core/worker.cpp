#include "core/worker.h"

#include <sys/socket.h>

#include <cerrno>

#include "core/log.h"

namespace ferry::core {

// One listening socket registered in the worker's loop.
class Worker::Listener final : public Deferred, public IoHandler {
  public:
    Listener(Worker& w, SockAddr addr, int tag, UniqueFd fd)
        : worker_(w), addr_(addr), tag_(tag), fd_(std::move(fd)) {
        worker_.loop_.add(fd_.get(), EPOLLIN, this);
    }
    ~Listener() override { close(); }

    // Stops listening now; the object itself may still be the target of an event in
    // this loop iteration, so it is freed later (see Worker::close_listeners()).
    void close() {
        if (!fd_) return;
        worker_.loop_.remove(fd_.get());
        fd_.reset();
    }
    void on_io(uint32_t) override {
        if (fd_) accept_some();
    }
    void pause() {
        if (!paused_) worker_.loop_.modify(fd_.get(), 0, this);
        paused_ = true;
    }
    void resume() {
        if (paused_) worker_.loop_.modify(fd_.get(), EPOLLIN, this);
        paused_ = false;
    }
    const SockAddr& addr() const { return addr_; }
    void set_tag(int tag) { tag_ = tag; }

  private:
    // Accepts up to a batch of connections: enough to drain bursts, few enough that
    // one busy port does not starve the loop's other work.
    void accept_some() {
        for (int i = 0; i < 64; ++i) {
            SockAddr peer;
            peer.len = sizeof peer.storage;
            int fd = accept4(fd_.get(), peer.get(), &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                on_accept_error(errno);
                return;
            }
            UniqueFd conn(fd);
            ConnectionSlot slot = worker_.take_connection();
            if (!slot) continue;  // refused: closed by ~UniqueFd
            worker_.app_->on_accept(std::move(conn), std::move(slot), peer, tag_);
        }
    }

    void on_accept_error(int err) {
        switch (err) {
            case EAGAIN:
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
                return;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                // Out of descriptors or memory: stop accepting for a while rather than
                // spin on a socket that stays readable; existing connections go on.
                log_error(LogLevel::crit, 0, "accept4() failed {}", errno_text(err));
                worker_.pause_accepting(500);
                return;
            default:
                log_error(LogLevel::alert, 0, "accept4() failed {}", errno_text(err));
                return;
        }
    }

    Worker& worker_;
    SockAddr addr_;
    int tag_;
    UniqueFd fd_;
    bool paused_ = false;
};

Worker::Worker(int id, int max_connections) : id_(id), max_connections_(max_connections) {
    accept_resume_timer_.set_callback(Timer::bind<Worker, &Worker::on_accept_resume>(), this);
    shutdown_timer_.set_callback(Timer::bind<Worker, &Worker::on_shutdown_timeout>(), this);
    quit_poll_timer_.set_callback(Timer::bind<Worker, &Worker::check_quit_done>(), this);
}

Worker::~Worker() {
    join();
}

void Worker::start(std::function<std::unique_ptr<WorkerApp>(Worker&)> make_app,
                   std::vector<ListenerSpec> listeners) {
    auto specs = std::make_shared<std::vector<ListenerSpec>>(std::move(listeners));
    thread_ = std::thread([this, make_app = std::move(make_app), specs]() mutable {
        loop_.bind_to_current_thread();
        set_listeners(std::move(*specs));
        run(std::move(make_app));
    });
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::run(std::function<std::unique_ptr<WorkerApp>(Worker&)> make_app) {
    app_ = make_app(*this);
    loop_.run();
    close_listeners();
    loop_.drain();  // connections closed on the way out still use the app's pools
    app_.reset();
    loop_.drain();  // what the app freed in its destructor
    finished_ = true;
}

void Worker::set_listeners(std::vector<ListenerSpec> specs) {
    std::vector<std::unique_ptr<Listener>> next;
    for (auto& spec : specs) {
        if (spec.fd) {
            next.push_back(
                std::make_unique<Listener>(*this, spec.addr, spec.tag, std::move(spec.fd)));
            continue;
        }
        for (auto& old : listeners_) {
            if (old && old->addr() == spec.addr) {
                old->set_tag(spec.tag);
                next.push_back(std::move(old));
                break;
            }
        }
    }
    close_listeners();  // those not carried over
    listeners_ = std::move(next);
}

void ConnectionSlot::reset() {
    if (!worker_) return;
    worker_->release_connection();
    worker_ = nullptr;
}

ConnectionSlot Worker::take_connection() {
    reclaim_if_short();
    if (connections_ >= max_connections_) {
        int64_t now = loop_.now();
        if (now - last_limit_log_ >= 1000) {
            last_limit_log_ = now;
            log_error(LogLevel::alert, 0, "{} worker_connections are not enough", max_connections_);
        }
        return ConnectionSlot();
    }
    ++connections_;
    return ConnectionSlot(this);
}

// As nginx's ngx_drain_connections(): once no more than a sixteenth of the places are
// free, close some of the oldest idle connections (an eighth of them, between 1 and 32)
// so that a newcomer is served rather than refused.
void Worker::reclaim_if_short() {
    int free_places = max_connections_ - connections_;
    if (free_places > max_connections_ / 16 || !app_) return;
    size_t idle = app_->reclaimable();
    if (idle == 0) return;
    int64_t now = loop_.now();
    if (now - last_reuse_log_ >= 1000) {
        last_reuse_log_ = now;
        log_error(LogLevel::warn, 0, "{} worker_connections are not enough, reusing connections",
                  max_connections_);
    }
    size_t n = idle / 8;
    if (n > 32) n = 32;
    if (n < 1) n = 1;
    app_->reclaim_idle(n);
}

void Worker::release_connection() {
    --connections_;
    if (quitting_ && connections_ == 0) loop_.defer([this] { check_quit_done(); });
}

void Worker::close_listeners() {
    for (auto& l : listeners_) {
        if (!l) continue;
        l->close();
        loop_.defer_delete(std::move(l));
    }
    listeners_.clear();
}

void Worker::pause_accepting(int64_t ms) {
    for (auto& l : listeners_)
        l->pause();
    loop_.timers().arm(accept_resume_timer_, loop_.now(), ms);
}

void Worker::on_accept_resume() {
    resume_accepting();
}

void Worker::resume_accepting() {
    if (quitting_) return;
    for (auto& l : listeners_)
        l->resume();
}

void Worker::request_quit(int64_t shutdown_timeout_ms) {
    post([this, shutdown_timeout_ms] {
        if (quitting_) return;
        quitting_ = true;
        close_listeners();
        if (shutdown_timeout_ms > 0) {
            loop_.timers().arm(shutdown_timer_, loop_.now(), shutdown_timeout_ms);
        }
        if (app_) app_->on_quit();
        check_quit_done();
    });
}

void Worker::request_terminate() {
    post([this] {
        quitting_ = true;
        close_listeners();
        if (app_) app_->on_terminate();
        loop_.stop();
    });
}

void Worker::on_shutdown_timeout() {
    log_error(LogLevel::notice, 0, "worker_shutdown_timeout passed, closing {} connections",
              connections_);
    if (app_) app_->on_terminate();
    loop_.stop();
}

void Worker::check_quit_done() {
    if (!quitting_) return;
    if (connections_ <= 0) {
        loop_.stop();
        return;
    }
    // Connections finish on their own; look again shortly in case the app closed
    // them without going through release_connection() ordering we can see.
    loop_.timers().arm(quit_poll_timer_, loop_.now(), 1000);
}

}  // namespace ferry::core
