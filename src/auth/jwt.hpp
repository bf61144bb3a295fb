#pragma once
// JWT bearer-token verification (RFC 7519 / RFC 7515 compact serialisation) and dev-token
// minting. Pure: no I/O, no logging, no globals the caller can observe — a verifier is built
// once at start-up from jwt_options and then only read, from every event loop at once.
//
// What is accepted: HS256 (shared secret), RS256 (RSA >= 2048 bits) and ES256 (P-256), each
// only when it is in the allow-list and fits the configured key; `alg: none` never. The
// signature is checked before the claims are parsed, so unsigned JSON never reaches the
// claims parser.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "auth/principal.hpp"

namespace svc::auth {

enum class algorithm { hs256, rs256, es256 };

// "HS256" for algorithm::hs256, ...
std::string_view to_string(algorithm a);

// A bad authentication configuration, detected when the verifier is built. The message is
// a sentence for the operator naming the setting (e.g. "JWT_ALGORITHMS includes RS256 but
// JWT_PUBLIC_KEY_FILE is not set"); the app prints it and exits with status 2.
class configuration_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Parses a comma-separated allow-list such as "HS256,RS256" (case-sensitive, as JWS names
// are; spaces around commas allowed). Throws configuration_error on an empty list, an
// unknown name, or "none".
std::vector<algorithm> parse_algorithm_list(std::string_view comma_separated);

// Everything the verifier needs. Settings: see docs/AUTH.md (JWT_* env vars / --jwt-* flags).
struct jwt_options {
    std::string secret;          // HS256 shared secret (JWT_SECRET); empty: no HS256 key
    std::string public_key_pem;  // RS256/ES256 key: SubjectPublicKeyInfo or certificate PEM
                                 // text (the contents of JWT_PUBLIC_KEY_FILE); empty: none
    // Key rotation: the key being retired, still accepted after the current one fails
    // (JWT_PREVIOUS_SECRET; JWT_PREVIOUS_PUBLIC_KEY_FILE, of the same kind as the current key).
    // Tokens are never signed with it here; empty: none.
    std::string previous_secret;
    std::string previous_public_key_pem;
    std::vector<algorithm> algorithms{algorithm::hs256};  // allow-list (JWT_ALGORITHMS)
    bool require_exp = true;                              // JWT_REQUIRE_EXP
    std::chrono::seconds leeway{30};                      // clock skew for exp/nbf/iat
    std::string issuer;                                   // required `iss`; empty: not checked
    std::string audience;                                 // required in `aud`; empty: not checked
    std::size_t max_token_bytes = 8192;                   // longer tokens are refused before any parsing
    // Verified tokens remembered per thread (so per event loop, without locks), until
    // their `exp`; 0 disables the cache. Only tokens up to 2 KiB are cached.
    std::size_t cache_entries = 1024;
};

// Verifies bearer tokens against one immutable configuration.
//
// Thread safety: every member function is const and may be called concurrently from any
// number of threads. Copies share the parsed key (cheap to copy, e.g. into std::function).
class verifier {
public:
    // Parses the PEM key once and checks that every allowed algorithm has a key of the
    // right type. Throws configuration_error with an operator-facing sentence otherwise.
    explicit verifier(jwt_options options);

    // Verifies the compact JWS `token` at time `now`: structure, algorithm, signature,
    // then claims. Returns the principal, or a failure whose detail is a sentence for the
    // client ("Token has expired", "Token signature is invalid", "Token is malformed", ...)
    // with token_given = true. Throws nothing but std::bad_alloc, whatever the input.
    result verify(std::string_view token, std::chrono::system_clock::time_point now) const;

    // Parses an Authorization header value ("Bearer <token>", scheme case-insensitive) and
    // verifies the token. No header, another scheme or an empty token give a failure with
    // token_given = false (401 without error="invalid_token"). Throws nothing but std::bad_alloc.
    result authenticate(
        std::optional<std::string_view> authorization_header, std::chrono::system_clock::time_point now
    ) const;

    const jwt_options& options() const;

    struct impl;  // defined in jwt.cpp; public only so that file's helpers can name it

private:
    std::shared_ptr<const impl> impl_;
};

// Mints an HS256 token for development and tests of other layers: header
// {"alg":"HS256","typ":"JWT"}, claims sub, roles, iat = now, exp = now + ttl, plus iss and
// aud when non-empty. Throws std::invalid_argument for an empty secret, a `sub` outside
// 1-128 characters or a ttl that is not positive.
std::string mint_hs256(
    std::string_view secret,
    std::string_view sub,
    const std::vector<std::string>& roles,
    std::chrono::seconds ttl,
    std::chrono::system_clock::time_point now,
    std::string_view issuer = {},
    std::string_view audience = {}
);

}  // namespace svc::auth
