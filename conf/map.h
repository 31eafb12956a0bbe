// `map $source $variable { ... }`: a table compiled at load time (exact keys, host name
// wildcards with `hostnames`, an ordered list of regexes, a default) behind a variable.
// At run time the map is only evaluated: the request layer calls evaluate() the first
// time the variable is read and caches the result for the request, unless `volatile`.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "conf/hostname_table.h"
#include "conf/regex.h"
#include "conf/source_loc.h"
#include "conf/template.h"

namespace ferry::conf {

struct MapConf {
    std::string variable;  // the defined variable's name, without '$'
    Template source;       // the first argument, e.g. "$http_upgrade"
    bool hostnames = false;
    bool is_volatile = false;  // `volatile`: do not cache the value per request
    SourceLoc loc;

    struct RegexKey {
        std::shared_ptr<const Regex> regex;
        int value = 0;  // index into values
        SourceLoc loc;
    };
    std::vector<Template> values;   // every distinct value, in order
    StringMap<int> exact;           // lowercased key -> index into values
    HostnameTable wildcards;        // with `hostnames` only
    std::vector<RegexKey> regexes;  // tried in config order
    int default_value = -1;         // index into values; -1 = empty string

    // Index into `values` for `key` (exact, then wildcards, then regexes in order,
    // then default), or -1 for the empty default. With `captures`, a regex match leaves
    // its captures there (for the value's $1..$9).
    int find(std::string_view key, Captures* captures = nullptr,
             const Regex** matched = nullptr) const;

    // Evaluates the source with `vars`, looks it up and appends the chosen value to
    // `out`. Captures of a matching regex key are visible to the value ($1, named).
    void evaluate(VariableSource& vars, std::string& out) const;
};

}  // namespace ferry::conf
