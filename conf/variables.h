// Which variable names exist, and the compiler from "$a-${b}" text to a Template.
// Names are resolved at load time, so an unknown variable is a load-time error
// (nginx: `unknown "foo" variable`), with a "did you mean" hint.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/diagnostic.h"
#include "conf/hostname_table.h"
#include "conf/template.h"

namespace ferry::conf {

class VariableRegistry {
  public:
    // Defines `$name` as the map with index `id`; a later map of the same name replaces
    // an earlier one (returns false then).
    bool add_map(std::string_view name, uint32_t id);
    // Defines `$name` as a `set` variable and returns its id (the same id when the name
    // is set again elsewhere, as nginx shares one variable between all `set`s).
    uint32_t add_set(std::string_view name);
    // Makes a named regex capture known as a variable.
    void add_capture_name(std::string_view name);

    // What `$name` refers to; nullopt if nothing by that name exists in ferry.
    std::optional<VarRef> resolve(std::string_view name) const;
    // True if nginx has a variable by this name that ferry does not implement.
    static bool is_nginx_only(std::string_view name);
    // True if the name is a builtin variable (cannot be the target of `set`/`map`).
    static bool is_builtin(std::string_view name);

    bool is_map(std::string_view name) const { return maps_.count(name) != 0; }
    bool is_set(std::string_view name) const { return sets_.count(name) != 0; }
    const std::vector<std::string>& set_names() const { return set_names_; }
    // Every known name, for suggestions.
    std::vector<std::string_view> all_names() const;

  private:
    StringMap<uint32_t> maps_;
    StringMap<uint32_t> sets_;
    std::vector<std::string> set_names_;
    StringMap<bool> captures_;
};

class TemplateCompiler {
  public:
    // Compiles `text` (an argument at `loc`, `quoted` as written). Errors (unknown or
    // malformed variables) and warnings (nginx variables ferry lacks, which evaluate
    // empty) are appended to `diags`. Returns false on error.
    static bool compile(std::string_view text, const SourceLoc& loc, bool quoted,
                        const VariableRegistry& vars, Template& out, Diagnostics& diags);
};

// The named groups of a regex pattern ("(?<name>", "(?P<name>", "(?'name'"), found
// without compiling it, so that variables can be known before their regex is read.
std::vector<std::string> regex_group_names(std::string_view pattern);

}  // namespace ferry::conf
