// The access log: lines formatted from log_format templates, buffered per worker and
// written when the loop goes idle (or when a buffer fills), so that logging costs one
// write(2) per file per loop iteration at most.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conf/model.h"

namespace ferry::http {

class AccessLogWriter {
  public:
    AccessLogWriter() = default;
    ~AccessLogWriter() { flush(); }
    AccessLogWriter(const AccessLogWriter&) = delete;
    AccessLogWriter& operator=(const AccessLogWriter&) = delete;

    // Queues `line` (with its newline) for `fd`.
    void write(int fd, std::string_view line);
    // Writes everything queued.
    void flush();

  private:
    struct Pending {
        int fd;
        std::string buf;
    };
    std::vector<Pending> pending_;
};

// Variables whose value is only known when a tunnel ends: a log line for an upgraded
// request is prepared at the upgrade with these left as holes.
bool is_end_of_tunnel_var(const conf::VarRef& v);

// Appends the line for `format` (without newline), escaping variable values as the
// format says and writing "-" for empty ones, as nginx does. With `holes`, variables for
// which is_end_of_tunnel_var() is true are not evaluated: their positions in `out` and
// their variables are appended to `holes` instead.
struct LogHole {
    size_t at;
    conf::BuiltinVar var;
};
void format_log_line(const conf::LogFormat& format, conf::VariableSource& vars, std::string& out,
                     std::vector<LogHole>* holes = nullptr);

// Appends `value` escaped for the log (`"`, `\` and non-printable bytes as \xHH; JSON
// escapes for escape=json; nothing for escape=none).
void append_log_escaped(conf::LogFormat::Escape escape, std::string_view value, std::string& out);

}  // namespace ferry::http
