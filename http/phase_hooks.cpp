// Which module runs in which phase. Adding a module that checks or rewrites requests
// adds its hook to one of these lists.
#include "http/phase_hooks.h"

#include "http/script.h"
#include "http/try_files.h"

namespace ferry::http {

namespace {

constexpr PhaseHook server_rewrite[] = {run_server_script};
constexpr PhaseHook rewrite[] = {run_location_script};
constexpr PhaseHook precontent[] = {run_try_files};

}  // namespace

std::span<const PhaseHook> phase_hooks(RequestPhase phase) {
    switch (phase) {
        case RequestPhase::server_rewrite:
            return server_rewrite;
        case RequestPhase::rewrite:
            return rewrite;
        case RequestPhase::precontent:
            return precontent;
        case RequestPhase::preaccess:
        case RequestPhase::access:
        case RequestPhase::find_location:
        case RequestPhase::post_rewrite:
        case RequestPhase::post_access:
        case RequestPhase::content:
            break;
    }
    return {};
}

}  // namespace ferry::http
