#include "conf/map.h"

namespace ferry::conf {
namespace {

// Serves a map value's capture references from the map's own regex match and every
// other variable from the request.
class CaptureOverlay final : public VariableSource {
  public:
    CaptureOverlay(VariableSource& request, std::string_view subject, const Captures& captures,
                   const Regex& regex)
        : request_(request), subject_(subject), captures_(captures), regex_(regex) {}

    void append(const VarRef& var, std::string& out) override {
        if (var.kind != VarKind::capture) {
            request_.append(var, out);
            return;
        }
        if (var.name.empty()) {
            out += captures_.group(subject_, static_cast<int>(var.id));
            return;
        }
        for (const auto& [name, number] : regex_.names()) {
            if (name == var.name) {
                out += captures_.group(subject_, number);
                return;
            }
        }
        request_.append(var, out);  // a named capture of some other regex
    }

  private:
    VariableSource& request_;
    std::string_view subject_;
    const Captures& captures_;
    const Regex& regex_;
};

}  // namespace

int MapConf::find(std::string_view key, Captures* captures, const Regex** matched) const {
    if (!exact.empty() || !wildcards.empty()) {
        std::string lower = to_lower(key);
        if (auto it = exact.find(lower); it != exact.end()) return it->second;
        if (hostnames && !wildcards.empty()) {
            int v = wildcards.find(lower);
            if (v >= 0) return v;
        }
    }
    for (const RegexKey& r : regexes) {
        if (r.regex->match(key, captures)) {
            if (matched) *matched = r.regex.get();
            return r.value;
        }
    }
    return default_value;
}

void MapConf::evaluate(VariableSource& vars, std::string& out) const {
    std::string key;
    source.evaluate(vars, key);
    if (hostnames && !key.empty() && key.back() == '.') key.pop_back();
    Captures captures;
    const Regex* matched = nullptr;
    int index = find(key, &captures, &matched);
    if (index < 0) return;
    const Template& value = values[static_cast<size_t>(index)];
    if (matched && value.has_variables()) {
        CaptureOverlay overlay(vars, key, captures, *matched);
        value.evaluate(overlay, out);
        return;
    }
    value.evaluate(vars, out);
}

}  // namespace ferry::conf
