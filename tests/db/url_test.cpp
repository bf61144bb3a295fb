// DATABASE_URL parsing and password redaction.
#include <gtest/gtest.h>

#include "db/database_url.hpp"

namespace svc::db {
namespace {

TEST(DatabaseUrl, DefaultSqlitePathIsRelativeToDataDir) {
    const auto url = parse_database_url("sqlite://orders.db", "/var/lib/orders");
    EXPECT_EQ(url.backend, backend::sqlite);
    EXPECT_EQ(url.sqlite_path, "/var/lib/orders/orders.db");
    EXPECT_EQ(url.redacted, "sqlite://orders.db");
}

TEST(DatabaseUrl, AbsoluteSqlitePathIgnoresDataDir) {
    const auto url = parse_database_url("sqlite:///tmp/x/orders.db", "/var/lib/orders");
    EXPECT_EQ(url.sqlite_path, "/tmp/x/orders.db");
}

TEST(DatabaseUrl, SqliteWithoutPathIsRefused) {
    EXPECT_THROW(parse_database_url("sqlite://", "."), url_error);
}

TEST(DatabaseUrl, PostgresUriIsKeptWholeForLibpq) {
    const auto url = parse_database_url("postgresql://app:s3cret@db.internal:6432/orders?sslmode=require");
    EXPECT_EQ(url.backend, backend::postgresql);
    EXPECT_EQ(url.conninfo, "postgresql://app:s3cret@db.internal:6432/orders?sslmode=require");
    EXPECT_EQ(url.redacted, "postgresql://app:***@db.internal:6432/orders?sslmode=require");
}

TEST(DatabaseUrl, PostgresShortSchemeIsAccepted) {
    EXPECT_EQ(parse_database_url("postgres://u@h/d").backend, backend::postgresql);
}

TEST(DatabaseUrl, MalformedPostgresUriGivesOneRedactedLine) {
    try {
        parse_database_url("postgresql://app:hunter2@db:notaport/orders?sslmode=require&bogus_option=1");
        FAIL() << "expected url_error";
    } catch (const url_error& e) {
        const std::string message = e.what();
        EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
        EXPECT_EQ(message.find('\n'), std::string::npos) << message;
        EXPECT_NE(message.find("***"), std::string::npos) << message;
    }
}

TEST(DatabaseUrl, UnknownSchemeIsRefusedWithoutPassword) {
    try {
        parse_database_url("mysql://root:topsecret@localhost/orders");
        FAIL() << "expected url_error";
    } catch (const url_error& e) {
        EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos) << e.what();
    }
}

TEST(RedactUrl, PasswordQueryParameterAndAtSignInPassword) {
    EXPECT_EQ(
        redact_url("postgresql://u@h/d?password=abc&sslmode=disable"),
        "postgresql://u@h/d?password=***&sslmode=disable"
    );
    EXPECT_EQ(redact_url("postgresql://u:p@ss@h/d"), "postgresql://u:***@h/d");
    EXPECT_EQ(redact_url("postgresql://u@h/d"), "postgresql://u@h/d");
    EXPECT_EQ(redact_url("host=h password=xyz dbname=d"), "host=h password=*** dbname=d");
}

}  // namespace
}  // namespace svc::db

namespace svc::db {
namespace {
TEST(DatabaseUrl, NonNumericPortIsRefusedAtParseTime) {
    EXPECT_THROW(parse_database_url("postgresql://u:pw@db:notaport/orders"), url_error);
    EXPECT_THROW(parse_database_url("postgresql://u@db:99999/orders"), url_error);
    EXPECT_NO_THROW(parse_database_url("postgresql://u@a:5432,b:5433/orders"));
}
}  // namespace
}  // namespace svc::db
