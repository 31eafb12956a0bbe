#include "core/event_loop.h"

#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

using namespace ferry::core;

namespace {
struct Reader final : IoHandler {
    int fd;
    EventLoop* loop;
    std::string got;
    void on_io(uint32_t) override {
        char buf[64];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0)
            got.append(buf, static_cast<size_t>(n));
        if (got == "ping") loop->stop();
    }
};
}  // namespace

TEST_CASE("the loop delivers readiness to the registered handler", "[core][loop]") {
    EventLoop loop;
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    Reader r;
    r.fd = sv[0];
    r.loop = &loop;
    REQUIRE(loop.add(sv[0], EPOLLIN | EPOLLET, &r));
    REQUIRE(::write(sv[1], "ping", 4) == 4);
    loop.run();
    CHECK(r.got == "ping");
    close(sv[0]);
    close(sv[1]);
}

TEST_CASE("post() runs work on the loop thread and wakes it", "[core][loop]") {
    EventLoop loop;
    std::thread::id ran_on;
    std::thread t([&] { loop.run(); });
    std::thread::id loop_thread = t.get_id();
    // Give run() a moment to bind; post() works either way.
    loop.post([&] {
        ran_on = std::this_thread::get_id();
        loop.stop();
    });
    t.join();
    CHECK(ran_on == loop_thread);
}

TEST_CASE("timers stop a loop that has nothing else to do", "[core][loop]") {
    EventLoop loop;
    struct Stopper {
        EventLoop* loop;
        void fire() { loop->stop(); }
    } s{&loop};
    Timer t(Timer::bind<Stopper, &Stopper::fire>(), &s);
    loop.timers().arm(t, loop.now(), 20);
    int64_t start = loop.update_time();
    loop.run();
    CHECK(loop.update_time() - start >= 19);
}

TEST_CASE("call_soon work runs in the next iteration, not in a loop of its own", "[core][loop]") {
    EventLoop loop;
    int rounds = 0;
    std::function<void()> again = [&] {
        if (++rounds == 3) {
            loop.stop();
            return;
        }
        loop.call_soon(again);
    };
    loop.call_soon(again);
    loop.run();
    CHECK(rounds == 3);
}
