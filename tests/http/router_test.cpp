#include "http/router.hpp"

#include <gtest/gtest.h>

namespace svc::http {
namespace {

boost::asio::awaitable<response> ok(route_context& /*context*/) {
    co_return response{};
}

route make(method m, std::string path, access a = access::public_) {
    return route{m, std::move(path), a, ok, {}};
}

router sample_router() {
    std::vector<route> routes;
    routes.push_back(make(method::get, "/"));
    routes.push_back(make(method::get, "/orders"));
    routes.push_back(make(method::post, "/orders", access::user));
    routes.push_back(make(method::get, "/orders/{id}"));
    routes.push_back(make(method::patch, "/orders/{id}"));
    routes.push_back(make(method::post, "/orders/{id}/pay"));
    routes.push_back(make(method::get, "/orders/export"));
    routes.push_back(make(method::get, "/users/{user}/orders/{id}"));
    return router(std::move(routes));
}

TEST(router, matches_literal_paths_with_and_without_trailing_slash) {
    const auto r = sample_router();
    for (const auto* path : {"/orders", "/orders/"}) {
        const auto found = r.find(method::get, path);
        ASSERT_NE(found.found, nullptr) << path;
        EXPECT_EQ(found.found->path_template, "/orders");
        EXPECT_EQ(found.found->method, method::get);
    }
    ASSERT_NE(r.find(method::get, "/").found, nullptr);
    EXPECT_EQ(r.find(method::get, "/").found->path_template, "/");
}

TEST(router, captures_parameters_in_template_order) {
    const auto r = sample_router();
    const auto found = r.find(method::get, "/users/alice/orders/42/");
    ASSERT_NE(found.found, nullptr);
    EXPECT_EQ(found.found->path_template, "/users/{user}/orders/{id}");
    EXPECT_EQ(found.params.at("user"), "alice");
    EXPECT_EQ(found.params.at("id"), "42");
    ASSERT_EQ(found.params.values.size(), 2U);
    EXPECT_EQ(found.params.values[0].first, "user");
    EXPECT_THROW((void)found.params.at("nope"), std::out_of_range);
}

TEST(router, literal_segment_beats_parameter_whatever_the_order) {
    const auto r = sample_router();
    const auto literal = r.find(method::get, "/orders/export");
    ASSERT_NE(literal.found, nullptr);
    EXPECT_EQ(literal.found->path_template, "/orders/export");
    EXPECT_TRUE(literal.params.values.empty());
    const auto parameter = r.find(method::get, "/orders/exports");
    ASSERT_NE(parameter.found, nullptr);
    EXPECT_EQ(parameter.found->path_template, "/orders/{id}");
}

TEST(router, unknown_path_is_not_found_with_no_allowed_methods) {
    const auto r = sample_router();
    for (const auto* path : {"/nope", "/orders/1/pay/more", "/orders//pay", "//x", "/orders/1/refund"}) {
        const auto found = r.find(method::get, path);
        EXPECT_EQ(found.found, nullptr) << path;
        EXPECT_TRUE(found.allowed.empty()) << path;
    }
}

TEST(router, known_path_with_other_method_lists_allowed_methods) {
    const auto r = sample_router();
    const auto found = r.find(method::delete_, "/orders/7");
    EXPECT_EQ(found.found, nullptr);
    EXPECT_EQ(found.allowed, (std::vector<method>{method::get, method::head, method::patch}));

    const auto pay = r.find(method::get, "/orders/7/pay");
    EXPECT_EQ(pay.allowed, (std::vector<method>{method::post}));
}

TEST(router, head_matches_get_routes_only) {
    const auto r = sample_router();
    ASSERT_NE(r.find(method::head, "/orders/9").found, nullptr);
    EXPECT_EQ(r.find(method::head, "/orders/9").found->method, method::get);
    EXPECT_EQ(r.find(method::head, "/orders/9/pay").found, nullptr);
}

TEST(router, empty_segment_never_matches_a_parameter) {
    const auto r = sample_router();
    EXPECT_EQ(r.find(method::post, "/orders//pay").found, nullptr);
}

TEST(router, rejects_bad_tables) {
    const auto build = [](std::vector<route> routes) { return router(std::move(routes)); };
    std::vector<route> duplicate;
    duplicate.push_back(make(method::get, "/a/{x}"));
    duplicate.push_back(make(method::get, "/a/{x}"));
    EXPECT_THROW(build(std::move(duplicate)), std::invalid_argument);

    std::vector<route> trailing;
    trailing.push_back(make(method::get, "/a/"));
    EXPECT_THROW(build(std::move(trailing)), std::invalid_argument);

    std::vector<route> relative;
    relative.push_back(make(method::get, "a"));
    EXPECT_THROW(build(std::move(relative)), std::invalid_argument);

    std::vector<route> empty_segment;
    empty_segment.push_back(make(method::get, "/a//b"));
    EXPECT_THROW(build(std::move(empty_segment)), std::invalid_argument);

    std::vector<route> same_path_other_method;
    same_path_other_method.push_back(make(method::get, "/a"));
    same_path_other_method.push_back(make(method::post, "/a"));
    EXPECT_NO_THROW(build(std::move(same_path_other_method)));
}

}  // namespace
}  // namespace svc::http
