// Migrations and readiness, the same cases on SQLite (temp file) and PostgreSQL (own
// schema): fresh database, re-run is a no-op, a newer schema is refused, N migrators racing
// apply each migration once, --no-migrate's check, the schema's invariants, /ready's check.
#include "db/migrations.hpp"

#include <thread>

#include <gtest/gtest.h>

#include "db/database.hpp"
#include "db/error.hpp"
#include "support/db_support.hpp"

namespace svc::db {
namespace {

namespace asio = boost::asio;

// One database of either backend for a test, plain blocking SQL for set-up and checks.
class backend_under_test {
public:
    explicit backend_under_test(backend b) : backend_(b) {}
    bool available() const { return backend_ == backend::sqlite || pg_.available(); }
    database_url url() const { return backend_ == backend::sqlite ? sqlite_.parsed() : pg_.parsed(); }
    std::string raw_url() const { return backend_ == backend::sqlite ? sqlite_.url() : pg_.url(); }

    // Runs `sql` outside the service's code; returns the first value ("" when none).
    // Throws std::runtime_error or db::error on failure.
    std::string exec(const std::string& sql) {
        if (backend_ == backend::postgresql) return test::pg_admin(pg_.url()).exec(sql);
        sqlite::connection c(sqlite_.path(), false, std::chrono::seconds(5));
        auto s = c.prepare(sql);
        return s.step() && s.column_count() > 0 ? s.column_text(0) : "";
    }

private:
    backend backend_;
    test::pg_schema pg_;
    test::temp_sqlite sqlite_;
};

class Migrations : public ::testing::TestWithParam<backend> {
protected:
    void SetUp() override { REQUIRE_POSTGRES(db_); }
    backend_under_test db_{GetParam()};
};

TEST_P(Migrations, FreshDatabaseGetsEveryMigrationThenRerunIsANoOp) {
    const int latest = latest_version(GetParam());
    ASSERT_GE(latest, 1);
    EXPECT_EQ(schema_version(db_.url()), 0);
    EXPECT_THROW(require_current_schema(db_.url()), migration_error);

    const auto first = migrate(db_.url());
    EXPECT_EQ(first.from_version, 0);
    EXPECT_EQ(first.to_version, latest);
    EXPECT_EQ(static_cast<int>(first.applied.size()), latest);
    EXPECT_EQ(db_.exec("SELECT count(*) FROM schema_migrations"), std::to_string(latest));
    EXPECT_EQ(db_.exec("SELECT name FROM schema_migrations WHERE version = 1"), "initial_schema");

    const auto second = migrate(db_.url());
    EXPECT_TRUE(second.applied.empty());
    EXPECT_EQ(second.to_version, latest);
    EXPECT_NO_THROW(require_current_schema(db_.url()));
}

TEST_P(Migrations, SchemaNewerThanTheBinaryIsRefusedUntouched) {
    migrate(db_.url());
    db_.exec(
        std::string(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', "
        ) +
        (GetParam() == backend::postgresql ? "now()" : "0") + ")"
    );
    try {
        migrate(db_.url());
        FAIL() << "migrated a newer schema";
    } catch (const migration_error& e) {
        EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
    }
    EXPECT_THROW(require_current_schema(db_.url()), migration_error);
    EXPECT_EQ(db_.exec("SELECT max(version) FROM schema_migrations"), "999");
}

TEST_P(Migrations, ConcurrentMigratorsApplyEachMigrationOnce) {
    constexpr int k_migrators = 6;
    std::vector<std::thread> threads;
    std::vector<migration_report> reports(k_migrators);
    std::atomic<int> failures{0};
    const auto url = db_.url();
    for (int i = 0; i < k_migrators; ++i) {
        threads.emplace_back([&, i] {
            try {
                reports[static_cast<std::size_t>(i)] = migrate(url);
            } catch (const std::exception& e) {
                ++failures;
                ADD_FAILURE() << e.what();
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures, 0);
    std::size_t applied = 0;
    for (const auto& r : reports) {
        applied += r.applied.size();
        EXPECT_EQ(r.to_version, latest_version(GetParam()));
    }
    EXPECT_EQ(applied, static_cast<std::size_t>(latest_version(GetParam())));
    EXPECT_EQ(db_.exec("SELECT count(*) FROM schema_migrations"), std::to_string(latest_version(GetParam())));
}

TEST_P(Migrations, SchemaHoldsTheContractsInvariants) {
    migrate(db_.url());
    const bool pg = GetParam() == backend::postgresql;
    const std::string now = pg ? "now()" : "0";
    const std::string order_id = "'01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10'";
    db_.exec(
        "INSERT INTO products (id, name, price_cents, stock, created_at, updated_at) VALUES ('p1', 'Beans', "
        "1299, 1, " +
        now + ", " + now + ")"
    );
    db_.exec(
        "INSERT INTO orders (id, user_id, status, currency, total_cents, version, created_at, updated_at) "
        "VALUES (" +
        order_id + ", 'alice', 'pending', 'USD', 2598, 1, " + now + ", " + now + ")"
    );
    const auto refused = [&](const std::string& sql) { EXPECT_ANY_THROW(db_.exec(sql)) << sql; };
    refused("UPDATE products SET stock = stock - 2 WHERE id = 'p1'");
    refused("UPDATE products SET price_cents = -1 WHERE id = 'p1'");
    refused("UPDATE orders SET status = 'lost' WHERE id = " + order_id);
    for (const char* quantity : {"0", "10001"}) {
        refused(
            std::string("INSERT INTO order_items VALUES (") + order_id + ", 'p1', " + quantity + ", 1299, " +
            quantity + " * 1299)"
        );
    }
    refused("INSERT INTO order_items VALUES (" + order_id + ", 'nope', 1, 1, 1)");   // foreign key
    refused("INSERT INTO order_items VALUES (" + order_id + ", 'p1', 2, 1299, 1)");  // wrong line total
    db_.exec("INSERT INTO order_items VALUES (" + order_id + ", 'p1', 2, 1299, 2598)");
    refused("INSERT INTO order_items VALUES (" + order_id + ", 'p1', 1, 1299, 1299)");  // product twice
    const std::string later = pg ? "now() + interval '1 day'" : "1";
    db_.exec(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response_body, order_id, "
        "created_at, "
        "expires_at) VALUES ('alice', 'k1', 'h', 201, '{}', " +
        order_id + ", " + now + ", " + later + ")"
    );
    refused(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at, expires_at) VALUES ('alice', "
        "'k1', 'h', " +
        now + ", " + later + ")"
    );
    // Deleting an order removes its items.
    db_.exec("DELETE FROM orders WHERE id = " + order_id);
    EXPECT_EQ(db_.exec("SELECT count(*) FROM order_items"), "0");
}

TEST_P(Migrations, ReadinessFollowsTheSchema) {
    runtime::event_loops loops(1);
    options opts;
    opts.url = db_.raw_url();
    opts.pool_timeout = std::chrono::milliseconds(2000);
    auto db = database::open(opts, loops);
    const auto check = [&] {
        readiness r;
        test::run_on(loops, [&]() -> asio::awaitable<void> { r = co_await db->check_ready(); });
        return r;
    };
    auto before = check();
    EXPECT_TRUE(before.reachable);
    EXPECT_FALSE(before.ready());
    EXPECT_NE(before.detail.find("behind"), std::string::npos) << before.detail;
    migrate(db_.url());
    auto after = check();
    EXPECT_TRUE(after.ready()) << after.detail << " reachable=" << after.reachable;
    EXPECT_EQ(after.schema_version, latest_version(GetParam()));
    EXPECT_TRUE(after.detail.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Backends,
    Migrations,
    ::testing::Values(backend::sqlite, backend::postgresql),
    [](const ::testing::TestParamInfo<backend>& param_info) {
        return std::string(to_string(param_info.param));
    }
);

TEST(MigrationsEmbedded, BothDialectsHaveTheSameVersions) {
    const auto pg = embedded_migrations(backend::postgresql);
    const auto lite = embedded_migrations(backend::sqlite);
    ASSERT_EQ(pg.size(), lite.size());
    for (std::size_t i = 0; i < pg.size(); ++i) {
        EXPECT_EQ(pg[i].version, static_cast<int>(i + 1));
        EXPECT_EQ(pg[i].version, lite[i].version);
        EXPECT_EQ(pg[i].name, lite[i].name);
        EXPECT_FALSE(pg[i].sql.empty());
    }
}

TEST(ReadinessUnreachable, PostgresDownIsNotReady) {
    runtime::event_loops loops(1);
    options opts;
    opts.url = "postgresql://postgres@127.0.0.1:1/none";
    opts.pool_timeout = std::chrono::milliseconds(300);
    auto db = database::open(opts, loops);
    readiness r;
    test::run_on(loops, [&]() -> asio::awaitable<void> { r = co_await db->check_ready(); });
    EXPECT_FALSE(r.reachable);
    EXPECT_FALSE(r.ready());
    EXPECT_EQ(r.detail, "Database unreachable");
}

}  // namespace
}  // namespace svc::db

namespace svc::db {
namespace {
// A database that accepts the connection but does not answer (here: a lock held by another
// session) must not hang /ready: check_ready() gives up after the pool timeout.
TEST(ReadinessSlow, LockedSchemaTableGivesUpAfterThePoolTimeout) {
    test::pg_schema schema;
    REQUIRE_POSTGRES(schema);
    migrate(schema.parsed());
    test::pg_admin locker(schema.url());
    locker.exec("BEGIN");
    locker.exec("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE");
    runtime::event_loops loops(1);
    options opts;
    opts.url = schema.url();
    opts.pool_timeout = std::chrono::milliseconds(500);
    auto db = database::open(opts, loops);
    readiness r;
    const auto started = std::chrono::steady_clock::now();
    test::run_on(loops, [&]() -> asio::awaitable<void> { r = co_await db->check_ready(); });
    const auto waited = std::chrono::steady_clock::now() - started;
    locker.exec("ROLLBACK");
    EXPECT_FALSE(r.ready());
    EXPECT_EQ(r.detail, "Database not answering");
    EXPECT_GE(waited, std::chrono::milliseconds(450));
    EXPECT_LT(waited, std::chrono::milliseconds(2000));
    // Once the lock is gone the same database is ready again (the cancelled connection was
    // dropped, a new one is opened).
    test::run_on(loops, [&]() -> asio::awaitable<void> { r = co_await db->check_ready(); });
    EXPECT_TRUE(r.ready()) << r.detail;
}
}  // namespace
}  // namespace svc::db
