// Request-target decoding, without a socket: origin-form and absolute-form, the path
// percent-decoded, the query kept raw, and every target the router must never see refused.
#include "http/target.hpp"

#include <gtest/gtest.h>

namespace svc::http {
namespace {

struct split {
    bool ok = false;
    std::string path;
    std::string query;
};

split decode(std::string_view target) {
    split s;
    s.ok = split_target(target, s.path, s.query);
    return s;
}

TEST(target, origin_form_splits_into_decoded_path_and_raw_query) {
    auto s = decode("/orders/%7Bid%7D/pay?limit=5&cursor=a%2Bb");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.path, "/orders/{id}/pay");
    EXPECT_EQ(s.query, "limit=5&cursor=a%2Bb");

    s = decode("/health");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.path, "/health");
    EXPECT_EQ(s.query, "");

    s = decode("/");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.path, "/");
}

TEST(target, only_the_first_question_mark_starts_the_query) {
    const auto s = decode("/a?b?c=%3F");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.path, "/a");
    EXPECT_EQ(s.query, "b?c=%3F");
}

TEST(target, an_empty_query_is_empty) {
    const auto s = decode("/orders?");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.path, "/orders");
    EXPECT_EQ(s.query, "");
}

TEST(target, escapes_decode_in_both_cases_and_a_decoded_slash_stays_in_its_segment_text) {
    const auto s = decode("/a%2fb%2F%41%7e");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.path, "/a/b/A~");
}

TEST(target, a_percent_in_the_query_is_not_checked_here) {
    const auto s = decode("/a?x=%zz");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.query, "x=%zz");
}

TEST(target, refuses_what_is_neither_origin_form_nor_http_absolute_form) {
    for (const std::string_view target : {
             "",
             "*",
             "orders",
             "example.com:443",  // authority-form
             "?x=1",
             "ftp://example.com/orders",
             "http:/example.com/orders",
             "http:///orders",  // no authority
             "http://",
             "http://example.com/orders#frag",
             "http://example.com/%zz",
         }) {
        EXPECT_FALSE(decode(target).ok) << target;
    }
}

TEST(target, absolute_form_is_read_as_its_path_and_query) {
    auto s = decode("http://127.0.0.1:8000/orders/%7Bid%7D?limit=5");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.path, "/orders/{id}");
    EXPECT_EQ(s.query, "limit=5");

    s = decode("HTTPS://user@example.com/health");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.path, "/health");
    EXPECT_EQ(s.query, "");

    // An empty path is "/", with or without a query.
    s = decode("http://example.com");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.path, "/");
    EXPECT_EQ(s.query, "");
    s = decode("http://example.com?a=1");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.path, "/");
    EXPECT_EQ(s.query, "a=1");
}

TEST(target, refuses_bad_escapes_and_nul) {
    for (const std::string_view target : {
             "/a%",
             "/a%4",
             "/a%4?x",
             "/a%G1",
             "/a%1g",
             "/a%%41",
             "/a%00b",
             "/%",
         }) {
        EXPECT_FALSE(decode(target).ok) << target;
    }
}

TEST(target, an_escape_ending_the_path_is_decoded) {
    auto s = decode("/a%41");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.path, "/aA");
    s = decode("/%41?q");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.path, "/A");
    EXPECT_EQ(s.query, "q");
}

TEST(target, the_out_parameters_are_replaced_not_appended_to) {
    std::string path = "/stale/path";
    std::string query = "stale=1";
    ASSERT_TRUE(split_target("/fresh", path, query));
    EXPECT_EQ(path, "/fresh");
    EXPECT_EQ(query, "");
}

}  // namespace
}  // namespace svc::http
