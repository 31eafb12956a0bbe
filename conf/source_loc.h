// A position in a configuration file. Every token and directive carries one, so that
// any pass can report exactly where a problem is.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace ferry::conf {

struct SourceLoc {
    std::shared_ptr<const std::string> file;  // shared by every token of the file;
                                              // null for the -g command-line string
    uint32_t line = 0;                        // 1-based; 0 = no position
    uint32_t column = 0;                      // 1-based, in bytes

    bool has_position() const { return line != 0; }
    bool is_command_line() const { return !file && line != 0; }

    // "FILE:LINE:COLUMN", nginx's "in FILE:LINE" with ferry's column added;
    // "command line" for the -g string, "" when there is no position.
    std::string to_string() const;
};

}  // namespace ferry::conf
