// Text-format encoding of statement parameters (pure; the round trips through a real server
// are in connection_test.cpp).
#include "db/pg/param.hpp"

#include <gtest/gtest.h>

namespace svc::db::pg {
namespace {

using namespace std::chrono;

TEST(Param, ScalarsEncodeAsPostgresText) {
    EXPECT_EQ(param(42).text(), "42");
    EXPECT_EQ(param(std::int64_t{-9'000'000'000}).text(), "-9000000000");
    EXPECT_EQ(param(true).text(), "t");
    EXPECT_EQ(param(false).text(), "f");
    EXPECT_EQ(param("abc").text(), "abc");
    EXPECT_TRUE(param(nullptr).is_null());
    EXPECT_TRUE(param(std::optional<std::string>{}).is_null());
    EXPECT_EQ(param(std::optional<int>{7}).text(), "7");
}

TEST(Param, TimestampIsUtcWithMicroseconds) {
    const timestamp t = sys_days{2026y / November / 24} + 15h + 0min + 1s + 123456us;
    EXPECT_EQ(param(t).text(), "2026-11-24 15:00:01.123456+00");
    const timestamp before_epoch = sys_days{1969y / December / 31} + 23h + 59min + 59s + 999999us;
    EXPECT_EQ(param(before_epoch).text(), "1969-12-31 23:59:59.999999+00");
}

TEST(Param, TextArrayQuotesEveryElement) {
    const std::vector<std::string> values{"p1", "a,b", "q\"uote", "back\\slash", "NULL", ""};
    EXPECT_EQ(param(values).text(), R"({"p1","a,b","q\"uote","back\\slash","NULL",""})");
    EXPECT_EQ(param(std::vector<std::string>{}).text(), "{}");
}

TEST(Param, Int8Array) {
    EXPECT_EQ(param(std::vector<std::int64_t>{1, -2, 30}).text(), "{1,-2,30}");
}

}  // namespace
}  // namespace svc::db::pg
