// A message about the configuration: an error that stops the load, or a warning that
// does not. Produced by every pass of the loader as a value; printed only by the CLI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "conf/log_level.h"
#include "conf/source_loc.h"

namespace ferry::conf {

// "warn" for LogLevel::warn, as nginx prints it between brackets.
const char* log_level_name(LogLevel level);

struct Diagnostic {
    LogLevel level = LogLevel::emerg;
    std::string message;  // nginx's wording, without the position
    SourceLoc loc;        // where; no file and line 0 means "no position"
    std::string hint;     // ferry's addition: "did you mean ...?" or a one-line fix
};

using Diagnostics = std::vector<Diagnostic>;

// True if any diagnostic is an error (level above warn).
bool has_errors(const Diagnostics& diags);

}  // namespace ferry::conf
