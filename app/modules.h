// nginx's modules, as its configure script names them, and whether ferry has each: the
// one table behind `ferry -V`'s "configure arguments:" line. nginx's test suite
// (nginx-tests, lib/Test/Nginx.pm has_module()) reads that line to skip the test files
// of modules a binary lacks, so implementing a module in ferry is flipping its entry.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace ferry::app {

struct NginxModule {
    std::string_view name;  // configure's spelling: "http_rewrite_module", "http-cache"
    bool nginx_default;     // built by nginx unless --without-NAME (else --with-NAME)
    bool ferry_has;         // ferry implements it (what nginx-tests would test)
};

std::span<const NginxModule> nginx_modules();

// The flags nginx's configure would have been given for a build with ferry's modules:
// --with-NAME for an optional module ferry has, --without-NAME for a default one it
// lacks. Each flag is preceded by a space, as nginx prints NGX_CONFIGURE.
std::string configure_arguments();

}  // namespace ferry::app
