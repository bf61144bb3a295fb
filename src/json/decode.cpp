#include "json/decode.hpp"

#include <cmath>

#include <boost/json/parser.hpp>

#include "text/hidden_characters.hpp"

namespace svc::json {

std::variant<boost::json::value, malformed> parse(std::string_view text, std::size_t max_depth) {
    boost::json::parse_options options;
    options.max_depth = max_depth;
    boost::json::parser parser(boost::json::storage_ptr(), options);
    boost::json::error_code ec;
    parser.write(text.data(), text.size(), ec);
    if (ec) {
        // The parser's message names the failure ("syntax error", "too deep", "illegal leading
        // surrogate") without echoing the input.
        return malformed{"Malformed JSON: " + ec.message()};
    }
    return parser.release();
}

std::optional<std::size_t> utf8_length(std::string_view text) {
    std::size_t count = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        std::size_t extra = 0;
        std::uint32_t code = 0;
        if (lead < 0x80) {
            code = lead;
        } else if ((lead & 0xE0) == 0xC0) {
            extra = 1;
            code = lead & 0x1FU;
        } else if ((lead & 0xF0) == 0xE0) {
            extra = 2;
            code = lead & 0x0FU;
        } else if ((lead & 0xF8) == 0xF0) {
            extra = 3;
            code = lead & 0x07U;
        } else {
            return std::nullopt;
        }
        if (i + extra >= text.size()) return std::nullopt;  // truncated sequence
        for (std::size_t k = 1; k <= extra; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0) != 0x80) return std::nullopt;
            code = (code << 6) | (next & 0x3FU);
        }
        static constexpr std::uint32_t k_smallest[] = {0, 0x80, 0x800, 0x10000};
        if (code < k_smallest[extra]) return std::nullopt;          // overlong
        if (code >= 0xD800 && code <= 0xDFFF) return std::nullopt;  // surrogate
        if (code > 0x10FFFF) return std::nullopt;                   // past Unicode
        i += extra + 1;
        ++count;
    }
    return count;
}

std::optional<std::int64_t> parse_decimal(std::string_view text) {
    if (text.empty() || text.front() == '+') return std::nullopt;
    std::int64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value, 10);
    if (ec != std::errc() || ptr != end) return std::nullopt;
    return value;
}

namespace detail {

void check_text(reader& r, std::string_view text, const field_rule* rule) {
    if (text.find('\0') != std::string_view::npos) {
        r.fail("String should not contain NUL characters", "string_nul");
        return;
    }
    const auto length = utf8_length(text);
    if (!length) {
        r.fail("String should be valid UTF-8", "string_unicode");
        return;
    }
    if (rule == nullptr) return;
    if (rule->min_length && *length < *rule->min_length) {
        r.fail(
            "String should have at least " + std::to_string(*rule->min_length) +
                (*rule->min_length == 1 ? " character" : " characters"),
            "string_too_short"
        );
    } else if (rule->max_length && *length > *rule->max_length) {
        r.fail(
            "String should have at most " + std::to_string(*rule->max_length) + " characters",
            "string_too_long"
        );
    }
    if (rule->pattern == text_pattern::visible && text::has_hidden_control(text)) {
        r.fail(
            "String should match pattern '" + std::string(pattern_regex(rule->pattern)) + "'",
            "string_pattern_mismatch"
        );
    }
    if (rule->pattern == text_pattern::identifier) {
        for (const char c : text) {
            const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '.' || c == '_' || c == '-';
            if (!ok) {
                r.fail(
                    "String should match pattern '" + std::string(pattern_regex(rule->pattern)) + "'",
                    "string_pattern_mismatch"
                );
                break;
            }
        }
    }
}

void check_integer(reader& r, std::int64_t value, const field_rule* rule) {
    if (rule == nullptr) return;
    if (rule->minimum && value < *rule->minimum) {
        r.fail(
            "Input should be greater than or equal to " + std::to_string(*rule->minimum), "greater_than_equal"
        );
    } else if (rule->maximum && value > *rule->maximum) {
        r.fail("Input should be less than or equal to " + std::to_string(*rule->maximum), "less_than_equal");
    }
}

void check_items(reader& r, std::size_t count, const field_rule* rule) {
    if (rule == nullptr) return;
    if (rule->min_items && count < *rule->min_items) {
        r.fail(
            "List should have at least " + std::to_string(*rule->min_items) +
                (*rule->min_items == 1 ? " item" : " items"),
            "too_short"
        );
    } else if (rule->max_items && count > *rule->max_items) {
        r.fail("List should have at most " + std::to_string(*rule->max_items) + " items", "too_long");
    }
}

void fail_duplicate(reader& r, std::string_view member, std::string_view value) {
    r.fail(std::string(member) + " " + std::string(value) + " appears more than once", "unique_items");
}

std::string enum_expectation(std::span<const std::string_view> names) {
    std::string msg = "Input should be ";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) msg += (i + 1 == names.size()) ? " or " : ", ";
        msg += "'";
        msg += names[i];
        msg += "'";
    }
    return msg;
}

std::optional<std::int64_t> read_integer(reader& r, const boost::json::value& v, const field_rule* rule) {
    std::int64_t value = 0;
    if (v.is_int64()) {
        value = v.get_int64();
    } else if (v.is_uint64()) {
        // Only values past INT64_MAX are stored as uint64 by the parser.
        r.fail("Input should be a valid 64-bit integer", "int_overflow");
        return std::nullopt;
    } else if (const double* d = v.if_double()) {
        // The parser also stores integers past UINT64_MAX (or below INT64_MIN) as doubles.
        if (std::trunc(*d) == *d && std::abs(*d) >= 0x1p63) {
            r.fail("Input should be a valid 64-bit integer", "int_overflow");
        } else {
            r.fail(
                "Input should be a valid integer, got a number with a fractional part or exponent",
                "int_from_float"
            );
        }
        return std::nullopt;
    } else {
        r.fail("Input should be a valid integer", "int_type");
        return std::nullopt;
    }
    const auto issues_before = r.issue_count();
    check_integer(r, value, rule);
    if (r.issue_count() != issues_before) return std::nullopt;
    return value;
}

std::optional<std::string> read_string(reader& r, const boost::json::value& v, const field_rule* rule) {
    const auto* text = v.if_string();
    if (text == nullptr) {
        r.fail("Input should be a valid string", "string_type");
        return std::nullopt;
    }
    const auto issues_before = r.issue_count();
    check_text(r, *text, rule);
    if (r.issue_count() != issues_before) return std::nullopt;
    return std::string(text->data(), text->size());
}

}  // namespace detail

}  // namespace svc::json
