#include "http/try_files.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>

#include "core/socket.h"
#include "http/connection.h"
#include "http/phase_hooks.h"
#include "http/static_path.h"
#include "http/variables.h"

namespace ferry::http {

namespace {

// The file name for `name` (a URI) in the location's root or alias.
std::string file_for(ClientConnection& c, std::string_view name) {
    const conf::StaticConf& f = c.loc().files;
    std::string root;
    RequestVars vars(c);
    f.root.evaluate(vars, root);
    if (f.root.has_variables() && (root.empty() || root[0] != '/')) root = f.prefix + root;
    PathMapping m{root, f.alias, f.alias_strip, f.alias_regex};
    if (m.alias_regex) m.alias = false;  // the alias is the directory names are added to
    if (m.alias && name.substr(0, m.alias_strip) != c.request().uri.substr(0, m.alias_strip)) {
        m.alias_strip = 0;
    }
    std::string path;
    size_t root_len = 0;
    if (!map_uri_to_path(m, name, path, root_len)) path.clear();
    return path;
}

// Splits "uri?args" as nginx does for try_files targets.
void split_args(std::string& uri, std::string& args) {
    size_t q = uri.find('?');
    if (q == std::string::npos) return;
    args = uri.substr(q + 1);
    uri.resize(q);
}

int fall_back(ClientConnection& c, const conf::TryFile& last) {
    std::string target;
    RequestVars vars(c);
    last.name.evaluate(vars, target);
    if (!target.empty() && target[0] == '@') {
        c.named_redirect(target);
        return phase_done;
    }
    if (target.size() > 1 && target[0] == '=') {
        int code = 0;
        for (char ch : std::string_view(target).substr(1))
            code = code * 10 + (ch - '0');
        return code;
    }
    std::string args(c.request().args);
    split_args(target, args);
    c.internal_redirect(target, args);
    return phase_done;
}

}  // namespace

int run_try_files(ClientConnection& c) {
    const auto& list = c.loc().files.try_files;
    if (list.empty()) return phase_next;
    Request& req = c.request();
    std::string name;
    for (size_t i = 0; i + 1 < list.size(); ++i) {
        name.clear();
        RequestVars vars(c);
        list[i].name.evaluate(vars, name);
        if (name.empty() || name[0] != '/') continue;
        std::string args;
        bool has_args = name.find('?') != std::string::npos;
        if (has_args) split_args(name, args);
        std::string path = file_for(c, name);
        if (path.empty()) continue;
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            int err = errno;
            if (err != ENOENT && err != ENOTDIR && err != ENAMETOOLONG && err != ELOOP) {
                c.log_error(conf::LogLevel::crit,
                            fmt::format("stat() \"{}\" failed {}", path, core::errno_text(err)));
            }
            continue;
        }
        if (S_ISDIR(st.st_mode) != list[i].directory) continue;
        req.uri = name;
        if (has_args) {
            req.args_storage = std::move(args);
            req.args = req.args_storage;
        }
        req.uri_valid_unparsed = false;
        return phase_next;
    }
    return fall_back(c, list.back());
}

}  // namespace ferry::http
