// ferry's entry point: the command line decides between a mode that ends at once
// (-h, -v, -V, -t, -T, -s) and serving. This file is the composition root: app/ is the
// only layer that knows all the others (conf/ loads, http/ serves, core/ runs).
#include <memory>
#include <string>

#include "app/cli.h"
#include "app/server.h"
#include "conf/loader.h"
#include "http/runtime.h"

namespace {

using namespace ferry;

// What `ferry -t` checks beyond the configuration language: listen addresses and
// upstream hosts resolve, log files open.
bool check_runtime(const conf::Config& config, std::vector<conf::Diagnostic>& diags) {
    // The runtime keeps a shared_ptr to its config; here the caller owns it.
    std::shared_ptr<const conf::Config> borrowed(&config, [](const conf::Config*) {});
    return http::Runtime::build(borrowed, diags) != nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    std::string error;
    auto options = app::parse_options(argc, argv, error);
    if (!options) {
        app::print_stderr_line(error);
        return 1;
    }
    if (auto rc = app::run_exit_modes(*options, check_runtime)) return *rc;

    conf::LoadOptions load = app::load_options(*options);
    conf::LoadResult loaded = conf::load(load);
    const auto& files = loaded.config ? loaded.config->files : loaded.files;
    app::print_diagnostics(loaded.diagnostics, files, options->directives, false);
    if (!loaded.config) return 1;

    auto print = [&](const conf::Diagnostics& diags) {
        app::print_diagnostics(diags, {}, options->directives, false);
    };
    auto reload = [load](conf::Diagnostics& diags) {
        conf::LoadResult again = conf::load(load);
        diags = std::move(again.diagnostics);
        return again.config;
    };
    return app::run_server(loaded.config, reload, print, options->error_log.value_or(""));
}
