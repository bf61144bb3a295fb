#pragma once
// Typed database errors. Both backends (PostgreSQL SQLSTATEs, SQLite extended result codes)
// are mapped to `db::errc` inside src/db; nothing outside db/ ever sees a SQLSTATE string.
//
// Every database call reports a failure by throwing `db::error`; callers decide by its
// predicates, not by SQLSTATE. `is_unavailable()`: the database cannot serve right now — the
// API answers 503 `unavailable` with Retry-After. `is_retryable()`: the whole transaction may
// be run again (the order stores retry it a few times, then answer like an outage).
// `errc::outcome_unknown`: a write whose commit could not be settled — 503 `outcome_unknown`,
// never retried. Anything else is a bug (bad SQL, a violated schema constraint the code should
// have prevented) and is answered 500. No caller treats a code as a business outcome: a
// duplicate product id and missing stock are decided in SQL and returned as values
// (orders/store.hpp).

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace svc::db {

enum class errc : std::uint8_t {
    unique_violation = 1,   // 23505 / SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
    check_violation,        // 23514 / SQLITE_CONSTRAINT_CHECK
    foreign_key_violation,  // 23503 / SQLITE_CONSTRAINT_FOREIGNKEY
    not_null_violation,     // 23502 / SQLITE_CONSTRAINT_NOTNULL
    serialization_failure,  // 40001: retry the whole transaction
    deadlock,               // 40P01: retry the whole transaction
    lock_not_available,     // 55P03 (lock_timeout, NOWAIT; the service uses neither)
    statement_timeout,      // 57014: the server cancelled the statement (DB_STATEMENT_TIMEOUT_MS)
    connection_lost,        // PostgreSQL: class 08, 57P01-03, 53300, or the connection broke or hit
                            // its client-side deadline; SQLite: cannot open, I/O error, disk full,
                            // read-only file, the file deleted or replaced under the service
    pool_timeout,           // no connection became free within DB_POOL_TIMEOUT
    busy,                   // SQLite: the database stayed locked past the busy timeout
    shutting_down,          // the pool is closed
    // PostgreSQL: the connection was lost after a write's COMMIT may have run, and whether it
    // committed could not be settled in time (pg::commit_checked). Not is_unavailable():
    // a retry could do the write twice.
    outcome_unknown,
    other,  // any other server-reported error (a bug: bad SQL, wrong types)
};

std::string_view to_string(errc code);

const std::error_category& error_category();
std::error_code make_error_code(errc code);

class error : public std::runtime_error {
public:
    // `message` must already be free of secrets (connection strings are redacted by the
    // caller). `constraint` is the violated constraint's name when the server reports one.
    error(errc code, const std::string& message, std::string constraint = {}, int statement_index = -1);

    errc code() const { return code_; }
    // Name of the violated constraint ("products_pkey", "products_stock_check"), or empty.
    const std::string& constraint() const { return constraint_; }
    // The index of the failing statement among the call's statements, counting from 0 (a
    // single execute is statement 0); -1 when no statement failed (connect, pool, a broken
    // connection). pg::lease::transaction counts its own BEGIN as -1 and COMMIT as size().
    int statement_index() const { return statement_index_; }
    // The same error, reported for another statement index (e.g. counting from a caller's
    // first statement rather than from a BEGIN the library added).
    error with_statement_index(int index) const {
        error copy = *this;
        copy.statement_index_ = index;
        return copy;
    }

    // True for failures that mean "the database is not available right now" (503 +
    // Retry-After): connection_lost, pool_timeout, statement_timeout, busy, shutting_down.
    bool is_unavailable() const;
    // True when retrying the same transaction may succeed: serialization_failure, deadlock.
    bool is_retryable() const;

private:
    errc code_;
    std::string constraint_;
    int statement_index_;
};

}  // namespace svc::db

template <>
struct std::is_error_code_enum<svc::db::errc> : std::true_type {};
