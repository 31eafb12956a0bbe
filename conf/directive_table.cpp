#include "conf/directive_table.h"

#include <fmt/format.h>

#include "conf/hostname_table.h"
#include "conf/lexer.h"

namespace ferry::conf {
namespace {

struct Index {
    std::vector<const DirectiveRow*> rows;
    StringMap<std::vector<const DirectiveRow*>> by_name;

    Index() {
        for (auto table :
             {core_directives(), http_directives(), proxy_directives(), upstream_directives(),
              map_directives(), log_directives(), ssl_directives(), rewrite_directives(),
              error_page_directives(), static_directives(), policy_directives()}) {
            for (const DirectiveRow& row : table) {
                rows.push_back(&row);
                by_name[std::string(row.name)].push_back(&row);
            }
        }
    }
};

const Index& index() {
    static const Index idx;
    return idx;
}

}  // namespace

std::vector<const DirectiveRow*> find_directive(std::string_view name) {
    const Index& idx = index();
    auto it = idx.by_name.find(name);
    if (it == idx.by_name.end()) return {};
    return it->second;
}

const std::vector<const DirectiveRow*>& all_directives() {
    return index().rows;
}

// The checks of nginx's ngx_conf_handler(), in its order: terminator, then count.
std::string shape_error(const DirectiveRow& row, const Directive& d) {
    std::string name = printable(d.name);
    if (!(row.arity & block) && d.has_block) {
        return fmt::format("directive \"{}\" is not terminated by \";\"", name);
    }
    if ((row.arity & block) && !d.has_block) {
        return fmt::format("directive \"{}\" has no opening \"{{\"", name);
    }
    if (row.arity & args_any) return {};
    size_t n = d.args.size();
    bool ok;
    if (row.arity & args_flag) {
        ok = n == 1;
    } else if (row.arity & args_1more) {
        ok = n >= 1;
    } else if (row.arity & args_2more) {
        ok = n >= 2;
    } else if (n > 7) {
        ok = false;
    } else {
        ok = (row.arity & (1u << n)) != 0;
    }
    if (ok) return {};
    return fmt::format("invalid number of arguments in \"{}\" directive", name);
}

}  // namespace ferry::conf
