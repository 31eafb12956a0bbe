#include "http/static_path.h"

namespace ferry::http {

bool uri_escapes(std::string_view uri) {
    if (uri.find('\0') != std::string_view::npos) return true;
    size_t i = 0;
    while (i <= uri.size()) {
        size_t end = uri.find('/', i);
        if (end == std::string_view::npos) end = uri.size();
        std::string_view seg = uri.substr(i, end - i);
        if (seg == "." || seg == "..") return true;
        i = end + 1;
    }
    return false;
}

bool map_uri_to_path(const PathMapping& m, std::string_view uri, std::string& out,
                     size_t& root_len) {
    out.clear();
    if (uri.empty() || uri[0] != '/' || uri_escapes(uri)) return false;
    if (m.root.find('\0') != std::string_view::npos) return false;
    out.append(m.root);
    root_len = out.size();
    if (m.alias && m.alias_regex) {
        // The alias names the file; captures came from the normalised $uri.
        return !uri_escapes(out);
    }
    if (m.alias) {
        if (m.alias_strip > uri.size()) return false;
        uri.remove_prefix(m.alias_strip);
    }
    out.append(uri);
    // An alias without its trailing slash under a location with one ("location /i {
    // alias /data/img/; }" and "/i../x") would climb out: nginx serves that, ferry not.
    size_t last_slash = out.rfind('/', root_len ? root_len - 1 : 0);
    return !uri_escapes(
        std::string_view(out).substr(last_slash == std::string::npos ? 0 : last_slash));
}

std::string_view path_extension(std::string_view path) {
    size_t slash = path.rfind('/');
    std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
    size_t dot = last.rfind('.');
    if (dot == std::string_view::npos) return {};
    return last.substr(dot + 1);
}

}  // namespace ferry::http
