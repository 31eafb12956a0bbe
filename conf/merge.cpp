// Inheritance, as nginx's merge functions: a setting unset at a level takes its
// parent's value; lists (proxy_set_header, add_header, access_log...) are inherited all
// or nothing. Then the settings are written into the model.
#include "conf/merge.h"

namespace ferry::conf {
namespace {

template <class T>
void inherit(Opt<T>& child, const Opt<T>& parent) {
    if (!child && parent) child = parent;
}

// Shares one compiled list between every level that inherits it.
template <class T>
void inherit_shared(const Opt<std::vector<T>>& own, std::shared_ptr<const std::vector<T>>& shared,
                    const std::shared_ptr<const std::vector<T>>& parent_shared) {
    shared = own ? std::make_shared<const std::vector<T>>(*own) : parent_shared;
}

// nginx's headers filter: add_header is inherited by levels without their own, unless
// add_header_inherit is off; with `merge` a level's own headers come first, then its
// parent's.
void merge_add_headers(LocSettings& c, const LocSettings& p) {
    inherit(c.add_header_inherit, p.add_header_inherit);
    AddHeaderInherit mode = c.add_header_inherit.value_or(AddHeaderInherit::on);
    const auto& parent = p.add_headers_shared;
    if (!c.add_headers) {
        c.add_headers_shared = mode == AddHeaderInherit::off ? nullptr : parent;
        return;
    }
    std::vector<AddHeader> own = *c.add_headers;
    if (mode == AddHeaderInherit::merge && parent) {
        own.insert(own.end(), parent->begin(), parent->end());
    }
    c.add_headers_shared = std::make_shared<const std::vector<AddHeader>>(std::move(own));
}

}  // namespace

void merge_loc(LocSettings& c, const LocSettings& p) {
    c.own_set_headers = c.proxy_set_headers.has_value();
    inherit_shared(c.proxy_set_headers, c.set_headers_shared, p.set_headers_shared);
    merge_add_headers(c, p);
    inherit_shared(c.error_pages, c.error_pages_shared, p.error_pages_shared);
    inherit(c.recursive_error_pages, p.recursive_error_pages);
    inherit(c.proxy_intercept_errors, p.proxy_intercept_errors);
    inherit(c.proxy_http_version, p.proxy_http_version);
    if (!c.proxy_http_version_loc.has_position())
        c.proxy_http_version_loc = p.proxy_http_version_loc;
    inherit(c.proxy_set_headers, p.proxy_set_headers);
    inherit(c.proxy_hide_headers, p.proxy_hide_headers);
    inherit(c.proxy_pass_headers, p.proxy_pass_headers);
    inherit(c.proxy_connect_timeout, p.proxy_connect_timeout);
    inherit(c.proxy_read_timeout, p.proxy_read_timeout);
    if (!c.proxy_read_timeout_loc.has_position())
        c.proxy_read_timeout_loc = p.proxy_read_timeout_loc;
    inherit(c.proxy_send_timeout, p.proxy_send_timeout);
    inherit(c.proxy_buffering, p.proxy_buffering);
    inherit(c.proxy_request_buffering, p.proxy_request_buffering);
    inherit(c.proxy_buffer_size, p.proxy_buffer_size);
    inherit(c.proxy_buffers, p.proxy_buffers);
    inherit(c.proxy_next_upstream, p.proxy_next_upstream);
    inherit(c.proxy_next_upstream_tries, p.proxy_next_upstream_tries);
    inherit(c.proxy_next_upstream_timeout, p.proxy_next_upstream_timeout);
    inherit(c.proxy_ssl_server_name, p.proxy_ssl_server_name);
    inherit(c.proxy_ssl_name, p.proxy_ssl_name);
    inherit(c.proxy_ssl_verify, p.proxy_ssl_verify);
    inherit(c.proxy_ssl_trusted_certificate, p.proxy_ssl_trusted_certificate);
    inherit(c.proxy_ssl_verify_depth, p.proxy_ssl_verify_depth);
    inherit(c.proxy_ssl_protocols, p.proxy_ssl_protocols);
    inherit(c.proxy_ssl_session_reuse, p.proxy_ssl_session_reuse);
    inherit(c.proxy_ssl_ciphers, p.proxy_ssl_ciphers);
    inherit(c.proxy_redirect, p.proxy_redirect);
    inherit(c.client_max_body_size, p.client_max_body_size);
    inherit(c.client_body_buffer_size, p.client_body_buffer_size);
    inherit(c.client_body_temp_path, p.client_body_temp_path);
    inherit(c.client_body_timeout, p.client_body_timeout);
    inherit(c.send_timeout, p.send_timeout);
    inherit(c.lingering_time, p.lingering_time);
    inherit(c.lingering_timeout, p.lingering_timeout);
    inherit(c.keepalive_timeout, p.keepalive_timeout);
    inherit(c.keepalive_header, p.keepalive_header);
    inherit(c.keepalive_requests, p.keepalive_requests);
    inherit(c.access_logs, p.access_logs);
    inherit(c.error_logs, p.error_logs);
    inherit(c.add_headers, p.add_headers);
    inherit(c.serves_files, p.serves_files);
    inherit(c.root, p.root);
    inherit(c.index, p.index);
    if (!c.types) c.types = p.types;
    inherit(c.default_type, p.default_type);
    inherit(c.etag, p.etag);
    inherit(c.if_modified_since, p.if_modified_since);
    inherit(c.log_not_found, p.log_not_found);
}

void merge_srv(SrvSettings& c, const SrvSettings& p) {
    inherit(c.client_header_timeout, p.client_header_timeout);
    inherit(c.client_header_buffer_size, p.client_header_buffer_size);
    inherit(c.large_client_header_buffers, p.large_client_header_buffers);
    inherit(c.underscores_in_headers, p.underscores_in_headers);
    inherit(c.ignore_invalid_headers, p.ignore_invalid_headers);
    inherit(c.ssl_certificates, p.ssl_certificates);
    inherit(c.ssl_certificate_keys, p.ssl_certificate_keys);
    inherit(c.ssl_protocols, p.ssl_protocols);
    inherit(c.ssl_ciphers, p.ssl_ciphers);
    inherit(c.ssl_prefer_server_ciphers, p.ssl_prefer_server_ciphers);
    inherit(c.ssl_session_cache, p.ssl_session_cache);
    inherit(c.ssl_session_timeout, p.ssl_session_timeout);
    inherit(c.ssl_session_tickets, p.ssl_session_tickets);
    inherit(c.ssl_dhparam, p.ssl_dhparam);
    inherit(c.ssl_ecdh_curve, p.ssl_ecdh_curve);
    inherit(c.ssl_on, p.ssl_on);
    if (!c.ssl_on_loc.has_position()) c.ssl_on_loc = p.ssl_on_loc;
}

namespace {

template <class T, class U>
void put(const Opt<T>& from, U& to) {
    if (from) to = static_cast<U>(*from);
}

void apply_proxy(const LocSettings& s, ProxyConf& p) {
    put(s.proxy_http_version, p.http_version);
    p.set_headers = s.set_headers_shared;
    put(s.proxy_hide_headers, p.hide_headers);
    put(s.proxy_pass_headers, p.pass_headers);
    put(s.proxy_intercept_errors, p.intercept_errors);
    put(s.proxy_connect_timeout, p.connect_timeout);
    put(s.proxy_read_timeout, p.read_timeout);
    put(s.proxy_send_timeout, p.send_timeout);
    put(s.proxy_buffering, p.buffering);
    put(s.proxy_request_buffering, p.request_buffering);
    put(s.proxy_buffer_size, p.buffer_size);
    if (s.proxy_buffers) {
        p.buffers_num = static_cast<int>(s.proxy_buffers->num);
        p.buffers_size = static_cast<uint64_t>(s.proxy_buffers->size);
    }
    put(s.proxy_next_upstream, p.next_upstream);
    put(s.proxy_next_upstream_tries, p.next_upstream_tries);
    put(s.proxy_next_upstream_timeout, p.next_upstream_timeout);
    put(s.proxy_ssl_server_name, p.ssl_server_name);
    if (s.proxy_ssl_name) p.ssl_name = *s.proxy_ssl_name;
    put(s.proxy_ssl_verify, p.ssl_verify);
    put(s.proxy_ssl_trusted_certificate, p.ssl_trusted_certificate);
    put(s.proxy_ssl_verify_depth, p.ssl_verify_depth);
    put(s.proxy_ssl_protocols, p.ssl_protocols);
    put(s.proxy_ssl_session_reuse, p.ssl_session_reuse);
    put(s.proxy_ssl_ciphers, p.ssl_ciphers);
    if (s.proxy_redirect) {
        p.redirect_mode = s.proxy_redirect->mode;
        p.redirects = s.proxy_redirect->rules;
    }
}

void apply_static(const LocSettings& s, StaticConf& f) {
    if (s.root) {
        f.root = s.root->path;
        f.alias = s.root->alias;
        f.alias_strip = s.root->alias_strip;
        f.alias_regex = s.root->alias_regex;
        f.prefix = s.root->prefix;
    }
    if (s.index) {
        f.index = *s.index;
    } else {
        f.index = {Template::literal("index.html")};
    }
    if (s.try_files) f.try_files = *s.try_files;
    f.types = s.types;
    put(s.default_type, f.default_type);
    put(s.etag, f.etag);
    put(s.if_modified_since, f.if_modified_since);
    put(s.log_not_found, f.log_not_found);
}

}  // namespace

void apply_loc(const LocSettings& s, LocationConf& l) {
    apply_proxy(s, l.proxy);
    l.add_headers = s.add_headers_shared;
    l.error_pages = s.error_pages_shared;
    put(s.recursive_error_pages, l.recursive_error_pages);
    put(s.client_max_body_size, l.client_max_body_size);
    put(s.client_body_buffer_size, l.client_body_buffer_size);
    put(s.client_body_temp_path, l.client_body_temp_path);
    put(s.client_body_timeout, l.client_body_timeout);
    put(s.send_timeout, l.send_timeout);
    put(s.lingering_time, l.lingering_time);
    put(s.lingering_timeout, l.lingering_timeout);
    put(s.keepalive_timeout, l.keepalive_timeout);
    put(s.keepalive_header, l.keepalive_header);
    put(s.keepalive_requests, l.keepalive_requests);
    if (s.access_logs) l.access_logs = *s.access_logs;
    if (s.error_logs) l.error_logs = *s.error_logs;
    l.serves_files = s.serves_files.value_or(false);
    apply_static(s, l.files);
}

void apply_srv(const SrvSettings& s, ServerConf& srv) {
    put(s.client_header_timeout, srv.client_header_timeout);
    put(s.client_header_buffer_size, srv.client_header_buffer_size);
    if (s.large_client_header_buffers) {
        srv.large_client_header_buffers_num = static_cast<int>(s.large_client_header_buffers->num);
        srv.large_client_header_buffers_size =
            static_cast<uint64_t>(s.large_client_header_buffers->size);
    }
    put(s.underscores_in_headers, srv.underscores_in_headers);
    put(s.ignore_invalid_headers, srv.ignore_invalid_headers);
}

SslConf make_ssl(const SrvSettings& s) {
    SslConf ssl;
    if (s.ssl_certificates) {
        for (size_t i = 0; i < s.ssl_certificates->size(); ++i) {
            SslCertificate c;
            c.certificate = (*s.ssl_certificates)[i].text;
            c.loc = (*s.ssl_certificates)[i].loc;
            if (s.ssl_certificate_keys && i < s.ssl_certificate_keys->size()) {
                c.key = (*s.ssl_certificate_keys)[i].text;
            }
            ssl.certificates.push_back(std::move(c));
        }
    }
    put(s.ssl_protocols, ssl.protocols);
    put(s.ssl_ciphers, ssl.ciphers);
    put(s.ssl_prefer_server_ciphers, ssl.prefer_server_ciphers);
    if (s.ssl_session_cache) {
        ssl.session_cache = s.ssl_session_cache->first;
        ssl.session_cache_size = s.ssl_session_cache->second;
    }
    put(s.ssl_session_timeout, ssl.session_timeout);
    put(s.ssl_session_tickets, ssl.session_tickets);
    put(s.ssl_dhparam, ssl.dhparam);
    put(s.ssl_ecdh_curve, ssl.ecdh_curve);
    return ssl;
}

}  // namespace ferry::conf
