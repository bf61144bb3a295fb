#pragma once
// REQUIRE_POSTGRES(x): a PostgreSQL case whose database `x` is not available (no
// TEST_DATABASE_URL) fails instead of skipping — CTest's `postgres` fixture provides the
// database, so a missing one is a broken run, and a skipped case would pass unnoticed. Use it
// where GTEST_FAIL may return: in SetUp() or a test body.

#include <gtest/gtest.h>

#define REQUIRE_POSTGRES(x) \
    if (!(x).available()) GTEST_FAIL() << "TEST_DATABASE_URL is not set (the ctest fixture sets it)"
