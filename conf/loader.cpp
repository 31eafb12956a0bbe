#include "conf/loader.h"

#include <unistd.h>

#include <climits>

#include "conf/builder.h"
#include "conf/lexer.h"
#include "conf/parser.h"

namespace ferry::conf {

std::string resolve_prefix(const std::string& prefix) {
    std::string p = prefix.empty() ? std::string(default_prefix) : prefix;
    if (p.empty()) {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd) != nullptr) p = cwd;
    }
    if (p.empty() || p.back() != '/') p += '/';
    return p;
}

std::string resolve_conf_file(const std::string& prefix, const std::string& conf_file) {
    std::string f = conf_file.empty() ? default_conf_path : conf_file;
    if (f[0] != '/') f = resolve_prefix(prefix) + f;
    return f;
}

LoadResult load(const LoadOptions& options) {
    LoadResult r;
    r.prefix = resolve_prefix(options.prefix);
    r.conf_file = resolve_conf_file(r.prefix, options.conf_file);
    // nginx's conf prefix: the directory of the main file; includes resolve against it.
    std::string conf_prefix = r.conf_file.substr(0, r.conf_file.rfind('/') + 1);

    std::vector<SourceFile>& files = r.files;
    Parser parser(conf_prefix, files, r.diagnostics);
    if (!options.allow_includes) parser.disable_includes();
    std::vector<Directive> command_line, main;
    if (!options.directives.empty() &&
        !parser.parse_command_line(options.directives, command_line)) {
        return r;
    }
    if (options.conf_text) {
        files.push_back(SourceFile{r.conf_file, *options.conf_text});
        if (!parser.parse_text(*options.conf_text, r.conf_file, main)) return r;
    } else if (!parser.parse_file(r.conf_file, SourceLoc{}, main)) {
        return r;
    }

    Builder builder(r.prefix, conf_prefix, r.diagnostics);
    if (!builder.run(command_line, main) || !builder.finish()) return r;
    Config config = builder.take_config();
    config.prefix = r.prefix;
    config.conf_file = r.conf_file;
    config.files = files;
    r.config = std::make_shared<const Config>(std::move(config));
    return r;
}

std::string dump(const Config& config) {
    std::string out;
    for (const SourceFile& f : config.files) {
        out += "# configuration file ";
        out += f.path;
        out += ":\n";
        out += f.contents;
        out += "\n";
    }
    return out;
}

}  // namespace ferry::conf
