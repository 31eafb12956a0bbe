// The content handler of locations that pass requests to an upstream (proxy_pass, and
// the other upstream protocols): it starts an UpstreamSession with the protocol's codec.
#pragma once

#include "http/content.h"
#include "http/upstream_codec.h"

namespace ferry::http {

// The handler for upstream protocol `kind` (one shared instance per kind).
const ContentHandler& upstream_content(UpstreamCodec::Kind kind);

}  // namespace ferry::http
