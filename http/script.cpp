#include "http/script.h"

#include "http/connection.h"
#include "http/phase_hooks.h"
#include "http/runtime.h"
#include "http/variables.h"

namespace ferry::http {

namespace {

bool is_redirect(int code) {
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

void run_set(ClientConnection& c, const conf::SetVar& s, RequestVars& vars) {
    Request& r = c.request();
    if (r.set_values.size() <= s.id) r.set_values.resize(s.id + 1);
    std::string value;
    s.value.evaluate(vars, value);
    r.set_values[s.id] = std::move(value);
}

// nginx's `return`: a redirect or a bare status goes through finalization (so
// error_page applies), a text is answered as it is.
int run_return(ClientConnection& c, const conf::ReturnConf& ret) {
    std::string text;
    if (ret.text) {
        RequestVars vars(c);
        ret.text->evaluate(vars, text);
    }
    if (ret.code == 444) {
        c.finalize(444);  // close without a response
    } else if (is_redirect(ret.code) && ret.text) {
        c.finalize(ret.code, text);
    } else if (ret.text) {
        c.respond(ret.code, "text/plain", text, {});
    } else {
        c.finalize(ret.code);  // ferry's own page for the code (none for 2xx)
    }
    return phase_done;
}

int run_level(ClientConnection& c, const std::vector<conf::SetVar>& sets,
              const std::optional<conf::ReturnConf>& ret) {
    if (!sets.empty()) {
        RequestVars vars(c);
        for (const conf::SetVar& s : sets)
            run_set(c, s, vars);
    }
    if (ret) return run_return(c, *ret);
    return phase_next;
}

}  // namespace

int run_server_script(ClientConnection& c) {
    const conf::ServerConf& s = *c.request().server->conf;
    return run_level(c, s.sets, s.ret);
}

int run_location_script(ClientConnection& c) {
    const conf::LocationConf* l = c.request().location;
    if (!l) return phase_next;
    return run_level(c, l->sets, l->ret);
}

}  // namespace ferry::http
