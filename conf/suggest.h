// "Did you mean ...?" for unknown directive and variable names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ferry::conf {

// Edit distance between two byte strings (insertions, deletions, substitutions and
// swaps of two adjacent bytes each cost 1).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `name`, if it is close enough to be a plausible typo
// (distance at most 1 for short names, up to a third of the length for longer ones);
// "" when none is.
std::string closest_name(std::string_view name, const std::vector<std::string_view>& candidates);

}  // namespace ferry::conf
