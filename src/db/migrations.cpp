#include "db/migrations.hpp"

#include <memory>
#include <string>

#include <libpq-fe.h>

#include "db/error.hpp"
#include "db/sqlite/database.hpp"

namespace svc::db {

namespace {

constexpr std::string_view k_create_table_pg =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";
constexpr std::string_view k_create_table_sqlite =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)";
// Keyed by schema, so migrators of different schemas (tests, tenants) do not wait on each other.
constexpr std::string_view k_lock_pg =
    "SELECT pg_advisory_xact_lock(hashtext('orders-service:migrations:' || coalesce(current_schema(), '')))";

std::string one_line(const char* message) {
    std::string text = message != nullptr ? message : "";
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    for (char& c : text) {
        if (c == '\n' || c == '\t') c = ' ';
    }
    return text;
}

// ---- PostgreSQL, blocking libpq (start-up only) ----

struct pg_deleter {
    void operator()(PGconn* c) const { PQfinish(c); }
};
using pg_handle = std::unique_ptr<PGconn, pg_deleter>;
struct result_deleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using result_handle = std::unique_ptr<PGresult, result_deleter>;

pg_handle pg_connect(const database_url& url) {
    // connect_timeout comes first so that one in the URL overrides it.
    const char* const keywords[] = {"connect_timeout", "dbname", "fallback_application_name", nullptr};
    const char* const values[] = {"10", url.conninfo.c_str(), "orders-service-migrate", nullptr};
    pg_handle conn(PQconnectdbParams(keywords, values, 1));
    if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
        throw db::error(
            errc::connection_lost,
            "cannot connect to " + url.redacted + ": " +
                (conn ? one_line(PQerrorMessage(conn.get())) : "out of memory")
        );
    }
    PQsetNoticeProcessor(
        conn.get(), [](void*, const char*) {}, nullptr
    );
    return conn;
}

result_handle pg_exec(PGconn* conn, std::string_view sql, const std::string& context) {
    result_handle r(PQexec(conn, std::string(sql).c_str()));
    const ExecStatusType status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        throw migration_error(context + ": " + one_line(PQresultErrorMessage(r.get())));
    }
    return r;
}

int pg_version_in_transaction(PGconn* conn) {
    auto r =
        pg_exec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations", "reading schema_migrations");
    return std::stoi(PQgetvalue(r.get(), 0, 0));
}

migration_report migrate_pg(const database_url& url) {
    auto conn = pg_connect(url);
    PGconn* c = conn.get();
    const int latest = latest_version(backend::postgresql);
    migration_report report;
    pg_exec(c, "BEGIN", "starting the migration transaction");
    try {
        pg_exec(c, k_lock_pg, "taking the migration lock");
        pg_exec(c, k_create_table_pg, "creating schema_migrations");
        report.from_version = pg_version_in_transaction(c);
        if (report.from_version > latest) {
            throw migration_error(
                "the database schema is at version " + std::to_string(report.from_version) +
                ", newer than this binary's " + std::to_string(latest) + ": refusing to run on it"
            );
        }
        for (const migration& m : embedded_migrations(backend::postgresql)) {
            if (m.version <= report.from_version) continue;
            const std::string label = "migration " + std::to_string(m.version) + "_" + std::string(m.name);
            pg_exec(c, m.sql, label);
            const std::string version = std::to_string(m.version);
            const std::string name(m.name);
            const char* const args[] = {version.c_str(), name.c_str()};
            result_handle r(PQexecParams(
                c,
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                2,
                nullptr,
                args,
                nullptr,
                nullptr,
                0
            ));
            if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
                throw migration_error("recording " + label + ": " + one_line(PQresultErrorMessage(r.get())));
            }
            report.applied.push_back(m.version);
        }
        pg_exec(c, "COMMIT", "committing the migrations");
    } catch (...) {
        PQclear(PQexec(c, "ROLLBACK"));
        throw;
    }
    report.to_version = report.applied.empty() ? report.from_version : report.applied.back();
    return report;
}

int schema_version_pg(const database_url& url) {
    auto conn = pg_connect(url);
    auto r = pg_exec(
        conn.get(), "SELECT to_regclass('schema_migrations') IS NOT NULL", "looking for schema_migrations"
    );
    if (std::string_view(PQgetvalue(r.get(), 0, 0)) != "t") return 0;
    return pg_version_in_transaction(conn.get());
}

// ---- SQLite ----

int sqlite_version(sqlite::connection& conn) {
    auto s = conn.prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
    s.step();
    return static_cast<int>(s.column_int64(0));
}

migration_report migrate_sqlite(const database_url& url) {
    sqlite::connection conn(url.sqlite_path, false, std::chrono::seconds(30));
    const int latest = latest_version(backend::sqlite);
    migration_report report;
    // BEGIN IMMEDIATE takes the write lock first: a second migrator waits (busy timeout) and
    // then sees the first one's work.
    sqlite::transaction tx(conn, sqlite::transaction::mode::immediate);
    conn.exec(k_create_table_sqlite);
    report.from_version = sqlite_version(conn);
    if (report.from_version > latest) {
        throw migration_error(
            "the database schema is at version " + std::to_string(report.from_version) +
            ", newer than this binary's " + std::to_string(latest) + ": refusing to run on it"
        );
    }
    for (const migration& m : embedded_migrations(backend::sqlite)) {
        if (m.version <= report.from_version) continue;
        try {
            conn.exec(m.sql);
        } catch (const db::error& e) {
            throw migration_error(
                "migration " + std::to_string(m.version) + "_" + std::string(m.name) + ": " + e.what()
            );
        }
        auto record = conn.prepare(
            "INSERT INTO schema_migrations (version, name, applied_at)"
            " VALUES (?1, ?2, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))"
        );
        record.bind(1, m.version).bind(2, m.name).run();
        report.applied.push_back(m.version);
    }
    tx.commit();
    report.to_version = report.applied.empty() ? report.from_version : report.applied.back();
    return report;
}

int schema_version_sqlite(const database_url& url) {
    sqlite::connection conn(url.sqlite_path, false, std::chrono::seconds(30));
    auto exists =
        conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
    if (!exists.step()) return 0;
    return sqlite_version(conn);
}

}  // namespace

int latest_version(backend b) {
    const auto all = embedded_migrations(b);
    return all.empty() ? 0 : all.back().version;
}

migration_report migrate(const database_url& url) {
    return url.backend == backend::postgresql ? migrate_pg(url) : migrate_sqlite(url);
}

int schema_version(const database_url& url) {
    return url.backend == backend::postgresql ? schema_version_pg(url) : schema_version_sqlite(url);
}

void require_current_schema(const database_url& url) {
    const int current = schema_version(url);
    const int latest = latest_version(url.backend);
    if (current < latest) {
        throw migration_error(
            "the database schema is at version " + std::to_string(current) + ", this binary needs " +
            std::to_string(latest) + ": run `orders-service migrate` (or start without --no-migrate)"
        );
    }
    if (current > latest) {
        throw migration_error(
            "the database schema is at version " + std::to_string(current) + ", newer than this binary's " +
            std::to_string(latest) + ": refusing to run on it"
        );
    }
}

}  // namespace svc::db
