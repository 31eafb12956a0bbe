// Turns configuration text into a tree of directives (see syntax.h), expanding
// `include` in place as nginx does: a relative path is resolved against the directory
// of the main configuration file (nginx's conf prefix), a path with glob characters
// includes every match in sorted order, and no match is not an error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conf/diagnostic.h"
#include "conf/syntax.h"

namespace ferry::conf {

struct SourceFile;

inline constexpr int max_include_depth = 32;
inline constexpr int max_block_depth = 100;

class Parser {
  public:
    // `files` receives every file read (once per distinct path and contents), for -T.
    // `conf_prefix` ends with '/'. Errors are appended to `diags`.
    Parser(std::string conf_prefix, std::vector<SourceFile>& files, Diagnostics& diags);

    // Parses a whole file. `from` is the position of the include that names it (empty
    // for the main file). Returns false after recording an error.
    bool parse_file(const std::string& path, const SourceLoc& from, std::vector<Directive>& out);

    // Parses `text` as the contents of the file `path` (not read from disk).
    bool parse_text(std::string_view text, const std::string& path, std::vector<Directive>& out);

    // Makes `include` an error (the fuzzer must not wander the file system).
    void disable_includes() { allow_includes_ = false; }

    // Parses the -g string: directives without blocks, positions "in command line".
    bool parse_command_line(std::string_view text, std::vector<Directive>& out);

  private:
    class Run;
    bool include(const Directive& d, std::vector<Directive>& out);
    bool error(const SourceLoc& loc, std::string message, std::string hint = {});

    std::string conf_prefix_;
    std::vector<SourceFile>& files_;
    Diagnostics& diags_;
    std::vector<std::string> include_stack_;  // canonical paths of the files being read
    bool allow_includes_ = true;
};

// Reads a whole file. On failure returns false and sets `error` to nginx's wording,
// e.g. `open() "/x" failed (2: No such file or directory)`.
bool read_file(const std::string& path, std::string& contents, std::string& error);

}  // namespace ferry::conf
