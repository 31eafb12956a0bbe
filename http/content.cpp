#include "http/content.h"

#include "conf/model.h"
#include "http/content_static.h"
#include "http/content_upstream.h"

namespace ferry::http {

const ContentHandler* choose_content(const conf::LocationConf& loc) {
    if (loc.proxy_pass) return &upstream_content(UpstreamCodec::Kind::http);
    if (loc.serves_files) return &static_content();
    return nullptr;
}

}  // namespace ferry::http
