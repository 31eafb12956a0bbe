// One epoll loop, owned by one thread. Everything registered with a loop (descriptors,
// timers, deferred work) is touched only by that thread; post() is the single door for
// other threads.
//
// The mutating calls check it (muduo's assertInLoopThread): called from another thread,
// they abort with a message naming both threads. The check stays in release builds: it
// is one compare of pthread_self() with the owner, next to an epoll_ctl or a vector
// push, and the bug it catches (the main thread touching a worker's loop) corrupts
// memory silently and only under load, in production rather than in a debug build.
#pragma once

#include <sys/epoll.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/timers.h"
#include "core/unique_fd.h"

namespace ferry::core {

// Receives readiness events for one descriptor. The loop does not own the handler or
// the descriptor.
class IoHandler {
  public:
    virtual void on_io(uint32_t events) = 0;

  protected:
    ~IoHandler() = default;
};

// Something whose destruction must wait until the current loop iteration is over
// (a connection closed from inside one of its own callbacks).
class Deferred {
  public:
    virtual ~Deferred() = default;
};

class EventLoop {
  public:
    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Registers `fd` for `events` (EPOLLIN/EPOLLOUT/EPOLLET/...). Returns false with errno.
    // add, modify, remove, defer, defer_delete, call_soon and timers(): loop thread only.
    bool add(int fd, uint32_t events, IoHandler* handler);
    bool modify(int fd, uint32_t events, IoHandler* handler);
    void remove(int fd);

    // Runs until stop(). Must be called from the thread that owns the loop.
    void run();
    // Asks run() to return after the current iteration. Loop thread only.
    void stop() {
        assert_in_loop_thread("stop");
        running_ = false;
    }

    // The only call that is safe from any thread: queues `fn` to run on the loop thread
    // and wakes the loop.
    void post(std::function<void()> fn);

    // Destroys `obj` after the current iteration's callbacks have run.
    void defer_delete(std::unique_ptr<Deferred> obj) {
        assert_in_loop_thread("defer_delete");
        graveyard_.push_back(std::move(obj));
    }
    // Runs `fn` after the current iteration's I/O callbacks (once).
    void defer(std::function<void()> fn) {
        assert_in_loop_thread("defer");
        deferred_.push_back(std::move(fn));
    }
    // Runs deferred work and frees deferred objects until none is left (after run()
    // returned, before the owners of the loop's objects go away).
    void drain() { run_deferred(); }

    // Runs `fn` in the next iteration, after polling for I/O without waiting: for work
    // that yields to other connections and must come back (edge-triggered readiness
    // will not announce it again).
    void call_soon(std::function<void()> fn) {
        assert_in_loop_thread("call_soon");
        soon_.push_back(std::move(fn));
    }

    // Arming and cancelling go through here (a Timer's destructor cancels on its own).
    Timers& timers() {
        assert_in_loop_thread("timers");
        return timers_;
    }
    // Milliseconds on the monotonic clock, refreshed once per iteration.
    int64_t now() const { return now_ms_; }
    // Refreshes and returns now().
    int64_t update_time();
    // Wall-clock milliseconds since the epoch, refreshed once per iteration.
    int64_t wall_now() const { return wall_ms_; }

    // Pins the loop to the calling thread: the constructing thread at first, then the
    // thread that calls run() (or this, before it hands the loop anything).
    void bind_to_current_thread();
    bool in_loop_thread() const {
        return owner_.load(std::memory_order_relaxed) == std::this_thread::get_id();
    }
    // Aborts with "EventLoop::WHAT called on thread N; the loop belongs to thread M"
    // unless called on the loop's thread.
    void assert_in_loop_thread(const char* what) const {
        if (!in_loop_thread()) abort_not_in_loop_thread(what);
    }

    // Called at the end of each iteration, after deferred work (e.g. log flushing).
    void set_idle_hook(std::function<void()> fn) { idle_hook_ = std::move(fn); }

  private:
    class Waker;
    void run_posted();
    void run_deferred();
    [[noreturn]] void abort_not_in_loop_thread(const char* what) const;

    UniqueFd epoll_;
    UniqueFd wake_fd_;
    std::unique_ptr<Waker> waker_;
    Timers timers_;
    int64_t now_ms_ = 0;
    int64_t wall_ms_ = 0;
    bool running_ = false;
    // Atomic only so that a wrong-thread check reads it without a data race.
    std::atomic<std::thread::id> owner_;
    std::atomic<pid_t> owner_tid_{0};  // the kernel's id, as the error log prints it
    std::vector<std::unique_ptr<Deferred>> graveyard_;
    std::vector<std::unique_ptr<Deferred>> graveyard_running_;
    std::vector<std::function<void()>> deferred_;
    std::vector<std::function<void()>> deferred_running_;
    std::vector<std::function<void()>> soon_;
    std::vector<std::function<void()>> soon_running_;
    std::function<void()> idle_hook_;

    std::mutex posted_mutex_;  // guards posted_; taken only by post() and run_posted()
    std::vector<std::function<void()>> posted_;
    std::atomic<bool> wake_pending_{false};
};

}  // namespace ferry::core
