// `location [=|^~|~|~*|@] pattern { ... }` with nginx's rules for nesting and
// duplicates.
#include <fmt/format.h>

#include "conf/builder.h"
#include "conf/lexer.h"

namespace ferry::conf {
namespace {

using Match = LocationConf::Match;

// Splits the modifier from the pattern, as nginx does for both "= /a" and "=/a".
bool parse_modifier(Builder& b, const Directive& d, Match& match, std::string& pattern) {
    if (d.args.size() == 2) {
        const std::string& mod = d.args[0].text;
        pattern = d.args[1].text;
        if (mod == "=") {
            match = Match::exact;
        } else if (mod == "^~") {
            match = Match::prefix_no_regex;
        } else if (mod == "~") {
            match = Match::regex;
        } else if (mod == "~*") {
            match = Match::regex_icase;
        } else {
            return b.error(d.args[0].loc,
                           fmt::format("invalid location modifier \"{}\"", printable(mod)));
        }
        return true;
    }
    const std::string& name = d.args[0].text;
    if (!name.empty() && name[0] == '=') {
        match = Match::exact;
        pattern = name.substr(1);
    } else if (name.rfind("^~", 0) == 0) {
        match = Match::prefix_no_regex;
        pattern = name.substr(2);
    } else if (!name.empty() && name[0] == '~') {
        bool icase = name.size() > 1 && name[1] == '*';
        match = icase ? Match::regex_icase : Match::regex;
        pattern = name.substr(icase ? 2 : 1);
    } else {
        match = !name.empty() && name[0] == '@' ? Match::named : Match::prefix;
        pattern = name;
    }
    return true;
}

bool is_regex(Match m) {
    return m == Match::regex || m == Match::regex_icase;
}
bool is_inclusive(Match m) {
    return m == Match::prefix || m == Match::prefix_no_regex;
}

// nginx's checks for a location inside another location.
bool check_nesting(Builder& b, const Directive& d, const LocationConf& parent,
                   const LocationConf& child) {
    if (parent.match == Match::exact) {
        return b.error(d.loc, fmt::format("location \"{}\" cannot be inside the exact location "
                                          "\"{}\"",
                                          printable(child.pattern), printable(parent.pattern)));
    }
    if (parent.match == Match::named) {
        return b.error(d.loc, fmt::format("location \"{}\" cannot be inside the named location "
                                          "\"{}\"",
                                          printable(child.pattern), printable(parent.pattern)));
    }
    if (child.match == Match::named) {
        return b.error(d.loc, fmt::format("named location \"{}\" can be on the server level only",
                                          printable(child.pattern)));
    }
    if (!is_regex(child.match) &&
        child.pattern.compare(0, parent.pattern.size(), parent.pattern) != 0) {
        return b.error(d.loc,
                       fmt::format("location \"{}\" is outside location \"{}\"",
                                   printable(child.pattern), printable(parent.pattern)),
                       "a nested prefix location must start with its parent's prefix");
    }
    return true;
}

// nginx reports two exact, or two prefix (plain or ^~), locations with one name.
// nginx refuses two exact, or two prefix (with or without ^~), locations of one name in
// one block. Names are indexed per block so that a config with thousands of locations
// loads in linear time.
bool check_duplicate(Builder& b, const Directive& d,
                     const std::vector<std::unique_ptr<LocationBuild>>& siblings,
                     const LocationConf& loc) {
    bool exact = loc.match == Match::exact;
    if (!exact && !is_inclusive(loc.match)) return true;
    Builder::LocationNames& names = b.location_names[&siblings];
    auto& seen = exact ? names.exact : names.inclusive;
    auto [it, inserted] = seen.emplace(loc.pattern, &loc);
    if (inserted) return true;
    return b.error(d.loc, fmt::format("duplicate location \"{}\"", printable(loc.pattern)),
                   fmt::format("the first one is at {}", it->second->loc.to_string()));
}

}  // namespace

bool location_block(Builder& b, const Directive& d) {
    auto lb = std::make_unique<LocationBuild>();
    lb->conf = std::make_unique<LocationConf>();
    LocationConf& loc = *lb->conf;
    loc.loc = d.loc;
    if (!parse_modifier(b, d, loc.match, loc.pattern)) return false;
    if (is_regex(loc.match)) {
        std::string err;
        loc.regex = Regex::compile(loc.pattern, loc.match == Match::regex_icase, err);
        if (!loc.regex) return b.error(d.args.back().loc, err);
    }
    if (b.location && !check_nesting(b, d, *b.location->conf, loc)) return false;
    if (!check_duplicate(b, d, *b.location_list, loc)) return false;

    LocationBuild* saved = b.location;
    auto* saved_list = b.location_list;
    LocationBuild* self = lb.get();
    b.location_list->push_back(std::move(lb));
    b.location = self;
    b.location_list = &self->children;
    bool ok = b.process_block(d.block, ctx_location);
    b.location = saved;
    b.location_list = saved_list;
    return ok;
}

}  // namespace ferry::conf
