// Temporary entry point (written by the conf helper so that `ferry -t` works); the lead
// replaces it with the serving main.
#include <string>

#include "core/cli.h"

int main(int argc, char** argv) {
    std::string error;
    auto options = ferry::core::parse_options(argc, argv, error);
    if (!options) {
        ferry::core::print_stderr_line(error);
        return 1;
    }
    if (auto rc = ferry::core::run_exit_modes(*options, {})) return *rc;
    return 0;
}
