#include "conf/hostname_table.h"

namespace ferry::conf {

std::string to_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

bool HostnameTable::is_wildcard(std::string_view name) {
    return (name.size() > 1 && name[0] == '.') ||
           (name.size() > 2 && name[0] == '*' && name[1] == '.') ||
           (name.size() > 2 && name.substr(name.size() - 2) == ".*");
}

HostnameTable::AddResult HostnameTable::add(std::string_view name, int value) {
    int stars = 0;
    for (size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '*' && ++stars > 1) return AddResult::invalid;
        if (name[i] == '.' && i + 1 < name.size() && name[i + 1] == '.') {
            return AddResult::invalid;
        }
        if (name[i] == '\0') return AddResult::invalid;
    }
    std::string key = to_lower(name);
    if (key.size() > 1 && key[0] == '.') {
        HeadEntry& e = head_[key.substr(1)];
        if (e.dot_value >= 0 || exact_.count(key.substr(1))) return AddResult::conflict;
        e.dot_value = value;
        return AddResult::ok;
    }
    if (key.size() > 2 && key[0] == '*' && key[1] == '.') {
        HeadEntry& e = head_[key.substr(2)];
        if (e.value >= 0) return AddResult::conflict;
        e.value = value;
        return AddResult::ok;
    }
    if (key.size() > 2 && key.substr(key.size() - 2) == ".*") {
        auto [it, inserted] = tail_.emplace(key.substr(0, key.size() - 2), value);
        return inserted ? AddResult::ok : AddResult::conflict;
    }
    if (stars > 0) return AddResult::invalid;
    auto dot_form = head_.find(key);
    if (dot_form != head_.end() && dot_form->second.dot_value >= 0) return AddResult::conflict;
    auto [it, inserted] = exact_.emplace(std::move(key), value);
    return inserted ? AddResult::ok : AddResult::conflict;
}

int HostnameTable::find(std::string_view host) const {
    if (!exact_.empty()) {
        auto it = exact_.find(host);
        if (it != exact_.end()) return it->second;
    }
    if (!head_.empty()) {
        // The whole name can only match ".suffix"; each shorter suffix after a dot can
        // match either form. Longest suffix first.
        auto whole = head_.find(host);
        if (whole != head_.end() && whole->second.dot_value >= 0) return whole->second.dot_value;
        for (size_t dot = host.find('.'); dot != std::string_view::npos;
             dot = host.find('.', dot + 1)) {
            auto it = head_.find(host.substr(dot + 1));
            if (it == head_.end()) continue;
            if (it->second.value >= 0) return it->second.value;
            if (it->second.dot_value >= 0) return it->second.dot_value;
        }
    }
    if (!tail_.empty()) {
        for (size_t dot = host.rfind('.'); dot != std::string_view::npos && dot > 0;
             dot = host.rfind('.', dot - 1)) {
            auto it = tail_.find(host.substr(0, dot));
            if (it != tail_.end()) return it->second;
        }
    }
    return -1;
}

}  // namespace ferry::conf
