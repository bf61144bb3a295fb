// Verifications per second for HS256, RS256 and ES256, with and without the per-thread
// verified-token cache. Keys are generated in-process and the RS256/ES256 tokens signed with
// OpenSSL directly (benchmarks measure, they do not test: correctness lives in tests/auth).
//
// Run: build/<release dir>/bench/auth/auth_bench  (see docs/BENCHMARKS.md for numbers)

#include <array>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include <benchmark/benchmark.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/jwt.hpp"
#include "auth/token_format.hpp"

namespace {

using svc::auth::algorithm;
using svc::auth::token_format::base64url_encode;

constexpr std::string_view k_secret = "benchmark-secret-0123456789abcdef0123456789";

struct pkey_free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

std::string public_pem(EVP_PKEY* key) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<std::size_t>(length));
    BIO_free(bio);
    return pem;
}

// A claims set the size of a typical identity-provider token.
std::string claims_json(std::chrono::system_clock::time_point now) {
    const auto t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    return R"({"sub":"user-4711","iss":"https://issuer.example","aud":"orders","iat":)" + std::to_string(t) +
           R"(,"exp":)" + std::to_string(t + 3600) +
           R"(,"roles":["user"],"scope":"orders:read orders:write"})";
}

std::string sign_with(EVP_PKEY* key, algorithm alg, const std::string& signing_input) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t length = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(
        ctx,
        nullptr,
        &length,
        reinterpret_cast<const unsigned char*>(signing_input.data()),
        signing_input.size()
    );
    std::string signature(length, '\0');
    EVP_DigestSign(
        ctx,
        reinterpret_cast<unsigned char*>(signature.data()),
        &length,
        reinterpret_cast<const unsigned char*>(signing_input.data()),
        signing_input.size()
    );
    EVP_MD_CTX_free(ctx);
    signature.resize(length);
    if (alg == algorithm::es256) {  // DER -> the raw r||s that JWS wants
        const auto* cursor = reinterpret_cast<const unsigned char*>(signature.data());
        ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(signature.size()));
        std::string raw(64, '\0');
        BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
        ECDSA_SIG_free(sig);
        signature = raw;
    }
    return signature;
}

struct setup {
    svc::auth::verifier verifier;
    std::string token;
};

setup make_setup(algorithm alg, std::size_t cache_entries) {
    const auto now = std::chrono::system_clock::now();
    svc::auth::jwt_options options;
    options.algorithms = {alg};
    options.issuer = "https://issuer.example";
    options.audience = "orders";
    options.cache_entries = cache_entries;
    if (alg == algorithm::hs256) {
        options.secret = k_secret;
        std::string token = svc::auth::mint_hs256(
            k_secret, "user-4711", {"user"}, std::chrono::hours(1), now, options.issuer, options.audience
        );
        return {svc::auth::verifier(options), std::move(token)};
    }
    const pkey_ptr key(
        alg == algorithm::rs256 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048))
                                : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
    );
    if (!key) throw std::runtime_error("key generation failed");
    options.public_key_pem = public_pem(key.get());
    const std::string header =
        alg == algorithm::rs256 ? R"({"alg":"RS256","typ":"JWT"})" : R"({"alg":"ES256","typ":"JWT"})";
    std::string token = base64url_encode(header) + "." + base64url_encode(claims_json(now));
    token += "." + base64url_encode(sign_with(key.get(), alg, token));
    return {svc::auth::verifier(options), std::move(token)};
}

// One verifier per configuration, shared by all benchmark threads as the event loops share it.
const setup& shared_setup(algorithm alg, std::size_t cache_entries) {
    static const std::array<setup, 6> setups{
        make_setup(algorithm::hs256, 0),
        make_setup(algorithm::rs256, 0),
        make_setup(algorithm::es256, 0),
        make_setup(algorithm::hs256, 1024),
        make_setup(algorithm::rs256, 1024),
        make_setup(algorithm::es256, 1024),
    };
    return setups.at(static_cast<std::size_t>(alg) + (cache_entries > 0 ? 3 : 0));
}

void verify_loop(benchmark::State& state, algorithm alg, std::size_t cache_entries) {
    const setup& s = shared_setup(alg, cache_entries);
    const std::string header = "Bearer " + s.token;
    const auto now = std::chrono::system_clock::now();
    if (!std::holds_alternative<svc::auth::principal>(s.verifier.authenticate(header, now))) {
        state.SkipWithError("the benchmark token does not verify");
        return;
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(s.verifier.authenticate(header, now));
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["token_bytes"] =
        benchmark::Counter(static_cast<double>(s.token.size()), benchmark::Counter::kAvgThreads);
}

void bm_hs256_uncached(benchmark::State& state) {
    verify_loop(state, algorithm::hs256, 0);
}
void bm_rs256_uncached(benchmark::State& state) {
    verify_loop(state, algorithm::rs256, 0);
}
void bm_es256_uncached(benchmark::State& state) {
    verify_loop(state, algorithm::es256, 0);
}
void bm_hs256_cached(benchmark::State& state) {
    verify_loop(state, algorithm::hs256, 1024);
}
void bm_rs256_cached(benchmark::State& state) {
    verify_loop(state, algorithm::rs256, 1024);
}
void bm_es256_cached(benchmark::State& state) {
    verify_loop(state, algorithm::es256, 1024);
}

// A refused token (bad signature) is never cached: what a flood of forged tokens costs.
void bm_rs256_forged(benchmark::State& state) {
    const setup& s = shared_setup(algorithm::rs256, 1024);
    std::string forged = s.token;
    forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
    const auto now = std::chrono::system_clock::now();
    for (auto _ : state) benchmark::DoNotOptimize(s.verifier.verify(forged, now));
    state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(bm_hs256_uncached)->ThreadRange(1, 2)->UseRealTime();
BENCHMARK(bm_rs256_uncached)->ThreadRange(1, 2)->UseRealTime();
BENCHMARK(bm_es256_uncached)->ThreadRange(1, 2)->UseRealTime();
BENCHMARK(bm_hs256_cached)->ThreadRange(1, 2)->UseRealTime();
BENCHMARK(bm_rs256_cached)->ThreadRange(1, 2)->UseRealTime();
BENCHMARK(bm_es256_cached)->ThreadRange(1, 2)->UseRealTime();
BENCHMARK(bm_rs256_forged);

BENCHMARK_MAIN();
