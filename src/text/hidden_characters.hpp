#pragma once
// Characters that are invisible or break lines, refused in user ids wherever they enter: a
// request body or query (json's `visible` pattern) and a token's `sub` (auth). One definition,
// so the two doors refuse the same set.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace svc::text {

// True when `utf8` (valid UTF-8) holds a control character (C0, DEL, C1: category Cc), a line
// or paragraph separator (U+2028, U+2029) or a bidi control (U+202A-U+202E, U+2066-U+2069):
// characters with which two different user ids could look the same in a log line or a screen.
inline bool has_hidden_control(std::string_view utf8) {
    std::size_t i = 0;
    while (i < utf8.size()) {
        const auto lead = static_cast<unsigned char>(utf8[i]);
        const std::size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        std::uint32_t code = length == 1 ? lead : lead & (0x7FU >> length);
        for (std::size_t k = 1; k < length && i + k < utf8.size(); ++k) {
            code = (code << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3FU);
        }
        const bool hidden = code < 0x20 || (code >= 0x7F && code <= 0x9F) || code == 0x2028 ||
                            code == 0x2029 || (code >= 0x202A && code <= 0x202E) ||
                            (code >= 0x2066 && code <= 0x2069);
        if (hidden) return true;
        i += length;
    }
    return false;
}

}  // namespace svc::text
