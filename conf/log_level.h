// Severity levels of the error log: core's (core/log_level.h), named conf::LogLevel in
// the configuration layer, where diagnostics and error_log levels use them.
#pragma once

#include "core/log_level.h"

namespace ferry::conf {

using core::LogLevel;

}  // namespace ferry::conf
