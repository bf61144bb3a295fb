#include "http/problem.hpp"

#include <gtest/gtest.h>

#include "http/request_id.hpp"

namespace svc::http {
namespace {

TEST(problem, body_has_the_contract_shape) {
    const auto r = make_problem_response(problem_error(409, "Product p1 exists").get());
    EXPECT_EQ(r.status, 409U);
    EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
    EXPECT_EQ(r.body, R"({"detail":"Product p1 exists","type":"conflict"})");
}

TEST(problem, default_types_follow_the_contract_table) {
    const std::pair<unsigned, std::string_view> table[] = {
        {400, "bad_request"},
        {401, "unauthorized"},
        {403, "forbidden"},
        {404, "not_found"},
        {405, "method_not_allowed"},
        {409, "conflict"},
        {412, "precondition_failed"},
        {413, "payload_too_large"},
        {415, "unsupported_media_type"},
        {422, "validation_error"},
        {429, "rate_limited"},
        {431, "headers_too_large"},
        {500, "internal_error"},
        {503, "unavailable"},
    };
    for (const auto& [status, type] : table) EXPECT_EQ(default_problem_type(status), type) << status;
}

TEST(problem, validation_errors_carry_loc_with_numeric_indices) {
    problem p{
        422,
        "validation_error",
        "Invalid body",
        {},
        {{{"body", "items", "0", "quantity"}, "too big", "less_than_equal"}}};
    EXPECT_EQ(
        make_problem_response(p).body,
        R"({"detail":"Invalid body","type":"validation_error","errors":[{"loc":["body","items",0,"quantity"],"msg":"too big","type":"less_than_equal"}]})"
    );
}

TEST(problem, a_500_never_carries_internals) {
    const auto r =
        make_problem_response(problem{500, "internal_error", "SQLSTATE 23505 in INSERT INTO orders", {}, {}});
    EXPECT_EQ(r.body, R"({"detail":"Internal server error","type":"internal_error"})");
}

TEST(problem, headers_are_kept_and_text_is_escaped_to_valid_json) {
    problem p{401, "unauthorized", "bad \"token\"\n\x01\xff", {{"WWW-Authenticate", "Bearer"}}, {}};
    const auto r = make_problem_response(p);
    EXPECT_EQ(r.body, R"({"detail":"bad \"token\"\n\u0001\ufffd","type":"unauthorized"})");
    ASSERT_EQ(r.headers.size(), 1U);
    EXPECT_EQ(r.headers[0].name, "WWW-Authenticate");
}

TEST(request_id, sane_ids_are_kept_others_are_not) {
    EXPECT_TRUE(is_sane_request_id("abc-123_x.y:z"));
    EXPECT_TRUE(is_sane_request_id(std::string(128, 'a')));
    EXPECT_FALSE(is_sane_request_id(""));
    EXPECT_FALSE(is_sane_request_id(std::string(129, 'a')));
    EXPECT_FALSE(is_sane_request_id("a b"));
    EXPECT_FALSE(is_sane_request_id("a\r\nSet-Cookie: x"));
    EXPECT_FALSE(is_sane_request_id("\"quoted\""));
}

TEST(request_id, generated_ids_are_distinct_uuid_v4_text) {
    const auto a = generate_request_id();
    const auto b = generate_request_id();
    EXPECT_NE(a, b);
    ASSERT_EQ(a.size(), 36U);
    EXPECT_EQ(a[8], '-');
    EXPECT_EQ(a[14], '4');
    EXPECT_NE(std::string_view("89ab").find(a[19]), std::string_view::npos);
    EXPECT_TRUE(is_sane_request_id(a));
}

}  // namespace
}  // namespace svc::http
