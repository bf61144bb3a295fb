// The pool against a real server: exhaustion answers pool_timeout after the checkout
// timeout (never a hang), hand-off to waiters, the connection limit per slice, write
// admission (max_writers), recovery after pg_terminate_backend, per-loop slices, close(),
// metrics counts and hooks.
#include "db/pg/pool.hpp"

#include <optional>
#include <set>
#include <thread>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "db/error.hpp"
#include "support/db_support.hpp"

namespace svc::db::pg {
namespace {

namespace asio = boost::asio;
using namespace std::chrono;
using test::run_on;

asio::awaitable<void> sleep_for(milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

class PgPool : public ::testing::Test {
protected:
    void SetUp() override { REQUIRE_POSTGRES(schema_); }
    std::unique_ptr<pool> make_pool(runtime::event_loops& loops, pool_options options) {
        return std::make_unique<pool>(loops, schema_.url(), redact_url(schema_.url()), options);
    }
    test::pg_schema schema_;
    runtime::event_loops loops_{1};
};

TEST_F(PgPool, ExhaustedPoolAnswersPoolTimeoutAfterTheTimeout) {
    pool_options options;
    options.pool_size = 2;
    options.max_overflow = 1;
    options.checkout_timeout = milliseconds(400);
    auto p = make_pool(loops_, options);
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto a = co_await p->acquire();
        auto b = co_await p->acquire();
        auto c = co_await p->acquire();  // the overflow connection
        EXPECT_EQ(p->busy_connections(), 3U);
        const auto started = steady_clock::now();
        try {
            auto d = co_await p->acquire();
            ADD_FAILURE() << "a fourth connection beyond size + overflow";
        } catch (const db::error& e) {
            EXPECT_EQ(e.code(), errc::pool_timeout);
            EXPECT_TRUE(e.is_unavailable());
        }
        const auto waited = steady_clock::now() - started;
        EXPECT_GE(waited, milliseconds(390));
        EXPECT_LT(waited, milliseconds(1500));
    });
}

TEST_F(PgPool, ReturnedConnectionGoesToTheWaiter) {
    pool_options options;
    options.pool_size = 1;
    options.max_overflow = 0;
    options.checkout_timeout = seconds(3);
    auto p = make_pool(loops_, options);
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto first = std::make_unique<lease>(co_await p->acquire());
        const auto pid = (co_await first->execute("SELECT pg_backend_pid()::int8"))[0].int64(0);
        // Release the lease 100 ms from now, while acquire() below waits.
        auto executor = co_await asio::this_coro::executor;
        asio::steady_timer release_timer(executor, milliseconds(100));
        release_timer.async_wait([&first](boost::system::error_code) { first.reset(); });
        const auto started = steady_clock::now();
        auto second = co_await p->acquire();
        EXPECT_LT(steady_clock::now() - started, seconds(1));
        EXPECT_EQ((co_await second.execute("SELECT pg_backend_pid()::int8"))[0].int64(0), pid);
    });
}

TEST_F(PgPool, ManyCallersShareFewConnectionsWithoutErrors) {
    pool_options options;
    options.pool_size = 3;
    options.max_overflow = 1;
    auto p = make_pool(loops_, options);
    std::atomic<int> done{0};
    std::atomic<std::size_t> peak{0};
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        constexpr int k_callers = 32;
        std::atomic<int> finished{0};
        for (int i = 0; i < k_callers; ++i) {
            asio::co_spawn(
                executor,
                [&]() -> asio::awaitable<void> {
                    for (int j = 0; j < 20; ++j) {
                        auto l = co_await p->acquire();
                        peak = std::max(peak.load(), p->busy_connections() + p->idle_connections());
                        co_await l.execute("SELECT $1::int8", j);
                        ++done;
                    }
                },
                [&](std::exception_ptr e) {
                    if (e) ADD_FAILURE() << "a caller failed";
                    ++finished;
                }
            );
        }
        while (finished < k_callers) co_await sleep_for(milliseconds(5));
    });
    EXPECT_EQ(done, 32 * 20);
    EXPECT_LE(peak, 4U);
    EXPECT_GE(p->idle_connections(), 1U);
    EXPECT_LE(p->idle_connections(), 4U);
}

// Overflow connections outlive the burst that opened them by overflow_idle_timeout, so a
// saturated pool does not open and close a server process per request; then they close.
TEST_F(PgPool, OverflowConnectionsCloseAfterTheIdleTimeout) {
    pool_options options;
    options.pool_size = 1;
    options.max_overflow = 2;
    options.overflow_idle_timeout = milliseconds(300);
    auto p = make_pool(loops_, options);
    std::set<std::int64_t> backends;
    run_on(loops_, [&]() -> asio::awaitable<void> {
        const auto backend_pid = [](lease& l) -> asio::awaitable<std::int64_t> {
            co_return (co_await l.execute("SELECT pg_backend_pid()::int8"))[0].int64(0);
        };
        // Two bursts of three at once, 50 ms apart: the second reuses the first's connections.
        for (int burst = 0; burst < 2; ++burst) {
            {
                auto a = co_await p->acquire();
                auto b = co_await p->acquire();
                auto c = co_await p->acquire();
                for (lease* l : {&a, &b, &c}) backends.insert(co_await backend_pid(*l));
            }
            EXPECT_EQ(p->idle_connections(), 3U) << "burst " << burst;
            co_await sleep_for(milliseconds(50));
        }
        EXPECT_EQ(p->idle_connections(), 3U);  // 50 ms idle: still open
        co_await sleep_for(milliseconds(500));
        EXPECT_EQ(p->idle_connections(), 1U);  // the two beyond pool_size closed
        EXPECT_EQ(p->busy_connections(), 0U);
        // The one kept is the warmest, and still works.
        auto l = co_await p->acquire();
        EXPECT_TRUE(backends.contains(co_await backend_pid(l)));
    });
    EXPECT_EQ(backends.size(), 3U);
}

// Write admission: at most max_writers write leases at once, the next writer waits for one
// to end (first come, first served) while readers are not held back; a writer that waits
// past the checkout timeout gets pool_timeout, and a slot freed by a failed wait is not lost.
TEST_F(PgPool, WritersBeyondTheLimitWaitForASlotWhileReadersDoNot) {
    pool_options options;
    options.pool_size = 4;
    options.max_overflow = 0;
    options.max_writers = 2;
    options.checkout_timeout = seconds(3);
    auto p = make_pool(loops_, options);
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        auto first = std::make_unique<lease>(co_await p->acquire_for_writes());
        auto second = std::make_unique<lease>(co_await p->acquire_for_writes());
        // A reader gets a connection at once although both write slots are taken.
        {
            const auto started = steady_clock::now();
            auto reader = co_await p->acquire();
            EXPECT_LT(steady_clock::now() - started, milliseconds(200));
            EXPECT_EQ((co_await reader.execute("SELECT 1::int8"))[0].int64(0), 1);
        }
        // Two more writers queue; they are admitted in arrival order as slots free up.
        std::vector<int> admitted;
        std::atomic<int> finished{0};
        // A parameter, not a capture: it lives in the coroutine's frame.
        const auto queued_writer = [&](int id) -> asio::awaitable<void> {
            auto l = co_await p->acquire_for_writes();
            admitted.push_back(id);
            co_await l.execute("SELECT 1");
            co_await sleep_for(milliseconds(50));
        };
        for (int writer = 3; writer <= 4; ++writer) {
            asio::co_spawn(executor, queued_writer(writer), [&](std::exception_ptr e) {
                if (e) ADD_FAILURE() << "a queued writer failed";
                ++finished;
            });
        }
        co_await sleep_for(milliseconds(150));
        EXPECT_TRUE(admitted.empty()) << "a writer beyond max_writers was admitted";
        EXPECT_EQ(p->busy_connections(), 2U);  // the waiting writers hold no connection
        EXPECT_EQ(p->active_writers(), 2U);
        EXPECT_EQ(p->waiting_writers(), 2U);
        first.reset();
        // One slot freed: the first in line gets it (waited for, not slept on), the other waits.
        for (int i = 0; i < 500 && admitted.empty(); ++i) co_await sleep_for(milliseconds(5));
        EXPECT_EQ(admitted, std::vector<int>{3});
        second.reset();
        while (finished < 2) co_await sleep_for(milliseconds(5));
        EXPECT_EQ(admitted, (std::vector<int>{3, 4}));
        EXPECT_EQ(p->active_writers(), 0U);
        EXPECT_EQ(p->waiting_writers(), 0U);
    });
}

TEST_F(PgPool, AWriterWaitingPastTheTimeoutGetsPoolTimeoutAndTheSlotsSurvive) {
    pool_options options;
    options.pool_size = 2;
    options.max_overflow = 0;
    options.max_writers = 1;
    options.checkout_timeout = milliseconds(300);
    auto p = make_pool(loops_, options);
    run_on(loops_, [&]() -> asio::awaitable<void> {
        {
            auto holder = co_await p->acquire_for_writes();
            const auto started = steady_clock::now();
            try {
                auto late = co_await p->acquire_for_writes();
                ADD_FAILURE() << "a second writer beyond max_writers = 1";
            } catch (const db::error& e) {
                EXPECT_EQ(e.code(), errc::pool_timeout);
                EXPECT_TRUE(e.is_unavailable());
            }
            const auto waited = steady_clock::now() - started;
            EXPECT_GE(waited, milliseconds(290));
            EXPECT_LT(waited, milliseconds(1500));
            EXPECT_EQ(p->waiting_writers(), 0U);  // the timed-out wait left the queue
            EXPECT_EQ(p->active_writers(), 1U);
        }
        // The holder's slot came back and the timed-out wait took none: two writers in turn.
        for (int i = 0; i < 2; ++i) {
            const auto started = steady_clock::now();
            auto l = co_await p->acquire_for_writes();
            EXPECT_LT(steady_clock::now() - started, milliseconds(200));
        }
    });
}

// max_writers = 0: writers are limited only by the pool itself.
TEST_F(PgPool, ZeroMaxWritersLeavesWritersToThePoolLimit) {
    pool_options options;
    options.pool_size = 3;
    options.max_overflow = 0;
    options.max_writers = 0;
    options.checkout_timeout = milliseconds(300);
    auto p = make_pool(loops_, options);
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto a = co_await p->acquire_for_writes();
        auto b = co_await p->acquire_for_writes();
        auto c = co_await p->acquire_for_writes();
        EXPECT_EQ(p->busy_connections(), 3U);
    });
}

TEST_F(PgPool, RecoversAfterTheServerTerminatesItsConnections) {
    pool_options options;
    options.pool_size = 2;
    auto p = make_pool(loops_, options);
    const std::string app = test::unique_name("pool_recovery");
    std::int64_t pid_before = 0;
    std::int64_t pid_after = 0;
    int failures = 0;
    run_on(loops_, [&]() -> asio::awaitable<void> {
        {
            auto l = co_await p->acquire();
            pid_before = (co_await l.execute("SELECT pg_backend_pid()::int8"))[0].int64(0);
        }
        test::pg_admin(schema_.base_url())
            .exec("SELECT pg_terminate_backend(" + std::to_string(pid_before) + ")");
        co_await sleep_for(milliseconds(100));
        // The first use of the dead connection may fail (connection_lost → 503); the next
        // checkout reconnects by itself.
        for (int attempt = 0; attempt < 3 && pid_after == 0; ++attempt) {
            try {
                auto l = co_await p->acquire();
                pid_after = (co_await l.execute("SELECT pg_backend_pid()::int8"))[0].int64(0);
            } catch (const db::error& e) {
                EXPECT_EQ(e.code(), errc::connection_lost) << e.what();
                ++failures;
            }
        }
    });
    EXPECT_NE(pid_after, 0);
    EXPECT_NE(pid_after, pid_before);
    EXPECT_LE(failures, 1);
}

TEST_F(PgPool, ConnectFailureIsConnectionLostAndBacksOff) {
    pool_options options;
    options.checkout_timeout = milliseconds(500);
    options.connect_timeout = milliseconds(500);
    // A port nobody listens on: 1 is privileged and unused here.
    pool p(
        loops_, "postgresql://postgres@127.0.0.1:1/none", "postgresql://postgres@127.0.0.1:1/none", options
    );
    run_on(loops_, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
            const auto started = steady_clock::now();
            try {
                co_await p.acquire();
                ADD_FAILURE() << "connected to port 1";
            } catch (const db::error& e) {
                EXPECT_EQ(e.code(), errc::connection_lost);
                EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
            }
            EXPECT_LT(steady_clock::now() - started, milliseconds(600));
        }
    });
    EXPECT_EQ(p.busy_connections() + p.idle_connections(), 0U);
}

TEST_F(PgPool, PasswordNeverAppearsInErrors) {
    pool_options options;
    options.checkout_timeout = milliseconds(500);
    options.connect_timeout = milliseconds(500);
    const std::string url = "postgresql://postgres:SuperSecret99@127.0.0.1:1/none";
    pool p(loops_, url, redact_url(url), options);
    run_on(loops_, [&]() -> asio::awaitable<void> {
        try {
            co_await p.acquire();
        } catch (const db::error& e) {
            EXPECT_EQ(std::string(e.what()).find("SuperSecret99"), std::string::npos) << e.what();
        }
    });
}

TEST_F(PgPool, EachLoopHasItsOwnSlice) {
    runtime::event_loops loops(2);
    pool_options options;
    options.pool_size = 4;  // 2 per loop
    options.max_overflow = 0;
    auto p = make_pool(loops, options);
    std::atomic<int> ok{0};
    std::atomic<int> finished{0};
    for (std::size_t i = 0; i < loops.size(); ++i) {
        asio::co_spawn(
            loops.context(i),
            [&, i]() -> asio::awaitable<void> {
                EXPECT_EQ(runtime::event_loops::current_index(), i);
                auto a = co_await p->acquire();
                auto b = co_await p->acquire();
                co_await a.execute("SELECT 1");
                co_await b.execute("SELECT 1");
                ok += 2;
            },
            [&](std::exception_ptr e) {
                if (e) ADD_FAILURE() << "a loop failed";
                if (++finished == 2) loops.stop();
            }
        );
    }
    loops.run();
    EXPECT_EQ(ok, 4);
    EXPECT_EQ(p->idle_connections(), 4U);
}

TEST_F(PgPool, AcquireOffALoopIsALogicError) {
    pool p(loops_, schema_.url(), redact_url(schema_.url()), {});
    std::exception_ptr failure;
    // Run the coroutine on a context no event_loops thread runs.
    asio::io_context foreign;
    asio::co_spawn(
        foreign,
        [&]() -> asio::awaitable<void> { co_await p.acquire(); },
        [&](std::exception_ptr e) { failure = e; }
    );
    foreign.run();
    ASSERT_TRUE(failure);
    EXPECT_THROW(std::rethrow_exception(failure), std::logic_error);
}

TEST_F(PgPool, CloseRefusesNewCheckoutsAndDropsIdleConnections) {
    auto p = make_pool(loops_, {});
    run_on(loops_, [&]() -> asio::awaitable<void> {
        { auto l = co_await p->acquire(); }
        EXPECT_EQ(p->idle_connections(), 1U);
        p->close();
        co_await sleep_for(milliseconds(10));
        EXPECT_EQ(p->idle_connections(), 0U);
        try {
            co_await p->acquire();
            ADD_FAILURE() << "checkout after close";
        } catch (const db::error& e) {
            EXPECT_EQ(e.code(), errc::shutting_down);
        }
    });
}

// At shutdown a request cut off mid-query keeps its coroutine suspended, with its lease, until
// the event loops are destroyed — after the pool. Releasing such a lease must only close its
// connection: it used to return it to the freed slice (a crash at exit under ASan, and exit
// code 139 in production).
TEST_F(PgPool, ALeaseThatOutlivesItsPoolOnlyClosesItsConnection) {
    pool_options options;
    options.max_writers = 1;
    auto p = make_pool(loops_, options);
    std::optional<lease> survivor;
    run_on(loops_, [&]() -> asio::awaitable<void> {
        survivor.emplace(co_await p->acquire_for_writes());
        co_await survivor->execute("SELECT 1");
    });
    p->close();
    p.reset();
    survivor.reset();
}

// A writer queued for a write slot when the pool closes is told shutting_down at once (not
// after the checkout timeout), and the slot its holder returns afterwards is not lost.
TEST_F(PgPool, CloseWakesQueuedWritersWithShuttingDown) {
    pool_options options;
    options.max_writers = 1;
    options.checkout_timeout = seconds(10);
    auto p = make_pool(loops_, options);
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        auto holder = std::make_unique<lease>(co_await p->acquire_for_writes());
        std::optional<errc> queued_error;
        bool finished = false;
        const auto started = steady_clock::now();
        asio::co_spawn(
            executor,
            [&]() -> asio::awaitable<void> {
                try {
                    auto l = co_await p->acquire_for_writes();
                    ADD_FAILURE() << "a queued writer was admitted after close";
                } catch (const db::error& e) {
                    queued_error = e.code();
                }
            },
            [&](std::exception_ptr) { finished = true; }
        );
        co_await sleep_for(milliseconds(50));
        p->close();
        while (!finished) co_await sleep_for(milliseconds(5));
        EXPECT_EQ(queued_error, errc::shutting_down);
        EXPECT_LT(steady_clock::now() - started, seconds(2));
        holder.reset();  // returns its slot to a closed pool: no waiter left, nothing breaks
    });
}

TEST_F(PgPool, LeaseReturnedInsideATransactionIsRolledBack) {
    pool_options options;
    options.pool_size = 1;
    options.max_overflow = 0;
    auto p = make_pool(loops_, options);
    test::pg_admin(schema_.url()).exec("CREATE TABLE t (n int)");
    run_on(loops_, [&]() -> asio::awaitable<void> {
        {
            auto l = co_await p->acquire();
            co_await l.pipeline(stmt("BEGIN"), stmt("INSERT INTO t VALUES (1)"));
        }  // returned mid-transaction
        auto l = co_await p->acquire();
        auto r = co_await l.execute("SELECT count(*)::int8 FROM t");
        EXPECT_EQ(r[0].int64(0), 0);
    });
}

TEST_F(PgPool, ConnectionsOlderThanRecycleAreReplaced) {
    pool_options options;
    options.pool_size = 1;
    options.recycle = seconds(1);
    auto p = make_pool(loops_, options);
    std::int64_t first = 0;
    std::int64_t young = 0;
    std::int64_t after_recycle = 0;
    run_on(loops_, [&]() -> asio::awaitable<void> {
        const auto backend_pid = [&]() -> asio::awaitable<std::int64_t> {
            auto l = co_await p->acquire();
            co_return (co_await l.execute("SELECT pg_backend_pid()::int8"))[0].int64(0);
        };
        first = co_await backend_pid();
        young = co_await backend_pid();
        co_await sleep_for(milliseconds(1100));
        after_recycle = co_await backend_pid();
    });
    EXPECT_EQ(first, young);
    EXPECT_NE(first, after_recycle);
    // The recycled connection was closed, not leaked: the server no longer has it.
    // (The backend exits a moment after the Terminate message: poll briefly.)
    test::pg_admin admin(schema_.base_url());
    std::string still_there = "1";
    for (int i = 0; i < 50 && still_there != "0"; ++i) {
        still_there =
            admin.exec("SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(first));
        if (still_there != "0") std::this_thread::sleep_for(milliseconds(20));
    }
    EXPECT_EQ(still_there, "0");
}

TEST_F(PgPool, ObserverSeesCheckoutsAndRoundTrips) {
    auto p = make_pool(loops_, {});
    int waits = 0;
    int queries = 0;
    int changes = 0;
    int writer_changes = 0;
    p->set_observer(
        {[&](double s) { waits += s >= 0 ? 1 : 0; },
         [&](double s) { queries += s > 0 ? 1 : 0; },
         [&] { ++changes; },
         [&] { ++writer_changes; }}
    );
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto l = co_await p->acquire();
        co_await l.execute("SELECT 1");
        co_await l.transaction(stmt("SELECT 1"));
        auto w = co_await p->acquire_for_writes();
    });
    EXPECT_EQ(waits, 2);
    EXPECT_EQ(queries, 2);
    EXPECT_GE(changes, 2);         // connecting, then returned idle
    EXPECT_EQ(writer_changes, 2);  // the write slot taken, then freed
}

}  // namespace
}  // namespace svc::db::pg
