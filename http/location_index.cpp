#include "http/location_index.h"

#include <algorithm>

namespace ferry::http {

using conf::LocationConf;
using Kind = LocationConf::Match;

// A prefix or exact location (or both, joined) before it becomes a Node.
struct LocationIndex::Entry {
    std::string_view name;  // the whole name
    const LocationConf* exact = nullptr;
    int exact_level = -1;
    const LocationConf* inclusive = nullptr;
    int inclusive_level = -1;
    bool auto_redirect = false;
};

namespace {

// nginx orders location names bytewise, except that '/' sorts below every other byte: so
// that "/a/" is the first name after "/a", and a URI one '/' short of a name always meets
// that name during the search (see the auto redirect).
int byte_rank(unsigned char c) {
    return c == '/' ? -1 : c;
}

int compare_prefix(std::string_view a, std::string_view b, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (a[i] != b[i])
            return byte_rank(static_cast<unsigned char>(a[i])) -
                   byte_rank(static_cast<unsigned char>(b[i]));
    return 0;
}

// Sort order of names: a name sorts before the names it is a prefix of.
bool name_before(std::string_view a, std::string_view b) {
    int rc = compare_prefix(a, b, std::min(a.size(), b.size()));
    return rc != 0 ? rc < 0 : a.size() < b.size();
}

// nginx's auto_redirect: set by proxy_pass in a location whose name ends with '/'.
bool auto_redirects(const LocationConf& loc) {
    return loc.proxy_pass.has_value() && !loc.pattern.empty() && loc.pattern.back() == '/';
}

}  // namespace

LocationIndex::LocationIndex(const std::vector<std::unique_ptr<LocationConf>>& locations) {
    build_level(locations);
}

// Indexes the locations of one block; returns the level's index, or -1 for a block without
// nested locations (the server level always gets level 0).
int LocationIndex::build_level(const std::vector<std::unique_ptr<LocationConf>>& locations) {
    if (locations.empty() && !levels_.empty()) return -1;
    int index = static_cast<int>(levels_.size());
    levels_.emplace_back();

    std::vector<Entry> entries;
    for (const auto& owned : locations) {
        const LocationConf& loc = *owned;
        int nested = build_level(loc.locations);
        switch (loc.match) {
            case Kind::named:
                named_.emplace(loc.pattern, &loc);  // keeps the first of duplicates
                break;
            case Kind::regex:
            case Kind::regex_icase:
                levels_[index].regexes.push_back({&loc, nested});
                break;
            case Kind::exact:
                entries.push_back({loc.pattern, &loc, nested, nullptr, -1, auto_redirects(loc)});
                break;
            case Kind::prefix:
            case Kind::prefix_no_regex:
                entries.push_back({loc.pattern, nullptr, -1, &loc, nested, auto_redirects(loc)});
                break;
        }
    }

    // Sorted by name, an exact location before the prefix one of the same name; then the
    // two joined into one entry, as nginx's ngx_http_join_exact_locations does.
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        if (a.name != b.name) return name_before(a.name, b.name);
        return a.exact != nullptr && b.exact == nullptr;
    });
    std::vector<Entry> joined;
    for (const Entry& e : entries) {
        if (joined.empty() || joined.back().name != e.name) {
            joined.push_back(e);
            continue;
        }
        Entry& j = joined.back();
        if (e.inclusive && !j.inclusive) {  // an exact and a prefix location
            j.inclusive = e.inclusive;
            j.inclusive_level = e.inclusive_level;
            j.auto_redirect = j.auto_redirect || e.auto_redirect;
        }
        // else a duplicate: the loader reports it; the first one stays
    }

    auto [begin, end] = build_nodes(joined, 0, joined.size(), 0);
    levels_[index].nodes_begin = begin;
    levels_[index].nodes_end = end;
    return index;
}

// Turns sorted[begin, end) into sibling nodes (stored contiguously) whose names are
// relative to `prefix` bytes; the names extending a prefix location become its children,
// as nginx's ngx_http_create_locations_list does. Returns the siblings' range in nodes_.
std::pair<uint32_t, uint32_t> LocationIndex::build_nodes(const std::vector<Entry>& sorted,
                                                         size_t begin, size_t end, size_t prefix) {
    std::vector<std::pair<size_t, size_t>> groups;  // sibling index, end of its children
    for (size_t i = begin; i < end;) {
        size_t j = i + 1;
        if (sorted[i].inclusive)
            while (j < end && sorted[j].name.starts_with(sorted[i].name))
                ++j;
        groups.emplace_back(i, j);
        i = j;
    }

    auto first = static_cast<uint32_t>(nodes_.size());
    nodes_.resize(nodes_.size() + groups.size());
    for (size_t k = 0; k < groups.size(); ++k) {
        const Entry& e = sorted[groups[k].first];
        Node& node = nodes_[first + k];
        node.name = e.name.substr(prefix);
        node.exact = e.exact;
        node.exact_level = e.exact_level;
        node.inclusive = e.inclusive;
        node.inclusive_level = e.inclusive_level;
        node.auto_redirect = e.auto_redirect;
    }
    for (size_t k = 0; k < groups.size(); ++k) {
        auto [head, children_end] = groups[k];
        if (head + 1 == children_end) continue;
        auto [cb, ce] = build_nodes(sorted, head + 1, children_end, sorted[head].name.size());
        nodes_[first + k].children_begin = cb;  // nodes_ may have moved: index again
        nodes_[first + k].children_end = ce;
    }
    return {first, first + static_cast<uint32_t>(groups.size())};
}

// The binary search of one level's prefix/exact names (nginx's
// ngx_http_core_find_static_location). Returns `exact` for an exact location equal to the
// URI, `prefix` with the longest matching prefix location, `redirect` for a proxied name
// one '/' longer than the URI, `none` otherwise; `current` is set to what was found.
LocationIndex::Found LocationIndex::find_static(const Level& level, std::string_view uri,
                                                Current& current) const {
    Found found = Found::none;
    uint32_t lo = level.nodes_begin, hi = level.nodes_end;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const Node& node = nodes_[mid];
        size_t n = std::min(uri.size(), node.name.size());
        int rc = compare_prefix(uri, node.name, n);
        if (rc < 0) {
            hi = mid;
            continue;
        }
        if (rc > 0) {
            lo = mid + 1;
            continue;
        }
        if (uri.size() > node.name.size()) {
            if (!node.inclusive) {  // an exact-only name cannot match a longer URI
                lo = mid + 1;
                continue;
            }
            current = {node.inclusive, node.inclusive_level};  // the longest prefix so far
            found = Found::prefix;
            uri.remove_prefix(n);
            lo = node.children_begin;
            hi = node.children_end;
            continue;
        }
        if (uri.size() == node.name.size()) {
            if (node.exact) {
                current = {node.exact, node.exact_level};
                return Found::exact;
            }
            current = {node.inclusive, node.inclusive_level};
            return Found::prefix;
        }
        // The URI is shorter than the name: one '/' short of a proxied location redirects.
        if (uri.size() + 1 == node.name.size() && node.auto_redirect) {
            current = node.exact ? Current{node.exact, node.exact_level}
                                 : Current{node.inclusive, node.inclusive_level};
            found = Found::redirect;
        }
        hi = mid;
    }
    return found;
}

// nginx's ngx_http_core_find_location for one block: its static names, then the nested
// locations of the prefix found, then (unless that prefix is `^~`) its regexes.
LocationIndex::Found LocationIndex::find_in_level(int level_index, std::string_view uri,
                                                  Current& current,
                                                  conf::Captures* captures) const {
    const Level& level = levels_[level_index];
    Found found = find_static(level, uri, current);
    bool no_regex = false;
    if (found == Found::prefix) {
        no_regex = current.location->match == Kind::prefix_no_regex;
        found =
            current.level >= 0 ? find_in_level(current.level, uri, current, captures) : Found::none;
    }
    if (found == Found::exact || found == Found::redirect) return found;
    if (no_regex) return found;

    for (const RegexEntry& re : level.regexes) {
        if (!re.location->regex || !re.location->regex->match(uri, captures)) continue;
        current = {re.location, re.level};
        if (re.level >= 0) find_in_level(re.level, uri, current, captures);
        return Found::exact;  // a regex match ends the search
    }
    return found;
}

LocationIndex::Match LocationIndex::match(std::string_view uri, conf::Captures* captures) const {
    Current current;
    Found found = find_in_level(0, uri, current, captures);
    return {current.location, found == Found::redirect};
}

const LocationConf* LocationIndex::find_named(std::string_view name) const {
    auto it = named_.find(name);
    return it == named_.end() ? nullptr : it->second;
}

}  // namespace ferry::http
