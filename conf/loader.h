// The configuration layer's entry point: file (and -g string) in, Config or
// diagnostics out. Used by `ferry -t`, start-up and reload.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "conf/diagnostic.h"
#include "conf/model.h"

namespace ferry::conf {

// nginx's default configuration path, relative to the prefix.
// Set at build time (meson -Ddefault_conf / -Ddefault_prefix), as nginx's --conf-path
// and --prefix.
#ifndef FERRY_DEFAULT_CONF
#define FERRY_DEFAULT_CONF "conf/nginx.conf"
#endif
#ifndef FERRY_DEFAULT_PREFIX
#define FERRY_DEFAULT_PREFIX ""
#endif
inline constexpr const char* default_conf_path = FERRY_DEFAULT_CONF;
inline constexpr const char* default_prefix = FERRY_DEFAULT_PREFIX;

struct LoadOptions {
    std::string prefix;      // -p; empty: the current directory (as nginx without --prefix)
    std::string conf_file;   // -c; empty: default_conf_path; relative to the prefix
    std::string directives;  // -g "directives;", processed before the file, as nginx
    // When set, used as the contents of `conf_file` instead of reading it (tests, fuzzing).
    std::optional<std::string> conf_text;
    bool allow_includes = true;  // false only for fuzzing
};

struct LoadResult {
    std::shared_ptr<const Config> config;  // null when an error was found
    Diagnostics diagnostics;               // errors and warnings, in the order found
    std::vector<SourceFile> files;         // every file read, even after an error
    std::string conf_file;                 // the absolute path that was (to be) read
    std::string prefix;                    // with a trailing '/'
};

// Reads, parses, validates and merges. Never prints, never exits.
LoadResult load(const LoadOptions& options);

// nginx's -T output: each file read, once, after "# configuration file PATH:".
std::string dump(const Config& config);

// The absolute configuration path and prefix `options` designate (as load() uses them).
std::string resolve_prefix(const std::string& prefix);
std::string resolve_conf_file(const std::string& prefix, const std::string& conf_file);

}  // namespace ferry::conf
