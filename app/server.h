// The process master: listening sockets, one worker thread per core, and the main thread's
// signal loop (TERM/INT stop, QUIT drains, HUP reloads, USR1 reopens logs).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "conf/diagnostic.h"
#include "conf/model.h"

namespace ferry::app {

// Loads the configuration again (for HUP): the Config, or nullptr with diagnostics.
using ConfigLoader = std::function<std::shared_ptr<const conf::Config>(conf::Diagnostics&)>;

// Prints diagnostics in nginx's shape (set by the command line).
using DiagnosticPrinter = std::function<void(const conf::Diagnostics&)>;

// Runs ferry on `config` until stopped. `default_error_log` (-e; "" = stderr) is used
// when the configuration names no error_log. Returns the process exit code.
int run_server(std::shared_ptr<const conf::Config> config, const ConfigLoader& reload,
               const DiagnosticPrinter& print, const std::string& default_error_log);

}  // namespace ferry::app
