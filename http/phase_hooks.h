// The modules that take part in a request's phases, as nginx's phase handlers: each
// hook is a plain function of the request, registered for one phase in
// phase_hooks.cpp. Hooks return nginx's codes:
//
//   phase_next   nothing to do here (NGX_DECLINED): the next hook runs
//   phase_ok     this phase is done (access: this check allows the request)
//   phase_again  waiting (a subrequest, a delay): the hook calls c.run_phases() when
//                ready, which calls the same hook again
//   phase_done   the request was answered or redirected internally
//   >= 100       finalize the request with this status (error_page applies)
#pragma once

#include <span>

#include "http/request.h"

namespace ferry::http {

class ClientConnection;

constexpr int phase_next = -5;
constexpr int phase_ok = 0;
constexpr int phase_again = -2;
constexpr int phase_done = -4;

using PhaseHook = int (*)(ClientConnection& c);

// The hooks of `phase`, in the order they run (empty for the phases ferry runs itself:
// find_location, post_rewrite, post_access, content).
std::span<const PhaseHook> phase_hooks(RequestPhase phase);

}  // namespace ferry::http
