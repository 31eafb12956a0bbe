// A string with variables ("$scheme://$host$request_uri"), compiled at load time into
// literal and variable parts so that run-time evaluation is a concatenation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::conf {

// Variables known by name. Their values come from the request layer (http/); this
// layer only knows that they exist, so that an unknown name is a load-time error.
enum class BuiltinVar : uint16_t {
    host,
    args,
    query_string,
    is_args,
    uri,
    document_uri,
    request_uri,
    request_method,
    request,
    scheme,
    https,
    server_name,
    server_addr,
    server_port,
    server_protocol,
    remote_addr,
    remote_port,
    remote_user,
    binary_remote_addr,
    content_length,
    content_type,
    request_length,
    request_body,
    request_time,
    request_id,
    status,
    body_bytes_sent,
    bytes_sent,
    connection,
    connection_requests,
    msec,
    time_local,
    time_iso8601,
    hostname,
    pid,
    nginx_version,
    proxy_host,
    proxy_port,
    proxy_add_x_forwarded_for,
    upstream_addr,
    upstream_status,
    upstream_response_time,
    upstream_connect_time,
    upstream_header_time,
    upstream_bytes_sent,
    upstream_bytes_received,
    ssl_protocol,
    ssl_cipher,
    ssl_server_name,
    ssl_session_reused,
    document_root,
    realpath_root,
    request_filename,
    count_  // keep last
};

// The name of a builtin variable ("host" for BuiltinVar::host).
std::string_view builtin_var_name(BuiltinVar v);

enum class VarKind : uint8_t {
    builtin,          // id = BuiltinVar
    http_header,      // $http_NAME: name = NAME (lowercase, '_' matches '-')
    sent_http,        // $sent_http_NAME
    upstream_http,    // $upstream_http_NAME
    upstream_cookie,  // $upstream_cookie_NAME (from the upstream's Set-Cookie lines)
    cookie,           // $cookie_NAME
    arg,              // $arg_NAME
    map,              // id = index into HttpConf::maps
    set,              // id = index into HttpConf::set_variables (a `set` variable)
    capture,          // $1..$9 (id = number, name empty) or a named capture (name)
};

struct VarRef {
    VarKind kind = VarKind::builtin;
    uint32_t id = 0;
    std::string name;
};

// Supplies variable values at run time. Implemented by the request layer.
class VariableSource {
  public:
    // Appends the value of `var` to `out`. An unset variable appends nothing.
    virtual void append(const VarRef& var, std::string& out) = 0;

  protected:
    ~VariableSource() = default;
};

class Template {
  public:
    struct Part {
        std::string literal;  // used when !is_var
        VarRef var;
        bool is_var = false;
    };

    Template() = default;
    // A template without variables.
    static Template literal(std::string text);

    // Appends the evaluated value to `out` (no allocation beyond `out` growing).
    void evaluate(VariableSource& vars, std::string& out) const;

    bool has_variables() const { return has_vars_; }
    bool empty() const { return raw_.empty(); }
    const std::string& raw() const { return raw_; }  // as written in the config
    const std::vector<Part>& parts() const { return parts_; }
    // True if some part is the variable `kind`/`name` (e.g. http_header "upgrade").
    bool uses(VarKind kind, std::string_view name) const;
    bool uses_map(uint32_t id) const;

  private:
    friend class TemplateCompiler;
    std::string raw_;
    std::vector<Part> parts_;
    bool has_vars_ = false;
};

}  // namespace ferry::conf
