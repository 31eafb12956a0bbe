// TLS contexts and TlsStream, driven over socketpairs (and loopback TCP) by small
// bounded non-blocking loops. Certificates are made at run time in a temp dir.
#include "core/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/tls_stream.h"

using namespace ferry::core;

namespace {

// ---- certificates ----

X509Ptr make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key,
                  long valid_from, long valid_to, bool ca) {
    static long serial = 1;
    X509Ptr x(X509_new());
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), valid_from);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), valid_to);
    X509_set_pubkey(x.get(), key);
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                               -1, -1, 0);
    X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
    std::string san = std::string("DNS:") + cn;
    const std::pair<int, const char*> exts[] = {
        {NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE"},
        {ca ? NID_key_usage : NID_subject_alt_name,
         ca ? "critical,keyCertSign,cRLSign" : san.c_str()},
    };
    for (const auto& [nid, value] : exts) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
        X509_add_ext(x.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    X509_sign(x.get(), issuer_key ? issuer_key : key, EVP_sha256());
    return x;
}

void write_pem(const std::string& path, std::initializer_list<X509*> certs, EVP_PKEY* key) {
    BioPtr bio(BIO_new_file(path.c_str(), "w"));
    for (X509* c : certs)
        PEM_write_bio_X509(bio.get(), c);
    if (key) PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
}

// A CA, leaves for a.test (full chain, ECDSA), b.test (leaf only), a.test with RSA, an
// expired a.test, and a second unrelated CA.
struct Pki {
    std::string dir;
    Pki() {
        char tmpl[] = "/tmp/ferry-tls-test-XXXXXX";
        dir = mkdtemp(tmpl);
        EvpPkeyPtr ca_key(EVP_EC_gen("P-256")), other_key(EVP_EC_gen("P-256"));
        X509Ptr ca = make_cert(ca_key.get(), "ferry test CA", nullptr, nullptr, -60, 86400, true);
        X509Ptr other = make_cert(other_key.get(), "other CA", nullptr, nullptr, -60, 86400, true);
        write_pem(path("ca.pem"), {ca.get()}, nullptr);
        write_pem(path("other-ca.pem"), {other.get()}, nullptr);
        auto leaf = [&](const char* file, const char* cn, EVP_PKEY* key, long to, bool chain) {
            X509Ptr c = make_cert(key, cn, ca.get(), ca_key.get(), -3600, to, false);
            if (chain) {
                write_pem(path(file) + ".pem", {c.get(), ca.get()}, nullptr);
            } else {
                write_pem(path(file) + ".pem", {c.get()}, nullptr);
            }
            write_pem(path(file) + ".key", {}, key);
        };
        EvpPkeyPtr a_key(EVP_EC_gen("P-256")), b_key(EVP_EC_gen("P-256"));
        EvpPkeyPtr rsa_key(EVP_RSA_gen(2048)), old_key(EVP_EC_gen("P-256"));
        leaf("a", "a.test", a_key.get(), 86400, true);
        leaf("b", "b.test", b_key.get(), 86400, false);
        leaf("rsa", "a.test", rsa_key.get(), 86400, true);
        leaf("expired", "a.test", old_key.get(), -60, false);
        std::ofstream(path("garbage.pem")) << "this is not a certificate\n";
        // DH parameters of the RFC 7919 group, for ssl_dhparam.
        std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> pctx(
            EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr), EVP_PKEY_CTX_free);
        EVP_PKEY* dh = nullptr;
        EVP_PKEY_paramgen_init(pctx.get());
        EVP_PKEY_CTX_set_dh_nid(pctx.get(), NID_ffdhe2048);
        EVP_PKEY_paramgen(pctx.get(), &dh);
        EvpPkeyPtr dh_owner(dh);
        BioPtr bio(BIO_new_file(path("dh.pem").c_str(), "w"));
        PEM_write_bio_Parameters(bio.get(), dh);
    }
    ~Pki() { std::filesystem::remove_all(dir); }
    std::string path(const std::string& name) const { return dir + "/" + name; }
};

const Pki& pki() {
    static Pki p;
    return p;
}

TlsServerSettings server_conf(const char* name) {
    TlsServerSettings conf;
    conf.certificates.push_back(
        {pki().path(std::string(name) + ".pem"), pki().path(std::string(name) + ".key")});
    return conf;
}

SslCtxPtr server_ctx(const TlsServerSettings& conf) {
    std::string error;
    SslCtxPtr ctx = make_server_context(conf, error);
    INFO(error);
    REQUIRE(ctx);
    return ctx;
}

SslCtxPtr client_ctx(const TlsClientSettings& settings = {}) {
    std::string error;
    SslCtxPtr ctx = make_client_context(settings, error);
    INFO(error);
    REQUIRE(ctx);
    return ctx;
}

// ---- connections ----

struct Conn {
    std::unique_ptr<TlsStream> server, client;
};

std::pair<UniqueFd, UniqueFd> socket_pair() {
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

Conn connect_pair(UniqueFd server_fd, UniqueFd client_fd, SSL_CTX* sctx, SSL_CTX* cctx,
                  const TlsClientOptions& options) {
    std::string error;
    Conn c;
    c.server = TlsStream::accept(std::move(server_fd), sctx, error);
    c.client = TlsStream::connect(std::move(client_fd), cctx, options, error);
    INFO(error);
    REQUIRE(c.server);
    REQUIRE(c.client);
    return c;
}

Conn make_conn(SSL_CTX* sctx, SSL_CTX* cctx, const TlsClientOptions& options = {}) {
    auto [s, c] = socket_pair();
    return connect_pair(std::move(s), std::move(c), sctx, cctx, options);
}

struct Shake {
    IoResult server{.status = Io::again}, client{.status = Io::again};
    bool ok() const { return server.status == Io::ok && client.status == Io::ok; }
};

// Steps both handshakes until both are settled; after one side fails, the other gets a
// few rounds to read the alert. `between` runs after each round (a relay, say).
Shake shake(Conn& c, const std::function<void()>& between = {}) {
    Shake r;
    int after_error = 0;
    for (int i = 0; i < 1000; i++) {
        if (r.client.status == Io::again) r.client = c.client->handshake();
        if (r.server.status == Io::again) r.server = c.server->handshake();
        if (between) between();
        if (r.client.status != Io::again && r.server.status != Io::again) break;
        if ((r.client.status == Io::error || r.server.status == Io::error) && ++after_error > 10) {
            break;
        }
    }
    return r;
}

// Reads until the stream would block or ends; returns how it stopped.
Io drain(TlsStream& s, std::string& out) {
    char buf[65536];
    for (;;) {
        IoResult r = s.read(buf, sizeof buf);
        if (r.status != Io::ok) return r.status;
        out.append(buf, r.n);
    }
}

std::string pattern(size_t n) {
    std::string s(n, '\0');
    uint32_t x = 12345;
    for (char& ch : s) {
        x = x * 1103515245 + 12345;
        ch = static_cast<char>(x >> 24);
    }
    return s;
}

// Offers up to 40000 bytes from `off` as iovecs of varying sizes; the split changes
// from call to call (allowed after `again`), the total never shrinks.
IoResult writev_some(TlsStream& s, const std::string& data, size_t off, uint32_t& seed) {
    iovec iov[64];
    int n = 0;
    size_t end = std::min(data.size(), off + 40000);
    while (off < end && n < 64) {
        seed = seed * 1664525 + 1013904223;
        size_t len = n == 63 ? end - off : std::min<size_t>(end - off, 1 + (seed >> 20) % 5000);
        iov[n++] = {const_cast<char*>(data.data() + off), len};
        off += len;
    }
    return s.writev(iov, n);
}

// Sends `data` from one stream to the other; returns what arrived. Counts the writes
// that met a full socket (`again`), which must be retried with the same bytes.
std::string transfer(TlsStream& from, TlsStream& to, const std::string& data, bool vectored,
                     int& agains) {
    std::string got;
    size_t off = 0;
    uint32_t seed = 7;
    for (int i = 0; i < 100000 && got.size() < data.size(); i++) {
        while (off < data.size()) {  // fill the socket, then let the reader empty it
            IoResult w = vectored ? writev_some(from, data, off, seed)
                                  : from.write(data.data() + off, data.size() - off);
            REQUIRE(w.status != Io::error);
            if (w.status == Io::again) {
                agains++;
                break;
            }
            off += w.n;
        }
        REQUIRE(drain(to, got) == Io::again);
    }
    return got;
}

// Moves up to `limit` bytes from one socket to another (a man in the middle).
size_t relay(int from, int to, size_t limit = SIZE_MAX) {
    char buf[65536];
    size_t moved = 0;
    while (moved < limit) {
        ssize_t n = recv(from, buf, std::min(sizeof buf, limit - moved), 0);
        if (n <= 0) break;
        REQUIRE(send(to, buf, static_cast<size_t>(n), MSG_NOSIGNAL) == n);
        moved += static_cast<size_t>(n);
    }
    return moved;
}

}  // namespace

// ---- contexts and their errors ----

TEST_CASE("a missing certificate file is reported in nginx's words", "[core][tls]") {
    TlsServerSettings conf;
    std::string missing = pki().path("missing.pem");
    conf.certificates.push_back({missing, pki().path("a.key")});
    std::string error;
    CHECK_FALSE(make_server_context(conf, error));
    CHECK(error == "cannot load certificate \"" + missing +
                       "\": BIO_new_file() failed (SSL: error:80000002:system library::No such "
                       "file or directory:calling fopen(" +
                       missing + ", r) error:10000080:BIO routines::no such file)");
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("a certificate file that is not PEM is reported", "[core][tls]") {
    TlsServerSettings conf;
    std::string garbage = pki().path("garbage.pem");
    conf.certificates.push_back({garbage, pki().path("a.key")});
    std::string error;
    CHECK_FALSE(make_server_context(conf, error));
    CHECK(error == "cannot load certificate \"" + garbage +
                       "\": PEM_read_bio_X509_AUX() failed (SSL: error:0480006C:PEM "
                       "routines::no start line:Expecting: TRUSTED CERTIFICATE)");
}

TEST_CASE("missing and unreadable keys are reported", "[core][tls]") {
    TlsServerSettings conf;
    std::string missing = pki().path("missing.key");
    conf.certificates.push_back({pki().path("a.pem"), missing});
    std::string error;
    CHECK_FALSE(make_server_context(conf, error));
    CHECK(error.rfind("cannot load certificate key \"" + missing +
                          "\": BIO_new_file() failed (SSL: error:80000002:system library::",
                      0) == 0);
    conf.certificates[0].key = pki().path("garbage.pem");
    CHECK_FALSE(make_server_context(conf, error));
    CHECK(error.rfind("cannot load certificate key \"" + pki().path("garbage.pem") +
                          "\": PEM_read_bio_PrivateKey() failed (SSL: ",
                      0) == 0);
}

TEST_CASE("a key that does not match its certificate is refused", "[core][tls]") {
    TlsServerSettings conf;
    conf.certificates.push_back({pki().path("a.pem"), pki().path("b.key")});
    std::string error;
    CHECK_FALSE(make_server_context(conf, error));
    CHECK(error == "SSL_CTX_use_PrivateKey(\"" + pki().path("b.key") +
                       "\") failed (SSL: error:05800074:x509 certificate routines::key values "
                       "mismatch)");
    // A key of another type than the certificate's is caught too.
    conf.certificates[0] = {pki().path("rsa.pem"), pki().path("a.key")};
    CHECK_FALSE(make_server_context(conf, error));
    CHECK(error.rfind("SSL_CTX_check_private_key(\"" + pki().path("a.key") + "\") failed (SSL: ",
                      0) == 0);
}

TEST_CASE("bad cipher lists and curves are reported", "[core][tls]") {
    TlsServerSettings conf = server_conf("a");
    conf.ciphers = "NOPE";
    std::string error;
    CHECK_FALSE(make_server_context(conf, error));
    CHECK(error ==
          "SSL_CTX_set_cipher_list(\"NOPE\") failed (SSL: error:0A0000B9:SSL "
          "routines::no cipher match)");
    conf = server_conf("a");
    conf.ecdh_curve = "nocurve";
    CHECK_FALSE(make_server_context(conf, error));
    CHECK(error.rfind("SSL_CTX_set1_curves_list(\"nocurve\") failed", 0) == 0);
}

TEST_CASE("ssl_dhparam is loaded, and a missing file is reported", "[core][tls]") {
    TlsServerSettings conf = server_conf("rsa");
    conf.dhparam = pki().path("missing-dh.pem");
    std::string error;
    CHECK_FALSE(make_server_context(conf, error));
    CHECK(error.rfind("BIO_new_file(\"" + conf.dhparam + "\") failed (SSL: error:80000002:", 0) ==
          0);
    conf.dhparam = pki().path("garbage.pem");
    CHECK_FALSE(make_server_context(conf, error));
    CHECK(error.rfind("PEM_read_bio_Parameters(\"" + conf.dhparam + "\") failed", 0) == 0);
    conf.dhparam = pki().path("dh.pem");
    SslCtxPtr sctx = server_ctx(conf);
    TlsClientSettings s;
    s.protocols = tls_v1_2;
    s.ciphers = "DHE-RSA-AES128-GCM-SHA256";
    SslCtxPtr cctx = client_ctx(s);
    Conn c = make_conn(sctx.get(), cctx.get());
    REQUIRE(shake(c).ok());
    CHECK(c.server->cipher() == "DHE-RSA-AES128-GCM-SHA256");
}

TEST_CASE("client contexts check their trusted certificates", "[core][tls]") {
    TlsClientSettings s;
    s.verify = true;
    std::string error;
    CHECK_FALSE(make_client_context(s, error));
    CHECK(error == "no proxy_ssl_trusted_certificate for proxy_ssl_verify");
    s.trusted_certificate = pki().path("missing.pem");
    CHECK_FALSE(make_client_context(s, error));
    CHECK(error.rfind("cannot load certificate \"" + s.trusted_certificate + "\": BIO_new_file()",
                      0) == 0);
    s.trusted_certificate = pki().path("ca.pem");
    CHECK(make_client_context(s, error));
}

// ---- handshakes and data ----

TEST_CASE("data flows both ways after a handshake", "[core][tls]") {
    SslCtxPtr sctx = server_ctx(server_conf("a")), cctx = client_ctx();
    Conn c = make_conn(sctx.get(), cctx.get());
    REQUIRE(shake(c).ok());
    CHECK(c.server->protocol() == "TLSv1.3");
    CHECK(c.client->protocol() == "TLSv1.3");
    CHECK_FALSE(c.server->cipher().empty());
    CHECK(c.server->session_reused() == false);
    CHECK(c.server->alpn().empty());  // the client offered no ALPN

    std::string got;
    REQUIRE(c.client->write("GET / HTTP/1.1\r\n\r\n", 18).n == 18);
    CHECK(drain(*c.server, got) == Io::again);
    CHECK(got == "GET / HTTP/1.1\r\n\r\n");
    got.clear();
    REQUIRE(c.server->write("HTTP/1.1 200 OK\r\n\r\n", 19).n == 19);
    CHECK(drain(*c.client, got) == Io::again);
    CHECK(got == "HTTP/1.1 200 OK\r\n\r\n");
    // No kernel TLS without the tls ULP: the tunnel must copy.
    if (!kernel_offers_ktls()) CHECK_FALSE(c.server->ktls_active());
    CHECK(c.server->can_splice() == c.server->ktls_active());
}

TEST_CASE("large transfers survive partial writes, by write and by writev", "[core][tls]") {
    SslCtxPtr sctx = server_ctx(server_conf("a")), cctx = client_ctx();
    Conn c = make_conn(sctx.get(), cctx.get());
    REQUIRE(shake(c).ok());
    std::string data = pattern(4 << 20);
    int agains = 0;
    CHECK(transfer(*c.client, *c.server, data, false, agains) == data);
    CHECK(agains > 0);  // the socket filled up, so retries were exercised
    agains = 0;
    CHECK(transfer(*c.server, *c.client, data, true, agains) == data);
    CHECK(agains > 0);
}

TEST_CASE("writev coalesces small iovecs into one TLS record", "[core][tls]") {
    SslCtxPtr sctx = server_ctx(server_conf("a")), cctx = client_ctx();
    Conn c = make_conn(sctx.get(), cctx.get());
    REQUIRE(shake(c).ok());
    std::string got;
    REQUIRE(drain(*c.client, got) == Io::again);  // session tickets
    // Record the header of every record the client receives from now on.
    std::vector<std::string> headers;
    SSL_set_msg_callback(c.client->native_handle(), [](int write_p, int, int type, const void* buf,
                                                       size_t len, SSL*, void* arg) {
        if (!write_p && type == SSL3_RT_HEADER) {
            static_cast<std::vector<std::string>*>(arg)->emplace_back(static_cast<const char*>(buf),
                                                                      len);
        }
    });
    SSL_set_msg_callback_arg(c.client->native_handle(), &headers);
    std::string data = pattern(1000);
    std::vector<std::string> pieces;  // separate buffers, as a head and a body are
    for (size_t off = 0; off < data.size(); off += 10)
        pieces.push_back(data.substr(off, 10));
    std::vector<iovec> iov;
    for (std::string& p : pieces)
        iov.push_back({p.data(), p.size()});
    IoResult w = c.server->writev(iov.data(), static_cast<int>(iov.size()));
    REQUIRE(w.status == Io::ok);
    CHECK(w.n == 1000);
    CHECK(drain(*c.client, got) == Io::again);
    CHECK(got == data);
    // One application-data record: 1000 bytes + content type + 16-byte tag.
    REQUIRE(headers.size() == 1);
    CHECK(headers[0][0] == 0x17);
    CHECK((uint8_t(headers[0][3]) << 8 | uint8_t(headers[0][4])) == 1017);
}

TEST_CASE("has_pending reports records OpenSSL read ahead", "[core][tls]") {
    if (kernel_offers_ktls()) return;  // contexts do not read ahead then
    SslCtxPtr sctx = server_ctx(server_conf("a")), cctx = client_ctx();
    Conn c = make_conn(sctx.get(), cctx.get());
    REQUIRE(shake(c).ok());
    std::string data = pattern(3000);
    for (int i = 0; i < 3; i++)
        REQUIRE(c.server->write(data.data() + i * 1000, 1000).n == 1000);
    std::string got;
    char buf[100];
    IoResult r = c.client->read(buf, sizeof buf);
    while (r.status == Io::ok) {
        got.append(buf, r.n);
        if (!c.client->has_pending()) break;
        r = c.client->read(buf, sizeof buf);
    }
    CHECK(got == data);  // all three records without waiting for the socket again
    CHECK(c.client->read(buf, sizeof buf).status == Io::again);
    CHECK_FALSE(c.client->has_pending());
}

TEST_CASE("a request sent with the client's Finished is pending after the handshake",
          "[core][tls]") {
    if (kernel_offers_ktls()) return;  // contexts do not read ahead then
    SslCtxPtr sctx = server_ctx(server_conf("a")), cctx = client_ctx();
    Conn c = make_conn(sctx.get(), cctx.get());
    REQUIRE(c.client->handshake().status == Io::again);  // ClientHello
    REQUIRE(c.server->handshake().status == Io::again);  // up to the server's Finished
    REQUIRE(c.client->handshake().status == Io::ok);     // the client's Finished
    REQUIRE(c.client->write("GET", 3).n == 3);
    REQUIRE(c.server->handshake().status == Io::ok);
    // The socket is empty now (epoll reports nothing more): only has_pending() tells.
    char buf[16];
    CHECK(recv(c.server->fd(), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT) < 0);
    CHECK(c.server->has_pending());
    IoResult r = c.server->read(buf, sizeof buf);
    CHECK(r.status == Io::ok);
    CHECK(std::string_view(buf, r.n) == "GET");
}

TEST_CASE("close_notify ends one direction; the other keeps working", "[core][tls]") {
    SslCtxPtr sctx = server_ctx(server_conf("a")), cctx = client_ctx();
    Conn c = make_conn(sctx.get(), cctx.get());
    REQUIRE(shake(c).ok());
    REQUIRE(c.client->write("last", 4).n == 4);
    c.client->shutdown_write();
    std::string got;
    CHECK(drain(*c.server, got) == Io::eof);
    CHECK(got == "last");
    REQUIRE(c.server->write("reply", 5).n == 5);
    c.server->shutdown_write();
    got.clear();
    CHECK(drain(*c.client, got) == Io::eof);
    CHECK(got == "reply");
}

TEST_CASE("a close_notify the socket cannot take yet goes out before the FIN", "[core][tls]") {
    SslCtxPtr sctx = server_ctx(server_conf("a")), cctx = client_ctx();
    Conn c = make_conn(sctx.get(), cctx.get());
    REQUIRE(shake(c).ok());
    std::string sink;
    REQUIRE(drain(*c.client, sink) == Io::again);  // session tickets
    // Fill the server's socket behind OpenSSL's back, so the alert finds no room.
    std::string filler(4096, 'f');
    size_t filled = 0;
    for (ssize_t n; (n = send(c.server->fd(), filler.data(), filler.size(), MSG_DONTWAIT)) > 0;) {
        filled += static_cast<size_t>(n);
    }
    c.server->shutdown_write();
    char buf[65536];
    size_t seen = 0;
    for (ssize_t n; (n = recv(c.client->fd(), buf, sizeof buf, 0)) > 0;)
        seen += static_cast<size_t>(n);
    CHECK(seen == filled);  // no alert and, above all, no FIN yet
    CHECK(c.server->read(buf, sizeof buf).status == Io::again);  // any call retries the alert
    ssize_t n = recv(c.client->fd(), buf, sizeof buf, 0);
    CHECK(n == 24);  // one encrypted alert record: 5 + 2 + 1 + 16
    CHECK(buf[0] == 0x17);
    CHECK(recv(c.client->fd(), buf, sizeof buf, 0) == 0);  // then the FIN
}

TEST_CASE("a peer that closes without close_notify, even mid-record, gives eof", "[core][tls]") {
    SslCtxPtr sctx = server_ctx(server_conf("a")), cctx = client_ctx();
    // client <-> [c_end | m_client] relay [m_server | s_end] <-> server
    auto [c_end, m_client] = socket_pair();
    auto [m_server, s_end] = socket_pair();
    Conn c = connect_pair(std::move(s_end), std::move(c_end), sctx.get(), cctx.get(), {});
    int mc = m_client.get(), ms = m_server.get();
    REQUIRE(shake(c, [&] {
                relay(mc, ms);
                relay(ms, mc);
            }).ok());
    REQUIRE(c.client->write("whole", 5).n == 5);
    relay(mc, ms);
    std::string got;
    REQUIRE(drain(*c.server, got) == Io::again);
    REQUIRE(got == "whole");

    REQUIRE(c.client->write(pattern(1000).data(), 1000).n == 1000);
    CHECK(relay(mc, ms, 500) == 500);  // half a record reaches the server...
    CHECK(c.server->read(&got[0], 1).status == Io::again);
    CHECK_FALSE(c.server->has_pending());  // ...which must wait for the socket, not spin
    m_server.reset();                      // ...then the connection closes
    CHECK(drain(*c.server, got) == Io::eof);
}

TEST_CASE("SNI picks the server context and is kept as $ssl_server_name", "[core][tls]") {
    SslCtxPtr a = server_ctx(server_conf("a")), b = server_ctx(server_conf("b"));
    set_sni_selector(a.get(), [&](std::string_view name) {
        if (name == "b.test") return SniChoice{b.get(), false};
        if (name == "reject.test") return SniChoice{nullptr, true};
        return SniChoice{};
    });
    SslCtxPtr cctx = client_ctx();
    auto peer_cn = [](TlsStream& s) {
        char cn[64] = "";
        X509_NAME_get_text_by_NID(
            X509_get_subject_name(SSL_get0_peer_certificate(s.native_handle())), NID_commonName, cn,
            sizeof cn);
        return std::string(cn);
    };

    Conn c = make_conn(a.get(), cctx.get(), {.server_name = "b.test"});
    REQUIRE(shake(c).ok());
    CHECK(peer_cn(*c.client) == "b.test");
    CHECK(c.server->server_name() == "b.test");

    // An unknown name keeps the default server, and the name is still reported.
    c = make_conn(a.get(), cctx.get(), {.server_name = "unknown.test"});
    REQUIRE(shake(c).ok());
    CHECK(peer_cn(*c.client) == "a.test");
    CHECK(c.server->server_name() == "unknown.test");

    c = make_conn(a.get(), cctx.get());
    REQUIRE(shake(c).ok());
    CHECK(c.server->server_name().empty());

    c = make_conn(a.get(), cctx.get(), {.server_name = "reject.test"});
    Shake r = shake(c);
    CHECK(r.server.status == Io::error);
    CHECK(c.server->error_text() == "handshake rejected");
    CHECK(c.server->error_is_peer_fault());
    CHECK(r.client.status == Io::error);
    CHECK(c.client->error_text().find("unrecognized name") != std::string::npos);
}

TEST_CASE("the server chosen by SNI applies its own protocols", "[core][tls]") {
    TlsServerSettings bconf = server_conf("b");
    bconf.protocols = tls_v1_3;
    SslCtxPtr a = server_ctx(server_conf("a")), b = server_ctx(bconf);
    set_sni_selector(a.get(), [&](std::string_view name) {
        return name == "b.test" ? SniChoice{b.get(), false} : SniChoice{};
    });
    TlsClientSettings tls12;
    tls12.protocols = tls_v1_2;
    SslCtxPtr cctx = client_ctx(tls12);
    Conn c = make_conn(a.get(), cctx.get(), {.server_name = "a.test"});
    REQUIRE(shake(c).ok());
    CHECK(c.server->protocol() == "TLSv1.2");
    c = make_conn(a.get(), cctx.get(), {.server_name = "b.test"});
    CHECK(shake(c).server.status == Io::error);
}

TEST_CASE("a server holds an RSA and an ECDSA certificate at once", "[core][tls]") {
    TlsServerSettings conf = server_conf("rsa");
    conf.certificates.push_back({pki().path("a.pem"), pki().path("a.key")});
    SslCtxPtr sctx = server_ctx(conf);
    auto key_type = [&](const char* cipher) {
        TlsClientSettings s;
        s.protocols = tls_v1_2;
        s.ciphers = cipher;
        SslCtxPtr cctx = client_ctx(s);
        Conn c = make_conn(sctx.get(), cctx.get());
        REQUIRE(shake(c).ok());
        return EVP_PKEY_get_base_id(
            X509_get0_pubkey(SSL_get0_peer_certificate(c.client->native_handle())));
    };
    CHECK(key_type("ECDHE-RSA-AES128-GCM-SHA256") == EVP_PKEY_RSA);
    CHECK(key_type("ECDHE-ECDSA-AES128-GCM-SHA256") == EVP_PKEY_EC);
}

// Issue 14: a second pair of the same key type replaced the first in the context, which
// freed the first leaf while ferry still held a pointer to it (SIGSEGV at start-up).
TEST_CASE("two pairs of one key type: the later pair wins, nothing crashes", "[core][tls]") {
    TlsServerSettings conf = server_conf("a");
    conf.certificates.push_back({pki().path("b.pem"), pki().path("b.key")});
    conf.certificates.push_back({pki().path("rsa.pem"), pki().path("rsa.key")});
    SslCtxPtr sctx = server_ctx(conf), cctx = client_ctx();
    Conn c = make_conn(sctx.get(), cctx.get());
    REQUIRE(shake(c).ok());
    X509* peer = SSL_get0_peer_certificate(c.client->native_handle());
    REQUIRE(peer);
    char cn[64] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    CHECK(std::string(cn) == "b.test");  // the later ECDSA pair, preferred over RSA
}

TEST_CASE("ALPN selects http/1.1 and refuses a client that offers only h2", "[core][tls]") {
    SslCtxPtr sctx = server_ctx(server_conf("a")), cctx = client_ctx();
    Conn c = make_conn(sctx.get(), cctx.get());
    static const unsigned char both[] = "\x02h2\x08http/1.1";
    REQUIRE(SSL_set_alpn_protos(c.client->native_handle(), both, sizeof both - 1) == 0);
    REQUIRE(shake(c).ok());
    CHECK(c.server->alpn() == "http/1.1");
    CHECK(c.client->alpn() == "http/1.1");

    c = make_conn(sctx.get(), cctx.get());
    static const unsigned char h2[] = "\x02h2";
    REQUIRE(SSL_set_alpn_protos(c.client->native_handle(), h2, sizeof h2 - 1) == 0);
    Shake r = shake(c);
    CHECK(r.server.status == Io::error);
    CHECK(c.server->error_text().find("no application protocol") != std::string::npos);
    CHECK(c.server->error_is_peer_fault());
    CHECK(r.client.status == Io::error);
}

TEST_CASE("protocol limits: a TLSv1.2-only client cannot reach a TLSv1.3-only server",
          "[core][tls]") {
    TlsServerSettings conf = server_conf("a");
    conf.protocols = tls_v1_3;
    SslCtxPtr sctx = server_ctx(conf);
    TlsClientSettings s;
    s.protocols = tls_v1_2;
    SslCtxPtr cctx = client_ctx(s);
    Conn c = make_conn(sctx.get(), cctx.get());
    Shake r = shake(c);
    CHECK(r.server.status == Io::error);
    CHECK(r.client.status == Io::error);
    CHECK(c.server->error_text() ==
          "SSL_do_handshake() failed (SSL: error:0A000102:SSL routines::unsupported protocol)");
    CHECK(c.server->error_is_peer_fault());
}

TEST_CASE("garbage instead of a ClientHello fails the handshake as the peer's fault",
          "[core][tls]") {
    SslCtxPtr sctx = server_ctx(server_conf("a"));
    auto [s, raw] = socket_pair();
    std::string error;
    auto server = TlsStream::accept(std::move(s), sctx.get(), error);
    REQUIRE(send(raw.get(), "\x16\x03\x01\x00\x05hello", 10, 0) == 10);
    IoResult r = server->handshake();
    CHECK(r.status == Io::error);
    CHECK(server->error_text().rfind("SSL_do_handshake() failed (SSL: ", 0) == 0);
    CHECK(server->error_is_peer_fault());

    auto [s2, raw2] = socket_pair();
    server = TlsStream::accept(std::move(s2), sctx.get(), error);
    REQUIRE(send(raw2.get(), "\x16\x03\x01", 3, 0) == 3);  // a truncated handshake
    CHECK(server->handshake().status == Io::again);
    raw2.reset();
    CHECK(server->handshake().status == Io::error);
    CHECK(server->error_text() == "peer closed connection in SSL handshake");
    CHECK(server->error_is_peer_fault());
}

namespace {
// Connects twice, the second time offering the session the first one saved.
bool resumes(SSL_CTX* sctx, SSL_CTX* cctx) {
    SslSessionPtr session;
    Conn c =
        make_conn(sctx, cctx, {.save_session = [&](SslSessionPtr s) { session = std::move(s); }});
    REQUIRE(shake(c).ok());
    REQUIRE(c.server->write("x", 1).n == 1);
    std::string got;
    REQUIRE(drain(*c.client, got) == Io::again);  // TLS 1.3 tickets arrive here
    if (!session) return false;
    c = make_conn(sctx, cctx, {.session = session.get()});
    REQUIRE(shake(c).ok());
    CHECK(c.client->session_reused() == c.server->session_reused());
    return c.server->session_reused();
}
}  // namespace

TEST_CASE("sessions resume with tickets and with the session cache", "[core][tls]") {
    TlsServerSettings tickets = server_conf("a");  // defaults: cache none, tickets on
    TlsServerSettings cache = server_conf("a");
    cache.session_tickets = false;
    cache.session_cache = TlsServerSettings::SessionCache::builtin;
    TlsServerSettings shared = cache;
    shared.session_cache = TlsServerSettings::SessionCache::shared;
    shared.session_cache_size = 1 << 20;
    TlsServerSettings neither = server_conf("a");
    neither.session_tickets = false;
    neither.session_cache = TlsServerSettings::SessionCache::off;

    TlsClientSettings tls12;
    tls12.protocols = tls_v1_2;
    SslCtxPtr c13 = client_ctx(), c12 = client_ctx(tls12);
    for (SSL_CTX* cctx : {c13.get(), c12.get()}) {
        CHECK(resumes(server_ctx(tickets).get(), cctx));
        CHECK(resumes(server_ctx(cache).get(), cctx));
        CHECK(resumes(server_ctx(shared).get(), cctx));
        CHECK_FALSE(resumes(server_ctx(neither).get(), cctx));
    }
}

TEST_CASE("a session does not resume on another server block", "[core][tls]") {
    TlsServerSettings conf = server_conf("a");
    conf.session_cache = TlsServerSettings::SessionCache::builtin;
    SslCtxPtr a = server_ctx(conf), b = server_ctx(server_conf("b"));
    set_sni_selector(a.get(), [&](std::string_view name) {
        return name == "b.test" ? SniChoice{b.get(), false} : SniChoice{};
    });
    SslCtxPtr cctx = client_ctx();
    SslSessionPtr session;
    Conn c = make_conn(a.get(), cctx.get(),
                       {.server_name = "a.test",
                        .save_session = [&](SslSessionPtr s) { session = std::move(s); }});
    REQUIRE(shake(c).ok());
    REQUIRE(c.server->write("x", 1).n == 1);
    std::string got;
    REQUIRE(drain(*c.client, got) == Io::again);
    REQUIRE(session);
    c = make_conn(a.get(), cctx.get(), {.server_name = "b.test", .session = session.get()});
    REQUIRE(shake(c).ok());
    CHECK_FALSE(c.server->session_reused());
}

TEST_CASE("upstream verification: CA, wrong CA, expired, wrong name, off", "[core][tls]") {
    TlsClientSettings verify;
    verify.verify = true;
    verify.trusted_certificate = pki().path("ca.pem");
    TlsClientSettings wrong_ca = verify;
    wrong_ca.trusted_certificate = pki().path("other-ca.pem");
    SslCtxPtr good = client_ctx(verify), wrong = client_ctx(wrong_ca), off = client_ctx();
    SslCtxPtr a = server_ctx(server_conf("a")), b = server_ctx(server_conf("b"));
    SslCtxPtr expired = server_ctx(server_conf("expired"));

    auto run = [](SSL_CTX* sctx, SSL_CTX* cctx, std::string_view name) {
        Conn c = make_conn(sctx, cctx, {.server_name = name, .verify_name = name});
        Shake r = shake(c);
        REQUIRE(r.server.status == Io::ok);  // the server never knows
        return r.client.status == Io::ok ? std::string("ok") : c.client->error_text();
    };
    CHECK(run(a.get(), good.get(), "a.test") == "ok");
    CHECK(run(b.get(), good.get(), "b.test") == "ok");
    CHECK(run(b.get(), wrong.get(), "b.test") ==
          "upstream SSL certificate verify error: (21:unable to verify the first certificate)");
    CHECK(run(a.get(), wrong.get(), "a.test") ==  // a's chain ends in a CA we do not trust
          "upstream SSL certificate verify error: (19:self-signed certificate in certificate "
          "chain)");
    CHECK(run(expired.get(), good.get(), "a.test") ==
          "upstream SSL certificate verify error: (10:certificate has expired)");
    CHECK(run(a.get(), good.get(), "c.test") ==
          "upstream SSL certificate does not match \"c.test\"");
    CHECK(run(b.get(), off.get(), "b.test") == "ok");
    CHECK(run(expired.get(), off.get(), "whatever") == "ok");
}

TEST_CASE("no session is saved from an upstream that fails verification", "[core][tls]") {
    TlsClientSettings wrong_ca;
    wrong_ca.verify = true;
    wrong_ca.trusted_certificate = pki().path("other-ca.pem");
    TlsClientSettings wrong_ca12 = wrong_ca;
    wrong_ca12.protocols = tls_v1_2;
    SslCtxPtr sctx = server_ctx(server_conf("b"));
    SslCtxPtr c13 = client_ctx(wrong_ca), c12 = client_ctx(wrong_ca12);
    for (SSL_CTX* cctx : {c13.get(), c12.get()}) {
        int saved = 0;
        Conn c = make_conn(sctx.get(), cctx,
                           {.server_name = "b.test",
                            .verify_name = "b.test",
                            .save_session = [&](SslSessionPtr) { ++saved; }});
        Shake r = shake(c);
        REQUIRE(r.server.status == Io::ok);
        REQUIRE(r.client.status == Io::error);
        REQUIRE(c.server->write("x", 1).n == 1);
        std::string got;
        drain(*c.client, got);  // TLS 1.3 tickets arrive here: refused too
        CHECK(saved == 0);
    }
}

TEST_CASE("the first byte tells TLS from plain HTTP on loopback TCP", "[core][tls]") {
    UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(listen(listener.get(), 8) == 0);
    REQUIRE(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    auto connect_one = [&] {
        UniqueFd c(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        int r = ::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        REQUIRE((r == 0 || errno == EINPROGRESS));
        UniqueFd s(accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        REQUIRE(s);
        return std::pair{std::move(s), std::move(c)};
    };
    auto wait_readable = [](int fd) {
        pollfd p{fd, POLLIN, 0};
        REQUIRE(poll(&p, 1, 5000) == 1);
    };
    int err = 0;
    auto [s1, c1] = connect_one();
    CHECK(probe_first_byte(s1.get(), err) == FirstByte::again);
    REQUIRE(send(c1.get(), "GET / HTTP/1.1\r\n", 16, 0) == 16);
    wait_readable(s1.get());
    CHECK(probe_first_byte(s1.get(), err) == FirstByte::plain);

    auto [s2, c2] = connect_one();
    c2.reset();
    wait_readable(s2.get());
    CHECK(probe_first_byte(s2.get(), err) == FirstByte::closed);

    // A real TLS client: the probe leaves the byte in place for the handshake.
    auto [s3, c3] = connect_one();
    SslCtxPtr sctx = server_ctx(server_conf("a")), cctx = client_ctx();
    std::string error;
    Conn c;
    c.client = TlsStream::connect(std::move(c3), cctx.get(), {}, error);
    REQUIRE(c.client->handshake().status == Io::again);  // ClientHello sent
    wait_readable(s3.get());
    CHECK(probe_first_byte(s3.get(), err) == FirstByte::tls);
    c.server = TlsStream::accept(std::move(s3), sctx.get(), error);
    Shake r;
    for (int i = 0; i < 200 && !r.ok(); i++) {
        r = shake(c);
        usleep(1000);
    }
    REQUIRE(r.ok());
    int agains = 0;
    std::string data = pattern(1 << 20);
    CHECK(transfer(*c.client, *c.server, data, true, agains) == data);
}
