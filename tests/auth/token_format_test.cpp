// Strict base64url and compact-JWS splitting, checked against Python's base64 module for
// the encodings and against hand-written edge cases for the refusals.

#include "auth/token_format.hpp"

#include <string>

#include <gtest/gtest.h>

namespace svc::auth::token_format {
namespace {

TEST(base64url, decodes_rfc4648_test_vectors_without_padding) {
    // RFC 4648 section 10, padding removed as JWS requires.
    EXPECT_EQ(base64url_decode(""), "");
    EXPECT_EQ(base64url_decode("Zg"), "f");
    EXPECT_EQ(base64url_decode("Zm8"), "fo");
    EXPECT_EQ(base64url_decode("Zm9v"), "foo");
    EXPECT_EQ(base64url_decode("Zm9vYg"), "foob");
    EXPECT_EQ(base64url_decode("Zm9vYmE"), "fooba");
    EXPECT_EQ(base64url_decode("Zm9vYmFy"), "foobar");
}

TEST(base64url, uses_the_url_alphabet) {
    // 0xFB 0xFF 0xBF encodes to "-_-_" in base64url and "+/+/" in base64.
    EXPECT_EQ(base64url_decode("-_-_"), std::string("\xFB\xFF\xBF"));
    EXPECT_EQ(base64url_decode("+/+/"), std::nullopt);
    EXPECT_EQ(base64url_encode(std::string("\xFB\xFF\xBF")), "-_-_");
}

TEST(base64url, refuses_padding_whitespace_and_impossible_lengths) {
    EXPECT_EQ(base64url_decode("Zg=="), std::nullopt);
    EXPECT_EQ(base64url_decode("Zm9v\n"), std::nullopt);
    EXPECT_EQ(base64url_decode("Zm 9v"), std::nullopt);
    EXPECT_EQ(base64url_decode("Z"), std::nullopt);
    EXPECT_EQ(base64url_decode("Zm9vY"), std::nullopt);
    EXPECT_EQ(base64url_decode(std::string("Zm\0v", 4)), std::nullopt);
}

TEST(base64url, refuses_non_canonical_trailing_bits) {
    // "Zg" is 'f'; "Zh" decodes to the same byte with a stray low bit set.
    EXPECT_EQ(base64url_decode("Zh"), std::nullopt);
    // "Zm8" is "fo"; "Zm9" and "Zm-" only differ in the two unused bits.
    EXPECT_EQ(base64url_decode("Zm8"), "fo");
    EXPECT_EQ(base64url_decode("Zm9"), std::nullopt);
    EXPECT_EQ(base64url_decode("Zm-"), std::nullopt);
}

TEST(base64url, round_trips_every_byte_value) {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    for (std::size_t length = 0; length <= all.size(); length += 17) {
        const std::string bytes = all.substr(0, length);
        const std::string encoded = base64url_encode(bytes);
        EXPECT_EQ(encoded.find('='), std::string::npos);
        EXPECT_EQ(base64url_decode(encoded), bytes);
    }
}

TEST(split_compact, yields_three_segments_and_the_signing_input) {
    const auto parts = split_compact("aaa.bbb.ccc");
    ASSERT_TRUE(parts.has_value());
    EXPECT_EQ(parts->header, "aaa");
    EXPECT_EQ(parts->payload, "bbb");
    EXPECT_EQ(parts->signature, "ccc");
    EXPECT_EQ(parts->signing_input, "aaa.bbb");
    EXPECT_EQ(split_compact("aaa.bbb.")->signature, "");
}

TEST(split_compact, refuses_other_shapes) {
    EXPECT_FALSE(split_compact("aaa.bbb"));
    EXPECT_FALSE(split_compact("aaa.bbb.ccc.ddd"));
    EXPECT_FALSE(split_compact("aaa.bbb.ccc.ddd.eee"));  // JWE compact form
    EXPECT_FALSE(split_compact(".bbb.ccc"));
    EXPECT_FALSE(split_compact("aaa..ccc"));
    EXPECT_FALSE(split_compact(""));
}

TEST(code_point_count, counts_characters_not_bytes) {
    EXPECT_EQ(code_point_count(""), 0U);
    EXPECT_EQ(code_point_count("alice"), 5U);
    EXPECT_EQ(code_point_count("\xC3\xA9t\xC3\xA9"), 3U);  // "été"
    EXPECT_EQ(code_point_count("\xF0\x9F\x98\x80"), 1U);   // one emoji, four bytes
    EXPECT_EQ(
        code_point_count("\xE2\x82\xAC"
                         "1"),
        2U
    );  // "€1"
}

}  // namespace
}  // namespace svc::auth::token_format
