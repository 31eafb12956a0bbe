#include "http/server_index.h"

namespace ferry::http {

using conf::ServerConf;
using conf::ServerName;

ServerIndex::ServerIndex(std::span<const ServerConf* const> servers,
                         const ServerConf* default_server)
    : default_(default_server ? default_server : (servers.empty() ? nullptr : servers[0])) {
    // The conflicts nginx reports: the same exact name twice, the same wildcard twice,
    // and "*.example.com" against ".example.com". Keeping the first is what nginx does.
    for (const ServerConf* server : servers) {
        for (const ServerName& sn : server->names) {
            std::string_view name = sn.name;
            switch (sn.kind) {
                case ServerName::Kind::exact:
                    exact_.emplace(name, server);
                    break;
                case ServerName::Kind::wildcard_front:
                    if (name.starts_with("*."))
                        leading_.emplace(name.substr(2), Wildcard{server, false});
                    else if (name.starts_with("."))
                        leading_.emplace(name.substr(1), Wildcard{server, true});
                    break;
                case ServerName::Kind::wildcard_back:
                    if (name.ends_with(".*"))
                        trailing_.emplace(name.substr(0, name.size() - 2), server);
                    break;
                case ServerName::Kind::regex:
                    if (sn.regex) regexes_.push_back({sn.regex.get(), server});
                    break;
            }
        }
    }
}

// Tries "a.b.example.com", then "b.example.com", "example.com", "com": the first suffix
// found is the longest wildcard. The host itself only matches a ".example.com" form.
const ServerConf* ServerIndex::find_leading_wildcard(std::string_view host) const {
    if (leading_.empty()) return nullptr;
    if (auto it = leading_.find(host); it != leading_.end() && it->second.matches_bare)
        return it->second.server;
    for (size_t dot = host.find('.'); dot != std::string_view::npos;
         dot = host.find('.', dot + 1)) {
        if (auto it = leading_.find(host.substr(dot + 1)); it != leading_.end())
            return it->second.server;
    }
    return nullptr;
}

// Tries "www.example.co" of "www.example.co.uk", then "www.example", then "www": the
// first prefix found (followed by a '.' in the host) is the longest wildcard.
const ServerConf* ServerIndex::find_trailing_wildcard(std::string_view host) const {
    if (trailing_.empty()) return nullptr;
    for (size_t dot = host.rfind('.'); dot != std::string_view::npos && dot > 0;
         dot = host.rfind('.', dot - 1)) {
        if (auto it = trailing_.find(host.substr(0, dot)); it != trailing_.end()) return it->second;
    }
    return nullptr;
}

const ServerConf* ServerIndex::find(std::string_view host, conf::Captures* captures,
                                    const conf::Regex** matched) const {
    if (auto it = exact_.find(host); it != exact_.end()) return it->second;
    if (host.empty()) return default_;
    if (const ServerConf* s = find_leading_wildcard(host)) return s;
    if (const ServerConf* s = find_trailing_wildcard(host)) return s;
    for (const Regex& re : regexes_) {
        if (!re.regex->match(host, captures)) continue;
        if (matched) *matched = re.regex;
        return re.server;
    }
    return default_;
}

}  // namespace ferry::http
