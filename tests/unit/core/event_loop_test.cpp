#include "core/event_loop.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <memory>
#include <string>
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

namespace {
// Runs `touch` on a second thread of a forked child that owns `loop`; returns what the
// child wrote to stderr, and whether it died of SIGABRT.
std::pair<std::string, bool> touch_from_another_thread(void (*touch)(EventLoop&)) {
    int out[2];
    REQUIRE(pipe(out) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::signal(SIGABRT, SIG_DFL);  // not Catch2's handler: the parent judges
        dup2(out[1], STDERR_FILENO);
        EventLoop loop;  // owned by the child's main thread
        std::thread other([&] { touch(loop); });
        other.join();
        _exit(0);
    }
    close(out[1]);
    std::string text;
    char buf[256];
    ssize_t n;
    while ((n = ::read(out[0], buf, sizeof buf)) > 0)
        text.append(buf, static_cast<size_t>(n));
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return {text, WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT};
}
}  // namespace

TEST_CASE("a loop's mutating calls abort on another thread, naming both", "[core][loop]") {
    using Touch = void (*)(EventLoop&);
    const std::pair<const char*, Touch> calls[] = {
        {"add", [](EventLoop& l) { l.add(0, EPOLLIN, nullptr); }},
        {"modify", [](EventLoop& l) { l.modify(0, EPOLLIN, nullptr); }},
        {"remove", [](EventLoop& l) { l.remove(0); }},
        {"defer", [](EventLoop& l) { l.defer([] {}); }},
        {"defer_delete", [](EventLoop& l) { l.defer_delete(nullptr); }},
        {"call_soon", [](EventLoop& l) { l.call_soon([] {}); }},
        {"timers", [](EventLoop& l) { l.timers(); }},
        {"stop", [](EventLoop& l) { l.stop(); }},
    };
    for (const auto& [name, touch] : calls) {
        INFO(name);
        auto [text, aborted] = touch_from_another_thread(touch);
        CHECK(aborted);
        std::string want = std::string("ferry: EventLoop::") + name + " called on thread ";
        CHECK(text.rfind(want, 0) == 0);
        CHECK(text.find("; the loop belongs to thread ") != std::string::npos);
    }
}

TEST_CASE("post() is the door from other threads; a destroyed loop's thread takes it over",
          "[core][loop]") {
    auto [text, aborted] = touch_from_another_thread([](EventLoop& l) { l.post([] {}); });
    CHECK_FALSE(aborted);
    CHECK(text.empty());
    // Built on one thread, bound, run and joined on another, destroyed back on the first
    // (a worker's loop): the destructor's deferred work runs without aborting.
    auto loop = std::make_unique<EventLoop>();
    std::thread t([&] {
        loop->bind_to_current_thread();
        loop->defer([] {});
        loop->call_soon([&] { loop->stop(); });
        loop->run();
        loop->defer([] {});  // left for the destructor
    });
    t.join();
    loop.reset();
}
