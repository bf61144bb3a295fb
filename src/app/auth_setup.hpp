#pragma once
// Authentication at start-up: turns the JWT_* settings into the verifier behind the HTTP
// server's authenticator hook, and mints dev tokens for `orders-service token`. The only
// app code that knows about JWT; see docs/AUTH.md.

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwt.hpp"
#include "http/server.hpp"

namespace svc::app {

// The JWT_* settings as configured (env + flags, wired in config.cpp).
struct auth_settings {
    // JWT_SECRET, JWT_PREVIOUS_SECRET, JWT_ALGORITHMS, JWT_REQUIRE_EXP, JWT_LEEWAY_SECONDS,
    // JWT_ISSUER, JWT_AUDIENCE, JWT_CACHE_ENTRIES. The PEM fields stay empty here: they are
    // read from the key files at start-up.
    auth::jwt_options jwt;
    std::string public_key_file;           // JWT_PUBLIC_KEY_FILE / --jwt-public-key-file
    std::string previous_public_key_file;  // JWT_PREVIOUS_PUBLIC_KEY_FILE (rotation)
};

// The arguments of `orders-service token`.
struct token_request {
    std::string subject;              // --sub (required)
    std::vector<std::string> roles;   // --role, repeatable
    std::int64_t ttl_seconds = 3600;  // --ttl
};

// A ready verifier and where its key came from, for the start-up log line.
struct authentication {
    auth::verifier verifier;
    std::string key_source;                 // e.g. "JWT_SECRET" or "the dev secret in data/jwt-secret"
    std::filesystem::path dev_secret_file;  // set when the dev secret is in use
    bool dev_secret_created = false;        // this start generated the dev secret
    bool weak_secret = false;               // the HS256 secret is shorter than 32 bytes
};

// Builds the verifier. With neither JWT_SECRET nor JWT_PUBLIC_KEY_FILE set and HS256 allowed,
// the embedded SQLite database gets the dev secret from `data_dir` (created on first use);
// a PostgreSQL `database_url` is refused, since production must configure its key.
// Throws auth::configuration_error with an operator-facing sentence for every bad setting,
// unreadable key file or unusable dev secret file (the caller exits with status 2).
authentication start_authentication(
    const auth_settings& settings, std::string_view database_url, const std::filesystem::path& data_dir
);

// Logs (spdlog) which key is in use and warns about a weak secret. Never logs the secret.
void log_authentication(const authentication& authn);

// The HTTP server's hook: verifies with `verifier` at the current time. The verifier is
// shared by value (cheap), so the hook is safe to call from every event loop.
http::authenticator make_authenticator(const auth::verifier& verifier);

// `orders-service token`: prints one HS256 token for `request` (with iss/aud when
// configured) on `out`. Returns 0, or 2 after a one-line message on `err` (bad settings,
// no HS256 secret available, bad --sub/--ttl). A newly created dev secret is announced on
// `err`, so `TOKEN=$(orders-service token --sub alice)` captures only the token.
int mint_token(
    const auth_settings& settings,
    std::string_view database_url,
    const std::filesystem::path& data_dir,
    const token_request& request,
    std::ostream& out,
    std::ostream& err
);

}  // namespace svc::app
