// Location selection exactly as nginx does it (ngx_http_core_find_location and the
// static location trees built by ngx_http_init_static_location_trees):
//
//  1. Among the prefix and exact locations of a level, a binary search over names sorted
//     nginx's way ('/' sorts lowest) finds an exact match (which ends the search) or the
//     longest matching prefix, descending into prefixes that contain longer ones.
//  2. The nested locations of the prefix found are searched the same way.
//  3. Unless the prefix found is `^~`, the regex locations of the level (nested ones
//     first, then the enclosing level's) are tried in config order; the first match wins
//     and its own nested locations are searched.
//  4. A URI one '/' short of a prefix location that proxies (e.g. "/app" for
//     `location /app/ { proxy_pass ...; }`) asks for a 301 to the location's name.
//
// Built once per server when the configuration loads; lookups allocate nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "conf/model.h"

namespace ferry::http {

class LocationIndex {
  public:
    // Indexes `locations` (a server's, in config order) and all nested ones. The
    // locations must outlive the index. Two locations of one level with the same kind and
    // name (the configuration loader rejects these, as nginx does) keep the first.
    explicit LocationIndex(const std::vector<std::unique_ptr<conf::LocationConf>>& locations);

    struct Match {
        const conf::LocationConf* location = nullptr;  // nullptr: use the server's defaults
        // The URI lacks only the trailing '/' of `location`'s name and that location
        // proxies: answer 301 with Location: escape_uri(name) [+ "?" args], as nginx does.
        bool redirect_with_slash = false;
    };

    // Selects the location for the normalised `uri`. With `captures`, the captures of
    // the regex location that matched are stored there (untouched when none matched).
    Match match(std::string_view uri, conf::Captures* captures) const;

    // match(uri).location.
    const conf::LocationConf* find(std::string_view uri, conf::Captures* captures) const {
        return match(uri, captures).location;
    }

    // A named location by its name as written ("@fallback"); nullptr when there is none.
    const conf::LocationConf* find_named(std::string_view name) const;

  private:
    // One prefix/exact name of a level. Names that extend an inclusive (prefix) name are
    // nested below it, relative to it, as in nginx's location tree.
    struct Node {
        std::string_view name;  // relative to the enclosing node's name
        const conf::LocationConf* exact = nullptr;
        const conf::LocationConf* inclusive = nullptr;
        int exact_level = -1;  // levels_ index of the location's nested locations
        int inclusive_level = -1;
        bool auto_redirect = false;
        uint32_t children_begin = 0;  // into nodes_
        uint32_t children_end = 0;
    };
    struct RegexEntry {
        const conf::LocationConf* location;
        int level;  // of its nested locations, -1 when it has none
    };
    // The locations directly inside one block (the server or a location).
    struct Level {
        uint32_t nodes_begin = 0;  // the level's top nodes, sorted, into nodes_
        uint32_t nodes_end = 0;
        std::vector<RegexEntry> regexes;  // in config order
    };
    // What a search found so far: the location and the level of its nested locations.
    struct Current {
        const conf::LocationConf* location = nullptr;
        int level = -1;
    };
    enum class Found : uint8_t { none, exact, prefix, redirect };
    struct Entry;

    int build_level(const std::vector<std::unique_ptr<conf::LocationConf>>& locations);
    std::pair<uint32_t, uint32_t> build_nodes(const std::vector<Entry>& sorted, size_t begin,
                                              size_t end, size_t prefix);
    Found find_static(const Level& level, std::string_view uri, Current& current) const;
    Found find_in_level(int level, std::string_view uri, Current& current,
                        conf::Captures* captures) const;

    std::vector<Node> nodes_;
    std::vector<Level> levels_;  // [0] is the server level
    std::unordered_map<std::string_view, const conf::LocationConf*> named_;
};

}  // namespace ferry::http
