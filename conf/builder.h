// Gives meaning to a syntax tree: walks it with the directive table, runs handlers
// that validate and store values, then merges levels (http -> server -> location),
// resolves upstreams and checks listen addresses. Nothing here prints or exits: every
// problem becomes a Diagnostic.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "conf/diagnostic.h"
#include "conf/directive_table.h"
#include "conf/model.h"
#include "conf/settings.h"
#include "conf/syntax.h"
#include "conf/variables.h"

namespace ferry::conf {

struct LocationBuild {
    std::unique_ptr<LocationConf> conf;  // match, pattern, proxy_pass, return, sets...
    LocSettings settings;                // as written; merged in place by finish()
    std::vector<std::unique_ptr<LocationBuild>> children;
};

struct ServerBuild {
    std::unique_ptr<ServerConf> conf;  // listens, names, server-level set/return
    SrvSettings srv;
    LocSettings loc;
    std::vector<std::unique_ptr<LocationBuild>> locations;
};

// A proxy_pass whose upstream is resolved once every upstream{} is known.
struct PendingProxyPass {
    ProxyPass* pass;
    bool port_written;
};

struct HttpBuild {
    HttpConf conf;  // log_formats, upstreams, maps (servers are built by finish())
    SrvSettings srv;
    LocSettings loc;
    std::vector<std::unique_ptr<ServerBuild>> servers;
    std::vector<PendingProxyPass> proxy_passes;
    std::vector<SourceLoc> upstream_port_written;  // per explicit upstream: none
};

class Builder {
  public:
    // `prefix` and `conf_prefix` end with '/'.
    Builder(std::string prefix, std::string conf_prefix, Diagnostics& diags);

    // Processes the -g directives, then the main file's. False after an error.
    bool run(const std::vector<Directive>& command_line, const std::vector<Directive>& main);
    // Merges levels and runs the whole-configuration checks (merge.cpp).
    bool finish();
    // The result, once finish() succeeded.
    Config take_config();

    // Walks one block body in context `ctx` (used by block handlers).
    bool process_block(const std::vector<Directive>& body, Context ctx);

    // ---- diagnostics (all return false so handlers can `return b.error(...)`)
    bool error(const SourceLoc& loc, std::string message, std::string hint = {});
    void warn(const SourceLoc& loc, std::string message, std::string hint = {});
    // `"NAME" is ignored by ferry`, once per directive name.
    void warn_ignored(const Directive& d, std::string_view note);
    // nginx's `"NAME" directive PHRASE`, e.g. "is duplicate", "invalid value".
    bool directive_error(const Directive& d, std::string_view phrase,
                         const SourceLoc* at = nullptr);
    bool duplicate(const Directive& d) { return directive_error(d, "is duplicate"); }
    // nginx's `invalid value "ARG" in "NAME" directive[, SUFFIX]`.
    bool invalid_value_in(const Directive& d, const Arg& a, std::string_view suffix = {});
    // nginx's `invalid parameter "ARG"`.
    bool invalid_parameter(const Arg& a);

    // ---- values
    // Compiles an argument with variables into `out`.
    bool compile(const Arg& a, Template& out);
    // nginx's ngx_conf_full_name(): relative names resolve against the conf prefix
    // (certificates, includes) or the prefix (logs, pid).
    std::string full_path(std::string_view name, bool against_conf_prefix) const;

    // ---- where we are
    Context context() const { return context_; }
    LocSettings& loc_settings();  // http, server or location level
    SrvSettings& srv_settings();  // http or server level

    Config config;
    MainSettings main;
    std::unique_ptr<HttpBuild> http;
    ServerBuild* server = nullptr;
    LocationBuild* location = nullptr;
    // Siblings list where a new location goes (server's or the parent location's).
    std::vector<std::unique_ptr<LocationBuild>>* location_list = nullptr;
    // Exact and prefix location names seen per block (keyed by the block's list).
    struct LocationNames {
        std::unordered_map<std::string, const LocationConf*> exact;
        std::unordered_map<std::string, const LocationConf*> inclusive;
    };
    std::unordered_map<const void*, LocationNames> location_names;
    UpstreamConf* upstream = nullptr;
    std::set<std::string, std::less<>> upstream_seen;  // directives seen in this upstream{}
    VariableRegistry vars;
    std::set<std::string, std::less<>> warned_ignored;  // one warning per ignored name

  private:
    bool dispatch(const Directive& d, Context ctx);
    bool check(const Directive& d, Context ctx);
    void hint_missing_semicolon(const Directive& d);
    bool unknown_directive(const Directive& d, Context ctx);
    void warn_typographic_quotes(const Directive& d);
    void prescan_variables(const std::vector<Directive>& main);

    std::string prefix_;
    std::string conf_prefix_;
    Diagnostics& diags_;
    Context context_ = ctx_main;
};

// Context name for messages ("http", "server"...).
std::string_view context_name(Context ctx);

}  // namespace ferry::conf
