#include "http/content_static.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <llhttp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

#include "conf/model.h"
#include "core/event_loop.h"
#include "core/socket.h"
#include "core/unique_fd.h"
#include "http/connection.h"
#include "http/file_conditions.h"
#include "http/http_date.h"
#include "http/http_worker.h"
#include "http/response.h"
#include "http/static_path.h"
#include "http/status.h"
#include "http/variables.h"

namespace ferry::http {

namespace {

constexpr size_t chunk_size = 64 * 1024;

// Sends a file's bytes [offset, offset + length) after the head queued before it: one
// chunk read into its buffer and lent to the client queue at a time, the next once the
// queue drained (back-pressure from a slow client), so a large file holds no more than
// one chunk of memory and the worker serves other connections between chunks.
class FileSession final : public ContentSession, public core::Deferred {
  public:
    FileSession(ClientConnection& c, core::UniqueFd fd, uint64_t offset, uint64_t length)
        : c_(&c),
          loop_(c.worker().loop()),
          fd_(std::move(fd)),
          offset_(offset),
          left_(length),
          buf_(new char[chunk_size]) {}

    void pump();
    void on_client_drained() override { pump(); }
    void on_client_failed() override {
        c_ = nullptr;
        fd_.reset();
    }
    bool response_started() const override { return true; }
    void release() override { loop_.defer_delete(std::unique_ptr<core::Deferred>(this)); }

  private:
    bool queue_chunk();

    ClientConnection* c_;
    core::EventLoop& loop_;
    core::UniqueFd fd_;
    uint64_t offset_;
    uint64_t left_;
    std::unique_ptr<char[]> buf_;
    bool pumping_ = false;
};

void FileSession::pump() {
    if (pumping_) return;  // send_output() below reports back here
    pumping_ = true;
    while (c_) {
        if (!c_->out().drained()) {
            c_->send_output();
            if (!c_ || !c_->out().drained()) break;  // blocked: on_client_drained resumes
        }
        if (left_ == 0) {
            ClientConnection* c = c_;
            c_ = nullptr;
            fd_.reset();
            c->response_done(true);
            break;
        }
        if (!queue_chunk()) break;
    }
    pumping_ = false;
}

// Reads the next chunk and lends it to the client queue. A file that shrank while being
// sent ends the response without a proper end: the client sees a short body.
bool FileSession::queue_chunk() {
    size_t want = left_ < chunk_size ? static_cast<size_t>(left_) : chunk_size;
    ssize_t n = ::pread(fd_.get(), buf_.get(), want, static_cast<off_t>(offset_));
    if (n <= 0) {
        ClientConnection* c = c_;
        c_ = nullptr;
        c->log_error(conf::LogLevel::crit,
                     n < 0 ? fmt::format("pread() failed {}", core::errno_text(errno))
                           : std::string("file was truncated while being sent"));
        c->abort_response();
        return false;
    }
    offset_ += static_cast<uint64_t>(n);
    left_ -= static_cast<uint64_t>(n);
    c_->request().body_bytes_sent += static_cast<uint64_t>(n);
    c_->out().borrow(std::string_view(buf_.get(), static_cast<size_t>(n)));
    return true;
}

const std::string& content_type_for(const conf::StaticConf& f, std::string_view path) {
    std::string_view ext = path_extension(path);
    if (!ext.empty() && f.types) {
        if (const std::string* t = f.types->find(ext)) return *t;
    }
    return f.default_type;
}

// A head for a file response (200, 206, 304), with the validators nginx sends.
void write_file_head(ClientConnection& c, int status, std::string_view type, int64_t length,
                     const FileFacts& facts, std::string_view content_range) {
    Request& req = c.request();
    req.status = status;
    SimpleResponse r;
    r.status = status;
    r.content_type = type;
    r.content_length = length;
    r.keep_alive = c.will_keep_alive();
    r.http_minor = req.http_minor;
    core::Buffer& out = c.out().own();
    size_t head_start = out.readable_size();
    write_simple_head(out, r, c.worker().times().http_date(), [&](core::Buffer& b) {
        char date[http_date_size];
        b.append("Last-Modified: ");
        b.append(std::string_view(date, format_http_date(facts.mtime, date)));
        b.append("\r\n");
        if (!facts.etag.empty()) {
            b.append("ETag: ");
            b.append(facts.etag);
            b.append("\r\n");
        }
        if (status == 200) b.append("Accept-Ranges: bytes\r\n");
        if (!content_range.empty()) {
            b.append("Content-Range: ");
            b.append(content_range);
            b.append("\r\n");
        }
        c.append_add_headers(status, b, head_start);
        c.append_keepalive_header(b);
    });
    req.header_bytes = out.readable_size() - head_start;
    c.record_sent_head(out.view().substr(head_start));
}

// nginx's 416: its own page, with the length the range did not fit.
void write_unsatisfiable(ClientConnection& c, std::string_view content_range) {
    Request& req = c.request();
    std::string_view page = error_page(416);
    req.status = 416;
    SimpleResponse r;
    r.status = 416;
    r.content_type = "text/html";
    r.content_length = static_cast<int64_t>(page.size());
    r.keep_alive = c.will_keep_alive();
    r.http_minor = req.http_minor;
    core::Buffer& out = c.out().own();
    size_t head_start = out.readable_size();
    write_simple_head(out, r, c.worker().times().http_date(), [&](core::Buffer& b) {
        b.append("Content-Range: ");
        b.append(content_range);
        b.append("\r\n");
        c.append_add_headers(416, b, head_start);
        c.append_keepalive_header(b);
    });
    req.header_bytes = out.readable_size() - head_start;
    c.record_sent_head(out.view().substr(head_start));
    if (!req.head_only) {
        c.out().append(page);
        req.body_bytes_sent = page.size();
    }
    c.response_done(true);
    c.send_output();
}

// The log line and status for a failed open() or stat(), as nginx's static module.
int open_failure(ClientConnection& c, const std::string& path, int err, std::string_view call) {
    const conf::StaticConf& f = c.loc().files;
    int status = 500;
    conf::LogLevel level = conf::LogLevel::crit;
    if (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG) {
        status = 404;
        level = conf::LogLevel::error;
        if (!f.log_not_found) return status;
    } else if (err == EACCES) {
        status = 403;
        level = conf::LogLevel::error;
    }
    c.log_error(level, fmt::format("{}() \"{}\" failed {}", call, path, core::errno_text(err)));
    return status;
}

// nginx's index module: the first index file that exists answers, by internal redirect
// to $uri + its name; a directory without one is 403, a missing directory 404.
void serve_index(ClientConnection& c) {
    const conf::StaticConf& f = c.loc().files;
    Request& req = c.request();
    size_t root_len = 0;
    std::string dir = request_filename(c, root_len);
    if (dir.empty()) return c.finalize(404);
    std::string name;
    std::string path;
    for (size_t i = 0; i < f.index.size(); ++i) {
        name.clear();
        RequestVars vars(c);
        f.index[i].evaluate(vars, name);
        if (name.empty()) continue;
        if (name[0] == '/') {
            // An absolute index (nginx: only sensible last) is redirected to as is.
            std::string args(req.args);
            return c.internal_redirect(name, args);
        }
        path = dir + name;
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0) {
            std::string uri = req.uri + name;
            std::string args(req.args);
            return c.internal_redirect(uri, args);
        }
        int err = errno;
        if (err == ENOENT) continue;
        if (err == ENOTDIR || err == ENAMETOOLONG) {
            struct stat dst {};
            if (::stat(dir.c_str(), &dst) != 0 && errno == ENOENT) break;
            continue;
        }
        return c.finalize(open_failure(c, path, err, "stat"));
    }
    struct stat dst {};
    if (::stat(dir.c_str(), &dst) != 0) {
        int err = errno;
        if (f.log_not_found || (err != ENOENT && err != ENOTDIR)) {
            c.log_error(conf::LogLevel::error,
                        fmt::format("\"{}\" is not found {}", dir, core::errno_text(err)));
        }
        return c.finalize(err == EACCES ? 403 : 404);
    }
    c.log_error(conf::LogLevel::error, fmt::format("directory index of \"{}\" is forbidden", dir));
    c.finalize(403);
}

// A directory named without its trailing slash: 301 to the same URI with one.
void redirect_to_directory(ClientConnection& c) {
    Request& req = c.request();
    std::string location = req.uri + "/";
    if (!req.args.empty()) {
        location += '?';
        location.append(req.args);
    }
    c.finalize(301, location);
}

void serve_file(ClientConnection& c) {
    Request& req = c.request();
    size_t root_len = 0;
    std::string path = request_filename(c, root_len);
    if (path.empty()) return c.finalize(404);
    core::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return c.finalize(open_failure(c, path, errno, "open"));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return c.finalize(open_failure(c, path, errno, "fstat"));
    if (S_ISDIR(st.st_mode)) return redirect_to_directory(c);
    if (!S_ISREG(st.st_mode)) {
        c.log_error(conf::LogLevel::crit, fmt::format("\"{}\" is not a regular file", path));
        return c.finalize(404);
    }
    if (req.method_id == HTTP_POST) return c.finalize(405);
    const conf::StaticConf& f = c.loc().files;
    FileFacts facts = file_facts(st.st_mtime, static_cast<uint64_t>(st.st_size), f.etag);
    int cond = check_conditions(req, f, facts);
    if (cond == 412) return c.finalize(412);
    if (!c.prepare_response()) return;
    if (cond == 304) {
        write_file_head(c, 304, {}, -1, facts, {});
        c.response_done(true);
        c.send_output();
        return;
    }
    ByteRange range = choose_range(req, facts);
    if (range.status == 416) {
        std::string content_range = fmt::format("bytes */{}", facts.size);
        // nginx answers 416 with its own page and the length it refused.
        write_unsatisfiable(c, content_range);
        return;
    }
    const std::string& type = content_type_for(f, path);
    uint64_t offset = 0;
    uint64_t length = facts.size;
    if (range.status == 206) {
        offset = range.start;
        length = range.end - range.start;
        write_file_head(c, 206, type, static_cast<int64_t>(length), facts,
                        fmt::format("bytes {}-{}/{}", range.start, range.end - 1, facts.size));
    } else {
        write_file_head(c, 200, type, static_cast<int64_t>(length), facts, {});
    }
    if (req.head_only || length == 0) {
        c.response_done(true);
        c.send_output();
        return;
    }
    auto* session = new FileSession(c, std::move(fd), offset, length);
    c.attach_content(ContentSessionPtr(session));
    session->pump();
}

class StaticContent final : public ContentHandler {
  public:
    void start(ClientConnection& c) const override {
        const Request& req = c.request();
        if (req.method_id != HTTP_GET && req.method_id != HTTP_HEAD && req.method_id != HTTP_POST) {
            return c.finalize(405);
        }
        if (!req.uri.empty() && req.uri.back() == '/') return serve_index(c);
        serve_file(c);
    }
    bool reads_body() const override { return false; }
};

}  // namespace

std::string request_filename(ClientConnection& c, size_t& root_len) {
    const conf::StaticConf& f = c.loc().files;
    std::string root;
    RequestVars vars(c);
    f.root.evaluate(vars, root);
    if (f.root.has_variables() && (root.empty() || root[0] != '/')) root = f.prefix + root;
    PathMapping m{root, f.alias, f.alias_strip, f.alias_regex};
    std::string path;
    if (!map_uri_to_path(m, c.request().uri, path, root_len)) path.clear();
    return path;
}

void append_file_variable(ClientConnection& c, conf::BuiltinVar v, std::string& out) {
    size_t root_len = 0;
    std::string path = request_filename(c, root_len);
    if (v == conf::BuiltinVar::request_filename) {
        out += path;
        return;
    }
    std::string root = path.substr(0, root_len);
    if (v == conf::BuiltinVar::document_root) {
        out += root;
        return;
    }
    char* real = ::realpath(root.c_str(), nullptr);
    if (!real) {
        c.log_error(conf::LogLevel::crit,
                    fmt::format("realpath() \"{}\" failed {}", root, core::errno_text(errno)));
        return;
    }
    out += real;
    ::free(real);
}

const ContentHandler& static_content() {
    static const StaticContent handler;
    return handler;
}

}  // namespace ferry::http
