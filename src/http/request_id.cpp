#include "http/request_id.hpp"

#include <algorithm>
#include <cstdint>
#include <random>

namespace svc::http {

bool is_sane_request_id(std::string_view id) {
    if (id.empty() || id.size() > 128) {
        return false;
    }
    return std::ranges::all_of(id, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view("._:@/+=-").find(c) != std::string_view::npos;
    });
}

std::string generate_request_id() {
    thread_local std::mt19937_64 generator{
        (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()};
    const std::uint64_t high = (generator() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    const std::uint64_t low = (generator() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;   // variant 10
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string id(36, '-');
    std::size_t pos = 0;
    const auto put = [&](std::uint64_t value, int nibbles) {
        for (int i = nibbles - 1; i >= 0; --i) {
            if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
                ++pos;
            }
            id[pos++] = k_hex[(value >> (i * 4)) & 0xf];
        }
    };
    put(high, 16);
    put(low, 16);
    return id;
}

}  // namespace svc::http
