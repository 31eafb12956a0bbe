#include "conf/source_loc.h"

#include <fmt/format.h>

namespace ferry::conf {

std::string SourceLoc::to_string() const {
    const std::string& name = file ? *file : std::string("(command line)");
    return fmt::format("{}:{}:{}", name, line, column);
}

}  // namespace ferry::conf
