#include "app/modules.h"

namespace ferry::app {

namespace {

// Keep every nginx module here, present or not: nginx-tests matches some features by
// their bare names anywhere in -V's output (http_v2, stub_status, slice), which is safe
// only because an optional module ferry lacks is never printed.
constexpr NginxModule kModules[] = {
    // name, built by nginx by default, ferry has it
    {"http", true, true},
    {"http-cache", true, false},
    {"pcre", true, true},  // PCRE2, for regex locations, server names and map
    // HTTP modules nginx builds by default
    {"http_access_module", true, false},
    {"http_auth_basic_module", true, false},
    {"http_autoindex_module", true, false},
    {"http_browser_module", true, false},
    {"http_charset_module", true, false},
    {"http_empty_gif_module", true, false},
    {"http_fastcgi_module", true, false},
    {"http_geo_module", true, false},
    {"http_grpc_module", true, false},
    {"http_gzip_module", true, false},
    {"http_limit_conn_module", true, false},
    {"http_limit_req_module", true, false},
    {"http_map_module", true, true},
    {"http_memcached_module", true, false},
    {"http_mirror_module", true, false},
    {"http_proxy_module", true, true},
    {"http_referer_module", true, false},
    // ferry has `return` and `set`; `rewrite`, `if` and `break` are refused with a
    // reason. Listed as present so that nginx-tests runs the many files that need
    // only `return` (a file using the rest fails honestly at its config).
    {"http_rewrite_module", true, true},
    {"http_scgi_module", true, false},
    {"http_split_clients_module", true, false},
    {"http_ssi_module", true, false},
    {"http_status_module", true, false},
    {"http_tunnel_module", true, false},
    {"http_upstream_hash_module", true, false},
    {"http_upstream_ip_hash_module", true, false},
    {"http_upstream_keepalive_module", true, true},
    // least_conn and random are accepted, but balanced by weighted round robin.
    {"http_upstream_least_conn_module", true, false},
    {"http_upstream_least_time_module", true, false},
    {"http_upstream_random_module", true, false},
    {"http_upstream_sticky_module", true, false},
    {"http_upstream_zone_module", true, false},
    {"http_userid_module", true, false},
    {"http_uwsgi_module", true, false},
    // optional HTTP modules
    {"http_ssl_module", false, true},
    {"http_v2_module", false, false},
    {"http_v3_module", false, false},
    {"http_addition_module", false, false},
    {"http_auth_request_module", false, false},
    {"http_dav_module", false, false},
    {"http_degradation_module", false, false},
    {"http_flv_module", false, false},
    {"http_geoip_module", false, false},
    {"http_gunzip_module", false, false},
    {"http_gzip_static_module", false, false},
    {"http_image_filter_module", false, false},
    {"http_mp4_module", false, false},
    {"http_perl_module", false, false},
    {"http_random_index_module", false, false},
    {"http_realip_module", false, false},
    {"http_secure_link_module", false, false},
    {"http_slice_module", false, false},
    {"http_stub_status_module", false, false},
    {"http_sub_module", false, false},
    {"http_xslt_module", false, false},
    // mail and stream, and their parts (flagged even though mail and stream are absent:
    // has_module() answers from the flag alone)
    {"mail", false, false},
    {"mail_ssl_module", false, false},
    {"mail_pop3_module", true, false},
    {"mail_imap_module", true, false},
    {"mail_smtp_module", true, false},
    {"stream", false, false},
    {"stream_ssl_module", false, false},
    {"stream_realip_module", false, false},
    {"stream_geoip_module", false, false},
    {"stream_ssl_preread_module", false, false},
    {"stream_access_module", true, false},
    {"stream_geo_module", true, false},
    {"stream_limit_conn_module", true, false},
    {"stream_map_module", true, false},
    {"stream_pass_module", true, false},
    {"stream_return_module", true, false},
    {"stream_set_module", true, false},
    {"stream_split_clients_module", true, false},
    {"stream_upstream_hash_module", true, false},
    {"stream_upstream_least_conn_module", true, false},
    {"stream_upstream_least_time_module", true, false},
    {"stream_upstream_random_module", true, false},
    {"stream_upstream_zone_module", true, false},
};

}  // namespace

std::span<const NginxModule> nginx_modules() {
    return kModules;
}

std::string configure_arguments() {
    std::string out;
    for (const NginxModule& m : kModules) {
        if (m.nginx_default == m.ferry_has) continue;  // configure's default: no flag
        out += m.ferry_has ? " --with-" : " --without-";
        out += m.name;
    }
    return out;
}

}  // namespace ferry::app
