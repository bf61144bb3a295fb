// The SQLite backend on a real temp file: connection settings, file modes, work off the loop
// and back on it, typed errors, transactions, readers concurrent with the writer.
#include "db/sqlite/database.hpp"

#include <filesystem>
#include <thread>

#include <boost/asio/this_coro.hpp>
#include <gtest/gtest.h>

#include "db/error.hpp"
#include "support/db_support.hpp"
#include <sys/stat.h>

namespace svc::db::sqlite {
namespace {

namespace asio = boost::asio;
using test::run_on;

class Sqlite : public ::testing::Test {
protected:
    void SetUp() override {
        db_ = std::make_unique<database>(database_options{file_.path(), 2, std::chrono::milliseconds(2000)});
        run_on(loops_, [&]() -> asio::awaitable<void> {
            co_await db_->write([](connection& c) {
                c.exec(
                    "CREATE TABLE stock (id TEXT PRIMARY KEY, qty INTEGER NOT NULL CHECK (qty >= 0)) STRICT;"
                    "CREATE TABLE line (stock_id TEXT NOT NULL REFERENCES stock (id), n INTEGER NOT NULL) "
                    "STRICT;"
                    "INSERT INTO stock VALUES ('a', 5), ('b', 1)"
                );
            });
        });
    }
    test::temp_sqlite file_;
    runtime::event_loops loops_{1};
    std::unique_ptr<database> db_;
};

std::string pragma(connection& c, const char* name) {
    auto s = c.prepare(std::string("PRAGMA ") + name);
    s.step();
    return s.column_text(0);
}

TEST_F(Sqlite, EveryConnectionHasTheAgreedSettings) {
    run_on(loops_, [&]() -> asio::awaitable<void> {
        const auto check = [](connection& c) {
            EXPECT_EQ(pragma(c, "journal_mode"), "wal");
            EXPECT_EQ(pragma(c, "synchronous"), "1");  // NORMAL
            EXPECT_EQ(pragma(c, "foreign_keys"), "1");
            EXPECT_EQ(pragma(c, "busy_timeout"), "2000");
            return 0;
        };
        co_await db_->write(check);
        co_await db_->read(check);
    });
}

mode_t permission_bits(const std::filesystem::path& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
    return info.st_mode & 0777U;
}

// Other local users can neither list the directories created for the database nor read the
// database, its WAL or its shared-memory index; what existed before keeps its mode.
TEST(SqliteFiles, ANewDatabaseIsOwnerOnly) {
    const test::temp_sqlite scratch;
    const std::filesystem::path dir = std::filesystem::path(scratch.dir()) / "data" / "nested";
    const std::string path = (dir / "orders.db").string();
    {
        connection writer(path, false, std::chrono::milliseconds(1000));
        writer.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)");
        EXPECT_EQ(permission_bits(dir.parent_path()), 0700U);
        EXPECT_EQ(permission_bits(dir), 0700U);
        EXPECT_EQ(permission_bits(path), 0600U);
        EXPECT_EQ(permission_bits(path + "-wal"), 0600U);
        EXPECT_EQ(permission_bits(path + "-shm"), 0600U);
    }
    ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
    connection again(path, false, std::chrono::milliseconds(1000));
    EXPECT_EQ(permission_bits(path), 0640U);
}

// A write SQLite refuses because the file cannot be written is an outage (503), not a bug (500).
TEST(SqliteFiles, AReadOnlyDatabaseIsUnavailable) {
    const test::temp_sqlite scratch;
    connection(scratch.path(), false, std::chrono::milliseconds(1000)).exec("CREATE TABLE t (x INTEGER)");
    // mode=ro makes the writer connection read-only as a chmod would for a non-root user.
    connection writer("file:" + scratch.path() + "?mode=ro", false, std::chrono::milliseconds(1000));
    try {
        writer.exec("INSERT INTO t VALUES (1)");
        ADD_FAILURE() << "a read-only database took a write";
    } catch (const db::error& e) {
        EXPECT_EQ(e.code(), errc::connection_lost) << e.what();
        EXPECT_TRUE(e.is_unavailable());
    }
}

TEST(SqliteFiles, AFileDeletedOrReplacedUnderTheDatabaseIsNoticedAndRefusesWrites) {
    const test::temp_sqlite scratch;
    runtime::event_loops loops{1};
    database db(database_options{scratch.path(), 1, std::chrono::milliseconds(1000)});
    EXPECT_TRUE(db.file_in_place());
    EXPECT_TRUE(db.writable());
    std::filesystem::remove(scratch.path());
    EXPECT_FALSE(db.file_in_place());
    run_on(loops, [&]() -> asio::awaitable<void> {
        try {
            co_await db.write([](connection& c) { c.exec("CREATE TABLE t (x INTEGER)"); });
            ADD_FAILURE() << "a write went to a deleted file";
        } catch (const db::error& e) {
            EXPECT_EQ(e.code(), errc::connection_lost);
            EXPECT_NE(std::string(e.what()).find("deleted or replaced"), std::string::npos) << e.what();
        }
    });
    // A new file at the same path is another file: still refused.
    connection(scratch.path(), false, std::chrono::milliseconds(1000)).exec("CREATE TABLE u (x INTEGER)");
    EXPECT_FALSE(db.file_in_place());
}

TEST_F(Sqlite, WorkRunsOffTheLoopAndResumesOnIt) {
    run_on(loops_, [&]() -> asio::awaitable<void> {
        const auto loop_thread = std::this_thread::get_id();
        const auto worker_thread = co_await db_->read([](connection&) { return std::this_thread::get_id(); });
        EXPECT_NE(worker_thread, loop_thread);
        EXPECT_EQ(std::this_thread::get_id(), loop_thread);
        EXPECT_EQ(runtime::event_loops::current_index(), 0U);
        const auto writer_loop_index =
            co_await db_->write([](connection&) { return runtime::event_loops::current_index(); });
        EXPECT_EQ(writer_loop_index, runtime::event_loops::k_not_a_loop);
    });
}

TEST_F(Sqlite, TypedErrorsAndExceptionsCrossBackToTheCaller) {
    run_on(loops_, [&]() -> asio::awaitable<void> {
        const auto expect_code = [&](const char* sql, errc expected) -> asio::awaitable<void> {
            try {
                co_await db_->write([sql](connection& c) { c.prepare(sql).run(); });
                ADD_FAILURE() << sql << " succeeded";
            } catch (const db::error& e) {
                EXPECT_EQ(e.code(), expected) << e.what();
            }
        };
        co_await expect_code("INSERT INTO stock VALUES ('a', 1)", errc::unique_violation);
        co_await expect_code("UPDATE stock SET qty = qty - 2 WHERE id = 'b'", errc::check_violation);
        co_await expect_code("INSERT INTO line VALUES ('zz', 1)", errc::foreign_key_violation);
        co_await expect_code("INSERT INTO stock VALUES ('c', 'many')", errc::other);  // STRICT
        try {
            co_await db_->read([](connection&) -> int { throw std::runtime_error("from the worker"); });
            ADD_FAILURE() << "exception lost";
        } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "from the worker");
        }
        // Readers cannot write.
        try {
            co_await db_->read([](connection& c) { c.prepare("DELETE FROM stock").run(); });
            ADD_FAILURE() << "a reader wrote";
        } catch (const db::error&) {
        }
    });
}

TEST_F(Sqlite, TransactionRollsBackUnlessCommitted) {
    run_on(loops_, [&]() -> asio::awaitable<void> {
        try {
            co_await db_->write([](connection& c) {
                transaction tx(c);
                c.prepare("UPDATE stock SET qty = qty - 1 WHERE id = ?1").bind(1, "a").run();
                c.prepare("UPDATE stock SET qty = qty - 5 WHERE id = ?1").bind(1, "b").run();  // CHECK fails
                tx.commit();
            });
        } catch (const db::error& e) {
            EXPECT_EQ(e.code(), errc::check_violation);
        }
        co_await db_->write([](connection& c) {
            transaction tx(c);
            auto s = c.prepare("INSERT INTO line VALUES (?1, ?2)");
            s.bind(1, "a").bind(2, 3).run();
            tx.commit();
        });
        const auto qty = co_await db_->read([](connection& c) {
            auto s = c.prepare("SELECT qty FROM stock WHERE id = ?1");
            s.bind(1, std::string_view("a"));
            return s.step() ? s.column_int64(0) : -1;
        });
        EXPECT_EQ(qty, 5);
        const auto lines = co_await db_->read([](connection& c) {
            auto s = c.prepare("SELECT count(*) FROM line");
            s.step();
            return s.column_int64(0);
        });
        EXPECT_EQ(lines, 1);
    });
}

TEST_F(Sqlite, StatementHandlesResetForTheNextUse) {
    run_on(loops_, [&]() -> asio::awaitable<void> {
        const auto ids = co_await db_->read([](connection& c) {
            std::vector<std::string> out;
            for (int round = 0; round < 2; ++round) {
                auto s = c.prepare("SELECT id FROM stock ORDER BY id");
                s.step();  // read only the first row, leave the statement mid-way
                out.push_back(s.column_text(0));
            }
            return out;
        });
        EXPECT_EQ(ids, (std::vector<std::string>{"a", "a"}));
        const auto nulls = co_await db_->read([](connection& c) {
            auto s = c.prepare("SELECT ?1 IS NULL, ?2");
            s.bind(1, nullptr).bind(2, std::optional<std::int64_t>{9});
            s.step();
            return s.column_int64(0) * 10 + s.column_int64(1);
        });
        EXPECT_EQ(nulls, 19);
    });
}

TEST_F(Sqlite, ReadersRunWhileTheWriterHoldsATransaction) {
    struct shared_state {
        std::atomic<bool> writer_inside{false};
        std::atomic<bool> reader_done{false};
        std::atomic<bool> writer_finished{false};
    };
    auto state = std::make_shared<shared_state>();
    run_on(loops_, [&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        asio::co_spawn(
            executor,
            db_->write([state](connection& c) {
                transaction tx(c);
                c.prepare("UPDATE stock SET qty = 0 WHERE id = 'a'").run();
                state->writer_inside = true;
                // Hold the write transaction until the reader has read (bounded: 2 s).
                for (int i = 0; i < 400 && !state->reader_done; ++i) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
                tx.commit();
            }),
            [state](std::exception_ptr) { state->writer_finished = true; }
        );
        while (!state->writer_inside) co_await db_->read([](connection&) { return 0; });
        const auto seen = co_await db_->read([](connection& c) {
            auto s = c.prepare("SELECT qty FROM stock WHERE id = 'a'");
            s.step();
            return s.column_int64(0);
        });
        state->reader_done = true;
        EXPECT_EQ(seen, 5);  // the snapshot before the writer's uncommitted change
        while (!state->writer_finished) co_await db_->read([](connection&) { return 0; });
        const auto after = co_await db_->read([](connection& c) {
            auto s = c.prepare("SELECT qty FROM stock WHERE id = 'a'");
            s.step();
            return s.column_int64(0);
        });
        EXPECT_EQ(after, 0);
    });
}

}  // namespace
}  // namespace svc::db::sqlite
