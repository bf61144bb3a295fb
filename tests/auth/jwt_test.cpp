// The verifier against tokens minted at test time by PyJWT (and, for tokens no library will
// produce, by Python's hmac/base64 modules), with RSA and EC keys made by `openssl genpkey`.

#include "auth/jwt.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/auth_tools.hpp"

namespace svc::auth {
namespace {

namespace json = boost::json;
using std::chrono::seconds;
using clock_type = std::chrono::system_clock;

// Tokens carry absolute times around this instant and the verifier is asked at it, so no
// test depends on the wall clock.
constexpr std::int64_t k_now = 1'800'000'000;
const clock_type::time_point k_now_point{seconds(k_now)};
constexpr std::string_view k_secret = "test-secret-0123456789abcdef0123456789";

// Subjects with a character that hides or reorders text, each refused: C1 NEL, DEL, line
// separator, right-to-left override, left-to-right isolate.
const std::pair<std::string, std::string> k_hidden_subjects[] = {
    {"sub_with_c1",
     "ali\xC2\x85"
     "ce"},
    {"sub_with_del",
     "ali\x7F"
     "ce"},
    {"sub_with_line_separator",
     "ali\xE2\x80\xA8"
     "ce"},
    {"sub_with_rtl_override",
     "ali\xE2\x80\xAE"
     "ce"},
    {"sub_with_isolate",
     "ali\xE2\x81\xA6"
     "ce"},
};

json::object valid_claims() {
    return {{"sub", "alice"}, {"iat", k_now}, {"exp", k_now + 600}};
}

json::object with(json::object claims, std::string_view key, json::value value) {
    claims[key] = std::move(value);
    return claims;
}

json::object with_text(json::object claims, std::string_view key, const std::string& text) {
    return with(std::move(claims), key, json::string(text));
}

json::object without(json::object claims, std::string_view key) {
    claims.erase(key);
    return claims;
}

class jwt_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new testing::temp_dir();
        const auto& d = dir_->path();
        testing::generate_key_pair(
            "-algorithm RSA -pkeyopt rsa_keygen_bits:2048", d / "rsa.pem", d / "rsa.pub"
        );
        testing::generate_key_pair(
            "-algorithm RSA -pkeyopt rsa_keygen_bits:2048", d / "rsa2.pem", d / "rsa2.pub"
        );
        testing::generate_key_pair(
            "-algorithm EC -pkeyopt ec_paramgen_curve:P-256", d / "ec.pem", d / "ec.pub"
        );
        testing::generate_key_pair(
            "-algorithm EC -pkeyopt ec_paramgen_curve:P-256", d / "ec2.pem", d / "ec2.pub"
        );
        testing::generate_key_pair(
            "-algorithm RSA -pkeyopt rsa_keygen_bits:1024", d / "rsa1024.pem", d / "rsa1024.pub"
        );
        testing::generate_key_pair(
            "-algorithm EC -pkeyopt ec_paramgen_curve:P-384", d / "p384.pem", d / "p384.pub"
        );
        testing::generate_key_pair("-algorithm ED25519", d / "ed25519.pem", d / "ed25519.pub");
        testing::run(
            "openssl req -x509 -new -key '" + (d / "rsa.pem").string() + "' -subj /CN=issuer -days 1 -out '" +
            (d / "rsa.crt").string() + "' 2>/dev/null"
        );

        json::array specs;
        const json::object secret_key{{"secret", k_secret}};
        const auto pem = [&](const char* file) { return json::object{{"pem_file", (d / file).string()}}; };
        const auto pyjwt = [&](std::string name, std::string alg, json::object key, json::object claims) {
            specs.push_back(json::object{{"name", name}, {"alg", alg}, {"key", key}, {"claims", claims}});
        };
        const auto by_hand = [&](std::string name, std::string header, std::string payload, json::object sign
                             ) {
            sign["header"] = header;
            sign["payload"] = payload;
            specs.push_back(json::object{{"name", name}, {"manual", sign}});
        };
        const auto hs = [&](std::string name, json::object claims) {
            pyjwt(name, "HS256", secret_key, claims);
        };

        hs("hs256", valid_claims());
        pyjwt("rs256", "RS256", pem("rsa.pem"), with(valid_claims(), "roles", json::array{"admin"}));
        pyjwt("es256", "ES256", pem("ec.pem"), with(valid_claims(), "scope", "orders:read orders:admin"));
        pyjwt("rs256_other_key", "RS256", pem("rsa2.pem"), valid_claims());
        pyjwt("es256_other_key", "ES256", pem("ec2.pem"), valid_claims());
        pyjwt("hs384", "HS384", secret_key, valid_claims());
        pyjwt("none", "none", secret_key, valid_claims());
        pyjwt("hs256_wrong_secret", "HS256", json::object{{"secret", "another-secret"}}, valid_claims());
        by_hand(
            "es256_der_signature",
            R"({"alg":"ES256","typ":"JWT"})",
            json::serialize(valid_claims()),
            {{"der_es256_key_file", (d / "ec.pem").string()}}
        );
        // An HS256 token whose HMAC key is the verifier's RSA public key PEM.
        by_hand(
            "hs256_signed_with_rsa_public_pem",
            R"({"alg":"HS256","typ":"JWT"})",
            json::serialize(valid_claims()),
            {{"hmac_key_file", (d / "rsa.pub").string()}}
        );

        hs("expired_beyond_leeway", with(valid_claims(), "exp", k_now - 31));
        hs("expired_at_leeway_edge", with(valid_claims(), "exp", k_now - 30));
        hs("expired_within_leeway", with(valid_claims(), "exp", k_now - 10));
        hs("exp_fractional", with(valid_claims(), "exp", static_cast<double>(k_now) + 0.5));
        hs("exp_string", with_text(valid_claims(), "exp", std::to_string(k_now + 600)));
        hs("exp_missing", without(valid_claims(), "exp"));
        hs("nbf_future", with(valid_claims(), "nbf", k_now + 31));
        hs("nbf_within_leeway", with(valid_claims(), "nbf", k_now + 20));
        hs("iat_future", with(valid_claims(), "iat", k_now + 31));
        hs("iat_within_leeway", with(valid_claims(), "iat", k_now + 20));

        hs("iss_good", with(valid_claims(), "iss", "https://issuer.example"));
        hs("iss_wrong", with(valid_claims(), "iss", "https://evil.example"));
        hs("aud_string", with(valid_claims(), "aud", "orders"));
        hs("aud_array", with(valid_claims(), "aud", json::array{"billing", "orders"}));
        hs("aud_array_without_us", with(valid_claims(), "aud", json::array{"billing", "shipping"}));
        hs("aud_wrong", with(valid_claims(), "aud", "billing"));

        hs("sub_missing", without(valid_claims(), "sub"));
        hs("sub_empty", with(valid_claims(), "sub", ""));
        hs("sub_128", with_text(valid_claims(), "sub", std::string(128, 'a')));
        hs("sub_129", with_text(valid_claims(), "sub", std::string(129, 'a')));
        std::string accented;
        for (int i = 0; i < 128; ++i) accented += "\xC3\xA9";  // 128 x U+00E9, 256 bytes
        hs("sub_128_two_byte_chars", with_text(valid_claims(), "sub", accented));
        hs("sub_number", with(valid_claims(), "sub", 42));
        hs("sub_with_nul", with_text(valid_claims(), "sub", std::string("ali\0ce", 6)));
        // Characters that hide or reorder text: C1 NEL, DEL, line separator, RTL override, LRI.
        for (const auto& [name, text] : k_hidden_subjects) hs(name, with_text(valid_claims(), "sub", text));

        hs("roles_admin", with(valid_claims(), "roles", json::array{"user", "admin"}));
        hs("roles_user", with(valid_claims(), "roles", json::array{"user"}));
        hs("roles_orders_admin", with(valid_claims(), "roles", json::array{"orders:admin"}));
        hs("roles_not_array", with(valid_claims(), "roles", "admin"));
        hs("roles_non_string", with(valid_claims(), "roles", json::array{"user", 7}));
        hs("scope_admin", with(valid_claims(), "scope", "orders:read  orders:admin"));
        hs("scope_plain_admin", with(valid_claims(), "scope", "admin"));
        hs("scope_read", with(valid_claims(), "scope", "orders:read orders:write"));
        hs("scope_not_string", with(valid_claims(), "scope", json::array{"orders:admin"}));
        hs("roles_and_scope",
           with(with(valid_claims(), "roles", json::array{"user"}), "scope", "orders:admin"));
        hs("oversize_claims", with_text(valid_claims(), "padding", std::string(8200, 'x')));
        hs("near_limit_claims", with_text(valid_claims(), "padding", std::string(5900, 'x')));

        const std::string claims_text = json::serialize(valid_claims());
        const json::object secret_sign{{"hmac_secret", k_secret}};
        by_hand("payload_not_json", R"({"alg":"HS256"})", "this is not json", secret_sign);
        by_hand("payload_array", R"({"alg":"HS256"})", R"(["sub","alice"])", secret_sign);
        by_hand(
            "payload_truncated",
            R"({"alg":"HS256"})",
            claims_text.substr(0, claims_text.size() - 1),
            secret_sign
        );
        by_hand(
            "payload_too_deep",
            R"({"alg":"HS256"})",
            R"({"sub":"alice","exp":1800000600,"x":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]})",
            secret_sign
        );
        // Keycloak's shape, four levels deep, must still parse.
        hs("keycloak_nesting",
           with(
               valid_claims(),
               "resource_access",
               json::object{{"orders", json::object{{"roles", json::array{"x"}}}}}
           ));
        by_hand("header_not_json", "{alg:HS256}", claims_text, secret_sign);
        by_hand("header_without_alg", R"({"typ":"JWT"})", claims_text, secret_sign);
        by_hand("header_alg_number", R"({"alg":256})", claims_text, secret_sign);
        by_hand("header_crit", R"({"alg":"HS256","crit":["exp"],"exp":1})", claims_text, secret_sign);
        by_hand("alg_none_no_signature", R"({"alg":"none"})", claims_text, {{"signature", ""}});
        by_hand("alg_lowercase", R"({"alg":"hs256"})", claims_text, secret_sign);

        tokens_ = new std::map<std::string, std::string>();
        const json::object answer = testing::run_pyjwt({{"tokens", specs}}, d);
        for (const auto& [name, token] : answer.at("tokens").as_object()) {
            (*tokens_)[std::string(name)] = std::string(token.as_string());
        }
    }

    static void TearDownTestSuite() {
        delete tokens_;
        tokens_ = nullptr;
        delete dir_;
        dir_ = nullptr;
    }

    static const std::string& token(const std::string& name) { return tokens_->at(name); }
    static std::string pem(const char* file) { return testing::read_file(dir_->path() / file); }

    static jwt_options hs256_options() {
        jwt_options options;
        options.secret = k_secret;
        return options;
    }
    static jwt_options public_key_options(algorithm alg, const char* file) {
        jwt_options options;
        options.algorithms = {alg};
        options.public_key_pem = pem(file);
        return options;
    }

    static principal expect_principal(const verifier& v, const std::string& token_text) {
        const result r = v.verify(token_text, k_now_point);
        if (const auto* f = std::get_if<failure>(&r)) {
            ADD_FAILURE() << "refused: " << f->detail;
            return {};
        }
        return std::get<principal>(r);
    }

    static void expect_refusal(const verifier& v, const std::string& token_text, std::string_view detail) {
        const result r = v.verify(token_text, k_now_point);
        const auto* f = std::get_if<failure>(&r);
        ASSERT_NE(f, nullptr) << "accepted, expected: " << detail;
        EXPECT_EQ(f->detail, detail);
        EXPECT_TRUE(f->token_given);
    }

    static testing::temp_dir* dir_;
    static std::map<std::string, std::string>* tokens_;
};

testing::temp_dir* jwt_test::dir_ = nullptr;
std::map<std::string, std::string>* jwt_test::tokens_ = nullptr;

// ---- valid tokens of every algorithm ---------------------------------------------------

TEST_F(jwt_test, accepts_hs256_signed_by_pyjwt) {
    const principal who = expect_principal(verifier(hs256_options()), token("hs256"));
    EXPECT_EQ(who.subject, "alice");
    EXPECT_TRUE(who.roles.empty());
    EXPECT_FALSE(who.is_admin);
}

TEST_F(jwt_test, accepts_rs256_with_the_rsa_public_key) {
    const principal who =
        expect_principal(verifier(public_key_options(algorithm::rs256, "rsa.pub")), token("rs256"));
    EXPECT_EQ(who.subject, "alice");
    EXPECT_EQ(who.roles, std::vector<std::string>{"admin"});
    EXPECT_TRUE(who.is_admin);
}

TEST_F(jwt_test, accepts_rs256_with_a_certificate_pem) {
    const principal who =
        expect_principal(verifier(public_key_options(algorithm::rs256, "rsa.crt")), token("rs256"));
    EXPECT_EQ(who.subject, "alice");
}

TEST_F(jwt_test, accepts_es256_with_raw_r_s_signature) {
    const principal who =
        expect_principal(verifier(public_key_options(algorithm::es256, "ec.pub")), token("es256"));
    EXPECT_EQ(who.subject, "alice");
    EXPECT_EQ(who.roles, (std::vector<std::string>{"orders:read", "orders:admin"}));
    EXPECT_TRUE(who.is_admin);
}

TEST_F(jwt_test, accepts_each_allowed_algorithm_with_its_own_key) {
    jwt_options options = public_key_options(algorithm::rs256, "rsa.pub");
    options.algorithms = {algorithm::hs256, algorithm::rs256};
    options.secret = k_secret;
    const verifier v(options);
    EXPECT_EQ(expect_principal(v, token("hs256")).subject, "alice");
    EXPECT_EQ(expect_principal(v, token("rs256")).subject, "alice");
}

// ---- signatures ------------------------------------------------------------------------

TEST_F(jwt_test, refuses_hs256_signed_with_another_secret) {
    expect_refusal(verifier(hs256_options()), token("hs256_wrong_secret"), "Token signature is invalid");
}

TEST_F(jwt_test, refuses_a_payload_moved_under_another_signature) {
    // Header and signature of one valid token around the claims of another.
    const std::string& good = token("hs256");
    const std::string& other = token("roles_admin");
    const std::string forged = good.substr(0, good.find('.')) +
                               other.substr(other.find('.'), other.rfind('.') - other.find('.')) +
                               good.substr(good.rfind('.'));
    expect_refusal(verifier(hs256_options()), forged, "Token signature is invalid");
}

TEST_F(jwt_test, refuses_a_flipped_signature_bit) {
    std::string tampered = token("hs256");
    char& last_full = tampered[tampered.size() - 2];
    last_full = last_full == 'A' ? 'B' : 'A';
    expect_refusal(verifier(hs256_options()), tampered, "Token signature is invalid");
}

TEST_F(jwt_test, refuses_rs256_and_es256_from_other_keys) {
    expect_refusal(
        verifier(public_key_options(algorithm::rs256, "rsa.pub")),
        token("rs256_other_key"),
        "Token signature is invalid"
    );
    expect_refusal(
        verifier(public_key_options(algorithm::es256, "ec.pub")),
        token("es256_other_key"),
        "Token signature is invalid"
    );
}

TEST_F(jwt_test, refuses_es256_with_a_der_signature) {
    expect_refusal(
        verifier(public_key_options(algorithm::es256, "ec.pub")),
        token("es256_der_signature"),
        "Token signature is invalid"
    );
}

TEST_F(jwt_test, refuses_a_truncated_es256_signature) {
    // Four characters (three whole bytes) cut from the middle: still canonical base64url,
    // so the signature check itself must refuse the 61 bytes.
    std::string truncated = token("es256");
    truncated.erase(truncated.rfind('.') + 5, 4);
    expect_refusal(
        verifier(public_key_options(algorithm::es256, "ec.pub")), truncated, "Token signature is invalid"
    );
}

// ---- algorithms ------------------------------------------------------------------------

TEST_F(jwt_test, refuses_alg_none_with_and_without_signature) {
    expect_refusal(verifier(hs256_options()), token("none"), "Token algorithm is not accepted");
    expect_refusal(
        verifier(hs256_options()), token("alg_none_no_signature"), "Token algorithm is not accepted"
    );
}

TEST_F(jwt_test, refuses_algorithms_outside_the_allow_list) {
    expect_refusal(verifier(hs256_options()), token("rs256"), "Token algorithm is not accepted");
    expect_refusal(verifier(hs256_options()), token("hs384"), "Token algorithm is not accepted");
    expect_refusal(verifier(hs256_options()), token("alg_lowercase"), "Token algorithm is not accepted");
    expect_refusal(
        verifier(public_key_options(algorithm::rs256, "rsa.pub")),
        token("es256"),
        "Token algorithm is not accepted"
    );
}

TEST_F(jwt_test, refuses_hs256_signed_with_the_rsa_public_key_as_secret) {
    // Only RS256 allowed: the HS256 header alone is refused.
    expect_refusal(
        verifier(public_key_options(algorithm::rs256, "rsa.pub")),
        token("hs256_signed_with_rsa_public_pem"),
        "Token algorithm is not accepted"
    );
    // Both allowed: HS256 is checked with JWT_SECRET only, never with the PEM.
    jwt_options both = public_key_options(algorithm::rs256, "rsa.pub");
    both.algorithms = {algorithm::hs256, algorithm::rs256};
    both.secret = k_secret;
    expect_refusal(verifier(both), token("hs256_signed_with_rsa_public_pem"), "Token signature is invalid");
}

TEST_F(jwt_test, refuses_headers_without_a_usable_alg_or_with_crit) {
    const verifier v(hs256_options());
    expect_refusal(v, token("header_without_alg"), "Token is malformed");
    expect_refusal(v, token("header_alg_number"), "Token is malformed");
    expect_refusal(v, token("header_not_json"), "Token is malformed");
    expect_refusal(v, token("header_crit"), "Token uses critical header extensions that are not supported");
}

// ---- time claims -----------------------------------------------------------------------

TEST_F(jwt_test, expiry_counts_the_leeway) {
    const verifier v(hs256_options());
    expect_refusal(v, token("expired_beyond_leeway"), "Token has expired");
    expect_refusal(v, token("expired_at_leeway_edge"), "Token has expired");
    EXPECT_EQ(expect_principal(v, token("expired_within_leeway")).subject, "alice");
    EXPECT_EQ(expect_principal(v, token("exp_fractional")).subject, "alice");
}

TEST_F(jwt_test, zero_leeway_refuses_what_the_default_leeway_forgives) {
    jwt_options strict = hs256_options();
    strict.leeway = seconds(0);
    expect_refusal(verifier(strict), token("expired_within_leeway"), "Token has expired");
    expect_refusal(verifier(strict), token("nbf_within_leeway"), "Token is not valid yet");
}

TEST_F(jwt_test, exp_is_required_unless_disabled) {
    expect_refusal(verifier(hs256_options()), token("exp_missing"), "Token has no expiry time (exp)");
    jwt_options lenient = hs256_options();
    lenient.require_exp = false;
    EXPECT_EQ(expect_principal(verifier(lenient), token("exp_missing")).subject, "alice");
    // An exp that is present is still checked.
    expect_refusal(verifier(lenient), token("expired_beyond_leeway"), "Token has expired");
}

TEST_F(jwt_test, refuses_a_non_numeric_exp) {
    expect_refusal(
        verifier(hs256_options()), token("exp_string"), "Token expiry time (exp) must be a number"
    );
}

TEST_F(jwt_test, nbf_and_iat_in_the_future_beyond_leeway) {
    const verifier v(hs256_options());
    expect_refusal(v, token("nbf_future"), "Token is not valid yet");
    expect_refusal(v, token("iat_future"), "Token was issued in the future");
    EXPECT_EQ(expect_principal(v, token("nbf_within_leeway")).subject, "alice");
    EXPECT_EQ(expect_principal(v, token("iat_within_leeway")).subject, "alice");
}

// ---- issuer and audience ---------------------------------------------------------------

TEST_F(jwt_test, issuer_is_checked_only_when_configured) {
    jwt_options options = hs256_options();
    EXPECT_EQ(expect_principal(verifier(options), token("iss_wrong")).subject, "alice");
    options.issuer = "https://issuer.example";
    const verifier v(options);
    EXPECT_EQ(expect_principal(v, token("iss_good")).subject, "alice");
    expect_refusal(v, token("iss_wrong"), "Token issuer is not accepted");
    expect_refusal(v, token("hs256"), "Token issuer is not accepted");
}

TEST_F(jwt_test, audience_may_be_a_string_or_an_array) {
    jwt_options options = hs256_options();
    EXPECT_EQ(expect_principal(verifier(options), token("aud_wrong")).subject, "alice");
    options.audience = "orders";
    const verifier v(options);
    EXPECT_EQ(expect_principal(v, token("aud_string")).subject, "alice");
    EXPECT_EQ(expect_principal(v, token("aud_array")).subject, "alice");
    expect_refusal(v, token("aud_array_without_us"), "Token audience is not accepted");
    expect_refusal(v, token("aud_wrong"), "Token audience is not accepted");
    expect_refusal(v, token("hs256"), "Token audience is not accepted");
}

// ---- subject ---------------------------------------------------------------------------

TEST_F(jwt_test, subject_is_a_string_of_1_to_128_characters) {
    const verifier v(hs256_options());
    const std::string bad = "Token subject must be a string of 1 to 128 characters";
    expect_refusal(v, token("sub_missing"), "Token has no subject (sub)");
    expect_refusal(v, token("sub_empty"), bad);
    expect_refusal(v, token("sub_129"), bad);
    expect_refusal(v, token("sub_number"), bad);
    expect_refusal(v, token("sub_with_nul"), bad);
    for (const auto& [name, text] : k_hidden_subjects) expect_refusal(v, token(name), bad);
    EXPECT_EQ(expect_principal(v, token("sub_128")).subject, std::string(128, 'a'));
    EXPECT_EQ(expect_principal(v, token("sub_128_two_byte_chars")).subject.size(), 256U);
}

// ---- roles -----------------------------------------------------------------------------

TEST_F(jwt_test, admin_comes_from_roles_or_scope) {
    const verifier v(hs256_options());
    EXPECT_TRUE(expect_principal(v, token("roles_admin")).is_admin);
    EXPECT_TRUE(expect_principal(v, token("roles_orders_admin")).is_admin);
    EXPECT_TRUE(expect_principal(v, token("scope_admin")).is_admin);
    EXPECT_TRUE(expect_principal(v, token("scope_plain_admin")).is_admin);
    EXPECT_FALSE(expect_principal(v, token("roles_user")).is_admin);
    EXPECT_FALSE(expect_principal(v, token("scope_read")).is_admin);

    const principal from_scope = expect_principal(v, token("scope_admin"));
    EXPECT_EQ(from_scope.roles, (std::vector<std::string>{"orders:read", "orders:admin"}));
    const principal merged = expect_principal(v, token("roles_and_scope"));
    EXPECT_EQ(merged.roles, (std::vector<std::string>{"user", "orders:admin"}));
    EXPECT_TRUE(merged.is_admin);
}

TEST_F(jwt_test, refuses_roles_and_scope_of_the_wrong_type) {
    const verifier v(hs256_options());
    expect_refusal(v, token("roles_not_array"), "Token roles claim must be an array of strings");
    expect_refusal(v, token("roles_non_string"), "Token roles claim must be an array of strings");
    expect_refusal(v, token("scope_not_string"), "Token scope claim must be a space-separated string");
}

// ---- structure -------------------------------------------------------------------------

TEST_F(jwt_test, refuses_malformed_json_payloads_even_when_signed) {
    const verifier v(hs256_options());
    expect_refusal(v, token("payload_not_json"), "Token is malformed");
    expect_refusal(v, token("payload_array"), "Token is malformed");
    expect_refusal(v, token("payload_truncated"), "Token is malformed");
    expect_refusal(v, token("payload_too_deep"), "Token is malformed");
    EXPECT_EQ(expect_principal(v, token("keycloak_nesting")).subject, "alice");
}

TEST_F(jwt_test, refuses_malformed_base64url) {
    const verifier v(hs256_options());
    const std::string& good = token("hs256");
    const std::size_t first_dot = good.find('.');
    std::string with_plus = good;
    with_plus[first_dot + 1] = '+';  // base64, not base64url
    expect_refusal(v, with_plus, "Token is malformed");
    expect_refusal(v, good + "=", "Token is malformed");  // padding
    std::string with_space = good;
    with_space.insert(first_dot + 3, " ");
    expect_refusal(v, with_space, "Token is malformed");
}

TEST_F(jwt_test, refuses_wrong_segment_counts) {
    const verifier v(hs256_options());
    const std::string& good = token("hs256");
    expect_refusal(v, good.substr(0, good.rfind('.')), "Token is malformed");
    expect_refusal(v, good + ".e30", "Token is malformed");
    expect_refusal(v, "..", "Token is malformed");
    expect_refusal(v, "", "Token is malformed");
}

TEST_F(jwt_test, refuses_oversize_tokens_before_parsing) {
    const verifier v(hs256_options());
    // Validly signed, merely too long.
    ASSERT_GT(token("oversize_claims").size(), 8192U);
    expect_refusal(v, token("oversize_claims"), "Token is too large");
    // Garbage of the same size gets the same answer: nothing was parsed.
    expect_refusal(v, std::string(8193, '!'), "Token is too large");
    EXPECT_EQ(expect_principal(v, token("near_limit_claims")).subject, "alice");

    jwt_options small = hs256_options();
    small.max_token_bytes = 100;
    expect_refusal(verifier(small), token("hs256"), "Token is too large");
}

// ---- Authorization header --------------------------------------------------------------

TEST_F(jwt_test, authenticate_parses_the_bearer_scheme) {
    const verifier v(hs256_options());
    const std::string& t = token("hs256");
    for (const std::string& header : {"Bearer " + t, "bearer " + t, "BEARER   " + t, "  Bearer " + t + " "}) {
        const result r = v.authenticate(header, k_now_point);
        ASSERT_TRUE(std::holds_alternative<principal>(r)) << header;
        EXPECT_EQ(std::get<principal>(r).subject, "alice");
    }
}

TEST_F(jwt_test, authenticate_failures_say_whether_a_token_was_given) {
    const verifier v(hs256_options());
    const auto refused = [&](std::optional<std::string_view> header) {
        const result r = v.authenticate(header, k_now_point);
        EXPECT_TRUE(std::holds_alternative<failure>(r));
        return std::holds_alternative<failure>(r) ? std::get<failure>(r) : failure{};
    };
    const failure none = refused(std::nullopt);
    EXPECT_FALSE(none.token_given);
    EXPECT_EQ(none.detail, "Authentication required: send an Authorization: Bearer token");
    EXPECT_EQ(refused("Basic YWxpY2U6c2VjcmV0").detail, "Authorization header must use the Bearer scheme");
    EXPECT_FALSE(refused("Basic YWxpY2U6c2VjcmV0").token_given);
    EXPECT_EQ(refused("Bearer" + token("hs256")).detail, "Authorization header must use the Bearer scheme");
    EXPECT_EQ(refused("Bearer").detail, "Bearer token is missing");
    EXPECT_FALSE(refused("Bearer   ").token_given);

    const failure expired = refused("Bearer " + token("expired_beyond_leeway"));
    EXPECT_EQ(expired.detail, "Token has expired");
    EXPECT_TRUE(expired.token_given);
    const failure two_tokens = refused("Bearer " + token("hs256") + " " + token("hs256"));
    EXPECT_EQ(two_tokens.detail, "Token is malformed");
    EXPECT_TRUE(two_tokens.token_given);
}

// ---- the verified-token cache ----------------------------------------------------------

TEST_F(jwt_test, cached_tokens_still_expire) {
    const verifier v(hs256_options());
    const std::string& t = token("hs256");  // exp = now + 600
    EXPECT_EQ(expect_principal(v, t).subject, "alice");
    EXPECT_EQ(expect_principal(v, t).subject, "alice");  // from the cache
    const result later = v.verify(t, k_now_point + seconds(600 + 30));
    ASSERT_TRUE(std::holds_alternative<failure>(later));
    EXPECT_EQ(std::get<failure>(later).detail, "Token has expired");
    // And before its iat minus leeway (a clock stepped back) it is not served either.
    const result earlier = v.verify(t, k_now_point - seconds(31));
    ASSERT_TRUE(std::holds_alternative<failure>(earlier));
    EXPECT_EQ(std::get<failure>(earlier).detail, "Token was issued in the future");
}

TEST_F(jwt_test, cache_never_serves_a_token_to_another_verifier) {
    const verifier accepting(hs256_options());
    EXPECT_EQ(expect_principal(accepting, token("hs256")).subject, "alice");
    jwt_options other = hs256_options();
    other.secret = "a-completely-different-secret-value";
    expect_refusal(verifier(other), token("hs256"), "Token signature is invalid");
}

TEST_F(jwt_test, verifiers_with_different_secrets_alternate_on_one_thread) {
    // Each thread keeps keyed HMAC state; it must follow whichever verifier is asking.
    jwt_options first = hs256_options();
    first.cache_entries = 0;
    jwt_options second = first;
    second.secret = "another-secret";
    const verifier a(first);
    const verifier b(second);
    for (int round = 0; round < 3; ++round) {
        EXPECT_EQ(expect_principal(a, token("hs256")).subject, "alice");
        expect_refusal(b, token("hs256"), "Token signature is invalid");
        EXPECT_EQ(expect_principal(b, token("hs256_wrong_secret")).subject, "alice");
        expect_refusal(a, token("hs256_wrong_secret"), "Token signature is invalid");
    }
}

TEST_F(jwt_test, verifiers_with_different_public_keys_alternate_on_one_thread) {
    // Each thread keeps an initialised verification context per key; it must follow the key.
    jwt_options first = public_key_options(algorithm::rs256, "rsa.pub");
    first.cache_entries = 0;
    jwt_options second = public_key_options(algorithm::rs256, "rsa2.pub");
    second.cache_entries = 0;
    const verifier a(first);
    const verifier b(second);
    for (int round = 0; round < 3; ++round) {
        EXPECT_EQ(expect_principal(a, token("rs256")).subject, "alice");
        expect_refusal(b, token("rs256"), "Token signature is invalid");
        EXPECT_EQ(expect_principal(b, token("rs256_other_key")).subject, "alice");
        expect_refusal(a, token("rs256_other_key"), "Token signature is invalid");
    }
}

TEST_F(jwt_test, works_with_the_cache_disabled) {
    jwt_options options = hs256_options();
    options.cache_entries = 0;
    const verifier v(options);
    EXPECT_EQ(expect_principal(v, token("hs256")).subject, "alice");
    EXPECT_EQ(expect_principal(v, token("hs256")).subject, "alice");
    expect_refusal(v, token("expired_beyond_leeway"), "Token has expired");
}

TEST_F(jwt_test, one_verifier_serves_many_threads) {
    jwt_options options = public_key_options(algorithm::rs256, "rsa.pub");
    options.algorithms = {algorithm::hs256, algorithm::rs256};
    options.secret = k_secret;
    options.cache_entries = 4;  // small, so threads also take the uncached path
    const verifier v(options);
    const std::vector<std::string> good = {token("hs256"), token("rs256"), token("roles_admin")};
    std::atomic<int> accepted{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                for (const std::string& g : good) {
                    if (std::holds_alternative<principal>(v.verify(g, k_now_point))) ++accepted;
                }
                if (std::holds_alternative<failure>(v.verify(token("rs256_other_key"), k_now_point)))
                    ++refused;
            }
        });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(accepted.load(), 4 * 50 * 3);
    EXPECT_EQ(refused.load(), 4 * 50);
}

// ---- configuration ---------------------------------------------------------------------

void expect_config_error(const jwt_options& options, std::string_view fragment) {
    try {
        const verifier v(options);
        ADD_FAILURE() << "no configuration_error; expected one mentioning: " << fragment;
    } catch (const configuration_error& e) {
        EXPECT_NE(std::string_view(e.what()).find(fragment), std::string_view::npos) << e.what();
    }
}

TEST_F(jwt_test, refuses_configurations_where_keys_and_algorithms_do_not_fit) {
    expect_config_error(jwt_options{}, "JWT_ALGORITHMS includes HS256 but JWT_SECRET is not set");
    expect_config_error(public_key_options(algorithm::rs256, "ec.pub"), "is an EC key");
    expect_config_error(public_key_options(algorithm::es256, "rsa.pub"), "is an RSA key");
    expect_config_error(public_key_options(algorithm::rs256, "rsa1024.pub"), "has 1024 bits");
    expect_config_error(public_key_options(algorithm::es256, "p384.pub"), "not on curve P-256");
    expect_config_error(public_key_options(algorithm::es256, "ed25519.pub"), "neither RSA");
    expect_config_error(public_key_options(algorithm::rs256, "rsa.pem"), "does not hold a PEM public key");

    jwt_options key_with_default_algorithms;
    key_with_default_algorithms.public_key_pem = pem("rsa.pub");
    expect_config_error(key_with_default_algorithms, "set JWT_ALGORITHMS=RS256 or ES256");

    jwt_options no_key;
    no_key.algorithms = {algorithm::rs256};
    expect_config_error(no_key, "JWT_PUBLIC_KEY_FILE is not set");

    jwt_options both = public_key_options(algorithm::rs256, "rsa.pub");
    both.algorithms = {algorithm::rs256, algorithm::es256};
    expect_config_error(both, "one public key cannot serve both");

    jwt_options unused_key = hs256_options();
    unused_key.public_key_pem = pem("rsa.pub");
    expect_config_error(unused_key, "does not include RS256");

    jwt_options unused_secret = public_key_options(algorithm::rs256, "rsa.pub");
    unused_secret.secret = k_secret;
    expect_config_error(unused_secret, "does not include HS256");

    jwt_options pem_as_secret;
    pem_as_secret.secret = pem("rsa.pub");
    expect_config_error(pem_as_secret, "looks like a PEM key");

    jwt_options garbage = public_key_options(algorithm::rs256, "rsa.pub");
    garbage.public_key_pem = "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n";
    expect_config_error(garbage, "does not hold a PEM public key");

    jwt_options negative_leeway = hs256_options();
    negative_leeway.leeway = seconds(-1);
    expect_config_error(negative_leeway, "JWT_LEEWAY_SECONDS");
}

// ---- key rotation -----------------------------------------------------------------------

TEST_F(jwt_test, accepts_tokens_of_the_previous_secret_during_a_rotation) {
    jwt_options options = hs256_options();
    options.secret = "another-secret";   // the new secret signed hs256_wrong_secret
    options.previous_secret = k_secret;  // the old one signed hs256
    options.cache_entries = 0;
    const verifier v(options);
    for (int round = 0; round < 2; ++round) {  // both contexts stay keyed on this thread
        EXPECT_EQ(expect_principal(v, token("hs256_wrong_secret")).subject, "alice");
        EXPECT_EQ(expect_principal(v, token("hs256")).subject, "alice");
        expect_refusal(v, token("hs256_signed_with_rsa_public_pem"), "Token signature is invalid");
    }
    // Once the previous secret is dropped, its tokens are refused.
    options.previous_secret.clear();
    expect_refusal(verifier(options), token("hs256"), "Token signature is invalid");
}

TEST_F(jwt_test, accepts_tokens_of_the_previous_public_key_during_a_rotation) {
    jwt_options options = public_key_options(algorithm::rs256, "rsa2.pub");
    options.previous_public_key_pem = pem("rsa.pub");
    options.cache_entries = 0;
    const verifier v(options);
    for (int round = 0; round < 2; ++round) {
        EXPECT_EQ(expect_principal(v, token("rs256_other_key")).subject, "alice");  // new key
        EXPECT_EQ(expect_principal(v, token("rs256")).subject, "alice");            // previous key
    }
    // A verifier without the previous key on the same thread: its contexts are its own.
    const verifier current_only(public_key_options(algorithm::rs256, "rsa2.pub"));
    expect_refusal(current_only, token("rs256"), "Token signature is invalid");
    EXPECT_EQ(expect_principal(v, token("rs256")).subject, "alice");
}

TEST_F(jwt_test, refuses_previous_keys_that_do_not_fit) {
    jwt_options previous_without_hs256 = public_key_options(algorithm::rs256, "rsa.pub");
    previous_without_hs256.previous_secret = k_secret;
    expect_config_error(previous_without_hs256, "JWT_PREVIOUS_SECRET is set but JWT_ALGORITHMS");

    jwt_options pem_as_previous = hs256_options();
    pem_as_previous.previous_secret = pem("rsa.pub");
    expect_config_error(pem_as_previous, "JWT_PREVIOUS_SECRET looks like a PEM key");

    jwt_options previous_key_alone = hs256_options();
    previous_key_alone.previous_public_key_pem = pem("rsa.pub");
    expect_config_error(previous_key_alone, "JWT_PUBLIC_KEY_FILE is not");

    jwt_options other_kind = public_key_options(algorithm::rs256, "rsa.pub");
    other_kind.previous_public_key_pem = pem("ec.pub");
    expect_config_error(other_kind, "JWT_PREVIOUS_PUBLIC_KEY_FILE is an EC key");

    jwt_options weak_previous = public_key_options(algorithm::rs256, "rsa.pub");
    weak_previous.previous_public_key_pem = pem("rsa1024.pub");
    expect_config_error(weak_previous, "JWT_PREVIOUS_PUBLIC_KEY_FILE has 1024 bits");

    jwt_options previous_secret_alone;
    previous_secret_alone.previous_secret = k_secret;
    expect_config_error(previous_secret_alone, "JWT_SECRET is not set");
}

TEST(parse_algorithm_list, reads_names_and_refuses_none_and_unknowns) {
    EXPECT_EQ(parse_algorithm_list("HS256"), std::vector<algorithm>{algorithm::hs256});
    EXPECT_EQ(
        parse_algorithm_list(" HS256 , RS256,HS256"),
        (std::vector<algorithm>{algorithm::hs256, algorithm::rs256})
    );
    EXPECT_THROW(parse_algorithm_list("none"), configuration_error);
    EXPECT_THROW(parse_algorithm_list("HS256,none"), configuration_error);
    EXPECT_THROW(parse_algorithm_list("HS512"), configuration_error);
    EXPECT_THROW(parse_algorithm_list("hs256"), configuration_error);
    EXPECT_THROW(parse_algorithm_list(" , "), configuration_error);
}

// ---- minting (checked by PyJWT, an independent verifier) -------------------------------

TEST_F(jwt_test, minted_tokens_verify_with_pyjwt_and_with_us) {
    const auto now = clock_type::now();  // PyJWT checks exp against the real clock
    const std::string minted = mint_hs256(
        k_secret, "bob", {"admin", "support"}, seconds(3600), now, "https://issuer.example", "orders"
    );
    const json::object answer = testing::run_pyjwt(
        {{"decode", json::array{json::object{{"name", "minted"}, {"token", minted}, {"secret", k_secret}}}}},
        dir_->path()
    );
    const json::object& claims = answer.at("decoded").at("minted").as_object();
    EXPECT_EQ(claims.at("sub"), "bob");
    EXPECT_EQ(claims.at("roles"), (json::array{"admin", "support"}));
    EXPECT_EQ(claims.at("iss"), "https://issuer.example");
    EXPECT_EQ(claims.at("aud"), "orders");
    EXPECT_EQ(claims.at("exp").to_number<std::int64_t>() - claims.at("iat").to_number<std::int64_t>(), 3600);

    jwt_options options = hs256_options();
    options.issuer = "https://issuer.example";
    options.audience = "orders";
    const result r = verifier(options).verify(minted, now);
    ASSERT_TRUE(std::holds_alternative<principal>(r));
    EXPECT_TRUE(std::get<principal>(r).is_admin);
}

TEST(mint_hs256, refuses_what_it_cannot_mint_correctly) {
    const auto now = clock_type::now();
    EXPECT_THROW(mint_hs256("", "alice", {}, seconds(60), now), std::invalid_argument);
    EXPECT_THROW(mint_hs256("secret", "", {}, seconds(60), now), std::invalid_argument);
    EXPECT_THROW(mint_hs256("secret", std::string(129, 'a'), {}, seconds(60), now), std::invalid_argument);
    EXPECT_THROW(mint_hs256("secret", "alice", {}, seconds(0), now), std::invalid_argument);
}

}  // namespace
}  // namespace svc::auth
