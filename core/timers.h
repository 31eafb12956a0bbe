// Per-loop timers: an intrusive 4-ary min-heap of deadlines. A Timer is embedded in its
// owner (no allocation per timer); arming, re-arming and cancelling are O(log n).
// Only the owning loop's thread touches a Timers instance or its timers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ferry::core {

class Timers;

class Timer {
  public:
    using Callback = void (*)(void* owner);

    Timer() = default;
    Timer(Callback cb, void* owner) : cb_(cb), owner_(owner) {}
    ~Timer();
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    // Binds a member function: Timer t{Timer::bind<Conn, &Conn::on_timeout>(), this}.
    template <class T, void (T::*Method)()>
    static Callback bind() {
        return [](void* p) { (static_cast<T*>(p)->*Method)(); };
    }
    void set_callback(Callback cb, void* owner) {
        cb_ = cb;
        owner_ = owner;
    }

    bool armed() const { return heap_ != nullptr; }
    int64_t deadline() const { return deadline_; }

  private:
    friend class Timers;
    Callback cb_ = nullptr;
    void* owner_ = nullptr;
    Timers* heap_ = nullptr;
    size_t index_ = 0;
    int64_t deadline_ = 0;
};

class Timers {
  public:
    Timers() = default;
    ~Timers();
    Timers(const Timers&) = delete;
    Timers& operator=(const Timers&) = delete;

    // Arms `t` to fire at now + delay_ms (re-arms if already armed).
    void arm(Timer& t, int64_t now_ms, int64_t delay_ms);
    // Like arm(), but leaves an armed timer alone when the new deadline is within
    // `slack_ms` of the current one: most timeouts are pushed back on every read, and
    // re-sorting the heap for a few milliseconds' difference is wasted work.
    void arm_lazily(Timer& t, int64_t now_ms, int64_t delay_ms, int64_t slack_ms = 100);
    void cancel(Timer& t);

    // Milliseconds until the earliest deadline (0 if overdue), or -1 when none is armed.
    int next_timeout(int64_t now_ms) const;
    // Fires every timer whose deadline is <= now_ms. Returns how many fired.
    size_t expire(int64_t now_ms);
    size_t size() const { return heap_.size(); }

  private:
    void sift_up(size_t i);
    void sift_down(size_t i);
    void place(size_t i, Timer* t);
    void remove_at(size_t i);
    std::vector<Timer*> heap_;
};

}  // namespace ferry::core
