#pragma once
// Typed database errors. Both backends (PostgreSQL SQLSTATEs, SQLite extended result codes)
// are mapped to `db::errc` inside src/db; nothing outside db/ ever sees a SQLSTATE string.
//
// Tiering: every database call reports a failure by throwing `db::error`. Callers catch it
// where a code is an expected business outcome (unique_violation on a duplicate product id,
// check_violation on a stock decrement) and let the rest propagate; `is_unavailable()` says
// whether the API should answer 503 `unavailable` with Retry-After.

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
    lock_not_available,     // 55P03 (lock_timeout, NOWAIT)
    statement_timeout,      // 57014: the server cancelled the statement (DB_STATEMENT_TIMEOUT_MS)
    connection_lost,        // the server went away, could not be reached, or a client deadline expired
    pool_timeout,           // no connection became free within DB_POOL_TIMEOUT
    busy,                   // SQLite: the database stayed locked past the busy timeout
    shutting_down,          // the pool is closed
    other,                  // any other server-reported error (a bug: bad SQL, wrong types)
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
    // For a pipeline: the index of the statement that failed, counting from 0; -1 otherwise.
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
