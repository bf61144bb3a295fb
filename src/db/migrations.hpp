#pragma once
// Schema migrations: numbered SQL files per dialect (migrations/postgresql/NNN_name.sql,
// migrations/sqlite/NNN_name.sql), embedded in the binary at build time.
//
// migrate() applies the missing ones in ONE transaction under a lock, recording each in
// `schema_migrations(version, name, applied_at)`: PostgreSQL takes a transaction-scoped
// advisory lock keyed by the current schema, so N replicas starting together apply each
// migration exactly once; SQLite takes BEGIN IMMEDIATE. A database whose schema is newer
// than this binary's latest migration is refused (migration_error), and nothing is changed.
//
// These functions block: call them at start-up or from `orders-service migrate`, before the
// event loops run — never on a loop thread.

#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "db/database_url.hpp"

namespace svc::db {

struct migration {
    int version;            // NNN of the file name
    std::string_view name;  // the file name without NNN_ and .sql
    std::string_view sql;
};

// The embedded migrations of `b`, by ascending version.
std::span<const migration> embedded_migrations(backend b);
// The highest embedded version of `b` (0 when there are none).
int latest_version(backend b);

// A schema this binary cannot run on, or a failed migration. what() is one line, no secrets.
class migration_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct migration_report {
    int from_version = 0;      // schema version before
    int to_version = 0;        // schema version after (== latest_version() on success)
    std::vector<int> applied;  // versions this call applied (empty: already current)
};

// Applies pending migrations. Throws migration_error (schema newer than the binary, a
// migration failed — the transaction is rolled back) or db::error (cannot connect).
migration_report migrate(const database_url& url);

// The schema's current version (0: no schema_migrations table yet). Throws db::error.
int schema_version(const database_url& url);

// For --no-migrate: throws migration_error unless schema_version() == latest_version().
void require_current_schema(const database_url& url);

}  // namespace svc::db
