// libFuzzer target for the configuration layer: any bytes, loaded as a configuration
// file, must give a Config or diagnostics, never a crash, hang or leak. A loaded
// configuration is then exercised the way the request layer will: maps and templates
// are evaluated and the -T dump is produced.
#include <cstddef>
#include <cstdint>
#include <string>

#include "conf/loader.h"

namespace {

using namespace ferry::conf;

// Every variable has the same short value.
class FixedSource final : public VariableSource {
  public:
    void append(const VarRef&, std::string& out) override { out += "Host.Example.com"; }
};

void exercise(const Config& config) {
    FixedSource vars;
    std::string out;
    if (config.http) {
        for (const auto& map : config.http->maps)
            map->evaluate(vars, out);
        for (const auto& server : config.http->servers) {
            for (const auto& loc : server->locations) {
                if (loc->ret && loc->ret->text) loc->ret->text->evaluate(vars, out);
                if (loc->proxy_pass) loc->proxy_pass->url.evaluate(vars, out);
            }
        }
    }
    out += dump(config);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    LoadOptions options;
    options.prefix = "/nonexistent-ferry-fuzz/";
    options.conf_file = "/nonexistent-ferry-fuzz/fuzz.conf";
    options.conf_text = std::string(reinterpret_cast<const char*>(data), size);
    options.allow_includes = false;
    LoadResult r = load(options);
    if (r.config) exercise(*r.config);
    return 0;
}
