#pragma once
// The contract's limits, declared once. The JSON validation rules (src/api/bodies.hpp) and
// through them the OpenAPI schemas use these constants; the service relies on them being
// enforced before it is called.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace svc::orders::limits {

inline constexpr std::size_t k_product_id_max_length = 64;  // chars of [A-Za-z0-9._-]
inline constexpr std::size_t k_product_name_max_length = 200;
inline constexpr std::int64_t k_max_price_cents = 1'000'000'000;
inline constexpr std::int64_t k_max_stock = 1'000'000'000;

inline constexpr std::size_t k_min_items = 1;
inline constexpr std::size_t k_max_items = 100;
inline constexpr std::int64_t k_min_quantity = 1;
inline constexpr std::int64_t k_max_quantity = 10'000;

inline constexpr std::size_t k_user_id_max_length = 128;  // as the token's `sub`

inline constexpr std::size_t k_default_page_size = 50;
inline constexpr std::size_t k_max_page_size = 200;

inline constexpr std::size_t k_idempotency_key_max_length = 255;

// True when `id` is 1-64 chars of [A-Za-z0-9._-] (a product id).
constexpr bool is_product_id(std::string_view id) {
    if (id.empty() || id.size() > k_product_id_max_length) return false;
    for (const char c : id) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

}  // namespace svc::orders::limits
