#pragma once
// Described struct → JSON. Members in declaration order; std::optional → null when empty;
// described enums → their enumerator name.
//
//     std::string text = json::to_text(view);
//
// to_text writes the text directly, without building a boost::json::value tree: responses are
// rendered on every request, and the tree's allocations were most of a page's cost. A test
// (tests/api/api_test.cpp) holds it, byte for byte, to boost::json::serialize of such a tree.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/mp11/algorithm.hpp>

#include "json/rules.hpp"
#include "json/traits.hpp"

namespace svc::json {

namespace detail {

template <class E>
std::string_view enumerator_name(E value) {
    std::string_view name = "unknown";
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto d) {
        if (value == d.value) name = d.name;
    });
    return name;
}

// Appends `text` as a JSON string literal, escaped as boost::json::serialize does: `"` and `\`,
// the short escapes \b \f \n \r \t, other control characters as \u00xx; all other bytes
// (UTF-8 included) as they are.
void append_quoted(std::string& out, std::string_view text);
void append_integer(std::string& out, std::int64_t value);

template <class T>
void append_value(std::string& out, const T& v) {
    if constexpr (std::is_same_v<T, std::string>) {
        append_quoted(out, v);
    } else if constexpr (std::is_same_v<T, bool>) {
        out += v ? "true" : "false";
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
        append_integer(out, v);
    } else if constexpr (described_enum<T>) {
        append_quoted(out, enumerator_name(v));
    } else if constexpr (is_optional<T>::value) {
        if (v) {
            append_value(out, *v);
        } else {
            out += "null";
        }
    } else if constexpr (is_vector<T>::value) {
        out.push_back('[');
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i != 0) out.push_back(',');
            append_value(out, v[i]);
        }
        out.push_back(']');
    } else if constexpr (described_struct<T>) {
        out.push_back('{');
        bool first = true;
        boost::mp11::mp_for_each<members_of<T>>([&](auto d) {
            if (!first) out.push_back(',');
            first = false;
            append_quoted(out, d.name);
            out.push_back(':');
            append_value(out, v.*d.pointer);
        });
        out.push_back('}');
    } else {
        static_assert(dependent_false<T>, "json::to_text: unsupported member type");
    }
}

}  // namespace detail

// Compact JSON text of `v`.
template <class T>
std::string to_text(const T& v) {
    std::string out;
    out.reserve(256);
    detail::append_value(out, v);
    return out;
}

// RFC 3339 UTC with microseconds, e.g. "2026-11-24T15:00:00.123456Z", for microseconds
// since the Unix epoch (years 0001-9999).
std::string format_utc_micros(std::int64_t micros_since_epoch);

// The inverse of format_utc_micros for exactly that form, or nullopt.
std::optional<std::int64_t> parse_utc_micros(std::string_view text);

}  // namespace svc::json
