#include "core/timers.h"

#include <catch2/catch.hpp>
#include <vector>

using ferry::core::Timer;
using ferry::core::Timers;

namespace {
struct Recorder {
    std::vector<int>* fired;
    int id;
    void fire() { fired->push_back(id); }
};
}  // namespace

TEST_CASE("timers fire in deadline order, not arming order", "[core][timers]") {
    Timers timers;
    std::vector<int> fired;
    Recorder a{&fired, 1}, b{&fired, 2}, c{&fired, 3};
    Timer ta(Timer::bind<Recorder, &Recorder::fire>(), &a);
    Timer tb(Timer::bind<Recorder, &Recorder::fire>(), &b);
    Timer tc(Timer::bind<Recorder, &Recorder::fire>(), &c);
    timers.arm(ta, 0, 300);
    timers.arm(tb, 0, 100);
    timers.arm(tc, 0, 200);
    CHECK(timers.next_timeout(0) == 100);
    CHECK(timers.expire(150) == 1);
    CHECK(timers.expire(1000) == 2);
    CHECK(fired == std::vector<int>{2, 3, 1});
    CHECK(timers.next_timeout(1000) == -1);
}

TEST_CASE("a cancelled or destroyed timer never fires", "[core][timers]") {
    Timers timers;
    std::vector<int> fired;
    Recorder a{&fired, 1}, b{&fired, 2};
    Timer ta(Timer::bind<Recorder, &Recorder::fire>(), &a);
    timers.arm(ta, 0, 10);
    {
        Timer tb(Timer::bind<Recorder, &Recorder::fire>(), &b);
        timers.arm(tb, 0, 5);
    }  // destroyed while armed
    timers.cancel(ta);
    CHECK(timers.size() == 0);
    CHECK(timers.expire(100) == 0);
    CHECK(fired.empty());
}

TEST_CASE("re-arming moves a deadline both ways", "[core][timers]") {
    Timers timers;
    std::vector<int> fired;
    Recorder a{&fired, 1};
    Timer t(Timer::bind<Recorder, &Recorder::fire>(), &a);
    timers.arm(t, 0, 100);
    timers.arm(t, 0, 500);
    CHECK(timers.expire(200) == 0);
    timers.arm(t, 200, 10);
    CHECK(timers.expire(210) == 1);
    CHECK(timers.size() == 0);
}

TEST_CASE("arm_lazily leaves a close enough deadline alone", "[core][timers]") {
    Timers timers;
    std::vector<int> fired;
    Recorder a{&fired, 1};
    Timer t(Timer::bind<Recorder, &Recorder::fire>(), &a);
    timers.arm(t, 0, 1000);
    timers.arm_lazily(t, 50, 1000, 100);  // 1050 is within 100 ms of 1000
    CHECK(t.deadline() == 1000);
    timers.arm_lazily(t, 500, 1000, 100);
    CHECK(t.deadline() == 1500);
}

TEST_CASE("many timers keep heap order under random operations", "[core][timers]") {
    Timers timers;
    std::vector<int> fired;
    std::vector<Recorder> recs(500);
    std::vector<Timer> ts(500);
    uint32_t seed = 12345;
    auto next = [&] { return seed = seed * 1103515245 + 12345; };
    for (int i = 0; i < 500; ++i) {
        recs[i] = Recorder{&fired, i};
        ts[i].set_callback(Timer::bind<Recorder, &Recorder::fire>(), &recs[i]);
        timers.arm(ts[i], 0, next() % 10000);
    }
    for (int i = 0; i < 500; i += 3)
        timers.cancel(ts[i]);
    for (int i = 1; i < 500; i += 7)
        timers.arm(ts[i], 0, next() % 10000);
    int64_t last = -1;
    while (timers.size()) {
        int64_t when = timers.next_timeout(0);
        size_t before = fired.size();
        timers.expire(when);
        REQUIRE(fired.size() > before);
        REQUIRE(when >= last);
        last = when;
    }
    // Cancelled and never re-armed: must not have fired.
    for (int id : fired)
        CHECK((id % 3 != 0 || id % 7 == 1));
}
