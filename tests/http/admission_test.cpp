// Admission without a socket: the refusals in their order (404/405, 401, 403, 429), what an
// admitted request hands its handler, and which checks a public route skips.
#include "http/admission.hpp"

#include <gtest/gtest.h>

namespace svc::http {
namespace {

using namespace std::chrono_literals;

boost::asio::awaitable<response> ok(route_context& /*context*/) {
    co_return response{};
}

router sample_routes() {
    std::vector<route> routes;
    routes.push_back({method::get, "/health", access::public_, ok, {}});
    routes.push_back({method::get, "/orders/{id}", access::user, ok, {}});
    routes.push_back({method::post, "/orders/{id}/pay", access::user, ok, {}});
    routes.push_back({method::delete_, "/orders/{id}", access::admin, ok, {}});
    return router(std::move(routes));
}

// "Bearer user" → alice, "Bearer admin" → root (admin), no header → missing, else invalid.
// Counts its calls, so a test can tell whether authentication ran.
struct counting_authenticator {
    int calls = 0;
    auth::result operator()(std::optional<std::string_view> header) {
        ++calls;
        if (!header) return auth::failure{"", false};
        if (*header == "Bearer user") return auth::principal{"alice", {}, false};
        if (*header == "Bearer admin") return auth::principal{"root", {"admin"}, true};
        return auth::failure{"Token has expired", true};
    }
};

class admission_test : public ::testing::Test {
protected:
    admission decide(method m, std::string path, std::optional<std::string> authorization = std::nullopt) {
        request_.method = m;
        request_.path = std::move(path);
        request_.headers.clear();
        if (authorization) request_.headers.push_back({"authorization", *authorization});
        const admission_rules rules{routes_, authenticate_, limiter_.get()};
        return admit(rules, {request_, "req-7", now_});
    }

    // The refusal inside `a`; `a` must outlive the reference.
    static const problem& refusal_of(const admission& a) {
        EXPECT_FALSE(a.admitted());
        return std::get<problem>(a.verdict);
    }

    static std::optional<std::string> header_of(const problem& p, std::string_view name) {
        const auto value = find_header(p.headers, name);
        return value ? std::optional<std::string>(*value) : std::nullopt;
    }

    router routes_ = sample_routes();
    counting_authenticator counter_;
    authenticator authenticate_ = std::ref(counter_);
    std::unique_ptr<rate_limiter> limiter_;
    rate_limiter::clock::time_point now_ = rate_limiter::clock::now();
    request request_;
};

TEST_F(admission_test, an_unknown_path_is_404_without_a_route_or_authentication) {
    const auto a = decide(method::get, "/nowhere", "Bearer user");
    EXPECT_EQ(a.matched, nullptr);
    const auto& p = refusal_of(a);
    EXPECT_EQ(p.status, 404U);
    EXPECT_EQ(p.type, "not_found");
    EXPECT_EQ(p.detail, "Not found");
    EXPECT_EQ(counter_.calls, 0);
}

TEST_F(admission_test, a_known_path_with_another_method_is_405_with_allow_before_authentication) {
    const auto a = decide(method::put, "/orders/42");
    EXPECT_EQ(a.matched, nullptr);  // one metrics label for every 404 and 405
    const auto& p = refusal_of(a);
    EXPECT_EQ(p.status, 405U);
    EXPECT_EQ(p.type, "method_not_allowed");
    EXPECT_EQ(header_of(p, "Allow"), "GET, HEAD, DELETE");
    EXPECT_EQ(counter_.calls, 0);
}

TEST_F(admission_test, no_token_is_401_bearer_with_a_default_detail) {
    const auto a = decide(method::get, "/orders/42");
    ASSERT_NE(a.matched, nullptr);
    EXPECT_EQ(a.matched->path_template, "/orders/{id}");  // the route label of the refusal
    const auto& p = refusal_of(a);
    EXPECT_EQ(p.status, 401U);
    EXPECT_EQ(p.type, "unauthorized");
    EXPECT_EQ(p.detail, "Not authenticated");
    EXPECT_EQ(header_of(p, "WWW-Authenticate"), "Bearer");
    EXPECT_EQ(counter_.calls, 1);
}

TEST_F(admission_test, a_bad_token_is_401_invalid_token_with_the_authenticators_detail) {
    const auto a = decide(method::get, "/orders/42", "Bearer stale");
    const auto& p = refusal_of(a);
    EXPECT_EQ(p.status, 401U);
    EXPECT_EQ(p.detail, "Token has expired");
    EXPECT_EQ(header_of(p, "WWW-Authenticate"), R"(Bearer error="invalid_token")");
}

TEST_F(admission_test, an_admin_route_refuses_a_user_with_403_and_admits_an_admin) {
    const auto refused = decide(method::delete_, "/orders/42", "Bearer user");
    ASSERT_NE(refused.matched, nullptr);
    const auto& p = refusal_of(refused);
    EXPECT_EQ(p.status, 403U);
    EXPECT_EQ(p.type, "forbidden");
    EXPECT_EQ(p.detail, "Admin role required");

    const auto admitted = decide(method::delete_, "/orders/42", "Bearer admin");
    ASSERT_TRUE(admitted.admitted());
    EXPECT_EQ(std::get<route_context>(admitted.verdict).principal->subject, "root");
}

TEST_F(admission_test, an_admitted_request_carries_route_params_principal_and_request_id) {
    const auto a = decide(method::post, "/orders/0190-ab/pay/", "Bearer user");
    ASSERT_TRUE(a.admitted());
    ASSERT_NE(a.matched, nullptr);
    EXPECT_EQ(a.matched->path_template, "/orders/{id}/pay");
    const auto& context = std::get<route_context>(a.verdict);
    EXPECT_EQ(&context.request, &request_);
    EXPECT_EQ(context.params.at("id"), "0190-ab");
    ASSERT_TRUE(context.principal);
    EXPECT_EQ(context.principal->subject, "alice");
    EXPECT_FALSE(context.principal->is_admin);
    EXPECT_EQ(context.request_id, "req-7");
}

TEST_F(admission_test, head_is_admitted_on_a_get_route) {
    const auto a = decide(method::head, "/health");
    ASSERT_TRUE(a.admitted());
    EXPECT_EQ(a.matched->path_template, "/health");
}

TEST_F(admission_test, a_public_route_is_neither_authenticated_nor_rate_limited) {
    limiter_ = std::make_unique<rate_limiter>(rate_limit_options{.per_second = 1, .burst = 1});
    for (int i = 0; i < 5; ++i) {
        const auto a = decide(method::get, "/health", "Bearer nonsense");
        ASSERT_TRUE(a.admitted()) << i;
        EXPECT_FALSE(std::get<route_context>(a.verdict).principal);
    }
    EXPECT_EQ(counter_.calls, 0);
    EXPECT_EQ(limiter_->clients(), 0U);
}

TEST_F(admission_test, over_the_rate_is_429_with_retry_after_per_subject) {
    limiter_ = std::make_unique<rate_limiter>(rate_limit_options{.per_second = 1, .burst = 2});
    EXPECT_TRUE(decide(method::get, "/orders/1", "Bearer user").admitted());
    EXPECT_TRUE(decide(method::get, "/orders/1", "Bearer user").admitted());
    const auto a = decide(method::get, "/orders/1", "Bearer user");
    ASSERT_NE(a.matched, nullptr);
    const auto& p = refusal_of(a);
    EXPECT_EQ(p.status, 429U);
    EXPECT_EQ(p.type, "rate_limited");
    EXPECT_EQ(p.detail, limiter_->refusal_detail());
    EXPECT_EQ(header_of(p, "Retry-After"), "1");
    // Another subject has its own bucket; the limiter's clock is the one passed in.
    EXPECT_TRUE(decide(method::delete_, "/orders/1", "Bearer admin").admitted());
    now_ += 1s;
    EXPECT_TRUE(decide(method::get, "/orders/1", "Bearer user").admitted());
}

TEST_F(admission_test, refusals_that_come_first_take_no_rate_limit_token) {
    limiter_ = std::make_unique<rate_limiter>(rate_limit_options{.per_second = 1, .burst = 1});
    // 401 and 403 do not spend the bucket: the next valid request of the subject is admitted.
    const auto forbidden = decide(method::delete_, "/orders/1", "Bearer user");
    EXPECT_EQ(refusal_of(forbidden).status, 403U);
    const auto unauthenticated = decide(method::get, "/orders/1", "Bearer bad");
    EXPECT_EQ(refusal_of(unauthenticated).status, 401U);
    EXPECT_TRUE(decide(method::get, "/orders/1", "Bearer user").admitted());
}

}  // namespace
}  // namespace svc::http
