#pragma once
// Committing a write so that a lost connection never turns a committed transaction into a
// "not done" answer.
//
// The window it closes: the client sends COMMIT, the server commits, and the connection dies
// (pg_terminate_backend, a killed backend, a server crash, a network cut) before the answer
// comes back. The client cannot tell that from a connection lost before COMMIT ran, and
// answering "unavailable, retry" then makes a retrying client do the write twice.
//
// How: the write's last statement also returns the transaction's id — a column
// `transaction_id`, `pg_current_xact_id_if_assigned()::text`, NULL when
// the transaction wrote nothing — and the server is asked to flush its output right after that
// statement (a Flush message). So every result before COMMIT, the id included, is on its way
// to the client before the server starts to commit. When the connection is lost:
// - no id arrived, and the server closed or reset the connection: it never reached COMMIT,
//   so nothing committed — the original db::error(connection_lost) is thrown (503
//   `unavailable`);
// - no id arrived because the client stopped waiting (the round trip's bound passed): the
//   server may still be working — db::error(outcome_unknown);
// - the id arrived and is NULL: the transaction wrote nothing, so its results (a refusal)
//   are the outcome whether or not COMMIT ran: they are returned;
// - the id arrived: a fresh connection asks `pg_xact_status(id)` until it says committed
//   (the results are returned, as if COMMIT had answered) or aborted (connection_lost is
//   thrown), for at most the pool's checkout timeout (DB_POOL_TIMEOUT) — then
//   db::error(outcome_unknown). An id the server no longer knows (it is "in the future"
//   after a crash lost the transaction's WAL) counts as aborted.
// Happy-path cost: one column and one Flush message in the same round trip (a separate
// `SELECT pg_current_xact_id_if_assigned()` cost ~5% of create_order's throughput).
//
// Every write that must not be answered "not done" after it committed goes through this:
// the order store's create, item replacement, transitions and product writes.

#include <cstddef>
#include <cstdint>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "db/pg/pool.hpp"

namespace svc::db::pg {

// Whether commit_checked() sends BEGIN itself, or the transaction was begun by an earlier
// round trip of the same lease.
enum class transaction_start : std::uint8_t { begin, already_open };

// The column the last statement of a checked commit returns, and the SQL that computes it:
//     RETURNING …, pg_current_xact_id_if_assigned()::text AS transaction_id
// It must return at least one row whenever the transaction has written something; no row (or
// a NULL id) means nothing was written.
inline constexpr const char* k_transaction_id_column = "transaction_id";

// Sends [BEGIN;] `work`; Flush; COMMIT in one round trip on `writer` and returns the results
// of `work` (one per statement); the last statement of `work` must return the
// k_transaction_id_column (std::logic_error otherwise, on the first use). The lease is
// consumed: when the connection is lost it is returned (and dropped) before the outcome is
// looked up on another connection of `pool`, so a pool full of lost connections cannot
// starve the look-ups. Throws db::error as the statements do, and as described above when
// the connection is lost. Call on an event loop thread of `pool`.
boost::asio::awaitable<std::vector<result>> commit_checked(
    pool& pool, lease writer, std::vector<query> work, transaction_start start
);

// The number of statements commit_checked() sends for `work` statements (for statement
// counters): BEGIN (unless already open), the work, COMMIT.
constexpr std::size_t commit_checked_statements(std::size_t work, transaction_start start) {
    return work + (start == transaction_start::begin ? 1 : 0) + 1;
}

}  // namespace svc::db::pg
