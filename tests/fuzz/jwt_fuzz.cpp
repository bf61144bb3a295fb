// libFuzzer target for the token parser. Built by tests/fuzz/run with clang
// (-fsanitize=fuzzer,address,undefined); not part of the CMake build.
//
// The first input byte picks what the rest is:
//   0: a whole token (and an Authorization header value) for a verifier allowing HS256 and
//      ES256 — exercises splitting, base64url, header JSON, algorithm and signature checks;
//   1: a claims JSON text that the harness signs with the verifier's HS256 secret, so the
//      claims parser is reached (a fuzzer cannot forge an HMAC by itself);
//   2: base64url text and bytes, checked for the canonical round-trip property.
// Any crash, sanitizer report or broken property (__builtin_trap) is a finding.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/jwt.hpp"
#include "auth/token_format.hpp"

namespace {

constexpr std::string_view k_secret = "fuzzing-secret-0123456789abcdef0123";
const std::chrono::system_clock::time_point k_now{std::chrono::seconds(1'800'000'000)};

std::string generate_p256_public_pem() {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<std::size_t>(length));
    BIO_free(bio);
    EVP_PKEY_free(key);
    return pem;
}

const svc::auth::verifier& fuzz_verifier() {
    static const svc::auth::verifier verifier = [] {
        svc::auth::jwt_options options;
        options.secret = k_secret;
        options.public_key_pem = generate_p256_public_pem();
        options.algorithms = {svc::auth::algorithm::hs256, svc::auth::algorithm::es256};
        options.issuer = "https://issuer.example";
        options.audience = "orders";
        options.cache_entries = 16;
        return svc::auth::verifier(options);
    }();
    return verifier;
}

std::string sign_hs256(std::string_view claims_json) {
    std::string token = svc::auth::token_format::base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
    token += '.';
    token += svc::auth::token_format::base64url_encode(claims_json);
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_length = 0;
    HMAC(
        EVP_sha256(),
        k_secret.data(),
        static_cast<int>(k_secret.size()),
        reinterpret_cast<const unsigned char*>(token.data()),
        token.size(),
        mac.data(),
        &mac_length
    );
    token += '.';
    token += svc::auth::token_format::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(mac.data()), mac_length)
    );
    return token;
}

void check_result(const svc::auth::result& r) {
    if (const auto* who = std::get_if<svc::auth::principal>(&r)) {
        // Whatever got through must satisfy the principal's documented invariants.
        if (who->subject.empty() || who->subject.size() > 4 * 128) __builtin_trap();
    } else if (std::get<svc::auth::failure>(r).detail.empty()) {
        __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    const svc::auth::verifier& verifier = fuzz_verifier();
    switch (data[0] % 3) {
        case 0: {
            check_result(verifier.verify(input, k_now));
            check_result(verifier.authenticate("Bearer " + std::string(input), k_now));
            check_result(verifier.authenticate(input, k_now));
            break;
        }
        case 1: {
            const std::string token = sign_hs256(input);
            check_result(verifier.verify(token, k_now));
            check_result(verifier.verify(token, k_now));  // the second time from the cache
            break;
        }
        default: {
            using svc::auth::token_format::base64url_decode;
            using svc::auth::token_format::base64url_encode;
            if (const auto decoded = base64url_decode(input)) {
                if (base64url_encode(*decoded) != input) __builtin_trap();  // strict = canonical
            }
            const auto round_trip = base64url_decode(base64url_encode(input));
            if (!round_trip || *round_trip != input) __builtin_trap();
            break;
        }
    }
    return 0;
}
