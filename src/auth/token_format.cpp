#include "auth/token_format.hpp"

#include <array>
#include <cstdint>

namespace svc::auth::token_format {

namespace {

constexpr std::string_view k_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t k_invalid = 0xFF;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
    std::array<std::uint8_t, 256> table{};
    table.fill(k_invalid);
    for (std::size_t i = 0; i < k_alphabet.size(); ++i) {
        table[static_cast<unsigned char>(k_alphabet[i])] = static_cast<std::uint8_t>(i);
    }
    return table;
}

constexpr std::array<std::uint8_t, 256> k_decode_table = make_decode_table();

}  // namespace

std::optional<compact_parts> split_compact(std::string_view token) {
    const std::size_t first = token.find('.');
    if (first == std::string_view::npos) return std::nullopt;
    const std::size_t second = token.find('.', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    if (token.find('.', second + 1) != std::string_view::npos) return std::nullopt;  // JWE or junk
    compact_parts parts{
        .header = token.substr(0, first),
        .payload = token.substr(first + 1, second - first - 1),
        .signature = token.substr(second + 1),
        .signing_input = token.substr(0, second),
    };
    if (parts.header.empty() || parts.payload.empty()) return std::nullopt;
    return parts;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    // A lone trailing character carries only 6 bits: never a whole byte.
    if (text.size() % 4 == 1) return std::nullopt;
    // Every 4 characters carry 3 bytes; 2 or 3 trailing characters carry 1 or 2.
    std::string out(text.size() * 3 / 4, '\0');
    std::size_t written = 0;
    std::uint32_t bits = 0;
    int bit_count = 0;
    for (const char c : text) {
        const std::uint8_t value = k_decode_table[static_cast<unsigned char>(c)];
        if (value == k_invalid) return std::nullopt;
        bits = ((bits << 6U) | value) & 0xFFFFU;  // at most 14 pending bits matter
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out[written++] = static_cast<char>((bits >> static_cast<unsigned>(bit_count)) & 0xFFU);
        }
    }
    // Leftover bits (2 or 4) are padding inside the last character; non-zero ones would let
    // several encodings decode to the same bytes.
    if ((bits & ((1U << static_cast<unsigned>(bit_count)) - 1U)) != 0) return std::nullopt;
    return out;
}

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::uint32_t bits = 0;
    int bit_count = 0;
    for (const char c : bytes) {
        bits = (bits << 8U) | static_cast<unsigned char>(c);
        bit_count += 8;
        while (bit_count >= 6) {
            bit_count -= 6;
            out.push_back(k_alphabet[(bits >> static_cast<unsigned>(bit_count)) & 0x3FU]);
        }
    }
    if (bit_count > 0) out.push_back(k_alphabet[(bits << static_cast<unsigned>(6 - bit_count)) & 0x3FU]);
    return out;
}

std::size_t code_point_count(std::string_view utf8) {
    std::size_t count = 0;
    for (const char c : utf8) {
        // Continuation bytes look like 10xxxxxx; every other byte starts a code point.
        if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) ++count;
    }
    return count;
}

}  // namespace svc::auth::token_format
