// The demo upstream's single-threaded epoll loop: one listening socket, its
// connections, their deadlines, and SIGINT/SIGTERM (through a signalfd) to stop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/unique_fd.h"
#include "examples/demo_upstream/connection.h"

namespace ferry::demo {

class Server {
  public:
    // Binds and listens on `address` ("127.0.0.1:8081", "[::1]:8081"). On failure
    // returns nullopt and sets `error`.
    static std::optional<Server> listen(const std::string& address, const Limits& limits,
                                        std::string& error);

    // Serves until SIGINT or SIGTERM. Returns the process exit code.
    int run();

  private:
    Server(core::UniqueFd listener, core::UniqueFd epoll, core::UniqueFd signals,
           const Limits& limits);
    void accept_all();
    void on_connection_ready(int fd, uint32_t events);
    void close_expired();
    void set_accepting(bool on);

    Limits limits_;
    core::UniqueFd listener_;
    core::UniqueFd epoll_;
    core::UniqueFd signals_;
    struct Entry {
        std::unique_ptr<Connection> connection;
        uint32_t events = 0;  // as registered with epoll
    };
    std::unordered_map<int, Entry> connections_;
    bool accepting_ = true;
    Clock::time_point accept_resume_{};  // when out of descriptors: retry then
};

}  // namespace ferry::demo
