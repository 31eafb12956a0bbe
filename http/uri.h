// Request-target handling as nginx does it: the absolute-form split, the normalised $uri
// (percent-decoding, `//` merging, `.`/`..` resolution), Host validation, and the URI that
// proxy_pass sends upstream. Pure functions: string_view in, caller-provided buffers out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ferry::http {

// --- absolute-form request targets ---------------------------------------------------

// The parts of `scheme://host[:port][/path][?query]`.
struct AbsoluteTarget {
    std::string_view scheme;  // as written, e.g. "http"
    std::string_view host;    // with the port if any ("example.com:8080"); validate with
                              // validate_host()
    // From the first '/' or '?' after the authority to the end, e.g. "/a?b" or "?b";
    // empty when the target has no path (the URI is then "/").
    std::string_view path_and_query;
};

enum class TargetForm : uint8_t { origin, absolute, invalid };

// Classifies `target` (the request-target as received) and, for the absolute form, splits
// it with nginx's request-line rules: scheme letters then [a-z0-9+.-]*, "://", a host of
// letters, digits, '.' and '-' or a bracketed IP literal, an optional ':' and digits, then
// '/', '?' or the end. Anything else (including '@' userinfo, '_' in a host, a '#' after
// the host, "*") is invalid: nginx answers 400.
TargetForm classify_target(std::string_view target, AbsoluteTarget* absolute);

// --- $uri normalisation ----------------------------------------------------------------

struct ParsedUri {
    std::string_view path;  // the normalised $uri (in the caller's buffer, or a view of
                            // the input when nothing needed changing)
    std::string_view args;  // $args: after the first unescaped '?', up to a '#'; always
                            // a view of the input, never of the output buffer
    bool quoted = false;    // the path held %-escapes: proxy_pass re-escapes (nginx's
                            // quoted_uri)
    bool plus = false;      // the path held '+' (plain or %2B)
    // $request_uri may be sent upstream as is (false for "http://host?args", whose
    // path is empty).
    bool valid_unparsed = true;
};

// Maximum output size of normalise_uri for an input of `n` bytes.
constexpr size_t normalised_uri_capacity(size_t n) {
    return n + 1;
}

// Normalises an origin-form target ("/a/./b%41?x") as nginx's ngx_http_parse_complex_uri:
// every %XX is decoded (%00 is an error; a decoded '%', '#' or '?' is kept as a literal
// byte, anything else — including '/' and '.' — then acts as if written plainly), `//` is
// merged into `/` when `merge_slashes`, `/./` is dropped, `/../` removes the previous
// segment (an error when it would climb above the root), a trailing "/." or "/.." counts
// as "/./" or "/../", '?' starts the args and '#' ends the URI. `target` must start with
// '/' — or with '?' for an absolute-form target with an empty path, which gets "/".
// `out` needs normalised_uri_capacity(target.size()) bytes. Returns nullopt for a target
// nginx answers with 400.
std::optional<ParsedUri> normalise_uri(std::string_view target, bool merge_slashes, char* out);

// --- Host ------------------------------------------------------------------------------

struct ValidHost {
    std::string_view host;  // lowercased, without port and trailing dot: a view of the
                            // input when it was already lowercase, else of `out`
    uint32_t port = 0;      // 0 when absent or empty ("host:")
};

// Validates a Host header value or an absolute-form host as nginx's ngx_http_validate_host:
// reg-name characters (letters, digits, "-._~", sub-delims, '%'), no "..", an optional
// bracketed IP literal, an optional ":port" of digits up to 65535; strips the port and
// one trailing dot and lowercases. Empty, "." and anything else are invalid (400).
// `out` needs host.size() bytes.
std::optional<ValidHost> validate_host(std::string_view host, char* out);

// --- escaping --------------------------------------------------------------------------

// Bytes needed to escape `s` as nginx's ngx_escape_uri(NGX_ESCAPE_URI): control bytes,
// space, bytes >= 0x7f and `"#%<>?\^`{|}` become %XX (uppercase hex).
size_t escaped_uri_size(std::string_view s);
// Writes the escaped form of `s` to `out` (escaped_uri_size(s) bytes); returns the end.
char* escape_uri(std::string_view s, char* out);

// --- proxy_pass ------------------------------------------------------------------------

struct ProxyUriInput {
    // The name of the prefix or exact location holding proxy_pass; empty for regex and
    // named locations (where a URI part is not allowed without variables).
    std::string_view location;
    // proxy_pass's URI part ("/" in http://b/); nullopt for http://b.
    std::optional<std::string_view> uri_part;
    std::string_view uri;          // the normalised $uri
    std::string_view args;         // $args
    std::string_view request_uri;  // the raw $request_uri
    bool quoted = false;           // ParsedUri::quoted
    bool valid_unparsed = true;    // ParsedUri::valid_unparsed
};

// The size of the URI proxy_pass (without variables) sends upstream; see write_proxy_uri.
size_t proxy_uri_size(const ProxyUriInput& in);

// Writes the upstream request URI as nginx's proxy module builds it: without a URI part,
// $request_uri unchanged; with one, the URI part followed by the normalised $uri minus the
// location's name (re-escaped when the client's path had %-escapes), then "?args" if args
// are non-empty. `out` needs proxy_uri_size(in) bytes. Returns the number written.
size_t write_proxy_uri(const ProxyUriInput& in, char* out);

}  // namespace ferry::http
