#include "core/timers.h"

#include <cassert>

namespace ferry::core {

namespace {
constexpr size_t kArity = 4;
}

Timer::~Timer() {
    if (heap_) heap_->cancel(*this);
}

Timers::~Timers() {
    for (Timer* t : heap_)
        t->heap_ = nullptr;
}

void Timers::place(size_t i, Timer* t) {
    heap_[i] = t;
    t->index_ = i;
}

void Timers::sift_up(size_t i) {
    Timer* t = heap_[i];
    while (i > 0) {
        size_t parent = (i - 1) / kArity;
        if (heap_[parent]->deadline_ <= t->deadline_) break;
        place(i, heap_[parent]);
        i = parent;
    }
    place(i, t);
}

void Timers::sift_down(size_t i) {
    Timer* t = heap_[i];
    const size_t n = heap_.size();
    for (;;) {
        size_t first = i * kArity + 1;
        if (first >= n) break;
        size_t best = first;
        size_t last = first + kArity < n ? first + kArity : n;
        for (size_t c = first + 1; c < last; ++c) {
            if (heap_[c]->deadline_ < heap_[best]->deadline_) best = c;
        }
        if (heap_[best]->deadline_ >= t->deadline_) break;
        place(i, heap_[best]);
        i = best;
    }
    place(i, t);
}

void Timers::arm(Timer& t, int64_t now_ms, int64_t delay_ms) {
    int64_t deadline = now_ms + (delay_ms > 0 ? delay_ms : 0);
    if (t.heap_ == this) {
        int64_t old = t.deadline_;
        t.deadline_ = deadline;
        if (deadline < old) {
            sift_up(t.index_);
        } else {
            sift_down(t.index_);
        }
        return;
    }
    assert(t.heap_ == nullptr);
    t.heap_ = this;
    t.deadline_ = deadline;
    heap_.push_back(&t);
    t.index_ = heap_.size() - 1;
    sift_up(t.index_);
}

void Timers::arm_lazily(Timer& t, int64_t now_ms, int64_t delay_ms, int64_t slack_ms) {
    if (t.heap_ == this) {
        int64_t diff = now_ms + delay_ms - t.deadline_;
        if (diff >= 0 && diff < slack_ms) return;
    }
    arm(t, now_ms, delay_ms);
}

void Timers::remove_at(size_t i) {
    Timer* t = heap_[i];
    t->heap_ = nullptr;
    Timer* last = heap_.back();
    heap_.pop_back();
    if (last == t) return;
    place(i, last);
    if (i > 0 && heap_[(i - 1) / kArity]->deadline_ > last->deadline_) {
        sift_up(i);
    } else {
        sift_down(i);
    }
}

void Timers::cancel(Timer& t) {
    if (t.heap_ != this) return;
    remove_at(t.index_);
}

int Timers::next_timeout(int64_t now_ms) const {
    if (heap_.empty()) return -1;
    int64_t d = heap_.front()->deadline_ - now_ms;
    if (d <= 0) return 0;
    return d > 0x7fffffff ? 0x7fffffff : static_cast<int>(d);
}

size_t Timers::expire(int64_t now_ms) {
    size_t fired = 0;
    while (!heap_.empty() && heap_.front()->deadline_ <= now_ms) {
        Timer* t = heap_.front();
        remove_at(0);
        ++fired;
        // The callback may re-arm this timer, arm others or destroy its owner.
        t->cb_(t->owner_);
    }
    return fired;
}

}  // namespace ferry::core
