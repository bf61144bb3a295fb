#include "db/sqlite/database.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "db/error.hpp"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace svc::db::sqlite {

namespace {

// Extended result code → errc. Busy/locked past the busy timeout means "try later" (503).
errc classify(int extended) {
    switch (extended) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
            return errc::unique_violation;
        case SQLITE_CONSTRAINT_CHECK:
            return errc::check_violation;
        case SQLITE_CONSTRAINT_FOREIGNKEY:
            return errc::foreign_key_violation;
        case SQLITE_CONSTRAINT_NOTNULL:
            return errc::not_null_violation;
        default:
            break;
    }
    switch (extended & 0xFF) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return errc::busy;
        case SQLITE_CANTOPEN:
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_READONLY:  // a read-only file or mount: no write can succeed now (503)
            return errc::connection_lost;
        default:
            return errc::other;
    }
}

// The constraint name sqlite reports for CHECK ("CHECK constraint failed: stock >= 0" or a
// named constraint) and UNIQUE ("UNIQUE constraint failed: products.id").
std::string constraint_of(std::string_view message) {
    const auto colon = message.find(": ");
    return colon == std::string_view::npos ? std::string() : std::string(message.substr(colon + 2));
}

[[noreturn]] void throw_error(sqlite3* db, int rc) {
    const int extended = db != nullptr ? sqlite3_extended_errcode(db) : rc;
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const errc code = classify(extended);
    throw db::error(code, message, code == errc::other ? std::string() : constraint_of(message));
}

[[noreturn]] void throw_file_error(const std::string& what, const std::filesystem::path& path, int error) {
    throw db::error(
        errc::connection_lost, what + " " + path.string() + ": " + std::generic_category().message(error)
    );
}

// Creates the database file empty (SQLite reads an empty file as an empty database) with mode
// 0600, and its missing directories with mode 0700, unless it exists. SQLite itself would
// create it 0644 less the umask, readable by every local user, and its -wal and -shm files
// take the database file's mode. An existing file or directory keeps its mode.
void create_private_database_file(const std::string& path) {
    if (path == ":memory:" || path.starts_with("file:")) return;
    const std::filesystem::path file(path);
    std::filesystem::path prefix;
    for (const auto& part : file.parent_path()) {
        prefix /= part;
        if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
            throw_file_error("cannot create the database directory", prefix, errno);
        }
    }
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        ::close(fd);
    } else if (errno != EEXIST) {
        throw_file_error("cannot create the database file", file, errno);
    }
}

}  // namespace

// ---- statement ----

statement::~statement() {
    if (stmt_ != nullptr) {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
}

statement& statement::bind(int index, std::int64_t value) {
    if (const int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) {
        throw_error(sqlite3_db_handle(stmt_), rc);
    }
    return *this;
}

statement& statement::bind(int index, std::string_view value) {
    const int rc = sqlite3_bind_text64(
        stmt_, index, value.data(), static_cast<sqlite3_uint64>(value.size()), SQLITE_TRANSIENT, SQLITE_UTF8
    );
    if (rc != SQLITE_OK) throw_error(sqlite3_db_handle(stmt_), rc);
    return *this;
}

statement& statement::bind(int index, std::nullptr_t) {
    if (const int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK)
        throw_error(sqlite3_db_handle(stmt_), rc);
    return *this;
}

bool statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3* db = sqlite3_db_handle(stmt_);
    // Reset first so the statement is reusable; the error stays readable on the connection.
    try {
        throw_error(db, rc);
    } catch (...) {
        sqlite3_reset(stmt_);
        throw;
    }
}

std::int64_t statement::run() {
    while (step()) {
    }
    return sqlite3_changes64(sqlite3_db_handle(stmt_));
}

void statement::reset() {
    sqlite3_reset(stmt_);
}

bool statement::is_null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t statement::column_int64(int column) const {
    return sqlite3_column_int64(stmt_, column);
}

std::string_view statement::column_text_view(int column) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (text == nullptr) return {};
    return {text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

int statement::column_count() const {
    return sqlite3_column_count(stmt_);
}

// ---- connection ----

connection::connection(const std::string& path, bool read_only, std::chrono::milliseconds busy_timeout) {
    // NOMUTEX: each connection is used by one thread at a time; we need no sqlite locking.
    // Readers open read-write but set query_only: a SQLITE_OPEN_READONLY connection cannot
    // recover a WAL index after a crash, a query_only one can.
    const int flags =
        SQLITE_OPEN_READWRITE | (read_only ? 0 : SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
    if (!read_only) create_private_database_file(path);
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw db::error(errc::connection_lost, "cannot open sqlite database " + path + ": " + message);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
    try {
        if (!read_only) exec("PRAGMA journal_mode = WAL");
        exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
        if (read_only) exec("PRAGMA query_only = ON");
    } catch (...) {
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw;
    }
}

connection::~connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
}

statement connection::prepare(std::string_view sql) {
    auto found = cache_.find(std::string(sql));
    if (found == cache_.end()) {
        sqlite3_stmt* stmt = nullptr;
        const int rc = sqlite3_prepare_v3(
            db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr
        );
        if (rc != SQLITE_OK) throw_error(db_, rc);
        found = cache_.emplace(std::string(sql), stmt).first;
    }
    return statement(found->second);
}

void connection::exec(std::string_view sql) {
    const std::string text(sql);
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        sqlite3_free(message);
        throw_error(db_, rc);
    }
}

std::int64_t connection::changes() const {
    return sqlite3_changes64(db_);
}

// ---- transaction ----

transaction::transaction(connection& conn, mode m) : conn_(conn) {
    conn_.prepare(m == mode::immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED").run();
}

transaction::~transaction() {
    if (!open_) return;
    try {
        conn_.prepare("ROLLBACK").run();
    } catch (const db::error&) {
        // sqlite may have rolled back already (e.g. after SQLITE_FULL); nothing left to undo.
    }
}

void transaction::commit() {
    conn_.prepare("COMMIT").run();
    open_ = false;
}

// ---- database ----

namespace {

std::optional<std::pair<std::uint64_t, std::uint64_t>> identity_of(const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return std::nullopt;
    return std::pair<std::uint64_t, std::uint64_t>{info.st_dev, info.st_ino};
}

bool is_file_path(const std::string& path) {
    return path != ":memory:" && !path.starts_with("file:");
}

std::string file_moved_message(const std::string& path) {
    return "the SQLite database file " + path +
           " was deleted or replaced while the service ran; writes are refused until it is restored "
           "and the service restarted";
}

}  // namespace

database::database(database_options options)
    : options_(std::move(options)), readers_pool_(std::max<std::size_t>(options_.readers, 1)) {
    writer_ = std::make_unique<connection>(options_.path, false, options_.busy_timeout);
    if (is_file_path(options_.path)) {
        file_identity_ = identity_of(options_.path);
        if (!writable()) {
            throw db::error(
                errc::connection_lost,
                "the SQLite database " + options_.path + " (or its directory) is read-only for this process"
            );
        }
    }
    // An in-memory database is private to its connection: everything runs on the writer.
    if (options_.path != ":memory:") {
        for (std::size_t i = 0; i < options_.readers; ++i) {
            readers_.push_back(std::make_unique<connection>(options_.path, true, options_.busy_timeout));
            free_readers_.push_back(readers_.back().get());
        }
    }
}

database::~database() {
    writer_pool_.join();
    readers_pool_.join();
}

bool database::file_in_place() const {
    if (!file_identity_ || identity_of(options_.path) == file_identity_) return true;
    if (!reported_file_moved_.exchange(true)) spdlog::error("{}", file_moved_message(options_.path));
    return false;
}

bool database::writable() const {
    if (!is_file_path(options_.path)) return true;
    const auto directory = std::filesystem::path(options_.path).parent_path();
    return ::access(options_.path.c_str(), W_OK) == 0 &&
           ::access(directory.empty() ? "." : directory.c_str(), W_OK) == 0;
}

void database::require_file_in_place() const {
    if (!file_in_place()) throw db::error(errc::connection_lost, file_moved_message(options_.path));
}

boost::asio::thread_pool& database::workers_for(bool reader) {
    return reader && !readers_.empty() ? readers_pool_ : writer_pool_;
}

connection& database::checkout(bool reader) {
    busy_.fetch_add(1, std::memory_order_relaxed);
    if (observer_.connections_changed) observer_.connections_changed();
    if (!reader || readers_.empty()) return *writer_;
    const std::lock_guard lock(readers_mutex_);
    connection* conn = free_readers_.back();
    free_readers_.pop_back();
    return *conn;
}

void database::give_back(bool reader, connection& conn) {
    if (reader && !readers_.empty()) {
        const std::lock_guard lock(readers_mutex_);
        free_readers_.push_back(&conn);
    }
    busy_.fetch_sub(1, std::memory_order_relaxed);
    if (observer_.connections_changed) observer_.connections_changed();
}

}  // namespace svc::db::sqlite
