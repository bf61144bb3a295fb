#pragma once
// DATABASE_URL parsing and redaction.

#include <stdexcept>
#include <string>
#include <string_view>

namespace svc::db {

enum class backend { sqlite, postgresql };

std::string_view to_string(backend b);

struct database_url {
    db::backend backend = backend::sqlite;
    // SQLite: the database file, already resolved against DATA_DIR (or ":memory:").
    std::string sqlite_path;
    // PostgreSQL: the URI exactly as given (password included) — hand it to libpq only.
    std::string conninfo;
    // The URL with any password replaced by "***": the only form that may be logged.
    std::string redacted;
};

// Thrown for a malformed DATABASE_URL. what() is one line, safe to print (no password).
class url_error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Parses `url`: `sqlite://PATH` (relative PATH is resolved against `data_dir`,
// `sqlite:///abs/path` is absolute, `sqlite://:memory:` is in-memory) or a libpq URI
// `postgresql://…` / `postgres://…` (validated by libpq itself, sslmode and friends
// included). Throws url_error.
database_url parse_database_url(std::string_view url, std::string_view data_dir = ".");

// `url` with the password of a `scheme://user:password@host` URI and any `password=` query
// parameter replaced by "***". Safe on malformed input.
std::string redact_url(std::string_view url);

}  // namespace svc::db
