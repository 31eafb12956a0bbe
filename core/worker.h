// A worker thread: one EventLoop, its own SO_REUSEPORT listening sockets, and the
// connections accepted on them, which never leave this thread. What a connection *is*
// belongs to the layer above (WorkerApp); core only accepts, counts and stops.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "core/event_loop.h"
#include "core/socket.h"
#include "core/timers.h"
#include "core/unique_fd.h"

namespace ferry::core {

class Worker;

// One of a worker's worker_connections places, held by whatever owns a connection (a
// client connection, an upstream connection, a tunnel). Movable, so the place travels
// with the connection; given back when destroyed or reset(). Worker thread only.
class ConnectionSlot {
  public:
    ConnectionSlot() = default;
    ConnectionSlot(ConnectionSlot&& o) noexcept : worker_(o.worker_) { o.worker_ = nullptr; }
    ConnectionSlot& operator=(ConnectionSlot&& o) noexcept {
        if (this != &o) {
            reset();
            worker_ = o.worker_;
            o.worker_ = nullptr;
        }
        return *this;
    }
    ConnectionSlot(const ConnectionSlot&) = delete;
    ConnectionSlot& operator=(const ConnectionSlot&) = delete;
    ~ConnectionSlot() { reset(); }

    explicit operator bool() const { return worker_ != nullptr; }
    void reset();

  private:
    friend class Worker;
    explicit ConnectionSlot(Worker* w) : worker_(w) {}
    Worker* worker_ = nullptr;
};

// The application running on a worker (the HTTP layer). Called on the worker thread.
class WorkerApp {
  public:
    virtual ~WorkerApp() = default;
    // A new connection on the listener tagged `tag`. `fd` is non-blocking; `slot` is
    // its worker_connections place.
    virtual void on_accept(UniqueFd fd, ConnectionSlot slot, const SockAddr& peer, int tag) = 0;
    // worker_connections are running out: close up to `n` of the connections that wait
    // idle (kept-alive clients between requests), oldest first, as nginx reuses them.
    // Returns how many were closed; their slots are free when this returns.
    virtual size_t reclaim_idle(size_t n) = 0;
    // How many connections reclaim_idle() could close now.
    virtual size_t reclaimable() const = 0;
    // Graceful stop: listeners are already closed; close idle connections and let the
    // rest finish. The worker exits when connections() reaches 0.
    virtual void on_quit() = 0;
    // Immediate stop (TERM, or worker_shutdown_timeout passed): close everything.
    virtual void on_terminate() = 0;
};

// A listening socket handed to a worker. `fd` is empty when the worker already has a
// socket for `addr` (kept across reloads).
struct ListenerSpec {
    SockAddr addr;
    int tag = 0;  // what the app uses to find the address's servers
    UniqueFd fd;
};

class Worker {
  public:
    Worker(int id, int max_connections);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Starts the thread. `make_app` runs on the new thread and builds the app.
    void start(std::function<std::unique_ptr<WorkerApp>(Worker&)> make_app,
               std::vector<ListenerSpec> listeners);
    void join();

    // Thread-safe requests from the main thread.
    void post(std::function<void()> fn) { loop_.post(std::move(fn)); }
    void request_quit(int64_t shutdown_timeout_ms);
    void request_terminate();
    // Replaces the listener set (loop thread): keeps sockets whose address is listed
    // without an fd, adopts the given fds, closes the rest.
    void set_listeners(std::vector<ListenerSpec> listeners);

    int id() const { return id_; }
    EventLoop& loop() { return loop_; }
    WorkerApp* app() { return app_.get(); }

    // worker_connections accounting: client and upstream connections both count, as in
    // nginx. An empty slot means the limit is reached. Close to the limit, idle
    // kept-alive connections are closed to make room (nginx's reusable connections).
    ConnectionSlot take_connection();
    int connections() const { return connections_; }
    void set_max_connections(int n) { max_connections_ = n; }
    bool quitting() const { return quitting_; }
    // True once the thread has left its loop (thread-safe).
    bool finished() const { return finished_.load(); }

  private:
    friend class ConnectionSlot;
    class Listener;
    void release_connection();
    void reclaim_if_short();
    void run(std::function<std::unique_ptr<WorkerApp>(Worker&)> make_app);
    void pause_accepting(int64_t ms);
    void close_listeners();
    void resume_accepting();
    void check_quit_done();
    void on_shutdown_timeout();
    void on_accept_resume();

    int id_;
    int max_connections_;
    int connections_ = 0;
    bool quitting_ = false;
    int64_t last_limit_log_ = 0;
    int64_t last_reuse_log_ = 0;
    EventLoop loop_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::unique_ptr<WorkerApp> app_;
    Timer accept_resume_timer_;
    Timer shutdown_timer_;
    Timer quit_poll_timer_;
    std::thread thread_;
    std::atomic<bool> finished_{false};
    friend class Listener;
};

}  // namespace ferry::core
