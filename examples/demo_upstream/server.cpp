#include "examples/demo_upstream/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <vector>

namespace ferry::demo {

namespace {

constexpr uint64_t listener_tag = ~0ull;
constexpr uint64_t signals_tag = ~0ull - 1;
constexpr int sweep_interval_ms = 250;

// Parses "HOST:PORT" with an IPv4 host or a bracketed IPv6 host.
bool parse_address(const std::string& text, sockaddr_storage& out, socklen_t& size) {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    std::string host = text.substr(0, colon);
    std::string port_text = text.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535)
        return false;
    std::memset(&out, 0, sizeof out);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(port));
        size = sizeof *v6;
        return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6->sin6_addr) == 1;
    }
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    size = sizeof *v4;
    return inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1;
}

bool epoll_set(int epoll, int op, int fd, uint32_t events, uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    return ::epoll_ctl(epoll, op, fd, &ev) == 0;
}

std::string system_error(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

std::optional<Server> Server::listen(const std::string& address, const Limits& limits,
                                     std::string& error) {
    sockaddr_storage addr;
    socklen_t addr_size = 0;
    if (!parse_address(address, addr, addr_size)) {
        error = "invalid address \"" + address + "\" (expected HOST:PORT, e.g. 127.0.0.1:8081)";
        return std::nullopt;
    }
    core::UniqueFd listener(
        ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int one = 1;
    if (!listener || ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        ::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), addr_size) ||
        ::listen(listener.get(), SOMAXCONN)) {
        error = system_error(("cannot listen on " + address).c_str());
        return std::nullopt;
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    core::UniqueFd signals(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
    core::UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
    if (!signals || !epoll ||
        !epoll_set(epoll.get(), EPOLL_CTL_ADD, listener.get(), EPOLLIN, listener_tag) ||
        !epoll_set(epoll.get(), EPOLL_CTL_ADD, signals.get(), EPOLLIN, signals_tag)) {
        error = system_error("cannot set up the event loop");
        return std::nullopt;
    }
    return Server(std::move(listener), std::move(epoll), std::move(signals), limits);
}

Server::Server(core::UniqueFd listener, core::UniqueFd epoll, core::UniqueFd signals,
               const Limits& limits)
    : limits_(limits),
      listener_(std::move(listener)),
      epoll_(std::move(epoll)),
      signals_(std::move(signals)) {}

int Server::run() {
    std::vector<epoll_event> events(256);
    auto next_sweep = Clock::now();
    for (;;) {
        int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                             sweep_interval_ms);
        if (n < 0 && errno != EINTR) {
            std::perror("ferry-demo-upstream: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            uint64_t tag = events[i].data.u64;
            if (tag == signals_tag) return 0;  // SIGINT or SIGTERM: stop
            if (tag == listener_tag)
                accept_all();
            else
                on_connection_ready(static_cast<int>(tag), events[i].events);
        }
        if (Clock::now() >= next_sweep) {
            close_expired();
            if (!accepting_ && Clock::now() >= accept_resume_) set_accepting(true);
            next_sweep = Clock::now() + std::chrono::milliseconds(sweep_interval_ms);
        }
    }
}

void Server::accept_all() {
    // A bounded batch, so a flood of connections cannot starve the existing ones.
    for (int i = 0; i < 64; ++i) {
        core::UniqueFd fd(
            ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Out of descriptors: stop polling the listener for a moment rather than
                // spinning on it; pending clients wait in the backlog.
                std::fprintf(stderr, "ferry-demo-upstream: accept: %s\n", std::strerror(errno));
                set_accepting(false);
                accept_resume_ = Clock::now() + std::chrono::milliseconds(500);
            }
            return;  // EAGAIN, or an aborted connection: nothing more to take now
        }
        int one = 1;
        // Echoes are small and latency-bound: no Nagle delay.
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int raw = fd.get();
        auto connection = std::make_unique<Connection>(std::move(fd), limits_);
        uint32_t wanted = connection->wanted_events();
        if (!epoll_set(epoll_.get(), EPOLL_CTL_ADD, raw, wanted, static_cast<uint64_t>(raw)))
            continue;  // the connection's destructor closes it
        connections_[raw] = Entry{std::move(connection), wanted};
    }
}

void Server::on_connection_ready(int fd, uint32_t events) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) return;
    Entry& entry = it->second;
    if (!entry.connection->on_ready(events)) {
        connections_.erase(it);  // closing the descriptor also removes it from epoll
        return;
    }
    uint32_t wanted = entry.connection->wanted_events();
    if (wanted != entry.events) {
        if (!epoll_set(epoll_.get(), EPOLL_CTL_MOD, fd, wanted, static_cast<uint64_t>(fd))) {
            connections_.erase(it);
            return;
        }
        entry.events = wanted;
    }
}

void Server::close_expired() {
    auto now = Clock::now();
    std::erase_if(connections_,
                  [now](const auto& item) { return item.second.connection->deadline() <= now; });
}

void Server::set_accepting(bool on) {
    accepting_ = on;
    epoll_set(epoll_.get(), EPOLL_CTL_MOD, listener_.get(), on ? uint32_t{EPOLLIN} : 0u,
              listener_tag);
}

}  // namespace ferry::demo
