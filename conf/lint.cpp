#include "conf/lint.h"

#include <fmt/format.h>

#include "conf/builder.h"
#include "conf/lexer.h"

namespace ferry::conf {
namespace {

using Rules = std::vector<HeaderRule>;

const HeaderRule* find_rule(const Rules* rules, std::string_view name) {
    if (!rules) return nullptr;
    for (const HeaderRule& r : *rules) {
        if (to_lower(r.name) == name) return &r;
    }
    return nullptr;
}

bool mentions_upgrade(const HeaderRule& r) {
    return to_lower(r.value.raw()).find("upgrade") != std::string::npos ||
           r.value.uses(VarKind::http_header, "connection");
}

class Linter {
  public:
    Linter(Builder& b, const HttpBuild& http) : b_(b), http_(http) {}

    void http_level() { repeated_headers(http_.loc); }

    void server(const ServerBuild& sb) {
        dropped_headers(sb.loc, http_.loc.set_headers_shared.get(), "http", sb.conf->loc);
        repeated_headers(sb.loc);
        const char* source = sb.loc.own_set_headers ? "server" : "http";
        for (const auto& lb : sb.locations)
            location(*lb, sb.loc, source);
    }

  private:
    // `source` names the level whose proxy_set_header lines `parent` carries.
    void location(const LocationBuild& lb, const LocSettings& parent, const char* source) {
        const LocSettings& s = lb.settings;
        dropped_headers(s, parent.set_headers_shared.get(), source, lb.conf->loc);
        repeated_headers(s);
        if (lb.conf->proxy_pass) proxied_location(lb);
        const char* child_source = s.own_set_headers ? "enclosing location" : source;
        for (const auto& child : lb.children)
            location(*child, s, child_source);
    }

    // Two proxy_set_header lines for one name at one level both reach the upstream.
    void repeated_headers(const LocSettings& s) {
        if (!s.own_set_headers) return;
        const Rules& own = *s.proxy_set_headers;
        for (size_t i = 0; i < own.size(); ++i) {
            for (size_t j = 0; j < i; ++j) {
                if (to_lower(own[j].name) != to_lower(own[i].name)) continue;
                b_.warn(own[i].loc,
                        fmt::format("\"{}\" is set twice at this level; both lines are sent "
                                    "upstream",
                                    printable(own[i].name)),
                        fmt::format("fix: keep one of this line and the one at {}",
                                    own[j].loc.to_string()));
                break;
            }
        }
    }

    void proxied_location(const LocationBuild& lb) {
        const LocSettings& s = lb.settings;
        const Rules* rules = s.set_headers_shared.get();
        const HeaderRule* upgrade = find_rule(rules, "upgrade");
        const HeaderRule* connection = find_rule(rules, "connection");
        if (upgrade && upgrade->value.empty()) upgrade = nullptr;

        if (upgrade && s.proxy_http_version.value_or(11) == 10) {
            b_.warn(upgrade->loc,
                    "\"Upgrade\" is sent upstream but \"proxy_http_version\" is 1.0, so the "
                    "connection can never be upgraded",
                    fmt::format("fix: remove \"proxy_http_version 1.0\" at {} (ferry's default is "
                                "1.1)",
                                s.proxy_http_version_loc.to_string()));
        }
        if (upgrade && !connection) {
            b_.warn(upgrade->loc, "\"Upgrade\" is sent upstream without \"Connection\"",
                    "fix: add \"proxy_set_header Connection $connection_upgrade;\" with the "
                    "map $http_upgrade $connection_upgrade idiom");
        }
        if (connection && !upgrade && mentions_upgrade(*connection)) {
            b_.warn(connection->loc,
                    "\"Connection\" asks for an upgrade but \"Upgrade\" is not sent upstream",
                    "fix: add \"proxy_set_header Upgrade $http_upgrade;\"");
        }
        if (connection && !connection->value.has_variables() &&
            to_lower(connection->value.raw()) == "upgrade") {
            b_.warn(connection->loc,
                    "\"proxy_set_header Connection upgrade\" asks every request to upgrade, "
                    "which defeats upstream keepalive",
                    "fix: map $http_upgrade $connection_upgrade { default upgrade; '' close; } "
                    "and \"proxy_set_header Connection $connection_upgrade;\"");
        }
        if (upgrade && swapped(*upgrade, connection)) {
            b_.warn(upgrade->loc, "the values of \"Upgrade\" and \"Connection\" look swapped",
                    "fix: \"proxy_set_header Upgrade $http_upgrade;\" and "
                    "\"proxy_set_header Connection $connection_upgrade;\"");
        }
        if (upgrade && !s.proxy_read_timeout) {
            b_.warn(lb.conf->loc,
                    "WebSocket connections through this location are closed after 60s without "
                    "traffic (the default \"proxy_read_timeout\")",
                    "fix: set \"proxy_read_timeout\" in this location to the longest silence "
                    "you expect, e.g. \"proxy_read_timeout 1h;\"");
        }
        slash_mismatch(lb);
    }

    // Upgrade given a Connection-style value (a map over $http_upgrade whose name says
    // connection), or Connection given the raw $http_upgrade.
    bool swapped(const HeaderRule& upgrade, const HeaderRule* connection) const {
        for (const Template::Part& p : upgrade.value.parts()) {
            if (p.is_var && p.var.kind == VarKind::map &&
                p.var.name.find("connection") != std::string::npos) {
                return true;
            }
        }
        return connection && connection->value.uses(VarKind::http_header, "upgrade");
    }

    // nginx inherits proxy_set_header only by levels that set none: a level with its own
    // lines silently drops every header set above it.
    void dropped_headers(const LocSettings& s, const Rules* above, const char* level,
                         const SourceLoc& where) {
        if (!s.own_set_headers || !above || above->empty()) return;
        const Rules& own = *s.proxy_set_headers;
        std::string dropped;
        for (const HeaderRule& r : *above) {
            if (find_rule(&own, to_lower(r.name))) continue;
            if (dropped.find(fmt::format("\"{}\"", r.name)) != std::string::npos) continue;
            if (!dropped.empty()) dropped += ", ";
            dropped += fmt::format("\"{}\"", printable(r.name));
        }
        if (dropped.empty()) return;
        const SourceLoc& at = own.empty() ? where : own.front().loc;
        b_.warn(at,
                fmt::format("proxy_set_header here drops {} set at the {} level", dropped, level),
                "fix: repeat those proxy_set_header lines here; nginx inherits them only by "
                "levels that set none");
    }

    void slash_mismatch(const LocationBuild& lb) {
        const LocationConf& loc = *lb.conf;
        const ProxyPass& pass = *loc.proxy_pass;
        if (pass.has_variables || !pass.uri) return;
        if (loc.match != LocationConf::Match::prefix &&
            loc.match != LocationConf::Match::prefix_no_regex) {
            return;
        }
        const std::string& uri = *pass.uri;
        bool loc_slash = !loc.pattern.empty() && loc.pattern.back() == '/';
        bool uri_slash = !uri.empty() && uri.back() == '/';
        if (loc_slash == uri_slash || uri.find('?') != std::string::npos) return;
        std::string example = loc.pattern + (loc_slash ? "a" : "/a");
        std::string result = uri + example.substr(loc.pattern.size());
        b_.warn(pass.loc,
                fmt::format("\"location {}\" and \"proxy_pass ...{}\" differ in their trailing "
                            "\"/\": a request for {} goes upstream as {}",
                            printable(loc.pattern), printable(uri), printable(example),
                            printable(result)),
                "fix: end both the location and the proxy_pass URI with \"/\", or neither");
    }

    Builder& b_;
    const HttpBuild& http_;
};

}  // namespace

void lint_websocket(Builder& b, const HttpBuild& http) {
    Linter linter(b, http);
    linter.http_level();
    for (const auto& sb : http.servers)
        linter.server(*sb);
}

}  // namespace ferry::conf
