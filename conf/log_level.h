// Severity levels of the error log, in nginx's order.
#pragma once

#include <cstdint>

namespace ferry::conf {

enum class LogLevel : uint8_t { debug, info, notice, warn, error, crit, alert, emerg };

}  // namespace ferry::conf
