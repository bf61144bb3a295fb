#include "observability/logging.hpp"

#include <gtest/gtest.h>

namespace svc::obs {
namespace {

std::string escaped(std::string_view text) {
    std::string out;
    append_json_escaped(out, text);
    return out;
}

TEST(json_escape, escapes_quotes_backslashes_and_controls) {
    EXPECT_EQ(escaped("a\"b\\c\n\t\r"), R"(a\"b\\c\n\t\r)");
    EXPECT_EQ(escaped(std::string_view("\0\x1f\x7f", 3)), R"(\u0000\u001f\u007f)");
}

TEST(json_escape, keeps_valid_utf8_and_replaces_invalid_bytes) {
    EXPECT_EQ(
        escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"
    );
    EXPECT_EQ(escaped("\xff"), R"(\ufffd)");
    EXPECT_EQ(escaped("\xc0\xaf"), R"(\ufffd\ufffd)");            // overlong '/'
    EXPECT_EQ(escaped("\xed\xa0\x80"), R"(\ufffd\ufffd\ufffd)");  // UTF-16 surrogate
    EXPECT_EQ(escaped("\xe2\x82"), R"(\ufffd\ufffd)");            // truncated
}

TEST(log_settings, levels_and_formats_are_validated) {
    EXPECT_NO_THROW(validate_log_level("debug"));
    EXPECT_THROW(validate_log_level("loud"), std::invalid_argument);
    EXPECT_EQ(parse_log_format("json"), log_format::json);
    EXPECT_EQ(parse_log_format("text"), log_format::text);
    EXPECT_THROW(parse_log_format("xml"), std::invalid_argument);
}

}  // namespace
}  // namespace svc::obs
