// openapi::schema_of<T>: the JSON Schema read from member types and json::field_rule
// declarations. The decoder (json/decode.hpp) runs on the same types, so each constraint the
// schema states is checked against what the service actually accepts or refuses.

#include "openapi/schema.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "json/decode.hpp"

namespace svc::openapi {
namespace {

namespace bj = boost::json;

enum class colour { red, green };
BOOST_DESCRIBE_ENUM(colour, red, green)

struct line_body {
    std::string product_id;
    std::int64_t quantity = 0;

    static constexpr std::string_view k_schema_name = "Line";
    static constexpr json::field_rule k_rules[] = {
        {.field = "product_id", .min_length = 1, .max_length = 64, .pattern = json::text_pattern::identifier},
        {.field = "quantity", .minimum = 1, .maximum = 10000},
    };
};
BOOST_DESCRIBE_STRUCT(line_body, (), (product_id, quantity))

struct basket_body {
    std::vector<line_body> items;
    std::optional<std::string> note;
    std::optional<colour> colour_choice;
    std::optional<line_body> extra;
    bool gift = false;
    std::string user_id;

    static constexpr json::field_rule k_rules[] = {
        {.field = "items", .min_items = 1, .max_items = 3, .unique_by = "product_id"},
        {.field = "note", .max_length = 5, .description = "Free text."},
    };
};
BOOST_DESCRIBE_STRUCT(basket_body, (), (items, note, colour_choice, extra, gift, user_id))

bj::value parse(std::string_view text) {
    return bj::parse(text);
}

TEST(SchemaOf, NamedStructBecomesAComponentReference) {
    bj::object components;
    const auto schema = schema_of<basket_body>(components);
    EXPECT_EQ(schema, parse(R"({"$ref": "#/components/schemas/BasketBody"})"));
    ASSERT_TRUE(components.contains("BasketBody"));
    ASSERT_TRUE(components.contains("Line"));  // nested types come along, by k_schema_name
}

TEST(SchemaOf, RulesBecomeKeywordsAndOptionalMembersAreNotRequired) {
    bj::object components;
    schema_of<basket_body>(components);
    EXPECT_EQ(components.at("Line"), parse(R"({
        "type": "object",
        "properties": {
            "product_id": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9._-]+$"},
            "quantity": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 10000}
        },
        "required": ["product_id", "quantity"]
    })"));
    const auto& basket = components.at("BasketBody").as_object();
    EXPECT_EQ(basket.at("required"), parse(R"(["items", "gift", "user_id"])"));
    const auto& props = basket.at("properties").as_object();
    EXPECT_EQ(props.at("items"), parse(R"({
        "type": "array", "items": {"$ref": "#/components/schemas/Line"},
        "minItems": 1, "maxItems": 3, "x-unique-by": "product_id",
        "description": "Each `product_id` at most once."
    })"));
    EXPECT_EQ(
        props.at("note"),
        parse(R"({"type": ["string", "null"], "maxLength": 5, "description": "Free text."})")
    );
    EXPECT_EQ(
        props.at("extra"), parse(R"({"anyOf": [{"$ref": "#/components/schemas/Line"}, {"type": "null"}]})")
    );
    // The decoder takes null for "absent", the encoder writes an empty optional as null.
    EXPECT_EQ(
        props.at("colour_choice"), parse(R"({"type": ["string", "null"], "enum": ["red", "green", null]})")
    );
    EXPECT_EQ(props.at("gift"), parse(R"({"type": "boolean"})"));
    EXPECT_EQ(props.at("user_id"), parse(R"({"type": "string"})"));
}

// The schema states what the decoder does: each boundary the schema names is the decoder's.
TEST(SchemaOf, BoundariesAgreeWithTheDecoder) {
    const auto decodes = [](std::string_view body) {
        return std::holds_alternative<basket_body>(json::decode_body<basket_body>(body));
    };
    EXPECT_TRUE(
        decodes(R"({"items": [{"product_id": "p1", "quantity": 10000}], "gift": true, "user_id": "u"})")
    );
    EXPECT_FALSE(
        decodes(R"({"items": [{"product_id": "p1", "quantity": 10001}], "gift": true, "user_id": "u"})")
    );
    EXPECT_FALSE(decodes(R"({"items": [{"product_id": "p 1", "quantity": 1}], "gift": true, "user_id": "u"})")
    );
    EXPECT_FALSE(decodes(R"({"items": [], "gift": true, "user_id": "u"})"));          // minItems 1
    EXPECT_TRUE(decodes(R"({"items": [{"product_id": "p1", "quantity": 1}], "gift": true, "user_id": "u",
                            "note": null, "colour_choice": null, "extra": null})"));  // null = absent
    EXPECT_FALSE(decodes(R"({"items": [{"product_id": "p1", "quantity": 1}], "user_id": "u"})")
    );  // gift required
    EXPECT_FALSE(
        decodes(R"({"items": [{"product_id": "p1", "quantity": 1}, {"product_id": "p1", "quantity": 2}],
                             "gift": true, "user_id": "u"})")
    );  // x-unique-by
}

struct node_body {
    std::string name;
    std::vector<node_body> children;
    static constexpr std::string_view k_schema_name = "NodeBody";
};
BOOST_DESCRIBE_STRUCT(node_body, (), (name, children))

TEST(SchemaOf, RecursiveTypesTerminate) {
    bj::object components;
    schema_of<node_body>(components);
    EXPECT_EQ(
        components.at("NodeBody").at("properties").at("children").at("items"),
        parse(R"({"$ref": "#/components/schemas/NodeBody"})")
    );
}

}  // namespace
}  // namespace svc::openapi
