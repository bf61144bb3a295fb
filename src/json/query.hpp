#pragma once
// Query string → described struct, with the same rules and issue format as bodies; issue
// locations are {"query", "<name>"}. Every member of a query struct must be std::optional
// (a parameter is never required); values are text, so integers are parsed strictly from
// decimal text ("10"; not "1e1", " 10" or "10.0"), enums by name, strings as given (valid
// UTF-8 without NUL). Unknown parameters are ignored. A known parameter given twice
// (`limit=1&limit=500`) is an issue of its own ("repeated"), whatever its values: taking the
// first or the last would let a gateway and the service each act on a different request.
//
//     auto result = json::decode_query<order_list_query>(request.query);
//     malformed → 400 (broken percent-encoding), invalid → 422.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "json/decode.hpp"

namespace svc::json {

struct query_parameter {
    std::string name;   // percent-decoded
    std::string value;  // percent-decoded; "+" is a space
};

// Splits a raw query ("a=1&b=x%20y") into decoded parameters, in order. A parameter with no
// "=" has an empty value. nullopt when the percent-encoding is broken.
// A std::string, not a view: Boost.URL 1.81's parse_query rebuilds its result from the
// input's data() alone, with strlen, so the text must end in a NUL right where it ends (a
// view into a larger buffer is read past its end — found by tests/fuzz/request_fuzz.cpp).
std::optional<std::vector<query_parameter>> split_query(const std::string& raw);

namespace detail {

// The first parameter called `name` (null: none), and whether another one follows it.
struct parameter_lookup {
    const query_parameter* first = nullptr;
    bool repeated = false;
};
parameter_lookup find_parameter(const std::vector<query_parameter>& parameters, std::string_view name);
std::optional<std::string> read_text_parameter(reader& r, const std::string& value, const field_rule* rule);

template <class T>
std::optional<T> read_parameter(reader& r, const std::string& value, const field_rule* rule) {
    if constexpr (std::is_same_v<T, std::string>) {
        return read_text_parameter(r, value, rule);
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
        auto number = parse_decimal(value);
        if (!number) {
            r.fail("Input should be a valid integer, unable to parse string as an integer", "int_parsing");
            return std::nullopt;
        }
        const auto issues_before = r.issue_count();
        check_integer(r, *number, rule);
        if (r.issue_count() != issues_before) return std::nullopt;
        return number;
    } else if constexpr (described_enum<T>) {
        return read_enum_text<T>(r, value);
    } else {
        static_assert(dependent_false<T>, "json::decode_query: unsupported parameter type");
    }
}

}  // namespace detail

template <class T>
decode_result<T> decode_query(const std::string& raw) {  // see split_query: not a view
    auto parameters = split_query(raw);
    if (!parameters) return malformed{"Malformed query string"};
    reader r(std::string("query"));
    T out{};
    boost::mp11::mp_for_each<detail::members_of<T>>([&](auto d) {
        using member_type = std::remove_cvref_t<decltype(out.*d.pointer)>;
        static_assert(detail::is_optional<member_type>::value, "query parameters are optional members");
        const auto found = detail::find_parameter(*parameters, d.name);
        if (found.first == nullptr) return;
        r.enter(std::string(d.name));
        if (found.repeated) {
            r.fail("Parameter should be given once", "repeated");
        } else {
            out.*d.pointer = detail::read_parameter<typename member_type::value_type>(
                r, found.first->value, rule_for<T>(d.name)
            );
        }
        r.leave();
    });
    if (!r.ok()) return r.take_invalid();
    return out;
}

}  // namespace svc::json
