// The API layer's pure parts: domain error → problem mapping (one function), the 422 body
// with loc arrays, request header readers, cursors, views, and the domain metrics.

#include <chrono>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "api/bodies.hpp"
#include "api/errors.hpp"
#include "api/metrics.hpp"
#include "api/request.hpp"
#include "json/encode.hpp"
#include "observability/metrics.hpp"

namespace svc::api {
namespace {

http::request with_header(std::string name, std::string value) {
    http::request r;
    r.headers.push_back({std::move(name), std::move(value)});
    return r;
}

unsigned status_of(const auto& thrower) {
    try {
        thrower();
    } catch (const http::problem_error& e) {
        return e.get().status;
    }
    return 0;
}

TEST(ToProblem, EachDomainErrorHasItsStatusAndType) {
    struct row {
        unsigned status;
        std::string type;
        http::problem p;
    };
    const row rows[] = {
        {404, "not_found", to_problem(orders::not_found("Order not found"))},
        {400, "business_error", to_problem(orders::business_error("Cannot modify shipped orders"))},
        {403, "forbidden", to_problem(orders::forbidden("no"))},
        {409, "conflict", to_problem(orders::conflict("exists"))},
        {412, "precondition_failed", to_problem(orders::precondition_failed("Order is at version 3"))},
        {422, "validation_error", to_problem(orders::idempotency_key_reused("reused"))},
        {503, "unavailable", to_problem(orders::unavailable("pool exhausted at db1:5432", 2))},
    };
    for (const auto& r : rows) {
        EXPECT_EQ(r.p.status, r.status) << r.type;
        EXPECT_EQ(r.p.type, r.type);
    }
    EXPECT_EQ(rows[1].p.detail, "Cannot modify shipped orders");
    // 503 says retry later, with Retry-After, and never the store's internal message.
    const auto& down = rows[6].p;
    EXPECT_EQ(down.detail.find("db1"), std::string::npos);
    ASSERT_EQ(down.headers.size(), 1U);
    EXPECT_EQ(down.headers[0].name, "Retry-After");
    EXPECT_EQ(down.headers[0].value, "2");
    // The idempotency mismatch points at the header.
    ASSERT_EQ(rows[5].p.errors.size(), 1U);
    EXPECT_EQ(rows[5].p.errors[0].loc, (std::vector<std::string>{"header", "Idempotency-Key"}));
}

TEST(ValidationProblem, TheBodyListsEveryIssueWithNumericIndices) {
    auto result =
        json::decode_body<order_create_body>(R"({"items": [{"product_id": "p1", "quantity": 0}, {}]})");
    const auto response = http::make_problem_response(validation_problem(std::get<json::invalid>(result)));
    EXPECT_EQ(response.status, 422U);
    const auto body = boost::json::parse(response.body).as_object();
    EXPECT_EQ(body.at("type"), "validation_error");
    const auto& errors = body.at("errors").as_array();
    ASSERT_EQ(errors.size(), 3U);
    EXPECT_EQ(errors[0].at("loc"), boost::json::parse(R"(["body", "items", 0, "quantity"])"));
    EXPECT_EQ(errors[1].at("loc"), boost::json::parse(R"(["body", "items", 1, "product_id"])"));
    EXPECT_EQ(errors[2].at("loc"), boost::json::parse(R"(["body", "items", 1, "quantity"])"));
    EXPECT_EQ(errors[1].at("type"), "missing");
    EXPECT_TRUE(errors[0].at("msg").is_string());
}

TEST(ValidationProblem, ACutListSaysSoInTheDetail) {
    std::string body = R"({"items": [)";
    for (int i = 0; i < 100; ++i) body += i == 0 ? "1" : ",1";
    const auto result = json::decode_body<order_create_body>(body + "]}");
    const auto response = http::make_problem_response(validation_problem(std::get<json::invalid>(result)));
    const auto parsed = boost::json::parse(response.body).as_object();
    EXPECT_EQ(parsed.at("type"), "validation_error");
    EXPECT_EQ(parsed.at("detail"), "Request validation failed; only the first 20 errors are listed");
    EXPECT_EQ(parsed.at("errors").as_array().size(), json::k_max_issues);
    EXPECT_LT(response.body.size(), 4096U);
}

TEST(Idempotency, TheFingerprintIsTheOwnerAndTheItemsAsASetAndNothingElse) {
    using items = std::vector<std::pair<std::string_view, std::int64_t>>;
    const auto reference = order_fingerprint("bob", items{{"p1", 1}, {"p2", 2}});
    EXPECT_EQ(order_fingerprint("bob", items{{"p2", 2}, {"p1", 1}}), reference);
    EXPECT_EQ(reference.size(), 64U);
    // Fields once joined by separators that the owner itself may contain: each is
    // length-prefixed now, so these no longer collide.
    EXPECT_NE(order_fingerprint("bob\np1:1", items{{"p2", 2}}), reference);
    EXPECT_NE(
        order_fingerprint("bob", items{{"p1", 12}}), order_fingerprint("bob", items{{"p1", 1}, {"2", 2}})
    );
    EXPECT_NE(order_fingerprint("bob1", items{{"p2", 2}}), order_fingerprint("bob", items{{"1p2", 2}}));
    EXPECT_NE(order_fingerprint("alice", items{{"p1", 1}, {"p2", 2}}), reference);
}

// The lines log_unavailable_cause writes, captured from spdlog's default logger.
class captured_log {
public:
    captured_log() : previous_(spdlog::default_logger()) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
        sink->set_pattern("%l %v");
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink));
    }
    ~captured_log() { spdlog::set_default_logger(previous_); }
    captured_log(const captured_log&) = delete;
    captured_log& operator=(const captured_log&) = delete;
    std::string text() const { return text_.str(); }

private:
    std::ostringstream text_;
    std::shared_ptr<spdlog::logger> previous_;
};

TEST(UnavailableCause, IsLoggedAtWarningAtMostOncePerIntervalWithTheCountOfAnswers) {
    const captured_log log;
    // Far from any time another test used, so the limiter's state from them does not matter.
    const auto start = std::chrono::steady_clock::now() + std::chrono::hours(24);
    log_unavailable_cause("pool_timeout: no connection within 1 s", start);
    for (int i = 1; i <= 50; ++i)
        log_unavailable_cause("busy: database is locked", start + std::chrono::milliseconds(i));
    log_unavailable_cause(
        "connection_lost: server closed the connection", start + k_unavailable_log_interval
    );
    EXPECT_EQ(
        log.text(),
        "warning database unavailable, answered 503: pool_timeout: no connection within 1 s (1 such "
        "answer(s) "
        "since the last line like this)\n"
        "warning database unavailable, answered 503: connection_lost: server closed the connection (51 such "
        "answer(s) since the last line like this)\n"
    );
}

TEST(UnavailableCause, IsNeverTheClients) {
    const auto problem =
        to_problem(orders::unavailable("The database is unavailable", 1, "busy: database is locked"));
    EXPECT_EQ(problem.status, 503U);
    EXPECT_EQ(problem.detail, "Service temporarily unavailable, retry later");
}

TEST(ContentType, OnlyJsonMediaTypesAreBodies) {
    EXPECT_TRUE(is_json_media_type("application/json"));
    EXPECT_TRUE(is_json_media_type("Application/JSON; charset=utf-8"));
    EXPECT_TRUE(is_json_media_type("application/merge-patch+json"));
    EXPECT_FALSE(is_json_media_type("text/json"));
    EXPECT_FALSE(is_json_media_type("application/jsonx"));
    EXPECT_FALSE(is_json_media_type("text/plain"));
    EXPECT_FALSE(is_json_media_type(""));
    EXPECT_EQ(status_of([] { require_json_content(http::request{}); }), 415U);
    EXPECT_EQ(status_of([] { require_json_content(with_header("content-type", "text/plain")); }), 415U);
    EXPECT_EQ(status_of([] { require_json_content(with_header("Content-Type", "application/json")); }), 0U);
}

TEST(ReadBody, MalformedIs400SchemaIs422) {
    auto request = with_header("Content-Type", "application/json");
    request.body = "{";
    EXPECT_EQ(status_of([&] { read_body<order_items_body>(request); }), 400U);
    request.body = R"({"items": []})";
    EXPECT_EQ(status_of([&] { read_body<order_items_body>(request); }), 422U);
    request.body = R"({"items": [{"product_id": "p1", "quantity": 1}]})";
    EXPECT_EQ(read_body<order_items_body>(request).items.size(), 1U);
}

TEST(IfMatch, TagsWeakTagsListsAndStar) {
    EXPECT_TRUE(read_if_match(http::request{}).versions.empty());
    EXPECT_TRUE(read_if_match(with_header("If-Match", "*")).versions.empty());
    EXPECT_EQ(read_if_match(with_header("If-Match", R"("3")")).versions, std::vector<std::int64_t>{3});
    EXPECT_EQ(read_if_match(with_header("If-Match", R"(W/"12")")).versions, std::vector<std::int64_t>{12});
    EXPECT_EQ(
        read_if_match(with_header("If-Match", R"("1", W/"2" ,"3")")).versions,
        (std::vector<std::int64_t>{1, 2, 3})
    );
    for (const char* bad :
         {"3", R"("")", R"("x")", R"("1",)", R"("-1")", R"("1.0")", R"("99999999999999999999")", ""}) {
        EXPECT_EQ(status_of([&] { read_if_match(with_header("If-Match", bad)); }), 400U) << bad;
    }
}

TEST(IdempotencyKey, VisibleAsciiOneTo255) {
    EXPECT_FALSE(read_idempotency_key(http::request{}));
    EXPECT_EQ(read_idempotency_key(with_header("Idempotency-Key", "abc-123")), "abc-123");
    EXPECT_EQ(
        read_idempotency_key(with_header("Idempotency-Key", std::string(255, '~'))), std::string(255, '~')
    );
    for (const std::string& bad :
         {std::string(),
          std::string(256, 'k'),
          std::string("a b"),
          std::string("a\tb"),
          std::string("caf\xc3\xa9"),
          std::string("a\x7f")}) {
        EXPECT_EQ(status_of([&] { read_idempotency_key(with_header("Idempotency-Key", bad)); }), 400U) << bad;
    }
}

TEST(Cursors, RoundTripAndRefuseForeignOrBrokenOnes) {
    const std::string id = "01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10";
    const auto cursor = encode_cursor(cursor_kind::order, id);
    EXPECT_EQ(
        cursor.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos
    );
    EXPECT_EQ(decode_cursor(cursor_kind::order, cursor), id);
    EXPECT_EQ(decode_cursor(cursor_kind::product, encode_cursor(cursor_kind::product, "p.1_x-Y")), "p.1_x-Y");
    const auto product_cursor = encode_cursor(cursor_kind::product, "p1");
    EXPECT_EQ(status_of([&] { decode_cursor(cursor_kind::order, product_cursor); }), 400U);
    EXPECT_EQ(status_of([&] { decode_cursor(cursor_kind::product, cursor); }), 400U);
    for (const char* bad :
         {"", "!!!!", "A", "cDpwIQ" /* p:p! */, "bzpub3QtYS11dWlk" /* o:not-a-uuid */, "cDo" /* p: */}) {
        EXPECT_EQ(status_of([&] { decode_cursor(cursor_kind::order, bad); }), 400U) << bad;
        EXPECT_EQ(status_of([&] { decode_cursor(cursor_kind::product, bad); }), 400U) << bad;
    }
}

TEST(Base64url, KnownVectorsAndStrictDecoding) {
    EXPECT_EQ(base64url_encode(""), "");
    EXPECT_EQ(base64url_encode("f"), "Zg");
    EXPECT_EQ(base64url_encode("fo"), "Zm8");
    EXPECT_EQ(base64url_encode("foo"), "Zm9v");
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
    EXPECT_EQ(base64url_decode("Zm9vYg"), "foob");
    EXPECT_EQ(base64url_decode("-_8"), "\xfb\xff");
    EXPECT_FALSE(base64url_decode("Zm9vY"));  // impossible length
    EXPECT_FALSE(base64url_decode("Zm9v+"));  // standard alphabet is not ours
    EXPECT_FALSE(base64url_decode("Zm9="));   // no padding
    EXPECT_FALSE(base64url_decode("Zh"));     // non-zero trailing bits
}

TEST(Sha256, KnownVector) {
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DomainMetrics, CountCreationsAndTransitionsByStatusNames) {
    obs::registry registry;
    domain_metrics metrics(registry);
    metrics.order_created(orders::order{});
    metrics.order_created(orders::order{});
    metrics.status_changed(orders::order_status::pending, orders::order_status::paid);
    const auto text = registry.expose();
    EXPECT_NE(text.find("orders_created_total 2"), std::string::npos) << text;
    EXPECT_NE(text.find(R"(order_status_transitions_total{from="pending",to="paid"} 1)"), std::string::npos)
        << text;
    domain_metrics again(registry);  // registering twice finds the same families
    again.order_created(orders::order{});
    EXPECT_NE(registry.expose().find("orders_created_total 3"), std::string::npos);
}

TEST(Views, OrdersSerialiseWithTheContractFieldsAndTimes) {
    orders::order o;
    o.id = "01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10";
    o.user_id = "alice";
    o.status = orders::order_status::paid;
    o.total_cents = 2598;
    o.version = 2;
    o.items = {{"p1", 2, 1299, 2598}};
    o.created_at = 1'764'547'200'000'001;
    o.updated_at = 1'764'547'200'500'000;
    EXPECT_EQ(
        json::to_text(to_view(o)),
        R"({"id":"01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10","user_id":"alice","status":"paid","currency":"USD",)"
        R"("total_cents":2598,"version":2,"items":[{"product_id":"p1","quantity":2,"unit_price_cents":1299,)"
        R"("line_total_cents":2598}],"created_at":"2025-12-01T00:00:00.000001Z","updated_at":"2025-12-01T00:00:00.500000Z"})"
    );
    product_page_view page;
    EXPECT_EQ(json::to_text(page), R"({"data":[],"next_cursor":null})");
}

// The reference for to_text: the same mapping as a boost::json::value tree.
template <class T>
boost::json::value to_value(const T& v) {
    if constexpr (std::is_same_v<T, std::string>) {
        return boost::json::value(boost::json::string_view(v));
    } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, bool>) {
        return boost::json::value(v);
    } else if constexpr (json::detail::described_enum<T>) {
        return boost::json::value(boost::json::string_view(json::detail::enumerator_name(v)));
    } else if constexpr (json::detail::is_optional<T>::value) {
        if (!v) return boost::json::value(nullptr);
        return to_value(*v);
    } else if constexpr (json::detail::is_vector<T>::value) {
        boost::json::array out;
        out.reserve(v.size());
        for (const auto& element : v) out.push_back(to_value(element));
        return out;
    } else if constexpr (json::detail::described_struct<T>) {
        boost::json::object out;
        out.reserve(boost::mp11::mp_size<json::detail::members_of<T>>::value);
        boost::mp11::mp_for_each<json::detail::members_of<T>>([&](auto d) {
            out.emplace(d.name, to_value(v.*d.pointer));
        });
        return out;
    } else {
        static_assert(json::detail::dependent_false<T>, "to_value: unsupported member type");
    }
}

// to_text writes JSON directly; boost::json::serialize of the to_value tree is the reference,
// byte for byte, on every byte value in strings and on the integer extremes.
TEST(Views, DirectTextMatchesBoostJsonSerialize) {
    std::string every_byte;
    for (int c = 0; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
    orders::order o;
    o.id = every_byte;
    o.user_id = "\"quoted\" \\ back/slash \u00e9t\u00e9 \xf0\x9f\x93\xa6";
    o.status = orders::order_status::cancelled;
    o.total_cents = std::numeric_limits<std::int64_t>::max();
    o.version = std::numeric_limits<std::int64_t>::min();
    o.items = {{every_byte, 0, -1, 1}, {"", 42, 0, 0}};
    order_page_view page;
    page.data = {to_view(o), to_view(o)};
    EXPECT_EQ(json::to_text(page), boost::json::serialize(to_value(page)));
    page.next_cursor = "c\n";
    EXPECT_EQ(json::to_text(page), boost::json::serialize(to_value(page)));
    product_view p = to_view(orders::product{});
    EXPECT_EQ(json::to_text(p), boost::json::serialize(to_value(p)));
    // And it parses back to the same strings (valid UTF-8 only: the parser checks it).
    o.id = every_byte.substr(0, 128);
    o.items.clear();
    const auto parsed = boost::json::parse(json::to_text(to_view(o)));
    EXPECT_EQ(parsed.at("id").as_string(), o.id);
    EXPECT_EQ(parsed.at("user_id").as_string(), o.user_id);
}

}  // namespace
}  // namespace svc::api
