#include "app/auth_setup.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "auth/dev_secret.hpp"

namespace svc::app {

namespace {

constexpr std::size_t k_recommended_secret_bytes = 32;  // RFC 7518 3.2: at least the hash size

bool is_postgresql(std::string_view url) {
    const auto starts_with_ci = [url](std::string_view prefix) {
        return url.size() >= prefix.size() &&
               std::equal(prefix.begin(), prefix.end(), url.begin(), [](char p, char c) {
                   return p == std::tolower(static_cast<unsigned char>(c));
               });
    };
    return starts_with_ci("postgresql://") || starts_with_ci("postgres://");
}

std::string read_key_file(const std::string& path, std::string_view setting) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    if (in) content << in.rdbuf();
    if (!in || content.str().empty()) {
        throw auth::configuration_error("cannot read " + std::string(setting) + " " + path);
    }
    return content.str();
}

bool allows_hs256(const auth::jwt_options& jwt) {
    return std::ranges::find(jwt.algorithms, auth::algorithm::hs256) != jwt.algorithms.end();
}

}  // namespace

authentication start_authentication(
    const auth_settings& settings, std::string_view database_url, const std::filesystem::path& data_dir
) {
    auth::jwt_options jwt = settings.jwt;
    std::string source;
    std::filesystem::path dev_secret_file;
    bool created = false;
    if (!settings.public_key_file.empty()) {
        jwt.public_key_pem = read_key_file(settings.public_key_file, "JWT_PUBLIC_KEY_FILE");
        source = "JWT_PUBLIC_KEY_FILE " + settings.public_key_file;
    }
    if (!settings.previous_public_key_file.empty()) {
        jwt.previous_public_key_pem =
            read_key_file(settings.previous_public_key_file, "JWT_PREVIOUS_PUBLIC_KEY_FILE");
        source += " (and JWT_PREVIOUS_PUBLIC_KEY_FILE " + settings.previous_public_key_file + ")";
    }
    if (!jwt.secret.empty()) {
        source = source.empty() ? "JWT_SECRET" : source + " and JWT_SECRET";
        if (!jwt.previous_secret.empty()) source += " (and JWT_PREVIOUS_SECRET)";
    }
    // A previous secret without a current one is a mistake, not a reason for the dev secret:
    // the verifier refuses it ("JWT_SECRET is not set").
    if (jwt.secret.empty() && jwt.previous_secret.empty() && settings.public_key_file.empty() &&
        allows_hs256(jwt)) {
        if (is_postgresql(database_url)) {
            throw auth::configuration_error(
                "no token signing key is configured: with PostgreSQL set JWT_SECRET (HS256) or "
                "JWT_PUBLIC_KEY_FILE with JWT_ALGORITHMS=RS256 or ES256; the generated dev secret is only "
                "used with the embedded SQLite database"
            );
        }
        try {
            jwt.secret = auth::load_or_create_dev_secret(data_dir, &created);
        } catch (const std::runtime_error& e) {
            throw auth::configuration_error(e.what());
        }
        dev_secret_file = data_dir / auth::k_dev_secret_file_name;
        source = "the dev secret in " + dev_secret_file.string();
    }
    const auto too_short = [](const std::string& secret) {
        return !secret.empty() && secret.size() < k_recommended_secret_bytes;
    };
    const bool weak = too_short(jwt.secret) || too_short(jwt.previous_secret);
    return authentication{
        auth::verifier(std::move(jwt)), std::move(source), std::move(dev_secret_file), created, weak};
}

void log_authentication(const authentication& authn) {
    const auth::jwt_options& jwt = authn.verifier.options();
    std::string algorithms;
    for (const auth::algorithm a : jwt.algorithms) {
        algorithms += algorithms.empty() ? "" : ",";
        algorithms += auth::to_string(a);
    }
    if (authn.dev_secret_created) {
        spdlog::info("generated a new JWT dev secret (mode 0600) in {}", authn.dev_secret_file.string());
    }
    spdlog::info(
        "JWT verification: {} with {}; mint a dev token with `orders-service token --sub NAME [--role "
        "admin]`",
        algorithms,
        authn.key_source
    );
    if (authn.weak_secret) {
        spdlog::warn(
            "JWT_SECRET or JWT_PREVIOUS_SECRET is shorter than 32 bytes; use at least 32 random bytes for "
            "HS256"
        );
    }
}

http::authenticator make_authenticator(const auth::verifier& verifier) {
    return [verifier](std::optional<std::string_view> authorization_header) {
        return verifier.authenticate(authorization_header, std::chrono::system_clock::now());
    };
}

int mint_token(
    const auth_settings& settings,
    std::string_view database_url,
    const std::filesystem::path& data_dir,
    const token_request& request,
    std::ostream& out,
    std::ostream& err
) {
    try {
        const authentication authn = start_authentication(settings, database_url, data_dir);
        const auth::jwt_options& jwt = authn.verifier.options();
        if (jwt.secret.empty()) {
            err << "orders-service: token: only HS256 tokens can be minted here and no HS256 secret is "
                   "configured; RS256/ES256 tokens come from the holder of the private key\n";
            return 2;
        }
        if (authn.dev_secret_created) {
            err << "orders-service: generated a new JWT dev secret (mode 0600) in "
                << authn.dev_secret_file.string() << '\n';
        }
        out << auth::mint_hs256(
                   jwt.secret,
                   request.subject,
                   request.roles,
                   std::chrono::seconds(request.ttl_seconds),
                   std::chrono::system_clock::now(),
                   jwt.issuer,
                   jwt.audience
               )
            << '\n';
        return 0;
    } catch (const auth::configuration_error& e) {
        err << "orders-service: " << e.what() << '\n';
    } catch (const std::invalid_argument& e) {
        err << "orders-service: token: " << e.what() << '\n';
    }
    return 2;
}

}  // namespace svc::app
