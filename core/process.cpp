#include "core/process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/socket.h"

namespace ferry::core {

UniqueFd block_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH}) {
        sigaddset(&set, s);
    }
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    return UniqueFd(signalfd(-1, &set, SFD_CLOEXEC));
}

int next_signal(int signal_fd) {
    signalfd_siginfo info;
    for (;;) {
        ssize_t n = read(signal_fd, &info, sizeof info);
        if (n == sizeof info) return static_cast<int>(info.ssi_signo);
        if (n < 0 && errno == EINTR) continue;
        return 0;
    }
}

bool write_pid_file(const std::string& path, std::string& error) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        error = fmt::format("open() \"{}\" failed {}", path, errno_text(errno));
        return false;
    }
    std::string text = fmt::format("{}\n", getpid());
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) error = fmt::format("write() \"{}\" failed", path);
    return ok;
}

void remove_pid_file(const std::string& path) {
    ::unlink(path.c_str());
}

int online_cpus() {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}

bool set_nofile_limit(uint64_t n, std::string& error) {
    rlimit rl;
    rl.rlim_cur = n;
    rl.rlim_max = n;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) return true;
    // Without privileges only the soft limit can move, up to the hard one.
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = n < rl.rlim_max ? n : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == n) return true;
    error = fmt::format("setrlimit(RLIMIT_NOFILE, {}) failed {}", n, errno_text(errno));
    return false;
}

}  // namespace ferry::core
