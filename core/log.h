// The error log: nginx-shaped lines written by any thread, and the registry of log
// files (error and access logs) that USR1 reopens in place.
//
//   2026/11/25 21:45:50 [error] 1234#1235: *17 message, client: ..., server: ...
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/log_level.h"

namespace ferry::core {

std::string_view level_name(LogLevel level);

// Open log files by path, shared by all threads. A file keeps its descriptor number for
// the life of the process: reopen() opens the path again and dup2()s the new file over
// the old number, so writers never see a closed descriptor.
class LogFiles {
  public:
    static LogFiles& instance();
    // Opens (or finds) `path` for appending ("stderr" and "/dev/stderr" give fd 2,
    // "/dev/stdout" fd 1). Returns the descriptor or -1 with `error` set.
    int open(const std::string& path, std::string& error);
    // Reopens every file; returns the paths that failed, with reasons.
    std::vector<std::string> reopen();

  private:
    std::mutex mutex_;
    struct Entry {
        std::string path;
        int fd;
    };
    std::vector<Entry> files_;
};

class ErrorLog {
  public:
    struct Target {
        int fd;
        LogLevel level;
    };

    static ErrorLog& instance();

    // Replaces the targets (main thread, at start and on reload).
    void configure(std::vector<Target> targets);
    bool enabled(LogLevel level) const {
        return static_cast<int>(level) >= min_level_.load(std::memory_order_relaxed);
    }
    // Whether some target writes to `fd` (2: the reload path's stderr copy would repeat
    // the log's lines).
    bool writes_to(int fd);
    // Writes one line. `conn` is the connection number shown as "*N" (0: none).
    void write(LogLevel level, uint64_t conn, std::string_view message);
    // Writes one line to `targets` instead (an http, server or location error_log),
    // each filtered by its own level. Any thread; the targets must not change meanwhile.
    static void write_to(std::span<const Target> targets, LogLevel level, uint64_t conn,
                         std::string_view message);

  private:
    ErrorLog();
    std::atomic<int> min_level_;
    std::mutex mutex_;  // guards targets_; logging errors is not a hot path
    std::vector<Target> targets_;
};

// Formats and writes an error-log line if `level` is enabled.
template <typename... Args>
void log_error(LogLevel level, uint64_t conn, fmt::format_string<Args...> f, Args&&... args) {
    ErrorLog& log = ErrorLog::instance();
    if (!log.enabled(level)) return;
    log.write(level, conn, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace ferry::core
