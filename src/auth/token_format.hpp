#pragma once
// The byte-level pieces of a compact JWS, separate from the crypto so that unit tests and
// the fuzz target can drive them directly. Pure functions; safe from any thread.

#include <optional>
#include <string>
#include <string_view>

namespace svc::auth::token_format {

// The three dot-separated segments of a compact JWS, as views into the token.
struct compact_parts {
    std::string_view header;         // base64url of the protected header
    std::string_view payload;        // base64url of the claims
    std::string_view signature;      // base64url of the signature
    std::string_view signing_input;  // "header.payload": the bytes that were signed
};

// Splits `token` at its two dots. Returns nullopt unless there are exactly three segments
// with a non-empty header and payload (the signature may be empty; the verifier refuses it).
std::optional<compact_parts> split_compact(std::string_view token);

// Strict base64url (RFC 4648 section 5) as JWS requires: alphabet [A-Za-z0-9-_], no padding,
// no whitespace, and the unused low bits of the last character must be zero, so every byte
// string has exactly one accepted encoding. Returns nullopt for anything else.
std::optional<std::string> base64url_decode(std::string_view text);

// Unpadded base64url of `bytes`.
std::string base64url_encode(std::string_view bytes);

// Number of Unicode code points in `utf8`, which must already be valid UTF-8 (Boost.JSON
// guarantees that for the strings it parses).
std::size_t code_point_count(std::string_view utf8);

}  // namespace svc::auth::token_format
