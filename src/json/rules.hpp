#pragma once
// Validation rules for described structs, declared ONCE next to the struct they constrain.
// The same declarations drive the decoder (json/decode.hpp: 422 with loc paths) and the JSON
// Schema emitter (openapi::schema_of in src/openapi, for the OpenAPI document), so docs and behaviour
// cannot drift.
//
// How a body or query type declares itself:
//
//     struct item_body {
//         std::string product_id;
//         std::int64_t quantity = 0;
//
//         static constexpr std::string_view k_schema_name = "ItemRequest";   // optional
//         static constexpr json::field_rule k_rules[] = {
//             {.field = "product_id", .min_length = 1, .max_length = 64,
//              .pattern = json::text_pattern::identifier},
//             {.field = "quantity", .minimum = 1, .maximum = 10000},
//         };
//     };
//     BOOST_DESCRIBE_STRUCT(item_body, (), (product_id, quantity))
//
// What the member TYPES say (no rule needed):
//   std::string → JSON string (no NUL, valid UTF-8); std::int64_t → JSON integer, strictly
//   (no "2", 1.5, 1.0 or true); bool → JSON boolean; std::vector<T> → array;
//   a described struct → object; a described enum → one of its enumerator names;
//   std::optional<T> → the member may be absent (or null); every other member is required.
// Unknown members of an object are ignored.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace svc::json {

// Character-level patterns the validator can check without a regex engine; each has the
// equivalent ECMA-262 regex for JSON Schema.
enum class text_pattern : std::uint8_t {
    any,
    identifier,  // ^[A-Za-z0-9._-]+$ — product ids
    visible,     // no control (C0, DEL, C1), line/paragraph separator or bidi control — user ids
};

// The JSON Schema `pattern` of `p`, or "" for `any`.
constexpr std::string_view pattern_regex(text_pattern p) {
    switch (p) {
        case text_pattern::identifier:
            return "^[A-Za-z0-9._-]+$";
        case text_pattern::visible:
            return R"(^[^\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]+$)";
        case text_pattern::any:
            break;
    }
    return "";
}

// The constraints of one member. Unset fields constrain nothing. Each applies to the
// member's JSON value (inside std::optional when the member is optional):
struct field_rule {
    std::string_view field;                         // the described member's name
    std::optional<std::int64_t> minimum{};          // integers, inclusive
    std::optional<std::int64_t> maximum{};          // integers, inclusive
    std::optional<std::size_t> min_length{};        // strings, in Unicode code points
    std::optional<std::size_t> max_length{};        // strings, in Unicode code points
    text_pattern pattern = text_pattern::any;       // strings
    std::optional<std::size_t> min_items{};         // arrays
    std::optional<std::size_t> max_items{};         // arrays
    std::string_view unique_by{};                   // arrays of structs: this member's value appears once
    std::optional<std::int64_t> default_integer{};  // documentation: the value used when absent
    std::string_view format{};                      // documentation: "date-time", "uuid", ...
    std::string_view description{};                 // documentation
};

template <class T>
concept has_rules = requires {
    std::span<const field_rule>(T::k_rules);
};

template <class T>
concept has_schema_name = requires {
    { T::k_schema_name } -> std::convertible_to<std::string_view>;
};

// The rules of T (empty when T declares none).
template <class T>
constexpr std::span<const field_rule> rules_of() {
    if constexpr (has_rules<T>) {
        return std::span<const field_rule>(T::k_rules);
    } else {
        return {};
    }
}

// The rule of T's member `member`, or null.
template <class T>
constexpr const field_rule* rule_for(std::string_view member) {
    for (const auto& rule : rules_of<T>()) {
        if (rule.field == member) return &rule;
    }
    return nullptr;
}

}  // namespace svc::json
