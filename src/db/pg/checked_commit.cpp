#include "db/pg/checked_commit.hpp"

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "db/error.hpp"

namespace svc::db::pg {

namespace {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

// What became of transaction $1: committed, aborted, in progress, or NULL (too old to tell).
// An id at or past the next one to be assigned was lost with its WAL in a crash, and
// pg_xact_status() would raise an error for it: it never committed.
constexpr std::string_view k_transaction_status = R"sql(
SELECT CASE WHEN $1::xid8 >= pg_snapshot_xmax(pg_current_snapshot()) THEN 'aborted'
            ELSE pg_xact_status($1::xid8) END)sql";

// Between two look-ups while the transaction is still in progress (its backend has not yet
// noticed that its client is gone) or the server cannot be reached.
constexpr std::chrono::milliseconds k_look_up_interval{50};

enum class fate : std::uint8_t { committed, aborted, unknown };

// Asks fresh connections of `pool` what became of `transaction_id`, until the answer is final
// or `deadline` passes.
asio::awaitable<fate> look_up(pool& pool, std::string transaction_id, clock::time_point deadline) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (;;) {
        try {
            auto lease = co_await pool.acquire();
            auto rows = co_await lease.execute(k_transaction_status, transaction_id);
            if (!rows.empty() && !rows[0].is_null(0)) {
                const auto status = rows[0].text_view(0);
                if (status == "committed") co_return fate::committed;
                if (status == "aborted") co_return fate::aborted;
            }
        } catch (const db::error&) {
            // The server is restarting or unreachable: try again until the deadline.
        }
        if (clock::now() + k_look_up_interval >= deadline) co_return fate::unknown;
        pause.expires_after(k_look_up_interval);
        co_await pause.async_wait(asio::use_awaitable);
    }
}

}  // namespace

asio::awaitable<std::vector<result>> commit_checked(
    pool& pool, lease writer, std::vector<query> work, transaction_start start
) {
    if (work.empty()) throw std::logic_error("commit_checked: no statement to commit");
    const std::size_t work_count = work.size();
    std::vector<query> statements;
    statements.reserve(commit_checked_statements(work_count, start));
    if (start == transaction_start::begin) statements.push_back({"BEGIN", {}});
    const std::size_t first_work = statements.size();
    for (auto& q : work) statements.push_back(std::move(q));
    const std::size_t id_at = statements.size() - 1;  // the last work statement carries the id
    statements.back().flush_after = true;
    statements.push_back({"COMMIT", {}});

    std::vector<result> results;
    std::optional<db::error> lost;
    bool client_gave_up = false;
    try {
        co_await writer.pipeline_into(std::move(statements), results);
    } catch (const db::error& e) {
        if (e.code() != errc::connection_lost) throw;
        lost = e;
        client_gave_up = writer.timed_out();
    }
    {
        // Done with the connection (a lost one is dropped) before any look-up below.
        lease done = std::move(writer);
    }

    auto work_results = [&] {
        std::vector<result> out;
        out.reserve(work_count);
        for (std::size_t i = first_work; i < first_work + work_count; ++i)
            out.push_back(std::move(results[i]));
        return out;
    };
    if (results.size() > id_at && results[id_at].column_index(k_transaction_id_column) < 0) {
        throw std::logic_error("commit_checked: the last statement does not return transaction_id");
    }
    if (!lost) co_return work_results();
    if (results.size() > id_at + 1) {
        // COMMIT's own answer came before the connection went: committed.
        spdlog::info("database: lost the connection right after a commit; the transaction committed");
        co_return work_results();
    }

    if (results.size() <= id_at) {
        // The server sends the id before it commits; without it, it never reached COMMIT —
        // unless we stopped listening first.
        if (client_gave_up) {
            throw db::error(
                errc::outcome_unknown, "no reply to a write's commit in time: " + std::string(lost->what())
            );
        }
        throw *lost;
    }
    const auto& carrier = results[id_at];
    const int id_column = carrier.column_index(k_transaction_id_column);
    // No row or a NULL id: the transaction wrote nothing, so there is nothing to lose.
    if (carrier.empty() || carrier[0].is_null(id_column)) co_return work_results();

    const auto deadline = clock::now() + pool.options().checkout_timeout;
    const auto transaction_id = carrier[0].text(id_column);
    switch (co_await look_up(pool, transaction_id, deadline)) {
        case fate::committed:
            spdlog::info(
                "database: lost the connection during a commit; transaction {} committed", transaction_id
            );
            co_return work_results();
        case fate::aborted:
            spdlog::info(
                "database: lost the connection during a commit; transaction {} rolled back", transaction_id
            );
            throw *lost;
        case fate::unknown:
            spdlog::warn(
                "database: lost the connection during a commit; transaction {} undecided", transaction_id
            );
            break;
    }
    throw db::error(
        errc::outcome_unknown,
        "lost the connection during a commit, and its outcome is still unknown: " + std::string(lost->what())
    );
}

}  // namespace svc::db::pg
