#include "core/event_loop.h"

#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace ferry::core {

namespace {
int64_t clock_ms(clockid_t id) {
    timespec ts;
    clock_gettime(id, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}
constexpr int kMaxEvents = 256;
}  // namespace

// Drains the eventfd that post() writes to.
class EventLoop::Waker final : public IoHandler {
  public:
    explicit Waker(EventLoop& loop) : loop_(loop) {}
    void on_io(uint32_t) override {
        uint64_t n;
        while (::read(loop_.wake_fd_.get(), &n, sizeof n) > 0) {
        }
        loop_.run_posted();
    }

  private:
    EventLoop& loop_;
};

EventLoop::EventLoop()
    : epoll_(epoll_create1(EPOLL_CLOEXEC)), wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (!epoll_ || !wake_fd_) {
        perror("ferry: epoll_create1/eventfd");
        std::abort();
    }
    bind_to_current_thread();
    waker_ = std::make_unique<Waker>(*this);
    add(wake_fd_.get(), EPOLLIN, waker_.get());
    update_time();
}

EventLoop::~EventLoop() {
    // A loop is destroyed once its thread is done with it (a worker's, after join), so
    // the destroying thread takes it over. Objects freed here may still defer work: do
    // it while every member is alive.
    bind_to_current_thread();
    run_deferred();
}

void EventLoop::bind_to_current_thread() {
    owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    owner_tid_.store(gettid(), std::memory_order_relaxed);
}

void EventLoop::abort_not_in_loop_thread(const char* what) const {
    std::fprintf(stderr,
                 "ferry: EventLoop::%s called on thread %d; the loop belongs to thread %d\n", what,
                 static_cast<int>(gettid()), static_cast<int>(owner_tid_.load()));
    std::abort();
}

bool EventLoop::add(int fd, uint32_t events, IoHandler* handler) {
    assert_in_loop_thread("add");
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = handler;
    return epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::modify(int fd, uint32_t events, IoHandler* handler) {
    assert_in_loop_thread("modify");
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = handler;
    return epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::remove(int fd) {
    assert_in_loop_thread("remove");
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

int64_t EventLoop::update_time() {
    now_ms_ = clock_ms(CLOCK_MONOTONIC);
    wall_ms_ = clock_ms(CLOCK_REALTIME);
    return now_ms_;
}

void EventLoop::post(std::function<void()> fn) {
    {
        std::lock_guard lock(posted_mutex_);
        posted_.push_back(std::move(fn));
    }
    if (!wake_pending_.exchange(true)) {
        uint64_t one = 1;
        ssize_t r = ::write(wake_fd_.get(), &one, sizeof one);
        (void)r;  // EAGAIN means the counter is already non-zero: the loop will wake
    }
}

void EventLoop::run_posted() {
    std::vector<std::function<void()>> batch;
    wake_pending_ = false;
    {
        std::lock_guard lock(posted_mutex_);
        batch.swap(posted_);
    }
    for (auto& fn : batch)
        fn();
}

void EventLoop::run_deferred() {
    // Swap with a kept vector rather than moving out, so neither loses its capacity:
    // deferring work allocates nothing once warm. Freeing an object may defer more.
    while (!deferred_.empty() || !graveyard_.empty()) {
        while (!deferred_.empty()) {
            deferred_running_.swap(deferred_);
            for (auto& fn : deferred_running_)
                fn();
            deferred_running_.clear();
        }
        graveyard_running_.swap(graveyard_);
        graveyard_running_.clear();
    }
}

void EventLoop::run() {
    bind_to_current_thread();
    running_ = true;
    epoll_event events[kMaxEvents];
    while (running_) {
        int timeout = soon_.empty() ? timers_.next_timeout(now_ms_) : 0;
        int n = epoll_wait(epoll_.get(), events, kMaxEvents, timeout);
        if (n < 0 && errno != EINTR) {
            perror("ferry: epoll_wait");
            std::abort();
        }
        update_time();
        for (int i = 0; i < n; ++i) {
            static_cast<IoHandler*>(events[i].data.ptr)->on_io(events[i].events);
        }
        if (!soon_.empty()) {
            soon_running_.swap(soon_);
            for (auto& fn : soon_running_)
                fn();
            soon_running_.clear();
        }
        timers_.expire(now_ms_);
        run_deferred();
        if (idle_hook_) idle_hook_();
    }
    run_deferred();
}

}  // namespace ferry::core
