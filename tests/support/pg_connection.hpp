#pragma once
// A plain blocking libpq connection for test set-up and independent checks (never used by the
// service itself, which talks to PostgreSQL only through src/db's non-blocking pool).

#include <stdexcept>
#include <string>

#include <libpq-fe.h>

namespace svc::test {

class pg_connection {
public:
    explicit pg_connection(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
        if (PQstatus(conn_) != CONNECTION_OK) {
            std::string message = PQerrorMessage(conn_);
            PQfinish(conn_);
            throw std::runtime_error("cannot connect: " + message);
        }
        PQsetNoticeProcessor(
            conn_, [](void*, const char*) {}, nullptr
        );
    }
    ~pg_connection() { PQfinish(conn_); }
    pg_connection(const pg_connection&) = delete;
    pg_connection& operator=(const pg_connection&) = delete;

    // Runs `sql`; returns the first column of the first row ("" when none). Throws on error.
    std::string exec(const std::string& sql) {
        PGresult* r = PQexec(conn_, sql.c_str());
        const auto status = PQresultStatus(r);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            std::string message = PQresultErrorMessage(r);
            PQclear(r);
            throw std::runtime_error(sql + ": " + message);
        }
        std::string value = PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "";
        PQclear(r);
        return value;
    }

private:
    PGconn* conn_;
};

}  // namespace svc::test
