#include "conf/suggest.h"

#include <algorithm>

namespace ferry::conf {

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string closest_name(std::string_view name, const std::vector<std::string_view>& candidates) {
    // Typos of a few letters; beyond that a suggestion is more confusing than helpful.
    size_t limit = std::max<size_t>(1, std::min<size_t>(name.size() / 3, 4));
    size_t best = limit + 1;
    std::string_view found;
    for (std::string_view c : candidates) {
        size_t len_gap = c.size() > name.size() ? c.size() - name.size() : name.size() - c.size();
        if (len_gap > limit) continue;
        size_t d = edit_distance(name, c);
        if (d < best) {
            best = d;
            found = c;
        }
    }
    return std::string(found);
}

}  // namespace ferry::conf
