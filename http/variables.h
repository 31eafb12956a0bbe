// Values of variables for one request: the conf::VariableSource that templates
// (proxy_set_header, return, log_format, map sources...) evaluate against.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conf/template.h"
#include "http/request.h"

namespace ferry::http {

class ClientConnection;
class HttpWorker;

class RequestVars final : public conf::VariableSource {
  public:
    explicit RequestVars(ClientConnection& c);
    void append(const conf::VarRef& var, std::string& out) override;

    // Appends the value of the request header `name` ('_' matching '-'), joining
    // repeated headers as nginx does ("; " for Cookie, ", " otherwise).
    static void append_header(const Request& r, std::string_view name, std::string& out);
    static void append_joined(const std::vector<HeaderField>& headers, std::string_view name,
                              std::string& out);
    // $cookie_NAME and $arg_NAME.
    static bool find_cookie(const Request& r, std::string_view name, std::string_view& value);
    static bool find_arg(std::string_view args, std::string_view name, std::string_view& value);

  private:
    void append_builtin(conf::BuiltinVar v, std::string& out);
    void append_map(uint32_t id, std::string& out);
    void append_capture(const conf::VarRef& var, std::string& out);
    void append_request_time(std::string& out);
    void append_upstream_cookie(std::string_view name, std::string& out);

    ClientConnection& c_;
    Request& r_;
};

// Appends `ms` milliseconds as seconds with three decimals ("0.012").
void append_seconds(std::string& out, int64_t ms);

}  // namespace ferry::http
