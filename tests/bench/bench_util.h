// Small helpers shared by the benchmark's load tools: command-line options, sizes,
// clocks, CPU time and plain TCP sockets. The tools are test equipment, not ferry:
// they fail loudly (print and exit) instead of returning error values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::bench {

// Prints "TOOL: message" to stderr and exits with status 2.
[[noreturn]] void die(const std::string& message);

// Prints "TOOL: message: strerror(errno)" and exits with status 2.
[[noreturn]] void die_errno(const std::string& message);

// Sets the name used as the prefix of die() messages.
void set_tool_name(const char* name);

// `--name value` options after an optional positional mode word. Flags take no value
// when listed in `flags`. Unknown options are an error, reported by die().
class Options {
  public:
    Options(int argc, char** argv, const std::vector<std::string>& known,
            const std::vector<std::string>& flags);
    const std::string& mode() const { return mode_; }
    bool has(const std::string& name) const { return values_.count(name) != 0; }
    std::string str(const std::string& name, const std::string& fallback) const;
    // A size with an optional binary suffix: 64, 16k, 100m, 2g (KiB, MiB, GiB).
    uint64_t size(const std::string& name, uint64_t fallback) const;
    double number(const std::string& name, double fallback) const;

  private:
    std::string mode_;
    std::map<std::string, std::string> values_;
};

uint64_t parse_size(std::string_view text);

// Monotonic clock in nanoseconds.
uint64_t now_ns();

// User + system CPU seconds of this process so far.
double cpu_seconds();

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
uint64_t raise_nofile_limit();

// Splits "host:port" (host defaults to 127.0.0.1 when only a port is given).
void split_host_port(const std::string& text, std::string& host, uint16_t& port);

// Opens a TCP connection to an IPv4 address. With `nonblocking` the connect may
// still be in progress when this returns. TCP_NODELAY is set.
int connect_tcp(const std::string& host, uint16_t port, bool nonblocking);

// A listening IPv4 socket with SO_REUSEADDR and SO_REUSEPORT, non-blocking.
int listen_tcp(const std::string& host, uint16_t port);

void set_nonblocking(int fd);

// Writes all of [data, data+size) to a blocking socket.
void send_all(int fd, const void* data, size_t size);

}  // namespace ferry::bench
