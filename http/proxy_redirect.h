// nginx's proxy_redirect: rewriting the Location and Refresh headers an upstream sends,
// so that redirects point back through the proxy. Then absolute_redirect: a Location
// that starts with '/' gets the request's scheme, host and port.
#pragma once

#include <string>
#include <string_view>

#include "conf/model.h"

namespace ferry::http {

class ClientConnection;

// Appends `value` (a Location or Refresh header from the upstream) to `out`, rewritten
// by the location's proxy_redirect rules (`default` when none were given).
void rewrite_redirect(const conf::LocationConf& loc, std::string_view value,
                      conf::VariableSource& vars, std::string& out);

// The `proxy_redirect default` rule for a location: the proxy_pass URL (with "/" when
// it has no URI part) back to the location's name. False when there is none (proxy_pass
// with variables).
bool default_redirect(const conf::LocationConf& loc, std::string& from, std::string& to);

}  // namespace ferry::http
