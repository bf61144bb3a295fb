// The PostgreSQL client through a pool lease against a real server: typed parameters and
// results, pipelines and transactions in one round trip, SQLSTATE → errc, statement timeout,
// PgBouncer mode (no named prepared statements). Each test runs in its own schema.
#include <gtest/gtest.h>

#include "db/error.hpp"
#include "db/pg/pool.hpp"
#include "support/db_support.hpp"

namespace svc::db::pg {
namespace {

namespace asio = boost::asio;
using namespace std::chrono;
using test::run_on;

class PgClient : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_POSTGRES(schema_);
        test::pg_admin admin(schema_.url());
        admin.exec(
            "CREATE TABLE stock (id text PRIMARY KEY, qty int8 NOT NULL CHECK (qty >= 0));"
            "CREATE TABLE line (stock_id text NOT NULL REFERENCES stock (id), n int4 NOT NULL);"
            "INSERT INTO stock VALUES ('a', 5), ('b', 1)"
        );
    }

    std::unique_ptr<pool> make_pool(pool_options options = {}) {
        return std::make_unique<pool>(loops_, schema_.url(), redact_url(schema_.url()), options);
    }

    test::pg_schema schema_;
    runtime::event_loops loops_{1};
};

TEST_F(PgClient, TypedParametersAndResultsRoundTrip) {
    auto p = make_pool();
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto lease = co_await p->acquire();
        const timestamp when = sys_days{2026y / November / 24} + 15h + 123456us;
        auto r = co_await lease.execute(
            "SELECT $1::int8, $2::text, $3::bool, $4::timestamptz, $5::uuid, $6::text, $7::int4, $8::varchar",
            std::int64_t{-9'000'000'000},
            "héllo",
            true,
            when,
            "01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10",
            nullptr,
            7,
            "v"
        );
        EXPECT_EQ(r.rows(), 1);
        EXPECT_EQ(r[0].int64(0), -9'000'000'000);
        EXPECT_EQ(r[0].text(1), "héllo");
        EXPECT_TRUE(r[0].boolean(2));
        EXPECT_EQ(r[0].time(3), when);
        EXPECT_EQ(r[0].text(4), "01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10");
        EXPECT_TRUE(r[0].is_null(5));
        EXPECT_EQ(r[0].int64(6), 7);
        EXPECT_EQ(r[0].text_view(7), "v");
        EXPECT_THROW((void)r[0].int64(1), std::logic_error);  // text is not an integer
    });
}

TEST_F(PgClient, ArraysMakeAMultiRowInsertOneStatement) {
    auto p = make_pool();
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto lease = co_await p->acquire();
        const std::vector<std::string> ids{"a", "b", "a"};
        const std::vector<std::int64_t> ns{1, 2, 3};
        auto r = co_await lease.execute(
            "INSERT INTO line (stock_id, n) SELECT * FROM unnest($1::text[], $2::int8[]) RETURNING n", ids, ns
        );
        EXPECT_EQ(r.rows(), 3);
        EXPECT_EQ(r.affected_rows(), 3);
        auto sum = co_await lease.execute("SELECT sum(n)::int8 FROM line WHERE stock_id = $1", "a");
        EXPECT_EQ(sum[0].int64(0), 4);
    });
}

TEST_F(PgClient, ConstraintViolationsAreTyped) {
    auto p = make_pool();
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto lease = co_await p->acquire();
        try {
            co_await lease.execute("INSERT INTO stock VALUES ($1, 1)", "a");
            ADD_FAILURE() << "duplicate accepted";
        } catch (const db::error& e) {
            EXPECT_EQ(e.code(), errc::unique_violation);
            EXPECT_EQ(e.constraint(), "stock_pkey");
            EXPECT_FALSE(e.is_unavailable());
        }
        try {
            co_await lease.execute("UPDATE stock SET qty = qty - $2 WHERE id = $1", "b", 2);
            ADD_FAILURE() << "negative stock accepted";
        } catch (const db::error& e) {
            EXPECT_EQ(e.code(), errc::check_violation);
            EXPECT_EQ(e.constraint(), "stock_qty_check");
        }
        try {
            co_await lease.execute("INSERT INTO line VALUES ($1, 1)", "nope");
            ADD_FAILURE() << "dangling reference accepted";
        } catch (const db::error& e) {
            EXPECT_EQ(e.code(), errc::foreign_key_violation);
        }
        // The connection is still good after three errors.
        auto r = co_await lease.execute("SELECT qty FROM stock WHERE id = $1", "b");
        EXPECT_EQ(r[0].int64(0), 1);
    });
}

TEST_F(PgClient, TransactionCommitsInOneRoundTrip) {
    auto p = make_pool();
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto lease = co_await p->acquire();
        auto results = co_await lease.transaction(
            stmt("UPDATE stock SET qty = qty - $2 WHERE id = $1 RETURNING qty", "a", 2),
            stmt("INSERT INTO line VALUES ($1, $2)", "a", 2)
        );
        EXPECT_EQ(results.size(), 2U);
        if (results.size() != 2U) co_return;
        EXPECT_EQ(results[0][0].int64(0), 3);
        EXPECT_EQ(results[1].affected_rows(), 1);
    });
    test::pg_admin admin(schema_.url());
    EXPECT_EQ(admin.exec("SELECT qty FROM stock WHERE id = 'a'"), "3");
    EXPECT_EQ(admin.exec("SELECT count(*) FROM line"), "1");
}

TEST_F(PgClient, PipelineErrorMidTransactionRollsEverythingBack) {
    auto p = make_pool();
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto lease = co_await p->acquire();
        try {
            co_await lease.transaction(
                stmt("UPDATE stock SET qty = qty - 1 WHERE id = $1", "a"),
                stmt("INSERT INTO line VALUES ($1, 1)", "a"),
                stmt("UPDATE stock SET qty = qty - 5 WHERE id = $1", "b"),  // check_violation
                stmt("INSERT INTO line VALUES ($1, 2)", "b")
            );
            ADD_FAILURE() << "transaction committed";
        } catch (const db::error& e) {
            EXPECT_EQ(e.code(), errc::check_violation);
            EXPECT_EQ(e.statement_index(), 2);
        }
        // The lease is usable at once: the aborted transaction was rolled back.
        auto r = co_await lease.execute("SELECT qty FROM stock WHERE id = $1", "a");
        EXPECT_EQ(r[0].int64(0), 5);
        // Same without BEGIN/COMMIT: a pipeline is one implicit transaction.
        try {
            co_await lease.pipeline(
                stmt("INSERT INTO line VALUES ($1, 1)", "a"),
                stmt("INSERT INTO line VALUES ($1, 1)", "missing")
            );
            ADD_FAILURE() << "pipeline committed";
        } catch (const db::error& e) {
            EXPECT_EQ(e.code(), errc::foreign_key_violation);
            EXPECT_EQ(e.statement_index(), 1);
        }
    });
    test::pg_admin admin(schema_.url());
    EXPECT_EQ(admin.exec("SELECT count(*) FROM line"), "0");
    EXPECT_EQ(admin.exec("SELECT qty FROM stock WHERE id = 'b'"), "1");
}

TEST_F(PgClient, BadSqlIsOtherAndDoesNotPoisonTheStatementCache) {
    auto p = make_pool();
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto lease = co_await p->acquire();
        for (int attempt = 0; attempt < 2; ++attempt) {
            try {
                co_await lease.execute("SELEC 1");
                ADD_FAILURE() << "syntax error accepted";
            } catch (const db::error& e) {
                EXPECT_EQ(e.code(), errc::other);
            }
        }
        // A statement whose Parse was skipped in an aborted pipeline is prepared next time.
        try {
            co_await lease.pipeline(stmt("SELECT 1/0"), stmt("SELECT $1::int8 + 1", 1));
            ADD_FAILURE() << "division by zero accepted";
        } catch (const db::error& e) {
            EXPECT_EQ(e.statement_index(), 0);
        }
        auto r = co_await lease.execute("SELECT $1::int8 + 1", 41);
        EXPECT_EQ(r[0].int64(0), 42);
    });
}

TEST_F(PgClient, StatementTimeoutIsTypedAndKeepsTheConnection) {
    pool_options options;
    options.statement_timeout = milliseconds(200);
    auto p = make_pool(options);
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto lease = co_await p->acquire();
        const auto pid = (co_await lease.execute("SELECT pg_backend_pid()::int8"))[0].int64(0);
        const auto started = steady_clock::now();
        try {
            co_await lease.execute("SELECT pg_sleep(5)");
            ADD_FAILURE() << "pg_sleep(5) finished under a 200 ms statement timeout";
        } catch (const db::error& e) {
            EXPECT_EQ(e.code(), errc::statement_timeout);
            EXPECT_TRUE(e.is_unavailable());
        }
        EXPECT_LT(steady_clock::now() - started, seconds(2));
        EXPECT_EQ((co_await lease.execute("SELECT pg_backend_pid()::int8"))[0].int64(0), pid);
    });
}

TEST_F(PgClient, ClientDeadlineBreaksAHungRoundTrip) {
    pool_options options;
    options.io_timeout = milliseconds(300);  // no server-side timeout: only ours
    auto p = make_pool(options);
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto lease = co_await p->acquire();
        const auto started = steady_clock::now();
        try {
            co_await lease.execute("SELECT pg_sleep(3)");
            ADD_FAILURE() << "no deadline";
        } catch (const db::error& e) {
            EXPECT_EQ(e.code(), errc::connection_lost);
        }
        EXPECT_LT(steady_clock::now() - started, milliseconds(1500));
    });
}

TEST_F(PgClient, UnnamedStatementsModeForPgBouncer) {
    pool_options options;
    options.prepared_statements = false;
    auto p = make_pool(options);
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto lease = co_await p->acquire();
        for (int i = 0; i < 3; ++i) {
            auto r = co_await lease.execute("SELECT qty FROM stock WHERE id = $1", "a");
            EXPECT_EQ(r[0].int64(0), 5);
        }
        auto results = co_await lease.transaction(stmt("SELECT 1"), stmt("SELECT 2"));
        EXPECT_EQ(results.size(), 2U);
        auto prepared = co_await lease.execute("SELECT count(*)::int8 FROM pg_prepared_statements");
        EXPECT_EQ(prepared[0].int64(0), 0);
    });
}

TEST_F(PgClient, StatementsArePreparedOncePerConnection) {
    auto p = make_pool();
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto lease = co_await p->acquire();
        for (int i = 0; i < 5; ++i) co_await lease.execute("SELECT qty FROM stock WHERE id = $1", "a");
        auto prepared = co_await lease.execute(
            "SELECT count(*)::int8 FROM pg_prepared_statements WHERE statement = $1",
            "SELECT qty FROM stock WHERE id = $1"
        );
        EXPECT_EQ(prepared[0].int64(0), 1);
    });
}

// The plan mode is the session's plan_cache_mode, set by the connection only when the next
// statement needs another one — so it must follow the statements exactly: generic ones never
// get a custom plan, automatic ones get PostgreSQL's default (custom plans first), also after
// a transaction whose SET was rolled back.
TEST_F(PgClient, PlanModesFollowEachStatementAcrossSwitchesAndRollbacks) {
    auto p = make_pool();
    constexpr std::string_view k_generic = "SELECT qty FROM stock WHERE id = $1 AND qty >= 0";
    constexpr std::string_view k_automatic = "SELECT qty FROM stock WHERE id = $1 AND qty >= -1";
    const auto run = [](lease& l, std::string_view sql, plan_mode mode) -> asio::awaitable<void> {
        std::vector<query> one;
        one.push_back({sql, {std::string("a")}, mode});
        co_await l.pipeline(std::move(one));
    };
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto lease = co_await p->acquire();
        for (int i = 0; i < 3; ++i) {
            co_await run(lease, k_generic, plan_mode::generic);
            co_await run(lease, k_automatic, plan_mode::automatic);
        }
        // A SET inside a transaction that rolls back is undone by the server.
        co_await lease.execute("BEGIN");
        co_await run(lease, k_automatic, plan_mode::automatic);
        co_await run(lease, k_generic, plan_mode::generic);
        co_await lease.execute("ROLLBACK");
        for (int i = 0; i < 3; ++i) co_await run(lease, k_generic, plan_mode::generic);
        auto counts = co_await lease.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
            std::string(k_generic)
        );
        EXPECT_EQ(counts[0].int64(0), 7);
        EXPECT_EQ(counts[0].int64(1), 0);
        counts = co_await lease.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
            std::string(k_automatic)
        );
        EXPECT_EQ(counts[0].int64(0), 0);
        EXPECT_EQ(counts[0].int64(1), 4);  // auto mode: the first five executions are custom
    });
}

}  // namespace
}  // namespace svc::db::pg
