// Helpers for the conf tests: load a configuration from text or from files in a
// temporary directory, and look at its diagnostics.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "conf/loader.h"

namespace ferry::conf::test {

// A fresh directory under /tmp, removed when the object goes.
class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/ferry-conf-test-XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    const std::string& path() const { return path_; }
    // Writes `text` to `name` (relative to the directory, subdirectories created).
    std::string write(const std::string& name, const std::string& text) const {
        std::filesystem::path p = std::filesystem::path(path_) / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }

  private:
    std::string path_;
};

// Loads `text` as if it were /tmp/ferry-test/nginx.conf (prefix /tmp/ferry-test/).
inline LoadResult load_text(const std::string& text, const std::string& directives = "") {
    LoadOptions o;
    o.prefix = "/tmp/ferry-test/";
    o.conf_file = "/tmp/ferry-test/nginx.conf";
    o.conf_text = text;
    o.directives = directives;
    return load(o);
}

// Wraps server-level text in events{} http{ server{ ... } }.
inline std::string in_server(const std::string& body) {
    return "events {}\nhttp {\nserver {\nlisten 8080;\n" + body + "\n}\n}\n";
}

// Wraps http-level text in events{} http{ ... }.
inline std::string in_http(const std::string& body) {
    return "events {}\nhttp {\n" + body + "\n}\n";
}

// The first error, or an empty diagnostic.
inline Diagnostic first_error(const LoadResult& r) {
    for (const Diagnostic& d : r.diagnostics) {
        if (d.level > LogLevel::warn) return d;
    }
    return {};
}

inline std::vector<Diagnostic> warnings(const LoadResult& r) {
    std::vector<Diagnostic> out;
    for (const Diagnostic& d : r.diagnostics) {
        if (d.level == LogLevel::warn) out.push_back(d);
    }
    return out;
}

// True if some warning's message contains `part`.
inline bool has_warning(const LoadResult& r, const std::string& part) {
    for (const Diagnostic& d : warnings(r)) {
        if (d.message.find(part) != std::string::npos) return true;
    }
    return false;
}

// Requires a failed load whose first error has `message` at line:column.
#define REQUIRE_ERROR_AT(result, msg, ln, col)              \
    do {                                                    \
        const auto& r_ = (result);                          \
        REQUIRE(r_.config == nullptr);                      \
        auto e_ = ::ferry::conf::test::first_error(r_);     \
        CHECK(e_.message == (msg));                         \
        CHECK(e_.loc.line == static_cast<uint32_t>(ln));    \
        CHECK(e_.loc.column == static_cast<uint32_t>(col)); \
    } while (0)

#define REQUIRE_LOADS(result)                                       \
    do {                                                            \
        const auto& r_ = (result);                                  \
        INFO(::ferry::conf::test::first_error(r_).message);         \
        INFO(::ferry::conf::test::first_error(r_).loc.to_string()); \
        REQUIRE(r_.config != nullptr);                              \
    } while (0)

}  // namespace ferry::conf::test
