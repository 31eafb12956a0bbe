#include "conf/diagnostic.h"

namespace ferry::conf {

const char* log_level_name(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::notice:
            return "notice";
        case LogLevel::warn:
            return "warn";
        case LogLevel::error:
            return "error";
        case LogLevel::crit:
            return "crit";
        case LogLevel::alert:
            return "alert";
        case LogLevel::emerg:
            return "emerg";
    }
    return "emerg";
}

bool has_errors(const Diagnostics& diags) {
    for (const Diagnostic& d : diags) {
        if (d.level > LogLevel::warn) return true;
    }
    return false;
}

}  // namespace ferry::conf
