#include "core/log.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/socket.h"

namespace ferry::core {

std::string_view level_name(LogLevel level) {
    static constexpr std::string_view names[] = {"debug", "info", "notice", "warn",
                                                 "error", "crit", "alert",  "emerg"};
    return names[static_cast<int>(level)];
}

LogFiles& LogFiles::instance() {
    static LogFiles files;
    return files;
}

int LogFiles::open(const std::string& path, std::string& error) {
    if (path == "stderr" || path == "/dev/stderr") return 2;
    if (path == "/dev/stdout") return 1;
    std::lock_guard lock(mutex_);
    for (const auto& e : files_) {
        if (e.path == path) return e.fd;
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        error = fmt::format("open() \"{}\" failed {}", path, errno_text(errno));
        return -1;
    }
    files_.push_back({path, fd});
    return fd;
}

std::vector<std::string> LogFiles::reopen() {
    std::vector<std::string> failures;
    std::lock_guard lock(mutex_);
    for (const auto& e : files_) {
        int fd = ::open(e.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            failures.push_back(fmt::format("open() \"{}\" failed {}", e.path, errno_text(errno)));
            continue;
        }
        dup3(fd, e.fd, O_CLOEXEC);
        ::close(fd);
    }
    return failures;
}

ErrorLog& ErrorLog::instance() {
    static ErrorLog log;
    return log;
}

ErrorLog::ErrorLog() : min_level_(static_cast<int>(LogLevel::error)) {
    targets_.push_back({2, LogLevel::error});
}

void ErrorLog::configure(std::vector<Target> targets) {
    int min = static_cast<int>(LogLevel::emerg);
    for (const auto& t : targets)
        min = std::min(min, static_cast<int>(t.level));
    std::lock_guard lock(mutex_);
    targets_ = std::move(targets);
    min_level_ = min;
}

bool ErrorLog::writes_to(int fd) {
    std::lock_guard lock(mutex_);
    for (const Target& t : targets_) {
        if (t.fd == fd) return true;
    }
    return false;
}

namespace {

void format_line(fmt::memory_buffer& line, LogLevel level, uint64_t conn,
                 std::string_view message) {
    time_t now = time(nullptr);
    tm t;
    localtime_r(&now, &t);
    fmt::format_to(std::back_inserter(line),
                   "{:04}/{:02}/{:02} {:02}:{:02}:{:02} [{}] {}#{}: ", t.tm_year + 1900,
                   t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, level_name(level),
                   getpid(), static_cast<long>(syscall(SYS_gettid)));
    if (conn) fmt::format_to(std::back_inserter(line), "*{} ", conn);
    line.append(message);
    line.push_back('\n');
}

void write_line(std::span<const ErrorLog::Target> targets, LogLevel level,
                const fmt::memory_buffer& line) {
    for (const auto& target : targets) {
        if (static_cast<int>(level) < static_cast<int>(target.level)) continue;
        ssize_t r = ::write(target.fd, line.data(), line.size());
        (void)r;  // nowhere left to report a failing error log
    }
}

}  // namespace

void ErrorLog::write(LogLevel level, uint64_t conn, std::string_view message) {
    fmt::memory_buffer line;
    format_line(line, level, conn, message);
    std::lock_guard lock(mutex_);
    write_line(targets_, level, line);
}

void ErrorLog::write_to(std::span<const Target> targets, LogLevel level, uint64_t conn,
                        std::string_view message) {
    fmt::memory_buffer line;
    format_line(line, level, conn, message);
    write_line(targets, level, line);
}

}  // namespace ferry::core
