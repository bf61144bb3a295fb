#pragma once
// Reading the parts of a request the products and orders handlers share: JSON bodies and
// query strings (→ 415 / 400 / 422), If-Match, Idempotency-Key, pagination cursors. Each
// function throws http::problem_error with the contract's status on bad input.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "api/errors.hpp"
#include "http/message.hpp"
#include "json/decode.hpp"
#include "json/query.hpp"

namespace svc::api {

// True for application/json and application/<anything>+json, parameters (charset) ignored,
// case-insensitive.
bool is_json_media_type(std::string_view content_type);

// 415 unless the request declares a JSON body.
void require_json_content(const http::request& request);

// The request body as a T: 415 (not JSON), 400 (malformed JSON, too deep), 422 (schema).
template <class T>
T read_body(const http::request& request) {
    require_json_content(request);
    auto result = json::decode_body<T>(request.body);
    if (auto* bad = std::get_if<json::malformed>(&result))
        throw http::problem_error(bad_request(bad->detail));
    if (auto* bad = std::get_if<json::invalid>(&result)) throw http::problem_error(validation_problem(*bad));
    return std::move(std::get<T>(result));
}

// The query string as a T: 400 (broken percent-encoding), 422 (with loc ["query", name]).
template <class T>
T read_query(const http::request& request) {
    auto result = json::decode_query<T>(request.query);
    if (auto* bad = std::get_if<json::malformed>(&result))
        throw http::problem_error(bad_request(bad->detail));
    if (auto* bad = std::get_if<json::invalid>(&result)) throw http::problem_error(validation_problem(*bad));
    return std::move(std::get<T>(result));
}

// If-Match: nullopt when absent or "*"; otherwise the versions of its entity-tags ("3",
// W/"3", comma-separated lists). 400 when malformed.
struct if_match {
    std::vector<std::int64_t> versions;  // empty: any version
};
if_match read_if_match(const http::request& request);

// Idempotency-Key: nullopt when absent; 400 when empty, longer than 255 or not visible
// ASCII (0x21-0x7E).
std::optional<std::string> read_idempotency_key(const http::request& request);

// Opaque pagination cursors: base64url (no padding) of "<kind>:<key>". The kind keeps a
// products cursor from being accepted by /orders and vice versa.
enum class cursor_kind : char { product = 'p', order = 'o' };
std::string encode_cursor(cursor_kind kind, std::string_view key);
// The key in `cursor`, or 400 "Malformed cursor" when it is not one of ours of that kind.
std::string decode_cursor(cursor_kind kind, std::string_view cursor);

// base64url without padding, and its strict inverse (nullopt on any other character,
// impossible length or non-zero trailing bits).
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

// Lower-case hex SHA-256 of `bytes` (idempotency fingerprints).
std::string sha256_hex(std::string_view bytes);

// What makes two create requests "the same body" for an Idempotency-Key: the effective owner
// and the (product_id, quantity) items as a set — their order, the order of JSON members,
// whitespace and unknown fields do not matter. Every field is length-prefixed ("5:alice") in
// the hashed text, so two different requests never share a fingerprint, whatever their text
// holds. Returns sha256_hex of that text.
std::string order_fingerprint(
    std::string_view owner, std::vector<std::pair<std::string_view, std::int64_t>> items
);

}  // namespace svc::api
