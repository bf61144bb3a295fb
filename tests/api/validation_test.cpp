// Request validation as the API does it: the real body and query types of src/api/bodies.hpp
// decoded by src/json. Every failure is reported, with its loc path; no type coercion.

#include <random>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "api/bodies.hpp"
#include "json/decode.hpp"
#include "json/encode.hpp"
#include "json/query.hpp"

namespace svc::api {
namespace {

// One issue flattened for comparison: "body/items/0/quantity:less_than_equal".
std::string flat(const json::issue& issue) {
    std::string out;
    for (const auto& segment : issue.loc) {
        if (!out.empty()) out += '/';
        if (const auto* name = std::get_if<std::string>(&segment)) {
            out += *name;
        } else {
            out += std::to_string(std::get<std::size_t>(segment));
        }
    }
    return out + ":" + issue.type;
}

template <class T>
std::vector<std::string> issues_of(const json::decode_result<T>& result) {
    std::vector<std::string> out;
    if (const auto* bad = std::get_if<json::invalid>(&result)) {
        for (const auto& issue : bad->issues) out.push_back(flat(issue));
    }
    return out;
}

template <class T>
std::vector<std::string> body_issues(std::string_view text) {
    return issues_of(json::decode_body<T>(text));
}

template <class T>
bool malformed(std::string_view text) {
    return std::holds_alternative<json::malformed>(json::decode_body<T>(text));
}

using list = std::vector<std::string>;

TEST(CreateOrderBody, AValidBodyDecodesAndUnknownFieldsAreIgnored) {
    auto result = json::decode_body<order_create_body>(
        R"({"items": [{"product_id": "p1", "quantity": 2, "note": "x"}], "coupon": "FREE"})"
    );
    ASSERT_TRUE(std::holds_alternative<order_create_body>(result));
    const auto& body = std::get<order_create_body>(result);
    ASSERT_EQ(body.items.size(), 1U);
    EXPECT_EQ(body.items[0].product_id, "p1");
    EXPECT_EQ(body.items[0].quantity, 2);
    EXPECT_FALSE(body.user_id);
}

TEST(CreateOrderBody, UserIdIsAStringNeverANumber) {
    auto as_text = json::decode_body<order_create_body>(
        R"({"user_id": "alice", "items": [{"product_id": "p1", "quantity": 1}]})"
    );
    ASSERT_TRUE(std::holds_alternative<order_create_body>(as_text));
    EXPECT_EQ(std::get<order_create_body>(as_text).user_id, "alice");

    EXPECT_EQ(
        body_issues<order_create_body>(R"({"user_id": 7, "items": [{"product_id": "p1", "quantity": 1}]})"),
        list{"body/user_id:string_type"}
    );
    EXPECT_EQ(
        body_issues<order_create_body>(R"({"user_id": 1.5, "items": [{"product_id": "p1", "quantity": 1}]})"),
        list{"body/user_id:string_type"}
    );
    EXPECT_EQ(
        body_issues<order_create_body>(R"({"user_id": true, "items": [{"product_id": "p1", "quantity": 1}]})"
        ),
        list{"body/user_id:string_type"}
    );
    EXPECT_EQ(
        body_issues<order_create_body>(R"({"user_id": "", "items": [{"product_id": "p1", "quantity": 1}]})"),
        list{"body/user_id:string_too_short"}
    );
}

// Characters that hide or reorder text make one user id pass for another on a screen.
TEST(CreateOrderBody, UserIdRefusesControlSeparatorAndBidiCharacters) {
    for (const char* hidden :
         {"\\u0001",
          "\\u001f",
          "\\u007f",
          "\\u0085",
          "\\u009f",
          "\\u2028",
          "\\u2029",
          "\\u202a",
          "\\u202e",
          "\\u2066",
          "\\u2069",
          "\\n"}) {
        const std::string body = std::string(R"({"user_id": "bob)") + hidden +
                                 R"(", "items": [{"product_id": "p1", "quantity": 1}]})";
        EXPECT_EQ(body_issues<order_create_body>(body), list{"body/user_id:string_pattern_mismatch"}) << body;
    }
    for (const char* visible :
         {"zo\\u00eb", "\\u00a0bob", "\\u202f", "\\u2065", "\\u206a", "bob\\ud83d\\ude00"}) {
        const std::string body = std::string(R"({"user_id": ")") + visible +
                                 R"(", "items": [{"product_id": "p1", "quantity": 1}]})";
        EXPECT_TRUE(body_issues<order_create_body>(body).empty()) << body;
    }
    for (const char* hidden : {"%0A", "%C2%85", "%E2%80%AE", "%E2%81%A6"}) {
        EXPECT_EQ(
            issues_of(json::decode_query<order_list_query>(std::string("user_id=bob") + hidden)),
            list{"query/user_id:string_pattern_mismatch"}
        ) << hidden;
    }
    EXPECT_TRUE(issues_of(json::decode_query<order_list_query>("user_id=zo%C3%AB")).empty());
}

TEST(CreateOrderBody, EveryFailureIsReportedWithItsLocation) {
    const auto issues = body_issues<order_create_body>(R"({"items": [
        {"product_id": "p1", "quantity": "2"},
        {"product_id": "p 2", "quantity": 1.5},
        {"quantity": true},
        {"product_id": "p4", "quantity": 0},
        {"product_id": "p5", "quantity": 10001},
        {"product_id": 7, "quantity": 1}
    ]})");
    EXPECT_EQ(
        issues,
        (list{
            "body/items/0/quantity:int_type",
            "body/items/1/product_id:string_pattern_mismatch",
            "body/items/1/quantity:int_from_float",
            "body/items/2/product_id:missing",
            "body/items/2/quantity:int_type",
            "body/items/3/quantity:greater_than_equal",
            "body/items/4/quantity:less_than_equal",
            "body/items/5/product_id:string_type",
        })
    );
}

TEST(CreateOrderBody, IntegersAreStrictNoCoercion) {
    for (const char* quantity : {R"("2")", "1.5", "1.0", "2e0", "true", "null", "[2]", "{}"}) {
        const auto text = std::string(R"({"items": [{"product_id": "p1", "quantity": )") + quantity + "}]}";
        const auto issues = body_issues<order_create_body>(text);
        ASSERT_EQ(issues.size(), 1U) << quantity;
        EXPECT_TRUE(issues[0].starts_with("body/items/0/quantity:")) << quantity << " → " << issues[0];
    }
    EXPECT_EQ(
        body_issues<order_create_body>(R"({"items": [{"product_id": "p1", "quantity": 9223372036854775808}]})"
        ),
        list{"body/items/0/quantity:int_overflow"}
    );
    // Past UINT64_MAX and below INT64_MIN the parser holds the number as a double: still an
    // integer that does not fit, not a fraction.
    for (const std::string quantity : {"18446744073709551616", "-9223372036854775809", "1e19"}) {
        const auto text = std::string(R"({"items": [{"product_id": "p1", "quantity": )") + quantity + "}]}";
        EXPECT_EQ(body_issues<order_create_body>(text), list{"body/items/0/quantity:int_overflow"})
            << quantity;
    }
    EXPECT_EQ(
        body_issues<order_create_body>(R"({"items": [{"product_id": "p1", "quantity": 1e3}]})"),
        list{"body/items/0/quantity:int_from_float"}
    );
}

TEST(CreateOrderBody, ItemsCountAndUniquenessRules) {
    EXPECT_EQ(body_issues<order_create_body>(R"({"items": []})"), list{"body/items:too_short"});
    EXPECT_EQ(body_issues<order_create_body>(R"({})"), list{"body/items:missing"});
    EXPECT_EQ(body_issues<order_create_body>(R"({"items": {}})"), list{"body/items:list_type"});

    std::string hundred_and_one = R"({"items": [)";
    for (int i = 0; i < 101; ++i) {
        if (i > 0) hundred_and_one += ",";
        hundred_and_one += R"({"product_id": "p)" + std::to_string(i) + R"(", "quantity": 1})";
    }
    hundred_and_one += "]}";
    EXPECT_EQ(body_issues<order_create_body>(hundred_and_one), list{"body/items:too_long"});

    EXPECT_EQ(
        body_issues<order_create_body>(
            R"({"items": [{"product_id": "a", "quantity": 1}, {"product_id": "b", "quantity": 1}, {"product_id": "a", "quantity": 2}]})"
        ),
        list{"body/items/2/product_id:unique_items"}
    );
}

std::string items_array(std::size_t count, std::string_view element) {
    std::string text = R"({"items": [)";
    for (std::size_t i = 0; i < count; ++i) {
        if (i > 0) text += ",";
        text += element;
    }
    return text + "]}";
}

// 300,000 bad elements used to give 300,001 issues (a 26 MB answer to a 600 KB body).
TEST(Bodies, AnOverLongArrayIsOneIssueItsElementsAreNotValidated) {
    const auto result = json::decode_body<order_create_body>(items_array(300'000, "1"));
    ASSERT_TRUE(std::holds_alternative<json::invalid>(result));
    EXPECT_EQ(issues_of(result), list{"body/items:too_long"});
    EXPECT_FALSE(std::get<json::invalid>(result).truncated);
}

TEST(Bodies, IssuesStopAtTheLimitAndSaySo) {
    const auto result = json::decode_body<order_create_body>(items_array(100, "1"));
    const auto& found = std::get<json::invalid>(result);
    ASSERT_EQ(found.issues.size(), json::k_max_issues);
    EXPECT_TRUE(found.truncated);
    for (std::size_t i = 0; i < json::k_max_issues; ++i) {
        EXPECT_EQ(flat(found.issues[i]), "body/items/" + std::to_string(i) + ":object_type");
    }
    // Exactly at the limit nothing is left out.
    const auto at_limit = json::decode_body<order_create_body>(items_array(json::k_max_issues, "1"));
    EXPECT_EQ(std::get<json::invalid>(at_limit).issues.size(), json::k_max_issues);
    EXPECT_FALSE(std::get<json::invalid>(at_limit).truncated);
    // Two issues per element: the walk stops inside the eleventh.
    const auto two_each = json::decode_body<order_create_body>(items_array(50, R"({"quantity": 0})"));
    EXPECT_EQ(std::get<json::invalid>(two_each).issues.size(), json::k_max_issues);
    EXPECT_TRUE(std::get<json::invalid>(two_each).truncated);
}

TEST(Bodies, TheTopLevelMustBeAnObject) {
    for (const char* text : {"[]", "1", R"("x")", "null", "true"}) {
        EXPECT_EQ(body_issues<order_create_body>(text), list{"body:object_type"}) << text;
    }
}

TEST(Bodies, MalformedJsonDeepNestingAndBadUnicodeAreNotValidationErrors) {
    EXPECT_TRUE(malformed<order_create_body>(""));
    EXPECT_TRUE(malformed<order_create_body>(R"({"items": [)"));
    EXPECT_TRUE(malformed<order_create_body>(R"({"items": []} trailing)"));
    EXPECT_TRUE(malformed<order_create_body>(R"({"items": [],})"));
    EXPECT_TRUE(malformed<order_create_body>("{\"items\": [] /* comment */}"));
    EXPECT_TRUE(malformed<order_create_body>(std::string(100, '[') + std::string(100, ']')));
    EXPECT_TRUE(
        malformed<product_create_body>(R"({"id": "p1", "name": "\ud800", "price_cents": 1, "stock": 1})")
    );
    EXPECT_TRUE(
        malformed<product_create_body>(R"({"id": "p1", "name": "\udc00x", "price_cents": 1, "stock": 1})")
    );
    EXPECT_TRUE(malformed<product_create_body>(
        "{\"id\": \"p1\", \"name\": \"\xff\xfe\", \"price_cents\": 1, \"stock\": 1}"
    ));
    EXPECT_TRUE(malformed<product_create_body>(
        "{\"id\": \"p1\", \"name\": \"\xc0\xaf\", \"price_cents\": 1, \"stock\": 1}"
    ));
}

TEST(ProductCreateBody, RangesLengthsAndPattern) {
    EXPECT_TRUE(body_issues<product_create_body>(
                    R"({"id": "p1", "name": "Beans", "price_cents": 0, "stock": 1000000000})"
    )
                    .empty());
    const auto issues = body_issues<product_create_body>(
        R"({"id": "p/1", "name": "", "price_cents": -1, "stock": 1000000001})"
    );
    EXPECT_EQ(
        issues,
        (list{
            "body/id:string_pattern_mismatch",
            "body/name:string_too_short",
            "body/price_cents:greater_than_equal",
            "body/stock:less_than_equal",
        })
    );
    EXPECT_EQ(
        body_issues<product_create_body>(
            R"({"id": ")" + std::string(65, 'a') + R"(", "name": "x", "price_cents": 1, "stock": 1})"
        ),
        list{"body/id:string_too_long"}
    );
    EXPECT_EQ(
        body_issues<product_create_body>(R"({"name": "x"})"),
        (list{"body/id:missing", "body/price_cents:missing", "body/stock:missing"})
    );
}

TEST(ProductCreateBody, NameLengthCountsCodePointsAndNulIsRefused) {
    std::string two_hundred_euros;
    for (int i = 0; i < 200; ++i) two_hundred_euros += "\xe2\x82\xac";  // 600 bytes, 200 chars
    const auto body = [](const std::string& name) {
        return R"({"id": "p1", "name": ")" + name + R"(", "price_cents": 1, "stock": 1})";
    };
    EXPECT_TRUE(body_issues<product_create_body>(body(two_hundred_euros)).empty());
    EXPECT_EQ(
        body_issues<product_create_body>(body(two_hundred_euros + "x")), list{"body/name:string_too_long"}
    );
    EXPECT_EQ(body_issues<product_create_body>(body(R"(a\u0000b)")), list{"body/name:string_nul"});
    // Text is stored exactly as sent: an astral character survives decoding unchanged.
    auto decoded = json::decode_body<product_create_body>(body(R"(\ud83d\ude00 beans)"));
    EXPECT_EQ(std::get<product_create_body>(decoded).name, "\xf0\x9f\x98\x80 beans");
}

TEST(ProductPatchBody, AllFieldsOptionalNullMeansUnchanged) {
    auto empty = json::decode_body<product_patch_body>("{}");
    ASSERT_TRUE(std::holds_alternative<product_patch_body>(empty));
    auto nulls = json::decode_body<product_patch_body>(R"({"name": null, "stock": 5})");
    ASSERT_TRUE(std::holds_alternative<product_patch_body>(nulls));
    EXPECT_FALSE(std::get<product_patch_body>(nulls).name);
    EXPECT_EQ(std::get<product_patch_body>(nulls).stock, 5);
    EXPECT_EQ(
        body_issues<product_patch_body>(R"({"price_cents": "5", "name": 3})"),
        (list{"body/name:string_type", "body/price_cents:int_type"})
    );
}

TEST(Queries, LimitIsAStrictIntegerInRange) {
    const auto q = [](const std::string& raw) {
        return issues_of(json::decode_query<order_list_query>(raw));
    };
    EXPECT_TRUE(q("").empty());
    EXPECT_EQ(q("limit=abc"), list{"query/limit:int_parsing"});
    EXPECT_EQ(q("limit=1.5"), list{"query/limit:int_parsing"});
    EXPECT_EQ(q("limit=+5"), list{"query/limit:int_parsing"});
    EXPECT_EQ(q("limit="), list{"query/limit:int_parsing"});
    EXPECT_EQ(q("limit=0"), list{"query/limit:greater_than_equal"});
    EXPECT_EQ(q("limit=201"), list{"query/limit:less_than_equal"});
    EXPECT_EQ(q("limit=99999999999999999999"), list{"query/limit:int_parsing"});
    auto ok = json::decode_query<order_list_query>("limit=200&status=paid&user_id=bob&unknown=1");
    ASSERT_TRUE(std::holds_alternative<order_list_query>(ok));
    EXPECT_EQ(std::get<order_list_query>(ok).limit, 200);
    EXPECT_EQ(std::get<order_list_query>(ok).status, orders::order_status::paid);
    EXPECT_EQ(std::get<order_list_query>(ok).user_id, "bob");
}

TEST(Queries, AKnownParameterGivenTwiceIsRefusedWhateverItsValues) {
    const auto q = [](const std::string& raw) {
        return issues_of(json::decode_query<order_list_query>(raw));
    };
    EXPECT_EQ(q("limit=1&limit=500"), list{"query/limit:repeated"});
    EXPECT_EQ(q("limit=1&limit=abc"), list{"query/limit:repeated"});
    EXPECT_EQ(q("limit=5&limit=5"), list{"query/limit:repeated"});
    EXPECT_EQ(q("status=pending&status=bogus"), list{"query/status:repeated"});
    EXPECT_EQ(q("status=pending&limit=2&status=paid"), list{"query/status:repeated"});
    EXPECT_EQ(
        q("user_id=a&cursor=x&user_id=a&cursor=y"), (list{"query/cursor:repeated", "query/user_id:repeated"})
    );
    EXPECT_EQ(q("user_id=a&user_id"), list{"query/user_id:repeated"});  // a bare name counts too
    EXPECT_TRUE(q("unknown=1&unknown=2&limit=3").empty());              // unknown ones are ignored
}

TEST(Queries, StatusMustBeAKnownNameAndTextMustBeValid) {
    const auto q = [](const std::string& raw) {
        return issues_of(json::decode_query<order_list_query>(raw));
    };
    EXPECT_EQ(q("status=refunded"), list{"query/status:enum"});
    EXPECT_EQ(q("status=PAID"), list{"query/status:enum"});
    EXPECT_EQ(q("user_id=%00"), list{"query/user_id:string_nul"});
    EXPECT_EQ(q("user_id=%ff"), list{"query/user_id:string_unicode"});
    EXPECT_EQ(q("limit=x&status=y"), (list{"query/limit:int_parsing", "query/status:enum"}));
    auto decoded = json::decode_query<order_list_query>("user_id=a%20b+c");
    EXPECT_EQ(std::get<order_list_query>(decoded).user_id, "a b c");
    EXPECT_TRUE(std::holds_alternative<json::malformed>(json::decode_query<order_list_query>("user_id=%zz")));
}

TEST(Times, Rfc3339MicrosecondsRoundTrip) {
    for (const orders::timestamp t :
         {0LL, 1LL, 999'999LL, 1'764'547'200'123'456LL, 253'402'300'799'999'999LL, -1LL}) {
        const auto text = json::format_utc_micros(t);
        EXPECT_EQ(text.size(), 27U) << text;
        EXPECT_EQ(json::parse_utc_micros(text), t) << text;
    }
    EXPECT_EQ(json::format_utc_micros(0), "1970-01-01T00:00:00.000000Z");
    EXPECT_EQ(json::format_utc_micros(-1), "1969-12-31T23:59:59.999999Z");
    EXPECT_FALSE(json::parse_utc_micros("2025-02-30T00:00:00.000000Z"));
    EXPECT_FALSE(json::parse_utc_micros("2025-12-01 00:00:00.000000Z"));
}

TEST(Utf8, LengthCountsCodePointsAndRejectsInvalidSequences) {
    EXPECT_EQ(json::utf8_length(""), 0U);
    EXPECT_EQ(json::utf8_length("abc"), 3U);
    EXPECT_EQ(json::utf8_length("\xe2\x82\xac\xf0\x9f\x98\x80"), 2U);
    EXPECT_FALSE(json::utf8_length("\xed\xa0\x80"));      // UTF-8-encoded surrogate U+D800
    EXPECT_FALSE(json::utf8_length("\xc0\x80"));          // overlong NUL
    EXPECT_FALSE(json::utf8_length("\xf4\x90\x80\x80"));  // past U+10FFFF
    EXPECT_FALSE(json::utf8_length("\xe2\x82"));          // truncated
    EXPECT_FALSE(json::utf8_length("\x80"));              // lone continuation byte
}

// Random byte mutations of a valid body: the decoder never throws, and whatever it accepts
// holds only valid text (so nothing it lets through can make a later layer fail).
TEST(Robustness, MutatedBodiesAreAcceptedRefusedOrMalformedNeverAnException) {
    const std::string valid =
        R"({"user_id": "alice", "items": [{"product_id": "p1", "quantity": 2}, {"product_id": "p2", "quantity": 1}]})";
    std::mt19937 rng(20261201);
    int accepted = 0, refused = 0, broken = 0;
    for (int round = 0; round < 20'000; ++round) {
        std::string body = valid;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const auto at = rng() % body.size();
            switch (rng() % 3) {
                case 0:
                    body[at] = static_cast<char>(rng() % 256);
                    break;
                case 1:
                    body.erase(at, 1);
                    break;
                default:
                    body.insert(at, 1, static_cast<char>(rng() % 256));
                    break;
            }
        }
        json::decode_result<order_create_body> result = json::malformed{};
        ASSERT_NO_THROW(result = json::decode_body<order_create_body>(body)) << body;
        if (const auto* ok = std::get_if<order_create_body>(&result)) {
            ++accepted;
            ASSERT_FALSE(ok->items.empty());
            for (const auto& item : ok->items) {
                ASSERT_TRUE(orders::limits::is_product_id(item.product_id)) << body;
                ASSERT_GE(item.quantity, 1);
                ASSERT_LE(item.quantity, 10'000);
            }
            if (ok->user_id) {
                ASSERT_TRUE(json::utf8_length(*ok->user_id).has_value()) << body;
                ASSERT_EQ(ok->user_id->find('\0'), std::string::npos) << body;
            }
        } else if (std::holds_alternative<json::invalid>(result)) {
            ++refused;
            ASSERT_FALSE(std::get<json::invalid>(result).issues.empty());
        } else {
            ++broken;
        }
    }
    // The mutations reach all three outcomes (the test would be blind otherwise).
    EXPECT_GT(accepted, 0);
    EXPECT_GT(refused, 0);
    EXPECT_GT(broken, 0);
}

}  // namespace
}  // namespace svc::api
