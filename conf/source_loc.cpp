#include "conf/source_loc.h"

#include <fmt/format.h>

namespace ferry::conf {

std::string SourceLoc::to_string() const {
    if (line == 0) return {};
    if (!file) return "command line";
    return fmt::format("{}:{}:{}", *file, line, column);
}

}  // namespace ferry::conf
