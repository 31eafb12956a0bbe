// Severity levels of the error log, in nginx's order. Defined here, at the bottom of
// the layers, because both the error log (core/log.h) and configuration diagnostics
// (conf/diagnostic.h, which names it conf::LogLevel) use them.
#pragma once

#include <cstdint>

namespace ferry::core {

enum class LogLevel : uint8_t { debug, info, notice, warn, error, crit, alert, emerg };

}  // namespace ferry::core
