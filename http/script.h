// The rewrite module's directives as ferry runs them: at each level, its `set`s in the
// order written, then its `return`. The server level runs before the location is
// chosen (server_rewrite), the location level after (rewrite).
#pragma once

namespace ferry::http {

class ClientConnection;

int run_server_script(ClientConnection& c);
int run_location_script(ClientConnection& c);

}  // namespace ferry::http
