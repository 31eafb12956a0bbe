// Process-level plumbing for the main thread: signals through a signalfd (all other
// threads have them blocked), and the pid file.
#pragma once

#include <csignal>
#include <string>

#include "core/unique_fd.h"

namespace ferry::core {

// Blocks the signals ferry handles (TERM, INT, QUIT, HUP, USR1, USR2, WINCH) in the
// calling thread — call before starting workers so they inherit the mask — ignores
// SIGPIPE, and returns a signalfd that reports them.
UniqueFd block_signals();

// Reads one signal number from the signalfd (blocking). 0 on error.
int next_signal(int signal_fd);

// Writes the pid file; false with `error` set on failure.
bool write_pid_file(const std::string& path, std::string& error);
void remove_pid_file(const std::string& path);

// The number of online CPUs (worker_processes auto).
int online_cpus();

// Raises RLIMIT_NOFILE to `n` (worker_rlimit_nofile); false with `error` set.
bool set_nofile_limit(uint64_t n, std::string& error);

}  // namespace ferry::core
