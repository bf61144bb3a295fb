#pragma once
// JSON Schema (2020-12, as OpenAPI 3.1 uses it) of described structs, read from the very
// declarations the decoder validates with: member types and json::field_rule (json/rules.hpp).
// What the decoder accepts, the schema allows, and the other way round:
//   std::string → string (minLength, maxLength, pattern, format); std::int64_t → integer
//   (minimum, maximum, default); bool → boolean; std::vector<T> → array (minItems, maxItems);
//   a described enum → its enumerator names;
//   a described struct → a named component, `required` = its non-optional members;
//   std::optional<T> → T or null, not required (the decoder treats null as absent, the
//   encoder writes an empty one as null).
// `unique_by` has no JSON Schema keyword: it becomes the extension "x-unique-by" and a
// sentence in the description. Unknown members are ignored by the decoder, so objects
// allow additional properties.
//
// Use: `.request_body = &openapi::schema_of<api::create_order_body>` in a route_doc.

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <boost/core/demangle.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/mp11/algorithm.hpp>

#include "json/rules.hpp"
#include "json/traits.hpp"

namespace svc::openapi {

namespace detail {

namespace jd = svc::json::detail;

// T::k_schema_name, or the type's own name in CamelCase ("order_body" → "OrderBody").
template <class T>
std::string schema_name() {
    if constexpr (json::has_schema_name<T>) {
        return std::string(T::k_schema_name);
    } else {
        std::string full = boost::core::demangle(typeid(T).name());
        if (const auto colon = full.rfind("::"); colon != std::string::npos) full.erase(0, colon + 2);
        std::string out;
        bool upper = true;
        for (const char c : full) {
            if (c == '_') {
                upper = true;
                continue;
            }
            out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
            upper = false;
        }
        return out;
    }
}

// Adds a rule's keywords to the schema of the rule's member (its non-null branch).
inline void apply_rule(boost::json::object& schema, const json::field_rule& rule) {
    if (rule.minimum) schema["minimum"] = *rule.minimum;
    if (rule.maximum) schema["maximum"] = *rule.maximum;
    if (rule.min_length) schema["minLength"] = *rule.min_length;
    if (rule.max_length) schema["maxLength"] = *rule.max_length;
    if (const auto regex = json::pattern_regex(rule.pattern); !regex.empty()) schema["pattern"] = regex;
    if (rule.min_items) schema["minItems"] = *rule.min_items;
    if (rule.max_items) schema["maxItems"] = *rule.max_items;
    if (!rule.unique_by.empty()) schema["x-unique-by"] = rule.unique_by;
    if (rule.default_integer) schema["default"] = *rule.default_integer;
    if (!rule.format.empty()) schema["format"] = rule.format;
}

inline std::string describe_rule(const json::field_rule& rule) {
    std::string text(rule.description);
    if (!rule.unique_by.empty()) {
        if (!text.empty()) text += ' ';
        text += "Each `" + std::string(rule.unique_by) + "` at most once.";
    }
    return text;
}

// {"type": X} → {"type": [X, "null"]} (and null joins an `enum`); any other schema, e.g. a
// $ref, → {"anyOf": [schema, {"type": "null"}]}. The description stays outside the branches.
inline boost::json::value nullable(boost::json::value schema) {
    auto& object = schema.as_object();
    if (auto* type = object.if_contains("type"); type != nullptr && type->is_string()) {
        *type = boost::json::array{*type, "null"};
        if (auto* values = object.if_contains("enum"); values != nullptr)
            values->as_array().emplace_back(nullptr);
        return schema;
    }
    boost::json::value description;
    if (const auto* d = object.if_contains("description"); d != nullptr) {
        description = *d;
        object.erase("description");
    }
    boost::json::object out{
        {"anyOf", boost::json::array{std::move(schema), boost::json::object{{"type", "null"}}}}};
    if (!description.is_null()) out["description"] = std::move(description);
    return out;
}

template <class T>
boost::json::value schema_for(boost::json::object& components, const json::field_rule* rule);

template <class T>
boost::json::value struct_schema_ref(boost::json::object& components) {
    const std::string name = schema_name<T>();
    if (!components.contains(name)) {
        components[name] = nullptr;  // reserve first: a recursive type refers to itself
        boost::json::object properties;
        boost::json::array required;
        boost::mp11::mp_for_each<jd::members_of<T>>([&](auto d) {
            using member_type = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
            properties[d.name] = schema_for<member_type>(components, json::rule_for<T>(d.name));
            if constexpr (!jd::is_optional<member_type>::value) required.emplace_back(d.name);
        });
        boost::json::object schema{{"type", "object"}, {"properties", std::move(properties)}};
        if (!required.empty()) schema["required"] = std::move(required);
        components[name] = std::move(schema);
    }
    return boost::json::object{{"$ref", "#/components/schemas/" + name}};
}

// The schema of a member of type T constrained by `rule` (null: no rule).
template <class T>
boost::json::value schema_for(boost::json::object& components, const json::field_rule* rule) {
    if constexpr (jd::is_optional<T>::value) {
        return nullable(schema_for<typename T::value_type>(components, rule));
    } else {
        boost::json::object schema;
        if constexpr (std::is_same_v<T, std::string>) {
            schema["type"] = "string";
        } else if constexpr (std::is_same_v<T, bool>) {
            schema["type"] = "boolean";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
            schema["type"] = "integer";
            schema["format"] = "int64";
        } else if constexpr (jd::described_enum<T>) {
            boost::json::array names;
            boost::mp11::mp_for_each<boost::describe::describe_enumerators<T>>([&](auto d) {
                names.emplace_back(d.name);
            });
            schema["type"] = "string";
            schema["enum"] = std::move(names);
        } else if constexpr (jd::is_vector<T>::value) {
            schema["type"] = "array";
            // A rule constrains the array member itself; elements have no rules of their own.
            schema["items"] = schema_for<typename T::value_type>(components, nullptr);
        } else if constexpr (jd::described_struct<T>) {
            // A $ref with only a description beside it, as OpenAPI 3.1 allows.
            schema = struct_schema_ref<T>(components).as_object();
        } else {
            static_assert(
                jd::dependent_false<T>, "openapi::schema_of: a member type the decoder does not support"
            );
        }
        if (rule != nullptr) {
            if constexpr (!jd::described_struct<T>) apply_rule(schema, *rule);
            if (const auto text = describe_rule(*rule); !text.empty()) schema["description"] = text;
        }
        return schema;
    }
}

}  // namespace detail

// The schema of T — for a described struct, {"$ref": "#/components/schemas/<Name>"} with
// <Name> and every type it uses added to `components`. Matches http::schema_fn, so a
// route_doc takes `&schema_of<T>`. Pure; callable from any thread.
template <class T>
boost::json::value schema_of(boost::json::object& components) {
    return detail::schema_for<T>(components, nullptr);
}

}  // namespace svc::openapi
