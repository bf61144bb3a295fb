#include "orders/ids.hpp"

#include <random>

namespace svc::orders {

namespace {

constexpr std::string_view k_hex = "0123456789abcdef";

void put_hex(std::string& out, std::uint64_t value, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) {
        out.push_back(k_hex[(value >> (4 * i)) & 0xF]);
    }
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string make_uuid_v7(timestamp now, std::uint64_t random) {
    const auto micros = static_cast<std::uint64_t>(now);
    const std::uint64_t millis = (micros / 1000) & 0xFFFF'FFFF'FFFFULL;
    // Sub-millisecond fraction scaled to 12 bits keeps ids from one thread ordered at
    // microsecond resolution, not just millisecond.
    const std::uint64_t fraction = ((micros % 1000) * 4096) / 1000;
    const std::uint64_t high = (millis << 16) | (0x7ULL << 12) | fraction;
    const std::uint64_t low = (0b10ULL << 62) | (random & 0x3FFF'FFFF'FFFF'FFFFULL);

    std::string out;
    out.reserve(36);
    put_hex(out, high >> 32, 8);
    out.push_back('-');
    put_hex(out, (high >> 16) & 0xFFFF, 4);
    out.push_back('-');
    put_hex(out, high & 0xFFFF, 4);
    out.push_back('-');
    put_hex(out, low >> 48, 4);
    out.push_back('-');
    put_hex(out, low & 0xFFFF'FFFF'FFFFULL, 12);
    return out;
}

std::string new_order_id(timestamp now) {
    thread_local std::mt19937_64 generator{[] {
        std::random_device device;
        return (static_cast<std::uint64_t>(device()) << 32) ^ device();
    }()};
    return make_uuid_v7(now, generator());
}

std::optional<std::string> canonical_uuid(std::string_view text) {
    if (text.size() != 36) return std::nullopt;
    std::string out(text);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash_position) {
            if (out[i] != '-') return std::nullopt;
            continue;
        }
        const int value = hex_value(out[i]);
        if (value < 0) return std::nullopt;
        out[i] = k_hex[static_cast<std::size_t>(value)];
    }
    return out;
}

std::optional<std::int64_t> uuid_v7_millis(std::string_view canonical) {
    auto uuid = canonical_uuid(canonical);
    if (!uuid || (*uuid)[14] != '7') return std::nullopt;
    std::int64_t millis = 0;
    for (std::size_t i = 0; i < 13; ++i) {
        if (i == 8) continue;
        millis = millis * 16 + hex_value((*uuid)[i]);
    }
    return millis;
}

}  // namespace svc::orders
