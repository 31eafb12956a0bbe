#include "tests/bench/bench_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace ferry::bench {

namespace {
const char* tool_name = "bench";
}

void set_tool_name(const char* name) {
    tool_name = name;
}

void die(const std::string& message) {
    fmt::print(stderr, "{}: {}\n", tool_name, message);
    std::exit(2);
}

void die_errno(const std::string& message) {
    die(message + ": " + std::strerror(errno));
}

Options::Options(int argc, char** argv, const std::vector<std::string>& known,
                 const std::vector<std::string>& flags) {
    int i = 1;
    if (i < argc && argv[i][0] != '-') mode_ = argv[i++];
    for (; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.rfind("--", 0) != 0) die("unexpected argument \"" + arg + "\" (see --help)");
        std::string name = arg.substr(2);
        std::string value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        } else if (std::find(flags.begin(), flags.end(), name) == flags.end()) {
            if (i + 1 >= argc) die("option --" + name + " needs a value");
            value = argv[++i];
        }
        bool ok = std::find(known.begin(), known.end(), name) != known.end() ||
                  std::find(flags.begin(), flags.end(), name) != flags.end();
        if (!ok) die("unknown option --" + name + " (see --help)");
        values_[name] = value;
    }
}

std::string Options::str(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
}

uint64_t Options::size(const std::string& name, uint64_t fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : parse_size(it->second);
}

double Options::number(const std::string& name, double fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    double v = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str() || *end) die("--" + name + " needs a number");
    return v;
}

uint64_t parse_size(std::string_view text) {
    uint64_t value = 0;
    size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
        value = value * 10 + (text[i] - '0');
    if (i == 0) die("bad size \"" + std::string(text) + "\"");
    std::string_view suffix = text.substr(i);
    if (suffix.empty()) return value;
    switch (suffix[0] | 0x20) {
        case 'k':
            return value << 10;
        case 'm':
            return value << 20;
        case 'g':
            return value << 30;
        default:
            die("bad size suffix in \"" + std::string(text) + "\"");
    }
}

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto sec = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
}

uint64_t raise_nofile_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) die_errno("getrlimit");
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) die_errno("setrlimit");
    return rl.rlim_cur;
}

void split_host_port(const std::string& text, std::string& host, uint16_t& port) {
    auto colon = text.rfind(':');
    host = colon == std::string::npos ? "127.0.0.1" : text.substr(0, colon);
    std::string p = colon == std::string::npos ? text : text.substr(colon + 1);
    long v = std::strtol(p.c_str(), nullptr, 10);
    if (v <= 0 || v > 65535) die("bad port in \"" + text + "\"");
    port = uint16_t(v);
}

namespace {

sockaddr_in make_addr(const std::string& host, uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) die("not an IPv4 address: " + host);
    return sa;
}

}  // namespace

void set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) die_errno("fcntl");
}

int connect_tcp(const std::string& host, uint16_t port, bool nonblocking) {
    sockaddr_in sa = make_addr(host, port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) die_errno("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int listen_tcp(const std::string& host, uint16_t port) {
    sockaddr_in sa = make_addr(host, port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) die_errno("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
        die_errno(fmt::format("bind {}:{}", host, port));
    if (listen(fd, 4096) != 0) die_errno("listen");
    return fd;
}

void send_all(int fd, const void* data, size_t size) {
    auto p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = send(fd, p, size, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            die_errno("send");
        }
        p += n;
        size -= size_t(n);
    }
}

}  // namespace ferry::bench
