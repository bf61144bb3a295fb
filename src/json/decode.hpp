#pragma once
// JSON → described struct, validating as it goes and collecting the failures with their
// locations, so one 422 answer lists them — up to k_max_issues: a hostile body must not turn
// into an answer many times its size. Types and json/rules.hpp say what is valid.
//
//     auto result = json::decode_body<create_order_body>(request.body);
//     if (auto* bad = std::get_if<json::malformed>(&result)) → 400 (not JSON, too deep)
//     if (auto* bad = std::get_if<json::invalid>(&result))   → 422 with bad->issues
//     auto& body = std::get<create_order_body>(result);
//
// Pure; no exceptions for bad input (only std::bad_alloc escapes).

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/describe/enum_from_string.hpp>
#include <boost/json/value.hpp>
#include <boost/mp11/algorithm.hpp>

#include "json/rules.hpp"
#include "json/traits.hpp"

namespace svc::json {

// One step of a location: a member name or an array index.
using loc_segment = std::variant<std::string, std::size_t>;

// One validation failure. `type` is a short machine-readable code (pydantic's vocabulary:
// "missing", "int_type", "string_too_long", "less_than_equal", ...).
struct issue {
    std::vector<loc_segment> loc;  // e.g. {"body", "items", 0, "quantity"}
    std::string msg;
    std::string type;
};

// Not JSON at all, or nested deeper than the limit. → 400 bad_request
struct malformed {
    std::string detail;
};

// Well-formed JSON that breaks the schema. → 422 validation_error
struct invalid {
    std::vector<issue> issues;  // at most k_max_issues, in the order found
    bool truncated = false;     // more failures were found than `issues` holds
};

// The most failures one answer lists. The walk stops at the next one found, so a body of
// 300,000 bad elements costs what 21 cost, and its 422 stays a few KiB.
inline constexpr std::size_t k_max_issues = 20;

template <class T>
using decode_result = std::variant<T, malformed, invalid>;

// Nesting limit for request bodies. Our deepest body is 3 levels; the limit only keeps
// hostile input from costing stack and time.
inline constexpr std::size_t k_max_body_depth = 16;

// Parses `text` as one JSON value (depth-limited, strict RFC 8259: no comments, no trailing
// commas, valid UTF-8 only — lone surrogate escapes are rejected too).
std::variant<boost::json::value, malformed> parse(
    std::string_view text, std::size_t max_depth = k_max_body_depth
);

// Number of Unicode code points in `text`, or nullopt when it is not valid UTF-8
// (overlong forms, surrogates and code points past U+10FFFF are invalid).
std::optional<std::size_t> utf8_length(std::string_view text);

// The strict decimal integer in `text` ("-12"; no "+", spaces, "1.0" or "0x1"), or nullopt.
std::optional<std::int64_t> parse_decimal(std::string_view text);

// Collects issues while a value is walked; tracks the current location. Keeps the first
// k_max_issues; the one after them marks the reader `stopped`, and the walk ends there (every
// loop over members or elements checks it).
class reader {
public:
    explicit reader(loc_segment root) { location_.push_back(std::move(root)); }

    void fail(std::string msg, std::string type) {
        ++found_;
        if (issues_.size() < k_max_issues) issues_.push_back({location_, std::move(msg), std::move(type)});
    }
    void enter(loc_segment segment) { location_.push_back(std::move(segment)); }
    void leave() { location_.pop_back(); }

    bool ok() const { return found_ == 0; }
    bool stopped() const { return found_ > k_max_issues; }
    // Every failure found, also those past the limit (a read compares it before and after).
    std::size_t issue_count() const { return found_; }
    invalid take_invalid() { return invalid{std::move(issues_), stopped()}; }

private:
    std::vector<loc_segment> location_;
    std::vector<issue> issues_;
    std::size_t found_ = 0;
};

namespace detail {

// Checks a rule's string constraints on an already type-checked string.
void check_text(reader& r, std::string_view text, const field_rule* rule);
void check_integer(reader& r, std::int64_t value, const field_rule* rule);
void check_items(reader& r, std::size_t count, const field_rule* rule);
void fail_duplicate(reader& r, std::string_view member, std::string_view value);
std::string enum_expectation(std::span<const std::string_view> names);

// Reads a JSON integer strictly: int64, or uint64 within range; never double or bool.
std::optional<std::int64_t> read_integer(reader& r, const boost::json::value& v, const field_rule* rule);
std::optional<std::string> read_string(reader& r, const boost::json::value& v, const field_rule* rule);

template <class E>
std::vector<std::string_view> enumerator_names() {
    std::vector<std::string_view> names;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto d) {
        names.push_back(d.name);
    });
    return names;
}

template <class E>
std::optional<E> enum_from_name(std::string_view name) {
    std::optional<E> found;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto d) {
        if (!found && name == d.name) found = d.value;
    });
    return found;
}

template <class E>
std::optional<E> read_enum_text(reader& r, std::string_view text) {
    if (auto value = enum_from_name<E>(text)) return value;
    const auto names = enumerator_names<E>();
    r.fail(enum_expectation(names), "enum");
    return std::nullopt;
}

template <class T>
std::optional<T> read(reader& r, const boost::json::value& v, const field_rule* rule);

// For arrays of structs with `unique_by`: reports every element whose member repeats an
// earlier one, at that element's member.
template <class Element>
void check_unique(reader& r, const std::vector<Element>& elements, std::string_view member) {
    if constexpr (described_struct<Element>) {
        std::set<std::string, std::less<>> seen;
        for (std::size_t i = 0; i < elements.size() && !r.stopped(); ++i) {
            boost::mp11::mp_for_each<members_of<Element>>([&](auto d) {
                using member_type = std::remove_cvref_t<decltype(elements[i].*d.pointer)>;
                if constexpr (std::is_same_v<member_type, std::string>) {
                    if (member != d.name) return;
                    const std::string& value = elements[i].*d.pointer;
                    if (!seen.insert(value).second) {
                        r.enter(i);
                        r.enter(std::string(d.name));
                        fail_duplicate(r, d.name, value);
                        r.leave();
                        r.leave();
                    }
                }
            });
        }
    }
}

template <class T>
std::optional<T> read_struct(reader& r, const boost::json::value& v) {
    const auto* object = v.if_object();
    if (object == nullptr) {
        r.fail("Input should be an object", "object_type");
        return std::nullopt;
    }
    T out{};
    bool complete = true;
    boost::mp11::mp_for_each<members_of<T>>([&](auto d) {
        if (r.stopped()) {
            complete = false;
            return;
        }
        using member_type = std::remove_cvref_t<decltype(out.*d.pointer)>;
        const field_rule* rule = rule_for<T>(d.name);
        const auto* found = object->if_contains(d.name);
        if constexpr (is_optional<member_type>::value) {
            if (found == nullptr || found->is_null()) return;  // absent or null: not given
            r.enter(std::string(d.name));
            auto value = read<typename member_type::value_type>(r, *found, rule);
            r.leave();
            if (value) {
                out.*d.pointer = std::move(*value);
            } else {
                complete = false;
            }
        } else {
            if (found == nullptr) {
                r.enter(std::string(d.name));
                r.fail("Field required", "missing");
                r.leave();
                complete = false;
                return;
            }
            r.enter(std::string(d.name));
            auto value = read<member_type>(r, *found, rule);
            r.leave();
            if (value) {
                out.*d.pointer = std::move(*value);
            } else {
                complete = false;
            }
        }
    });
    if (!complete) return std::nullopt;
    return out;
}

template <class T>
std::optional<T> read(reader& r, const boost::json::value& v, const field_rule* rule) {
    if constexpr (std::is_same_v<T, std::string>) {
        return read_string(r, v, rule);
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
        return read_integer(r, v, rule);
    } else if constexpr (std::is_same_v<T, bool>) {
        if (!v.is_bool()) {
            r.fail("Input should be a valid boolean", "bool_type");
            return std::nullopt;
        }
        return v.get_bool();
    } else if constexpr (described_enum<T>) {
        if (!v.is_string()) {
            r.fail("Input should be a valid string", "string_type");
            return std::nullopt;
        }
        return read_enum_text<T>(r, v.get_string());
    } else if constexpr (is_vector<T>::value) {
        using element = typename T::value_type;
        const auto* array = v.if_array();
        if (array == nullptr) {
            r.fail("Input should be a valid array", "list_type");
            return std::nullopt;
        }
        const std::size_t errors_before_items = r.issue_count();
        check_items(r, array->size(), rule);
        // An array over its limit is refused whole: its elements are not worth validating.
        if (rule != nullptr && rule->max_items && array->size() > *rule->max_items) return std::nullopt;
        T out;
        out.reserve(array->size());
        bool complete = true;
        for (std::size_t i = 0; i < array->size() && !r.stopped(); ++i) {
            r.enter(i);
            auto item = read<element>(r, (*array)[i], nullptr);
            r.leave();
            if (item) {
                out.push_back(std::move(*item));
            } else {
                complete = false;
            }
        }
        if (r.stopped()) return std::nullopt;
        if (complete && rule != nullptr && !rule->unique_by.empty()) check_unique(r, out, rule->unique_by);
        if (!complete || r.issue_count() != errors_before_items) return std::nullopt;
        return out;
    } else if constexpr (described_struct<T>) {
        return read_struct<T>(r, v);
    } else {
        static_assert(dependent_false<T>, "json::decode: unsupported member type");
    }
}

}  // namespace detail

// Validates an already parsed value as a T; locations start at `root` ("body").
template <class T>
decode_result<T> decode_value(const boost::json::value& v, loc_segment root = std::string("body")) {
    reader r(std::move(root));
    auto value = detail::read<T>(r, v, nullptr);
    if (!value || !r.ok()) return r.take_invalid();
    return std::move(*value);
}

// Parses and validates a request body as a T.
template <class T>
decode_result<T> decode_body(std::string_view text, std::size_t max_depth = k_max_body_depth) {
    auto parsed = parse(text, max_depth);
    if (auto* bad = std::get_if<malformed>(&parsed)) return std::move(*bad);
    return decode_value<T>(std::get<boost::json::value>(parsed));
}

}  // namespace svc::json
