#include "examples/demo_upstream/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace ferry::demo {

namespace {

constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const unsigned char* data, size_t size) {
    std::string out(4 * ((size + 2) / 3), '\0');
    int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<size_t>(n));
    return out;
}

bool is_base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

}  // namespace

std::string accept_key(std::string_view client_key) {
    std::string input(client_key);
    input += websocket_guid;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    return base64(digest, sizeof digest);
}

bool valid_client_key(std::string_view key) {
    // 16 bytes encode to 22 base64 characters and "==" padding.
    if (key.size() != 24 || key.substr(22) != "==") return false;
    for (char c : key.substr(0, 22))
        if (!is_base64_char(c)) return false;
    // The last character before the padding carries only 2 significant bits.
    return std::string_view("AQgw").find(key[21]) != std::string_view::npos;
}

HeaderParse parse_frame_header(std::string_view in, FrameHeader& out) {
    if (in.size() < 2) return HeaderParse::incomplete;
    auto byte = [&](size_t i) { return static_cast<uint8_t>(in[i]); };
    out.fin = (byte(0) & 0x80) != 0;
    out.rsv = static_cast<uint8_t>((byte(0) >> 4) & 0x07);
    out.opcode = byte(0) & 0x0F;
    out.masked = (byte(1) & 0x80) != 0;
    uint64_t length = byte(1) & 0x7F;
    size_t at = 2;
    size_t extra = length == 126 ? 2 : length == 127 ? 8 : 0;
    if (in.size() < at + extra + (out.masked ? 4 : 0)) return HeaderParse::incomplete;
    if (extra > 0) {
        length = 0;
        for (size_t i = 0; i < extra; ++i)
            length = (length << 8) | byte(at + i);
        at += extra;
        if (length >> 63) return HeaderParse::bad_length;
    }
    if (out.masked) {
        for (size_t i = 0; i < 4; ++i)
            out.mask[i] = byte(at + i);
        at += 4;
    }
    out.length = length;
    out.header_size = at;
    return HeaderParse::ok;
}

void append_unmasked(std::string_view masked, const uint8_t (&mask)[4], std::string& out) {
    size_t base = out.size();
    out.resize(base + masked.size());
    for (size_t i = 0; i < masked.size(); ++i)
        out[base + i] = static_cast<char>(static_cast<uint8_t>(masked[i]) ^ mask[i & 3]);
}

void append_frame_header(std::string& out, uint8_t opcode, uint64_t length) {
    out += static_cast<char>(0x80 | opcode);
    if (length < 126) {
        out += static_cast<char>(length);
    } else if (length <= 0xFFFF) {
        out += static_cast<char>(126);
        out += static_cast<char>(length >> 8);
        out += static_cast<char>(length & 0xFF);
    } else {
        out += static_cast<char>(127);
        for (int shift = 56; shift >= 0; shift -= 8)
            out += static_cast<char>((length >> shift) & 0xFF);
    }
}

void append_frame(std::string& out, uint8_t opcode, std::string_view payload) {
    append_frame_header(out, opcode, payload.size());
    out += payload;
}

void append_close_frame(std::string& out, uint16_t code, std::string_view reason) {
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xFF);
    payload += reason.substr(0, 123);
    append_frame(out, opcode::close, payload);
}

bool valid_utf8(std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        auto c = static_cast<uint8_t>(text[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        // C0 and C1 could only start overlong forms; F5 and above exceed U+10FFFF; 80-BF
        // are continuation bytes.
        if (c < 0xC2 || c > 0xF4) return false;
        size_t extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
        uint32_t cp = c & (0x3Fu >> extra);
        if (i + extra >= text.size()) return false;  // truncated sequence
        for (size_t k = 1; k <= extra; ++k) {
            auto cc = static_cast<uint8_t>(text[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        bool overlong = (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000);
        bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        if (overlong || surrogate || cp > 0x10FFFF) return false;
        i += extra + 1;
    }
    return true;
}

bool valid_close_code(uint16_t code) {
    // 1004-1006 and 1015 are reserved and never sent; 1012-1014 were registered after
    // RFC 6455; 3000-4999 belong to libraries and applications.
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

}  // namespace ferry::demo
