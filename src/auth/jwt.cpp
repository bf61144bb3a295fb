#include "auth/jwt.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <utility>

#include <boost/json.hpp>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/token_format.hpp"
#include "text/hidden_characters.hpp"

namespace svc::auth {

namespace json = boost::json;

namespace {

// ---- failures the client sees (sentences, never internals) ----------------------------

failure invalid(std::string detail) {
    return failure{std::move(detail), true};
}

const std::string k_malformed = "Token is malformed";
const std::string k_bad_signature = "Token signature is invalid";
const std::string k_bad_algorithm = "Token algorithm is not accepted";
const std::string k_bad_subject = "Token subject must be a string of 1 to 128 characters";

constexpr std::size_t k_max_subject_chars = 128;
// Identity providers nest custom claims (Keycloak's resource_access.<client>.roles is four
// levels deep); 16 admits them and still bounds the parser's stack on hostile input.
constexpr std::size_t k_max_json_depth = 16;
// Tokens longer than this are verified every time rather than cached, which bounds the
// cache's memory at cache_entries * 2 KiB per thread.
constexpr std::size_t k_max_cached_token_bytes = 2048;
constexpr std::size_t k_sha256_bytes = 32;
constexpr std::size_t k_p256_coordinate_bytes = 32;

// ---- OpenSSL ownership -----------------------------------------------------------------

struct pkey_free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct md_free {
    void operator()(EVP_MD* p) const { EVP_MD_free(p); }
};
struct mac_free {
    void operator()(EVP_MAC* p) const { EVP_MAC_free(p); }
};
struct mac_ctx_free {
    void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};
struct md_ctx_free {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct bio_free {
    void operator()(BIO* p) const { BIO_free(p); }
};
struct x509_free {
    void operator()(X509* p) const { X509_free(p); }
};
struct ecdsa_sig_free {
    void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using md_ptr = std::unique_ptr<EVP_MD, md_free>;
using mac_ptr = std::unique_ptr<EVP_MAC, mac_free>;

// OpenSSL reports failures on a per-thread error queue; a refused token must not leave
// entries there for unrelated code on the same event loop to trip over.
struct error_queue_guard {
    error_queue_guard() = default;
    error_queue_guard(const error_queue_guard&) = delete;
    error_queue_guard& operator=(const error_queue_guard&) = delete;
    error_queue_guard(error_queue_guard&&) = delete;
    error_queue_guard& operator=(error_queue_guard&&) = delete;
    ~error_queue_guard() { ERR_clear_error(); }
};

mac_ptr fetch_hmac() {
    mac_ptr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac) throw std::runtime_error("OpenSSL provides no HMAC implementation");
    return mac;
}

using mac_ctx_ptr = std::unique_ptr<EVP_MAC_CTX, mac_ctx_free>;

// A new HMAC-SHA256 context keyed with `key`; null on an OpenSSL failure.
mac_ctx_ptr keyed_hmac_sha256(EVP_MAC* mac, std::string_view key) {
    mac_ctx_ptr ctx(EVP_MAC_CTX_new(mac));
    if (!ctx) return nullptr;
    // OpenSSL's OSSL_PARAM API takes a non-const pointer but only reads the digest name.
    const std::array<OSSL_PARAM, 2> params{
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): see above
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end(),
    };
    const auto* key_bytes = reinterpret_cast<const unsigned char*>(key.data());
    if (EVP_MAC_init(ctx.get(), key_bytes, key.size(), params.data()) != 1) return nullptr;
    return ctx;
}

// Feeds `data` to an initialised HMAC-SHA256 context and writes the MAC to `out`.
bool finish_hmac_sha256(
    EVP_MAC_CTX* ctx, std::string_view data, std::array<unsigned char, k_sha256_bytes>& out
) {
    std::size_t written = 0;
    return EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
           EVP_MAC_final(ctx, out.data(), &written, out.size()) == 1 && written == out.size();
}

// JWS ES256 signatures are the raw 32-byte r and s concatenated (RFC 7518 section 3.4);
// OpenSSL verifies the DER SEQUENCE { INTEGER r, INTEGER s }. Returns empty on bad input.
std::string p256_raw_signature_to_der(std::string_view raw) {
    if (raw.size() != 2 * k_p256_coordinate_bytes) return {};
    const std::unique_ptr<ECDSA_SIG, ecdsa_sig_free> sig(ECDSA_SIG_new());
    if (!sig) return {};
    const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
    BIGNUM* r = BN_bin2bn(bytes, static_cast<int>(k_p256_coordinate_bytes), nullptr);
    BIGNUM* s =
        BN_bin2bn(bytes + k_p256_coordinate_bytes, static_cast<int>(k_p256_coordinate_bytes), nullptr);
    if (r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return {};
    }
    const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (length <= 0) return {};
    std::string der(static_cast<std::size_t>(length), '\0');
    auto* cursor = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ECDSA_SIG(sig.get(), &cursor) != length) return {};
    return der;
}

pkey_ptr parse_public_key_pem(std::string_view pem) {
    const error_queue_guard clear_errors;
    const auto read_bio = [pem] {
        return std::unique_ptr<BIO, bio_free>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    };
    if (auto bio = read_bio()) {
        if (pkey_ptr key{PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr)}) return key;
    }
    if (auto bio = read_bio()) {
        const std::unique_ptr<X509, x509_free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        if (cert) return pkey_ptr(X509_get_pubkey(cert.get()));
    }
    return nullptr;
}

std::string algorithm_list_text(const std::vector<algorithm>& algorithms) {
    std::string text;
    for (const algorithm a : algorithms) {
        if (!text.empty()) text += ',';
        text += to_string(a);
    }
    return text;
}

// ---- claims ----------------------------------------------------------------------------

// A NumericDate (RFC 7519 section 2): seconds since the epoch, integer or not.
std::optional<double> numeric_date(const json::value& v) {
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    if (v.is_double() && std::isfinite(v.get_double())) return v.get_double();
    return std::nullopt;
}

bool is_valid_subject(std::string_view sub) {
    const std::size_t chars = token_format::code_point_count(sub);
    if (chars == 0 || chars > k_max_subject_chars) return false;
    // The subject becomes a user id in storage and logs: control characters (NUL first, C1
    // too), line separators and bidi controls have no business there — they would let one
    // user id pass for another on a screen.
    return !text::has_hidden_control(sub);
}

void add_role(principal& who, std::string_view role) {
    if (role.empty() || std::ranges::find(who.roles, role) != who.roles.end()) return;
    who.roles.emplace_back(role);
    if (role == "admin" || role == "orders:admin") who.is_admin = true;
}

// The span of time in which a verified token stays valid, so the cache can honour it.
struct validity_window {
    double not_before = -std::numeric_limits<double>::infinity();
    double not_after = std::numeric_limits<double>::infinity();
};

result principal_from_claims(
    const json::object& claims, const jwt_options& options, double now, validity_window& window
) {
    const auto leeway = static_cast<double>(options.leeway.count());

    if (const json::value* exp = claims.if_contains("exp")) {
        const auto when = numeric_date(*exp);
        if (!when) return invalid("Token expiry time (exp) must be a number");
        // Expired once now >= exp + leeway, as PyJWT and most libraries count it.
        if (now >= *when + leeway) return invalid("Token has expired");
        window.not_after = *when + leeway;
    } else if (options.require_exp) {
        return invalid("Token has no expiry time (exp)");
    }
    if (const json::value* nbf = claims.if_contains("nbf")) {
        const auto when = numeric_date(*nbf);
        if (!when) return invalid("Token not-before time (nbf) must be a number");
        if (*when > now + leeway) return invalid("Token is not valid yet");
        window.not_before = std::max(window.not_before, *when - leeway);
    }
    if (const json::value* iat = claims.if_contains("iat")) {
        const auto when = numeric_date(*iat);
        if (!when) return invalid("Token issue time (iat) must be a number");
        if (*when > now + leeway) return invalid("Token was issued in the future");
        window.not_before = std::max(window.not_before, *when - leeway);
    }

    if (!options.issuer.empty()) {
        const json::value* iss = claims.if_contains("iss");
        if (iss == nullptr || !iss->is_string() || iss->get_string() != options.issuer) {
            return invalid("Token issuer is not accepted");
        }
    }
    if (!options.audience.empty()) {
        const json::value* aud = claims.if_contains("aud");
        bool accepted = false;
        if (aud != nullptr && aud->is_string()) {
            accepted = aud->get_string() == options.audience;
        } else if (aud != nullptr && aud->is_array()) {
            accepted = std::ranges::any_of(aud->get_array(), [&](const json::value& v) {
                return v.is_string() && v.get_string() == options.audience;
            });
        }
        if (!accepted) return invalid("Token audience is not accepted");
    }

    const json::value* sub = claims.if_contains("sub");
    if (sub == nullptr) return invalid("Token has no subject (sub)");
    if (!sub->is_string() || !is_valid_subject(sub->get_string())) return invalid(k_bad_subject);

    principal who;
    who.subject = sub->get_string();
    if (const json::value* roles = claims.if_contains("roles")) {
        if (!roles->is_array()) return invalid("Token roles claim must be an array of strings");
        for (const json::value& role : roles->get_array()) {
            if (!role.is_string()) return invalid("Token roles claim must be an array of strings");
            add_role(who, role.get_string());
        }
    }
    if (const json::value* scope = claims.if_contains("scope")) {
        if (!scope->is_string()) return invalid("Token scope claim must be a space-separated string");
        const std::string_view text = scope->get_string();
        std::size_t start = 0;
        while (start < text.size()) {
            const std::size_t end = std::min(text.find(' ', start), text.size());
            add_role(who, text.substr(start, end - start));
            start = end + 1;
        }
    }
    return who;
}

// Parses `text` as a JSON object into `out`; false for invalid JSON, too deep, or not an
// object. Memory comes from `resource`, which must outlive `out`.
bool parse_object(std::string_view text, json::monotonic_resource& resource, json::value& out) {
    json::parse_options parse_options;
    parse_options.max_depth = k_max_json_depth;
    json::error_code ec;
    out = json::parse(text, ec, json::storage_ptr(&resource), parse_options);
    return !ec && out.is_object();
}

// ---- per-thread cache of verified tokens -----------------------------------------------

struct cached_token {
    std::string token;  // empty: free slot
    principal who;
    validity_window window;
};

// One per thread, so one per event loop: no locks. Direct-mapped by hash of the token; a
// collision simply replaces the older entry. The full token is compared on a hit, so a
// hash collision can cost a verification but never return someone else's principal.
struct token_cache {
    std::uint64_t owner = 0;  // id of the verifier the entries belong to
    std::vector<cached_token> slots;
};

// Each thread's HMAC context, keyed with its verifier's secret. Re-initialising a keyed
// context (EVP_MAC_init with a null key) reuses the key's inner and outer pads, which saves
// an allocation, a provider lookup and two SHA-256 blocks per verification.
struct hmac_context_cache {
    std::uint64_t owner = 0;         // id of the verifier whose secrets key `ctx`
    std::array<mac_ctx_ptr, 2> ctx;  // [0] JWT_SECRET, [1] JWT_PREVIOUS_SECRET
};

// Each thread's public-key verification contexts: `prototype` is initialised once for each of
// the verifier's keys; every verification copies one into `work`, which OpenSSL's documentation
// recommends over a fresh EVP_DigestVerifyInit (that one creates and sets up a key context).
struct verify_context_cache {
    std::uint64_t owner = 0;  // id of the verifier whose keys `prototype` holds
    std::array<std::unique_ptr<EVP_MD_CTX, md_ctx_free>, 2> prototype;  // current, previous key
    std::unique_ptr<EVP_MD_CTX, md_ctx_free> work;
};

// Mutable by design: each thread's own caches, and the source of verifier identities.
// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables)
thread_local token_cache t_token_cache;
thread_local hmac_context_cache t_hmac_context;
thread_local verify_context_cache t_verify_context;
std::atomic<std::uint64_t> g_next_verifier_id{1};
// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)

}  // namespace

// ---- algorithm names -------------------------------------------------------------------

std::string_view to_string(algorithm a) {
    switch (a) {
        case algorithm::hs256:
            return "HS256";
        case algorithm::rs256:
            return "RS256";
        case algorithm::es256:
            return "ES256";
    }
    return "unknown";
}

std::vector<algorithm> parse_algorithm_list(std::string_view comma_separated) {
    std::vector<algorithm> algorithms;
    std::size_t start = 0;
    while (start <= comma_separated.size()) {
        const std::size_t end = std::min(comma_separated.find(',', start), comma_separated.size());
        std::string_view name = comma_separated.substr(start, end - start);
        while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
        while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
        start = end + 1;
        if (name.empty()) continue;
        algorithm a{};
        if (name == "HS256") {
            a = algorithm::hs256;
        } else if (name == "RS256") {
            a = algorithm::rs256;
        } else if (name == "ES256") {
            a = algorithm::es256;
        } else if (name == "none") {
            throw configuration_error(
                "JWT_ALGORITHMS may not include \"none\": unsigned tokens are never accepted"
            );
        } else {
            throw configuration_error(
                "JWT_ALGORITHMS names an unsupported algorithm \"" + std::string(name) +
                "\" (supported: HS256, RS256, ES256)"
            );
        }
        if (std::ranges::find(algorithms, a) == algorithms.end()) algorithms.push_back(a);
    }
    if (algorithms.empty()) throw configuration_error("JWT_ALGORITHMS must name at least one algorithm");
    return algorithms;
}

// ---- verifier --------------------------------------------------------------------------

struct verifier::impl {
    jwt_options options;
    bool allow_hs256 = false;
    bool allow_rs256 = false;
    bool allow_es256 = false;
    // [0] the current key, [1] the previous one (may be null): RSA for RS256 or EC P-256 for
    // ES256, both of one kind; shared read-only by threads.
    std::array<pkey_ptr, 2> public_keys;
    md_ptr sha256;  // fetched once: a fetch per verification costs a lock and a lookup
    mac_ptr hmac;
    std::uint64_t id = g_next_verifier_id.fetch_add(1, std::memory_order_relaxed);

    explicit impl(jwt_options o);
    // Parses and checks one configured public key (`setting` names it in the messages).
    pkey_ptr load_public_key(std::string_view pem, std::string_view setting, const std::string& allowed)
        const;
    // The number of HS256 secrets (1 or 2) and public keys (0, 1 or 2) to try, current first.
    std::size_t secret_count() const { return options.previous_secret.empty() ? 1 : 2; }
    std::size_t public_key_count() const { return public_keys[1] ? 2 : (public_keys[0] ? 1 : 0); }
    // This thread's HMAC context keyed with secret `slot` (0 current, 1 previous), ready for
    // data; null on failure.
    EVP_MAC_CTX* thread_hmac_context(std::size_t slot) const;
    // This thread's SHA-256 verification context for public key `slot`, freshly initialised;
    // null on failure.
    EVP_MD_CTX* thread_verify_context(std::size_t slot) const;
    bool signature_is_valid(algorithm alg, std::string_view signing_input, std::string_view signature) const;
    result verify_uncached(std::string_view token, double now, validity_window& window) const;
};

verifier::impl::impl(jwt_options o) : options(std::move(o)) {
    if (options.algorithms.empty())
        throw configuration_error("JWT_ALGORITHMS must name at least one algorithm");
    if (options.leeway.count() < 0) throw configuration_error("JWT_LEEWAY_SECONDS must not be negative");
    if (options.max_token_bytes == 0) throw configuration_error("the maximum token size must be positive");
    for (const algorithm a : options.algorithms) {
        allow_hs256 = allow_hs256 || a == algorithm::hs256;
        allow_rs256 = allow_rs256 || a == algorithm::rs256;
        allow_es256 = allow_es256 || a == algorithm::es256;
    }
    const std::string allowed = algorithm_list_text(options.algorithms);

    if (allow_hs256 && options.secret.empty()) {
        // The likely slip: a key file configured while JWT_ALGORITHMS kept its default.
        const std::string hint =
            options.public_key_pem.empty()
                ? ""
                : "; to verify with JWT_PUBLIC_KEY_FILE set JWT_ALGORITHMS=RS256 or ES256";
        throw configuration_error("JWT_ALGORITHMS includes HS256 but JWT_SECRET is not set" + hint);
    }
    if (!allow_hs256 && !options.secret.empty()) {
        throw configuration_error(
            "JWT_SECRET is set but JWT_ALGORITHMS (" + allowed + ") does not include HS256; unset one of them"
        );
    }
    // The classic key-confusion set-up: a public key used as an HMAC secret would let anyone
    // who has the public key sign HS256 tokens.
    if (options.secret.find("-----BEGIN") != std::string::npos) {
        throw configuration_error(
            "JWT_SECRET looks like a PEM key; public keys belong in JWT_PUBLIC_KEY_FILE with "
            "JWT_ALGORITHMS=RS256 or ES256"
        );
    }
    if (allow_rs256 && allow_es256) {
        throw configuration_error(
            "JWT_ALGORITHMS includes both RS256 and ES256, but one public key cannot serve both"
        );
    }
    if ((allow_rs256 || allow_es256) && options.public_key_pem.empty()) {
        throw configuration_error(
            "JWT_ALGORITHMS includes " + std::string(allow_rs256 ? "RS256" : "ES256") +
            " but JWT_PUBLIC_KEY_FILE is not set"
        );
    }

    if (!options.public_key_pem.empty()) {
        public_keys[0] = load_public_key(options.public_key_pem, "JWT_PUBLIC_KEY_FILE", allowed);
    }

    // Rotation: the previous key only ever adds to a configured current one of its kind.
    if (!options.previous_secret.empty()) {
        if (!allow_hs256) {
            throw configuration_error(
                "JWT_PREVIOUS_SECRET is set but JWT_ALGORITHMS (" + allowed + ") does not include HS256"
            );
        }
        if (options.previous_secret.find("-----BEGIN") != std::string::npos) {
            throw configuration_error(
                "JWT_PREVIOUS_SECRET looks like a PEM key; a previous public key belongs in "
                "JWT_PREVIOUS_PUBLIC_KEY_FILE"
            );
        }
    }
    if (!options.previous_public_key_pem.empty()) {
        if (!public_keys[0]) {
            throw configuration_error("JWT_PREVIOUS_PUBLIC_KEY_FILE is set but JWT_PUBLIC_KEY_FILE is not");
        }
        // Of the current key's kind: only one of RS256 and ES256 may be allowed (above).
        public_keys[1] =
            load_public_key(options.previous_public_key_pem, "JWT_PREVIOUS_PUBLIC_KEY_FILE", allowed);
    }

    sha256.reset(EVP_MD_fetch(nullptr, "SHA256", nullptr));
    if (!sha256) throw std::runtime_error("OpenSSL provides no SHA-256 implementation");
    hmac = fetch_hmac();
}

pkey_ptr verifier::impl::load_public_key(
    std::string_view pem, std::string_view setting, const std::string& allowed
) const {
    const std::string in_setting(setting);
    pkey_ptr public_key = parse_public_key_pem(pem);
    if (!public_key) {
        throw configuration_error(
            in_setting + " does not hold a PEM public key (BEGIN PUBLIC KEY) or certificate"
        );
    }
    if (EVP_PKEY_is_a(public_key.get(), "RSA") == 1) {
        if (!allow_rs256) {
            throw configuration_error(
                "the public key in " + in_setting + " is an RSA key, but JWT_ALGORITHMS (" + allowed +
                ") does not include RS256"
            );
        }
        if (const int bits = EVP_PKEY_get_bits(public_key.get()); bits < 2048) {
            throw configuration_error(
                "the RSA public key in " + in_setting + " has " + std::to_string(bits) +
                " bits; RS256 needs at least 2048"
            );
        }
    } else if (EVP_PKEY_is_a(public_key.get(), "EC") == 1) {
        if (!allow_es256) {
            throw configuration_error(
                "the public key in " + in_setting + " is an EC key, but JWT_ALGORITHMS (" + allowed +
                ") does not include ES256"
            );
        }
        std::array<char, 64> group{};
        std::size_t group_length = 0;
        const error_queue_guard clear_errors;
        if (EVP_PKEY_get_group_name(public_key.get(), group.data(), group.size(), &group_length) != 1 ||
            std::string_view(group.data(), group_length) != "prime256v1") {
            throw configuration_error(
                "the EC public key in " + in_setting + " is not on curve P-256, which ES256 requires"
            );
        }
    } else {
        throw configuration_error(
            "the public key in " + in_setting + " is neither RSA (RS256) nor EC P-256 (ES256)"
        );
    }
    return public_key;
}

EVP_MAC_CTX* verifier::impl::thread_hmac_context(std::size_t slot) const {
    hmac_context_cache& cache = t_hmac_context;
    if (cache.owner != id) {
        // Another verifier's keys (or none yet): key this thread's contexts afresh, lazily.
        for (auto& ctx : cache.ctx) ctx.reset();
        cache.owner = id;
    }
    mac_ctx_ptr& ctx = cache.ctx.at(slot);
    if (ctx && EVP_MAC_init(ctx.get(), nullptr, 0, nullptr) == 1) return ctx.get();
    ctx = keyed_hmac_sha256(hmac.get(), slot == 0 ? options.secret : options.previous_secret);
    return ctx.get();
}

EVP_MD_CTX* verifier::impl::thread_verify_context(std::size_t slot) const {
    verify_context_cache& cache = t_verify_context;
    if (cache.owner != id) {
        for (auto& prototype : cache.prototype) prototype.reset();
        cache.owner = id;
    }
    auto& prototype = cache.prototype.at(slot);
    if (!prototype) {
        prototype.reset(EVP_MD_CTX_new());
        if (!prototype || EVP_DigestVerifyInit(
                              prototype.get(), nullptr, sha256.get(), nullptr, public_keys.at(slot).get()
                          ) != 1) {
            prototype.reset();
            return nullptr;
        }
    }
    if (!cache.work) cache.work.reset(EVP_MD_CTX_new());
    if (!cache.work || EVP_MD_CTX_copy_ex(cache.work.get(), prototype.get()) != 1) return nullptr;
    return cache.work.get();
}

bool verifier::impl::signature_is_valid(
    algorithm alg, std::string_view signing_input, std::string_view signature
) const {
    const error_queue_guard clear_errors;
    const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
    if (alg == algorithm::hs256) {
        // The HMAC key is only ever JWT_SECRET (then JWT_PREVIOUS_SECRET), never the PEM: an
        // HS256 token "signed" with the RSA public key fails here however it was made.
        std::array<unsigned char, k_sha256_bytes> expected{};
        if (signature.size() != expected.size()) return false;
        for (std::size_t slot = 0; slot < secret_count(); ++slot) {
            EVP_MAC_CTX* ctx = thread_hmac_context(slot);
            if (ctx == nullptr || !finish_hmac_sha256(ctx, signing_input, expected)) return false;
            if (CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0) return true;
        }
        return false;
    }
    std::string der;
    if (alg == algorithm::es256) {
        der = p256_raw_signature_to_der(signature);
        if (der.empty()) return false;
        signature = der;
    }
    for (std::size_t slot = 0; slot < public_key_count(); ++slot) {
        EVP_MD_CTX* ctx = thread_verify_context(slot);
        if (ctx == nullptr) return false;
        if (EVP_DigestVerify(
                ctx,
                reinterpret_cast<const unsigned char*>(signature.data()),
                signature.size(),
                input,
                signing_input.size()
            ) == 1) {
            return true;
        }
    }
    return false;
}

result verifier::impl::verify_uncached(std::string_view token, double now, validity_window& window) const {
    const auto parts = token_format::split_compact(token);
    if (!parts) return invalid(k_malformed);

    // Room for a typical header and claims set without touching the heap.
    std::array<unsigned char, 2048> buffer{};
    json::monotonic_resource resource(buffer.data(), buffer.size());

    const auto header_text = token_format::base64url_decode(parts->header);
    json::value header;
    if (!header_text || !parse_object(*header_text, resource, header)) return invalid(k_malformed);
    const json::object& header_fields = header.get_object();
    // RFC 7515 section 4.1.11: a recipient must refuse critical extensions it does not know,
    // and this verifier knows none.
    if (header_fields.contains("crit"))
        return invalid("Token uses critical header extensions that are not supported");
    const json::value* alg_value = header_fields.if_contains("alg");
    if (alg_value == nullptr || !alg_value->is_string()) return invalid(k_malformed);
    const std::string_view alg_name = alg_value->get_string();
    algorithm alg{};
    if (alg_name == "HS256" && allow_hs256) {
        alg = algorithm::hs256;
    } else if (alg_name == "RS256" && allow_rs256) {
        alg = algorithm::rs256;
    } else if (alg_name == "ES256" && allow_es256) {
        alg = algorithm::es256;
    } else {
        return invalid(k_bad_algorithm);  // includes "none" and every algorithm not allowed
    }

    // Decoding base64url is harmless on unsigned input and tells a mangled token ("Token is
    // malformed") from a forged one; the JSON inside is parsed only once the signature holds.
    const auto claims_text = token_format::base64url_decode(parts->payload);
    const auto signature = token_format::base64url_decode(parts->signature);
    if (!claims_text || !signature) return invalid(k_malformed);
    if (!signature_is_valid(alg, parts->signing_input, *signature)) return invalid(k_bad_signature);

    json::value claims;
    if (!parse_object(*claims_text, resource, claims)) return invalid(k_malformed);
    return principal_from_claims(claims.get_object(), options, now, window);
}

verifier::verifier(jwt_options options) : impl_(std::make_shared<const impl>(std::move(options))) {}

const jwt_options& verifier::options() const {
    return impl_->options;
}

result verifier::verify(std::string_view token, std::chrono::system_clock::time_point now) const {
    const jwt_options& options = impl_->options;
    if (token.size() > options.max_token_bytes) return invalid("Token is too large");
    const double now_seconds = std::chrono::duration<double>(now.time_since_epoch()).count();

    // An empty token would match a free slot (whose token is empty), so it is never cached.
    const bool cacheable =
        options.cache_entries > 0 && !token.empty() && token.size() <= k_max_cached_token_bytes;
    cached_token* slot = nullptr;
    if (cacheable) {
        token_cache& cache = t_token_cache;
        if (cache.owner != impl_->id || cache.slots.size() != options.cache_entries) {
            cache.owner = impl_->id;
            cache.slots.assign(options.cache_entries, cached_token{});
        }
        slot = &cache.slots[std::hash<std::string_view>{}(token) % cache.slots.size()];
        if (slot->token == token) {
            if (now_seconds >= slot->window.not_before && now_seconds < slot->window.not_after) {
                return slot->who;
            }
            slot->token.clear();  // outside its window: verify afresh for the right message
        }
    }

    validity_window window;
    result outcome = impl_->verify_uncached(token, now_seconds, window);
    if (slot != nullptr) {
        if (const auto* who = std::get_if<principal>(&outcome)) {
            slot->token.assign(token);
            slot->who = *who;
            slot->window = window;
        }
    }
    return outcome;
}

result verifier::authenticate(
    std::optional<std::string_view> authorization_header, std::chrono::system_clock::time_point now
) const {
    if (!authorization_header)
        return failure{"Authentication required: send an Authorization: Bearer token", false};
    std::string_view value = *authorization_header;
    const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
    while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
    while (!value.empty() && is_space(value.back())) value.remove_suffix(1);

    constexpr std::string_view k_scheme = "bearer";
    const bool is_bearer =
        value.size() >= k_scheme.size() &&
        std::equal(
            k_scheme.begin(),
            k_scheme.end(),
            value.begin(),
            [](char expected, char c) { return expected == std::tolower(static_cast<unsigned char>(c)); }
        ) &&
        (value.size() == k_scheme.size() || is_space(value[k_scheme.size()]));
    if (!is_bearer) return failure{"Authorization header must use the Bearer scheme", false};

    value.remove_prefix(k_scheme.size());
    while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
    if (value.empty()) return failure{"Bearer token is missing", false};
    return verify(value, now);
}

// ---- minting ---------------------------------------------------------------------------

std::string mint_hs256(
    std::string_view secret,
    std::string_view sub,
    const std::vector<std::string>& roles,
    std::chrono::seconds ttl,
    std::chrono::system_clock::time_point now,
    std::string_view issuer,
    std::string_view audience
) {
    if (secret.empty()) throw std::invalid_argument("minting a token needs a non-empty secret");
    if (!is_valid_subject(sub)) throw std::invalid_argument("the token subject must be 1 to 128 characters");
    if (ttl.count() <= 0) throw std::invalid_argument("the token lifetime must be positive");

    const auto issued_at = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    json::object claims;
    claims["sub"] = sub;
    json::array role_values;
    for (const std::string& role : roles) role_values.emplace_back(role);
    claims["roles"] = std::move(role_values);
    claims["iat"] = issued_at;
    claims["exp"] = issued_at + ttl.count();
    if (!issuer.empty()) claims["iss"] = issuer;
    if (!audience.empty()) claims["aud"] = audience;

    std::string token = token_format::base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
    token += '.';
    token += token_format::base64url_encode(json::serialize(claims));

    const mac_ptr mac = fetch_hmac();
    const mac_ctx_ptr ctx = keyed_hmac_sha256(mac.get(), secret);
    std::array<unsigned char, k_sha256_bytes> signature{};
    if (!ctx || !finish_hmac_sha256(ctx.get(), token, signature))
        throw std::runtime_error("HMAC-SHA256 failed");
    token += '.';
    token += token_format::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(signature.data()), signature.size())
    );
    return token;
}

}  // namespace svc::auth
