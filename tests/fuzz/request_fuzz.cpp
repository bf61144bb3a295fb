// libFuzzer target for everything a client's request bytes reach before the domain: JSON
// bodies decoded into the API's typed bodies, query strings, pagination cursors, If-Match and
// Idempotency-Key. Built by tests/fuzz/run with clang (-fsanitize=fuzzer,address,undefined);
// not part of the CMake build.
//
// The first input byte picks what the rest is:
//   0-3: a JSON body for POST /orders, PUT /orders/{id}/items, POST /products, PATCH /products;
//   4-5: the query string of GET /orders, GET /products;
//   6:   a pagination cursor, for orders and for products;
//   7:   an If-Match and an Idempotency-Key header value.
// Bad input must come back as a 400/415/422-style result, never a crash or a sanitizer report.
// Whatever is accepted must satisfy the contract's rules (checked here independently of the
// decoder's rule tables), and an accepted cursor must be the canonical encoding of its key;
// a broken property is a finding (__builtin_trap).

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <variant>

#include "api/bodies.hpp"
#include "api/request.hpp"
#include "http/problem.hpp"
#include "json/decode.hpp"
#include "json/query.hpp"
#include "orders/limits.hpp"

namespace {

namespace api = svc::api;
namespace json = svc::json;
namespace lim = svc::orders::limits;

void require(bool property) {
    if (!property) __builtin_trap();
}

bool within_code_points(std::string_view text, std::size_t min, std::size_t max) {
    const auto length = json::utf8_length(text);
    return length && *length >= min && *length <= max;
}

void check_items(const std::vector<api::item_body>& items) {
    require(items.size() >= lim::k_min_items && items.size() <= lim::k_max_items);
    std::set<std::string> seen;
    for (const auto& item : items) {
        require(lim::is_product_id(item.product_id));
        require(item.quantity >= lim::k_min_quantity && item.quantity <= lim::k_max_quantity);
        require(seen.insert(item.product_id).second);  // unique product ids
    }
}

void check_product_fields(
    const std::optional<std::string>& name,
    const std::optional<std::int64_t>& price_cents,
    const std::optional<std::int64_t>& stock
) {
    if (name) require(within_code_points(*name, 1, lim::k_product_name_max_length));
    if (price_cents) require(*price_cents >= 0 && *price_cents <= lim::k_max_price_cents);
    if (stock) require(*stock >= 0 && *stock <= lim::k_max_stock);
}

void check_body(std::uint8_t kind, std::string_view text) {
    switch (kind) {
        case 0:
            if (auto r = json::decode_body<api::order_create_body>(text); auto* body = std::get_if<0>(&r)) {
                check_items(body->items);
                if (body->user_id) require(within_code_points(*body->user_id, 1, lim::k_user_id_max_length));
            }
            break;
        case 1:
            if (auto r = json::decode_body<api::order_items_body>(text); auto* body = std::get_if<0>(&r)) {
                check_items(body->items);
            }
            break;
        case 2:
            if (auto r = json::decode_body<api::product_create_body>(text); auto* body = std::get_if<0>(&r)) {
                require(lim::is_product_id(body->id));
                check_product_fields(body->name, body->price_cents, body->stock);
            }
            break;
        default:
            if (auto r = json::decode_body<api::product_patch_body>(text); auto* body = std::get_if<0>(&r)) {
                check_product_fields(body->name, body->price_cents, body->stock);
            }
            break;
    }
}

void check_limit(const std::optional<std::int64_t>& limit) {
    if (limit) require(*limit >= 1 && *limit <= static_cast<std::int64_t>(lim::k_max_page_size));
}

void check_query(std::uint8_t kind, const std::string& text) {
    if (kind == 4) {
        if (auto r = json::decode_query<api::order_list_query>(text); auto* query = std::get_if<0>(&r)) {
            check_limit(query->limit);
            if (query->user_id) require(within_code_points(*query->user_id, 1, lim::k_user_id_max_length));
        }
    } else if (auto r = json::decode_query<api::product_list_query>(text); auto* query = std::get_if<0>(&r)) {
        check_limit(query->limit);
    }
}

void check_cursor(std::string_view text) {
    for (const auto kind : {api::cursor_kind::order, api::cursor_kind::product}) {
        try {
            const std::string key = api::decode_cursor(kind, text);
            require(api::encode_cursor(kind, key) == text);
        } catch (const svc::http::problem_error&) {
            // 400 "Malformed cursor": the expected answer to most inputs.
        }
    }
}

void check_headers(std::string_view text) {
    svc::http::request request;
    request.headers.push_back({"If-Match", std::string(text)});
    request.headers.push_back({"Idempotency-Key", std::string(text)});
    try {
        (void)api::read_if_match(request);
    } catch (const svc::http::problem_error&) {
    }
    try {
        if (const auto key = api::read_idempotency_key(request)) {
            require(!key->empty() && key->size() <= lim::k_idempotency_key_max_length);
            for (const char c : *key) require(c >= 0x21 && c <= 0x7E);
        }
    } catch (const svc::http::problem_error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t selector = data[0] % 8;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    if (selector < 4) {
        check_body(selector, text);
    } else if (selector < 6) {
        check_query(selector, std::string(text));
    } else if (selector == 6) {
        check_cursor(text);
    } else {
        check_headers(text);
    }
    return 0;
}
