#include "http/proxy_redirect.h"

namespace ferry::http {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// Serves $1..$9 from a proxy_redirect regex's match on the header value, everything
// else from the request.
class RedirectVars final : public conf::VariableSource {
  public:
    RedirectVars(conf::VariableSource& request, std::string_view subject,
                 const conf::Captures& caps)
        : request_(request), subject_(subject), caps_(caps) {}
    void append(const conf::VarRef& var, std::string& out) override {
        if (var.kind != conf::VarKind::capture || !var.name.empty()) {
            request_.append(var, out);
            return;
        }
        int g = static_cast<int>(var.id);
        if (g >= caps_.count()) return;
        int start = caps_.offsets[2 * g];
        int end = caps_.offsets[2 * g + 1];
        if (start < 0 || end < start) return;
        out.append(subject_.substr(static_cast<size_t>(start), static_cast<size_t>(end - start)));
    }

  private:
    conf::VariableSource& request_;
    std::string_view subject_;
    const conf::Captures& caps_;
};

// Applies one rule; true if it matched (and `out` got the result).
bool apply(const conf::ProxyRedirect& rule, std::string_view value, conf::VariableSource& vars,
           std::string& out) {
    if (rule.regex) {
        conf::Captures caps;
        if (!rule.regex->match(value, &caps)) return false;
        RedirectVars rv(vars, value, caps);
        rule.to.evaluate(rv, out);  // a regex rule replaces the whole value, as nginx
        return true;
    }
    thread_local std::string from;
    from.clear();
    rule.from.evaluate(vars, from);
    if (from.empty() || !starts_with(value, from)) return false;
    rule.to.evaluate(vars, out);
    out.append(value.substr(from.size()));
    return true;
}

}  // namespace

bool default_redirect(const conf::LocationConf& loc, std::string& from, std::string& to) {
    if (!loc.proxy_pass || loc.proxy_pass->has_variables) return false;
    const conf::ProxyPass& pass = *loc.proxy_pass;
    bool has_uri = pass.uri.has_value();
    bool regex = loc.match == conf::LocationConf::Match::regex ||
                 loc.match == conf::LocationConf::Match::regex_icase;
    from = has_uri ? pass.url.raw() : pass.url.raw() + "/";
    to = has_uri && !regex ? loc.pattern : "/";
    return true;
}

void rewrite_redirect(const conf::LocationConf& loc, std::string_view value,
                      conf::VariableSource& vars, std::string& out) {
    const conf::ProxyConf& p = loc.proxy;
    switch (p.redirect_mode) {
        case conf::ProxyConf::RedirectMode::off:
            break;
        case conf::ProxyConf::RedirectMode::by_default: {
            thread_local std::string from, to;
            if (default_redirect(loc, from, to) && starts_with(value, from)) {
                out += to;
                out.append(value.substr(from.size()));
                return;
            }
            break;
        }
        case conf::ProxyConf::RedirectMode::custom:
            for (const conf::ProxyRedirect& rule : p.redirects) {
                if (apply(rule, value, vars, out)) return;
            }
            break;
    }
    out.append(value);
}

}  // namespace ferry::http
