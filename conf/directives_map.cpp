// map SOURCE $VARIABLE { ... }: read the body line by line, as nginx's map module
// does with its own line handler, and compile the table.
#include <fmt/format.h>

#include "conf/builder.h"
#include "conf/lexer.h"

namespace ferry::conf {
namespace {

struct MapBuilder {
    Builder& b;
    MapConf& map;
    StringMap<int> value_index;  // raw value text -> index into map.values

    bool value_of(const Arg& a, int& index) {
        if (auto it = value_index.find(a.text); it != value_index.end()) {
            index = it->second;
            return true;
        }
        Template t;
        if (!b.compile(a, t)) return false;
        index = static_cast<int>(map.values.size());
        map.values.push_back(std::move(t));
        value_index.emplace(a.text, index);
        return true;
    }

    bool add_regex(const Directive& line, std::string_view key, int value) {
        bool icase = key.size() > 1 && key[1] == '*';
        std::string err;
        auto re = Regex::compile(key.substr(icase ? 2 : 1), icase, err);
        if (!re) return b.error(line.loc, err);
        map.regexes.push_back(MapConf::RegexKey{std::move(re), value, line.loc});
        return true;
    }

    bool add_exact(const Directive& line, std::string_view key, int value) {
        if (map.hostnames) {
            switch (map.wildcards.add(key, value)) {
                case HostnameTable::AddResult::ok:
                    return true;
                case HostnameTable::AddResult::invalid:
                    return b.error(line.loc, fmt::format("invalid hostname or wildcard \"{}\"",
                                                         printable(key)));
                case HostnameTable::AddResult::conflict:
                    break;
            }
        } else if (map.exact.emplace(to_lower(key), value).second) {
            return true;
        }
        return b.error(line.loc, fmt::format("conflicting parameter \"{}\"", printable(key)));
    }

    bool line(const Directive& line) {
        if (line.has_block) return b.error(line.terminator, "unexpected \"{\"");
        if (line.args.empty() && line.name == "hostnames") {
            map.hostnames = true;
            return true;
        }
        if (line.args.empty() && line.name == "volatile") {
            map.is_volatile = true;
            return true;
        }
        if (line.args.size() != 1) {
            return b.error(line.loc, "invalid number of the map parameters");
        }
        int value = 0;
        if (!value_of(line.args[0], value)) return false;
        std::string_view key = line.name;
        if (key == "default") {
            if (map.default_value >= 0) {
                return b.error(line.loc, "duplicate default map parameter");
            }
            map.default_value = value;
            return true;
        }
        if (!key.empty() && key[0] == '~') return add_regex(line, key, value);
        if (!key.empty() && key[0] == '\\') key.remove_prefix(1);
        return add_exact(line, key, value);
    }
};

bool map_block(Builder& b, const Directive& d) {
    const Arg& var = d.args[1];
    if (var.text.empty() || var.text[0] != '$') {
        return b.error(var.loc, fmt::format("invalid variable name \"{}\"", printable(var.text)));
    }
    std::string name = var.text.substr(1);
    if (VariableRegistry::is_builtin(name)) {
        return b.error(var.loc, fmt::format("the duplicate \"{}\" variable", printable(name)));
    }
    HttpConf& http = b.http->conf;
    for (const auto& other : http.maps) {
        if (other->variable == name) {
            b.warn(var.loc,
                   fmt::format("variable \"${}\" is already defined by the map at {}", name,
                               other->loc.to_string()),
                   "as in nginx, this later map replaces the earlier one");
        }
    }
    auto map = std::make_unique<MapConf>();
    map->variable = name;
    map->loc = d.loc;
    if (!b.compile(d.args[0], map->source)) return false;
    MapBuilder mb{b, *map, {}};
    for (const Directive& line : d.block) {
        if (!mb.line(line)) return false;
    }
    http.maps.push_back(std::move(map));
    return true;
}

constexpr DirectiveRow rows[] = {
    {"map", ctx_http, block | args_2, map_block, Support::yes,
     "a variable from a table: exact keys, ~regex keys with captures, default, hostnames, "
     "volatile, include"},
    {"map_hash_max_size", ctx_http, args_1, nullptr, Support::ignored,
     "ferry sizes its tables itself"},
    {"map_hash_bucket_size", ctx_http, args_1, nullptr, Support::ignored,
     "ferry sizes its tables itself"},
};

}  // namespace

std::span<const DirectiveRow> map_directives() {
    return rows;
}

}  // namespace ferry::conf
