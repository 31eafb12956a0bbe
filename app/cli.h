// ferry's command line, nginx-compatible: option parsing, and the modes that end the
// process before serving (-h, -v, -V, -t, -T, -s). Messages go to stderr in nginx's
// shape: "ferry: [emerg] MESSAGE in FILE:LINE:COLUMN", followed by the offending line,
// a caret under the column and a hint when there is one.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "conf/diagnostic.h"
#include "conf/loader.h"
#include "conf/model.h"

namespace ferry::app {

struct Options {
    bool show_version = false;             // -v (also set by -V and -h)
    bool show_configure = false;           // -V
    bool show_help = false;                // -h, -?
    bool test_config = false;              // -t (also set by -T)
    bool dump_config = false;              // -T
    bool quiet = false;                    // -q: only errors during -t
    std::string prefix;                    // -p
    std::string conf_file;                 // -c
    std::string directives;                // -g
    std::optional<std::string> error_log;  // -e ("" means stderr, as nginx)
    std::string signal;                    // -s: stop, quit, reopen or reload
    bool directives_markdown = false;      // hidden: --directives-markdown (README table)
};

// Parses argv as nginx's ngx_get_options() does, including combined flags ("-tq") and
// values glued to their flag ("-cfile"). On a bad option returns nullopt and sets
// `error` to nginx's message without the "ferry: " prefix (e.g. `invalid option: "x"`).
std::optional<Options> parse_options(int argc, const char* const* argv, std::string& error);

// The load options the command line designates.
conf::LoadOptions load_options(const Options& options);

// A check that needs the runtime (resolving upstream hosts, loading certificates): it
// may append diagnostics and returns false when the configuration cannot be used.
using RuntimeCheck = std::function<bool(const conf::Config&, std::vector<conf::Diagnostic>&)>;

// -t / -T: loads, runs `runtime_check` (may be empty), prints diagnostics and nginx's
// verdict lines, dumps the files for -T. Returns the exit code (0 or 1).
int run_config_test(const Options& options, const RuntimeCheck& runtime_check);

// -s: loads the configuration for its pid file and signals that process (reload=HUP,
// reopen=USR1, quit=QUIT, stop=TERM). Returns the exit code.
int send_signal(const Options& options);

// Handles every mode that ends the process before serving, in nginx's order: help,
// version, configure line, -t/-T, -s, --directives-markdown. Returns the exit code
// when the process should exit, nullopt when it should go on and serve.
std::optional<int> run_exit_modes(const Options& options, const RuntimeCheck& runtime_check);

// Prints diagnostics as described at the top. Warnings are skipped when `quiet`.
// `files` (may be empty) supplies the source lines; `command_line` is the -g text.
void print_diagnostics(const conf::Diagnostics& diags, const std::vector<conf::SourceFile>& files,
                       const std::string& command_line, bool quiet);

// One diagnostic as print_diagnostics() prints it (for tests).
std::string format_diagnostic(const conf::Diagnostic& d, const std::vector<conf::SourceFile>& files,
                              const std::string& command_line);

// "ferry: " + message + "\n" on stderr.
void print_stderr_line(const std::string& message);

}  // namespace ferry::app
