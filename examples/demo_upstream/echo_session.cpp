#include "examples/demo_upstream/echo_session.h"

namespace ferry::demo {

size_t EchoSession::consume(std::string_view in, std::string& out) {
    size_t used = 0;
    while (!closed_) {
        std::string_view rest = in.substr(used);
        FrameHeader frame;
        HeaderParse parsed = parse_frame_header(rest, frame);
        if (parsed == HeaderParse::incomplete) break;
        if (parsed == HeaderParse::bad_length) {
            fail(out, close_code::protocol_error, "bad payload length");
            break;
        }
        if (!check(frame, out)) break;
        // Checked before waiting for the payload, so an oversized frame is refused
        // without buffering it.
        if (rest.size() - frame.header_size < frame.length) break;
        std::string_view payload = rest.substr(frame.header_size, frame.length);
        used += frame.header_size + frame.length;
        on_frame(frame, payload, out);
    }
    return used;
}

bool EchoSession::check(const FrameHeader& frame, std::string& out) {
    bool control = (frame.opcode & 0x8) != 0;
    if (frame.rsv != 0) {
        fail(out, close_code::protocol_error, "reserved bits set");
    } else if (!frame.masked) {
        fail(out, close_code::protocol_error, "client frames must be masked");
    } else if (control && (frame.opcode > opcode::pong)) {
        fail(out, close_code::protocol_error, "unknown control opcode");
    } else if (!control && frame.opcode > opcode::binary) {
        fail(out, close_code::protocol_error, "unknown data opcode");
    } else if (control && (!frame.fin || frame.length > 125)) {
        fail(out, close_code::protocol_error, "bad control frame");
    } else if (frame.opcode == opcode::continuation && message_opcode_ == 0) {
        fail(out, close_code::protocol_error, "continuation without a message");
    } else if (!control && frame.opcode != opcode::continuation && message_opcode_ != 0) {
        fail(out, close_code::protocol_error, "new message inside a fragmented one");
    } else if (!control && frame.length > max_message_ - message_.size()) {
        fail(out, close_code::too_big, "message too big");
    }
    return !closed_;
}

void EchoSession::on_frame(const FrameHeader& frame, std::string_view payload, std::string& out) {
    if (frame.opcode == opcode::text || frame.opcode == opcode::binary ||
        frame.opcode == opcode::continuation) {
        on_data(frame, payload, out);
        return;
    }
    std::string data;  // a control frame's payload: at most 125 bytes
    append_unmasked(payload, frame.mask, data);
    if (frame.opcode == opcode::ping) append_frame(out, opcode::pong, data);
    if (frame.opcode == opcode::close) on_close(data, out);
    // Unsolicited pongs are allowed and ignored.
}

void EchoSession::on_close(std::string_view data, std::string& out) {
    if (data.empty()) {
        append_frame(out, opcode::close, {});
        closed_ = true;
        return;
    }
    uint16_t code = data.size() < 2 ? 0
                                    : static_cast<uint16_t>(static_cast<uint8_t>(data[0]) << 8 |
                                                            static_cast<uint8_t>(data[1]));
    if (data.size() < 2 || !valid_close_code(code)) {
        fail(out, close_code::protocol_error, "bad close code");
    } else if (!valid_utf8(data.substr(2))) {
        fail(out, close_code::invalid_payload, "close reason is not UTF-8");
    } else {
        append_close_frame(out, code);  // echo the peer's code, as RFC 6455 suggests
        closed_ = true;
    }
}

// An unfragmented message is unmasked straight into its echo frame; fragments are
// gathered in message_ until the final one.
void EchoSession::on_data(const FrameHeader& frame, std::string_view payload, std::string& out) {
    if (frame.fin && frame.opcode != opcode::continuation) {
        size_t frame_start = out.size();
        append_frame_header(out, frame.opcode, payload.size());
        size_t body_start = out.size();
        append_unmasked(payload, frame.mask, out);
        if (frame.opcode == opcode::text && !valid_utf8(std::string_view(out).substr(body_start))) {
            out.resize(frame_start);
            fail(out, close_code::invalid_payload, "text message is not UTF-8");
        }
        return;
    }
    if (frame.opcode != opcode::continuation) message_opcode_ = frame.opcode;
    append_unmasked(payload, frame.mask, message_);
    if (!frame.fin) return;
    if (message_opcode_ == opcode::text && !valid_utf8(message_)) {
        fail(out, close_code::invalid_payload, "text message is not UTF-8");
    } else {
        append_frame(out, message_opcode_, message_);
    }
    message_opcode_ = 0;
    // Give back the memory of a large message; keep a small buffer for the next one.
    if (message_.capacity() > (64u << 10)) message_ = std::string();
    message_.clear();
}

void EchoSession::fail(std::string& out, uint16_t code, std::string_view reason) {
    append_close_frame(out, code, reason);
    closed_ = true;
}

}  // namespace ferry::demo
