#include "db/database_url.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>

#include <libpq-fe.h>

namespace svc::db {

std::string_view to_string(backend b) {
    return b == backend::sqlite ? "sqlite" : "postgresql";
}

std::string redact_url(std::string_view url) {
    std::string out(url);
    // userinfo password: scheme://user:PASSWORD@host — only within the authority part.
    if (auto scheme_end = out.find("://"); scheme_end != std::string::npos) {
        const std::size_t authority = scheme_end + 3;
        std::size_t authority_end = out.find_first_of("/?#", authority);
        if (authority_end == std::string::npos) authority_end = out.size();
        // The last '@' of the authority ends the userinfo (a password may contain '@').
        const std::size_t at = out.rfind('@', authority_end);
        if (at != std::string::npos && at >= authority) {
            const std::size_t colon = out.find(':', authority);
            if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
        }
    }
    // password=… as a query parameter (URI) or a key=value pair (conninfo string).
    for (std::size_t pos = out.find("password="); pos != std::string::npos;
         pos = out.find("password=", pos + 1)) {
        const std::size_t value = pos + 9;
        std::size_t value_end = out.find_first_of("& ", value);
        if (value_end == std::string::npos) value_end = out.size();
        out.replace(value, value_end - value, "***");
    }
    return out;
}

namespace {

database_url parse_sqlite(std::string_view url, std::string_view rest, std::string_view data_dir) {
    if (rest.empty()) throw url_error("DATABASE_URL " + std::string(url) + ": sqlite:// needs a file path");
    if (rest.find('?') != std::string_view::npos || rest.find('#') != std::string_view::npos) {
        throw url_error("DATABASE_URL " + std::string(url) + ": sqlite:// takes no query parameters");
    }
    database_url parsed;
    parsed.backend = backend::sqlite;
    parsed.redacted = std::string(url);
    if (rest == ":memory:") {
        parsed.sqlite_path = ":memory:";
        return parsed;
    }
    const std::filesystem::path path{std::string(rest)};
    parsed.sqlite_path =
        path.is_absolute() ? path.string() : (std::filesystem::path(std::string(data_dir)) / path).string();
    return parsed;
}

database_url parse_postgres(std::string_view url) {
    database_url parsed;
    parsed.backend = backend::postgresql;
    parsed.conninfo = std::string(url);
    parsed.redacted = redact_url(url);
    char* message = nullptr;
    PQconninfoOption* options = PQconninfoParse(parsed.conninfo.c_str(), &message);
    if (options == nullptr) {
        std::string reason = message != nullptr ? message : "out of memory";
        PQfreemem(message);
        while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
        // libpq's message quotes no password, but may quote the offending fragment: redact it.
        throw url_error("DATABASE_URL " + parsed.redacted + " is malformed: " + redact_url(reason));
    }
    // libpq only checks the port when connecting; a typo there should stop the start-up.
    std::string bad_port;
    for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
        if (std::string_view(o->keyword) != "port" || o->val == nullptr) continue;
        const std::string_view ports = o->val;  // "5432" or "5432,5433" for several hosts
        for (std::size_t start = 0; start <= ports.size();) {
            const std::size_t end = std::min(ports.find(',', start), ports.size());
            const std::string_view port = ports.substr(start, end - start);
            const bool digits = !port.empty() && port.size() <= 5 &&
                                port.find_first_not_of("0123456789") == std::string_view::npos;
            if (!port.empty() && (!digits || std::stoi(std::string(port)) > 65535)) bad_port = port;
            start = end + 1;
        }
    }
    PQconninfoFree(options);
    if (!bad_port.empty()) {
        throw url_error(
            "DATABASE_URL " + parsed.redacted + " is malformed: invalid port \"" + bad_port + "\""
        );
    }
    return parsed;
}

}  // namespace

database_url parse_database_url(std::string_view url, std::string_view data_dir) {
    constexpr std::string_view k_sqlite = "sqlite://";
    if (url.starts_with(k_sqlite)) return parse_sqlite(url, url.substr(k_sqlite.size()), data_dir);
    if (url.starts_with("postgresql://") || url.starts_with("postgres://")) return parse_postgres(url);
    throw url_error(
        "DATABASE_URL " + redact_url(url) + " is not supported: use sqlite://PATH or postgresql://…"
    );
}

}  // namespace svc::db
