#include "app/server.h"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <vector>

#include "core/log.h"
#include "core/process.h"
#include "core/worker.h"
#include "http/http_worker.h"
#include "http/runtime.h"

namespace ferry::app {

namespace {

using core::LogLevel;
using http::AddressRt;
using http::HttpWorker;
using http::Runtime;

// The process's listening addresses and the workers that accept on them.
class Server {
  public:
    Server(const ConfigLoader& reload, const DiagnosticPrinter& print,
           std::string default_error_log)
        : reload_(reload), print_(print), default_error_log_(std::move(default_error_log)) {}

    int run(std::shared_ptr<const conf::Config> config);

  private:
    void report(const conf::Diagnostics& diags);
    bool apply_logs(const conf::Config& config);
    // Opens one socket per worker for each address not open yet. On failure nothing
    // changes and false is returned.
    bool open_listeners(const Runtime& rt, std::vector<std::vector<core::ListenerSpec>>& specs);
    void reload();
    void quit_all(bool graceful);
    bool all_finished() const;

    const ConfigLoader& reload_;
    const DiagnosticPrinter& print_;
    std::string default_error_log_;
    std::shared_ptr<const Runtime> runtime_;
    std::vector<core::SockAddr> open_addrs_;
    std::vector<std::unique_ptr<core::Worker>> workers_;
    int worker_count_ = 1;
    int64_t shutdown_timeout_ = 0;
};

// nginx's position suffix in its error log: " in FILE:LINE" (no column: log readers
// expect nginx's shape), " in command line" for -g.
std::string position(const conf::SourceLoc& loc) {
    if (!loc.has_position()) return {};
    if (loc.is_command_line()) return " in command line";
    return fmt::format(" in {}:{}", *loc.file, loc.line);
}

// A refused reload says why in the error log in force, as nginx's does: the process may
// have no terminal (a container, a service), so stderr alone could be nowhere. The
// stderr copy (with the offending line, caret and hint) stays for a ferry started by
// hand, unless the error log is stderr already.
void Server::report(const conf::Diagnostics& diags) {
    for (const conf::Diagnostic& d : diags)
        core::log_error(d.level, 0, "{}{}", d.message, position(d.loc));
    if (!diags.empty() && !core::ErrorLog::instance().writes_to(STDERR_FILENO)) print_(diags);
}

bool Server::apply_logs(const conf::Config& config) {
    std::vector<core::ErrorLog::Target> targets;
    for (const conf::ErrorLogConf& e : config.error_logs) {
        std::string error;
        int fd = core::LogFiles::instance().open(e.path, error);
        if (fd < 0) {
            core::log_error(LogLevel::emerg, 0, "{}", error);
            return false;
        }
        targets.push_back({fd, e.level});
    }
    if (targets.empty()) {
        std::string error;
        int fd = default_error_log_.empty()
                     ? 2
                     : core::LogFiles::instance().open(default_error_log_, error);
        if (fd < 0) {
            core::log_error(LogLevel::emerg, 0, "{}", error);
            return false;
        }
        targets.push_back({fd, LogLevel::error});
    }
    core::ErrorLog::instance().configure(std::move(targets));
    return true;
}

bool Server::open_listeners(const Runtime& rt,
                            std::vector<std::vector<core::ListenerSpec>>& specs) {
    specs.clear();
    specs.resize(static_cast<size_t>(worker_count_));
    for (size_t tag = 0; tag < rt.addresses().size(); ++tag) {
        const AddressRt& a = rt.addresses()[tag];
        bool already = false;
        for (const auto& open : open_addrs_)
            already = already || open == a.addr;
        for (int w = 0; w < worker_count_; ++w) {
            core::ListenerSpec spec;
            spec.addr = a.addr;
            spec.tag = static_cast<int>(tag);
            if (!already) {
                if (a.addr.family() == AF_UNIX && w == 0) {
                    unlink(reinterpret_cast<const sockaddr_un*>(&a.addr.storage)->sun_path);
                }
                core::ListenOptions opts;
                opts.backlog = a.backlog;
                opts.ipv6only = a.ipv6only;
                std::string error;
                spec.fd = core::listen_on(a.addr, opts, error);
                if (!spec.fd) {
                    core::log_error(LogLevel::emerg, 0, "{}", error);
                    specs.clear();
                    return false;
                }
            }
            specs[static_cast<size_t>(w)].push_back(std::move(spec));
        }
    }
    return true;
}

void Server::reload() {
    core::log_error(LogLevel::notice, 0, "reconfiguring");
    conf::Diagnostics diags;
    std::shared_ptr<const conf::Config> config = reload_(diags);
    std::shared_ptr<const Runtime> rt;
    if (config) rt = Runtime::build(config, diags);
    report(diags);
    if (!rt) {
        core::log_error(LogLevel::alert, 0, "reload failed: the configuration in force stays");
        return;
    }
    if (config->worker_processes != worker_count_) {
        core::log_error(LogLevel::warn, 0,
                        "\"worker_processes\" changes need a restart; keeping {} workers",
                        worker_count_);
    }
    std::vector<std::vector<core::ListenerSpec>> specs;
    if (!open_listeners(*rt, specs)) {
        core::log_error(LogLevel::alert, 0, "reload failed: the configuration in force stays");
        return;
    }
    apply_logs(*config);
    open_addrs_.clear();
    for (const AddressRt& a : rt->addresses())
        open_addrs_.push_back(a.addr);
    runtime_ = rt;
    for (size_t i = 0; i < workers_.size(); ++i) {
        core::Worker* w = workers_[i].get();
        auto spec = std::make_shared<std::vector<core::ListenerSpec>>(std::move(specs[i]));
        w->post([w, spec, rt] {
            if (w->quitting()) return;
            w->set_listeners(std::move(*spec));
            if (auto* app = static_cast<HttpWorker*>(w->app())) app->set_runtime(rt);
        });
    }
    shutdown_timeout_ = config->worker_shutdown_timeout;
    core::log_error(LogLevel::notice, 0, "reconfigured");
}

void Server::quit_all(bool graceful) {
    for (auto& w : workers_) {
        if (graceful) {
            w->request_quit(shutdown_timeout_);
        } else {
            w->request_terminate();
        }
    }
}

bool Server::all_finished() const {
    for (const auto& w : workers_) {
        if (!w->finished()) return false;
    }
    return true;
}

int Server::run(std::shared_ptr<const conf::Config> config) {
    conf::Diagnostics diags;
    runtime_ = Runtime::build(config, diags);
    if (!diags.empty()) print_(diags);
    if (!runtime_) return 1;
    if (!apply_logs(*config)) return 1;
    if (config->worker_rlimit_nofile) {
        std::string error;
        if (!core::set_nofile_limit(config->worker_rlimit_nofile, error)) {
            core::log_error(LogLevel::alert, 0, "{}", error);
        }
    }
    worker_count_ = config->worker_processes > 0 ? config->worker_processes : core::online_cpus();
    shutdown_timeout_ = config->worker_shutdown_timeout;
    core::UniqueFd signals = core::block_signals();

    std::vector<std::vector<core::ListenerSpec>> specs;
    if (!open_listeners(*runtime_, specs)) return 1;
    for (const AddressRt& a : runtime_->addresses())
        open_addrs_.push_back(a.addr);

    std::string pid_path = config->pid;
    std::string error;
    if (!pid_path.empty() && !core::write_pid_file(pid_path, error)) {
        core::log_error(LogLevel::emerg, 0, "{}", error);
        return 1;
    }
    std::shared_ptr<const Runtime> rt = runtime_;
    for (int i = 0; i < worker_count_; ++i) {
        auto w = std::make_unique<core::Worker>(i, config->worker_connections);
        w->start([rt](core::Worker& worker) { return std::make_unique<HttpWorker>(worker, rt); },
                 std::move(specs[static_cast<size_t>(i)]));
        workers_.push_back(std::move(w));
    }
    core::log_error(LogLevel::notice, 0, "ferry {} started with {} workers", FERRY_VERSION,
                    worker_count_);

    bool stopping = false;
    for (;;) {
        if (stopping && all_finished()) break;
        pollfd p{signals.get(), POLLIN, 0};
        if (poll(&p, 1, stopping ? 50 : 1000) <= 0) continue;
        int sig = core::next_signal(signals.get());
        switch (sig) {
            case SIGTERM:
            case SIGINT:
                core::log_error(LogLevel::notice, 0, "signal {} received, exiting", sig);
                quit_all(false);
                stopping = true;
                break;
            case SIGQUIT:
                core::log_error(LogLevel::notice, 0, "gracefully shutting down");
                quit_all(true);
                stopping = true;
                break;
            case SIGHUP:
                if (!stopping) reload();
                break;
            case SIGUSR1:
                for (const std::string& f : core::LogFiles::instance().reopen()) {
                    core::log_error(LogLevel::alert, 0, "{}", f);
                }
                break;
            default:
                break;
        }
    }
    for (auto& w : workers_)
        w->join();
    workers_.clear();
    if (!pid_path.empty()) core::remove_pid_file(pid_path);
    core::log_error(LogLevel::notice, 0, "exit");
    return 0;
}

}  // namespace

int run_server(std::shared_ptr<const conf::Config> config, const ConfigLoader& reload,
               const DiagnosticPrinter& print, const std::string& default_error_log) {
    Server server(reload, print, default_error_log);
    return server.run(std::move(config));
}

}  // namespace ferry::app
