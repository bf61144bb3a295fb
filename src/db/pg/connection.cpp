#include "db/pg/connection.hpp"

#include <cstring>
#include <optional>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include "db/error.hpp"

namespace svc::db::pg {

namespace asio = boost::asio;

namespace {

constexpr const char* k_set_generic_plans = "SET plan_cache_mode = force_generic_plan";
constexpr const char* k_set_automatic_plans = "SET plan_cache_mode = auto";

// SQLSTATE → errc. Class 08 (connection exception) and the shutdown codes of class 57 mean
// the session is gone; everything unknown is `other` (a bug, answered 500).
errc classify(std::string_view sqlstate) {
    if (sqlstate == "23505") return errc::unique_violation;
    if (sqlstate == "23514") return errc::check_violation;
    if (sqlstate == "23503") return errc::foreign_key_violation;
    if (sqlstate == "23502") return errc::not_null_violation;
    if (sqlstate == "40001") return errc::serialization_failure;
    if (sqlstate == "40P01") return errc::deadlock;
    if (sqlstate == "55P03") return errc::lock_not_available;
    if (sqlstate == "57014") return errc::statement_timeout;
    if (sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" ||
        sqlstate == "53300") {
        return errc::connection_lost;
    }
    return errc::other;
}

std::string trimmed(const char* message) {
    std::string text = message != nullptr ? message : "";
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    // libpq messages are sometimes multi-line ("server closed the connection\n\tThis probably…").
    for (char& c : text) {
        if (c == '\n' || c == '\t') c = ' ';
    }
    return text;
}

db::error error_from_result(const PGresult* r, pg_conn* conn, int statement_index) {
    const char* sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char* constraint = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    errc code = sqlstate != nullptr ? classify(sqlstate) : errc::other;
    // An error libpq made up itself (no SQLSTATE) with the connection down: the server went away.
    if (sqlstate == nullptr && PQstatus(conn) == CONNECTION_BAD) code = errc::connection_lost;
    std::string message = primary != nullptr ? trimmed(primary) : trimmed(PQresultErrorMessage(r));
    if (message.empty()) message = trimmed(PQerrorMessage(conn));
    return {code, message, constraint != nullptr ? constraint : "", statement_index};
}

void log_notice(void* /*unused*/, const char* message) {
    spdlog::debug("postgresql notice: {}", trimmed(message));
}

}  // namespace

struct connection::watchdog_state {
    connection* owner;
};

connection::connection(
    const asio::any_io_executor& executor, std::shared_ptr<const connection_settings> settings
)
    : settings_(std::move(settings)),
      socket_(executor),
      watchdog_(executor),
      watchdog_state_(std::make_shared<watchdog_state>(watchdog_state{this})) {}

connection::~connection() {
    watchdog_state_->owner = nullptr;  // a watchdog completion already queued must not touch us
    // libpq owns the socket: stop Asio watching it without closing it, then let PQfinish close it.
    if (socket_.is_open()) socket_.release();
    if (conn_ != nullptr) PQfinish(conn_);
}

bool connection::in_transaction() const {
    return conn_ != nullptr && PQtransactionStatus(conn_) != PQTRANS_IDLE;
}

void connection::fail_libpq(std::string_view doing) {
    fail_connection(
        std::string(doing) + " " + settings_->redacted_url + ": " + trimmed(PQerrorMessage(conn_))
    );
}

void connection::fail_connection(const std::string& what) {
    broken_ = true;
    end_io();
    throw db::error(errc::connection_lost, what);
}

void connection::assign_socket() {
    if (socket_.is_open()) socket_.release();
    const int fd = PQsocket(conn_);
    if (fd < 0) fail_connection("no socket for " + settings_->redacted_url);
    boost::system::error_code ec;
    socket_.assign(fd, ec);
    if (ec) fail_connection("cannot watch the socket for " + settings_->redacted_url + ": " + ec.message());
}

void connection::begin_io(std::size_t statements) {
    const auto& options = settings_->options;
    auto timeout = options.io_timeout;
    // The server's statement timeout must always fire first: it rolls the work back and says
    // so. When ours fires instead, the transaction may still commit after the client was told
    // 503 (the pipeline's COMMIT is already on the server). Each statement of the round trip
    // has the full statement timeout, hence the product.
    if (options.statement_timeout.count() > 0) {
        const auto server_bound =
            options.statement_timeout * static_cast<std::int64_t>(std::max<std::size_t>(statements, 1));
        timeout = std::max<std::chrono::milliseconds>(timeout, server_bound + std::chrono::seconds(1));
    }
    deadline_ = clock::now() + timeout;
    io_active_ = true;
    timed_out_ = false;
    // The watchdog may still be set for a later deadline (the connect timeout): pull it in.
    if (!watchdog_armed_ || watchdog_.expiry() > deadline_) arm_watchdog();
}

void connection::arm_watchdog() {
    watchdog_armed_ = true;
    watchdog_.expires_at(deadline_);
    watchdog_.async_wait([state = watchdog_state_](const boost::system::error_code& ec) {
        if (ec || state->owner == nullptr) return;
        connection& self = *state->owner;
        self.watchdog_armed_ = false;
        if (!self.io_active_) return;
        if (clock::now() >= self.deadline_) {
            self.timed_out_ = true;
            self.socket_.cancel();
        } else {
            self.arm_watchdog();  // the deadline moved on: a later round trip is running
        }
    });
}

asio::awaitable<void> connection::wait(bool for_write) {
    if (timed_out_) fail_connection("no reply from " + settings_->redacted_url + " in time");
    auto [ec] = co_await socket_.async_wait(
        for_write ? asio::posix::stream_descriptor::wait_write : asio::posix::stream_descriptor::wait_read,
        asio::as_tuple(asio::use_awaitable)
    );
    if (timed_out_) fail_connection("no reply from " + settings_->redacted_url + " in time");
    if (ec) fail_connection("waiting on the connection to " + settings_->redacted_url + ": " + ec.message());
}

asio::awaitable<std::unique_ptr<connection>> connection::connect(
    asio::any_io_executor executor, std::shared_ptr<const connection_settings> settings
) {
    std::unique_ptr<connection> self(new connection(std::move(executor), std::move(settings)));
    const auto& s = *self->settings_;
    const char* const keywords[] = {"dbname", "fallback_application_name", nullptr};
    const char* const values[] = {s.conninfo.c_str(), "orders-service", nullptr};
    self->conn_ = PQconnectStartParams(keywords, values, 1);
    if (self->conn_ == nullptr) throw db::error(errc::connection_lost, "out of memory connecting");
    if (PQstatus(self->conn_) == CONNECTION_BAD) {
        self->fail_libpq("cannot connect to");
    }
    PQsetNoticeProcessor(self->conn_, log_notice, nullptr);
    self->deadline_ = clock::now() + s.options.connect_timeout;
    self->io_active_ = true;
    self->arm_watchdog();
    // libpq may switch sockets between attempts (several hosts, SSL retry), so the descriptor
    // is re-assigned at every step.
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    while (status != PGRES_POLLING_OK) {
        if (status == PGRES_POLLING_FAILED) {
            self->fail_libpq("cannot connect to");
        }
        self->assign_socket();
        co_await self->wait(status == PGRES_POLLING_WRITING);
        status = PQconnectPoll(self->conn_);
    }
    self->assign_socket();
    self->end_io();
    if (PQsetnonblocking(self->conn_, 1) != 0 || PQenterPipelineMode(self->conn_) != 1) {
        self->fail_connection("cannot enter pipeline mode on " + s.redacted_url);
    }
    if (s.options.statement_timeout.count() > 0) {
        const std::string set_timeout =
            "SET statement_timeout = " + std::to_string(s.options.statement_timeout.count());
        const query q{set_timeout, {}};
        std::vector<result> ignored;
        co_await self->run_unchecked(std::span(&q, 1), false, ignored);
    }
    // PostgreSQL 14+: a backend whose client has gone (a connection dropped because its round
    // trip outlived the client-side bound, or the process exiting mid-request) notices within
    // a second while its statement still runs — e.g. waits on a lock — and rolls back instead
    // of committing once the lock is free. A compatible engine without the setting goes on
    // without it.
    if (PQserverVersion(self->conn_) >= 140000) {
        const query q{"SET client_connection_check_interval = 1000", {}};
        try {
            std::vector<result> ignored;
            co_await self->run_unchecked(std::span(&q, 1), false, ignored);
        } catch (const db::error& e) {
            if (self->broken_) throw;
            spdlog::debug("database: client_connection_check_interval not set: {}", e.what());
        }
    }
    co_return self;
}

asio::awaitable<void> connection::flush() {
    while (true) {
        const int pending = PQflush(conn_);
        if (pending == 0) co_return;
        if (pending < 0) fail_libpq("sending to");
        // The server may be blocked writing replies to us: read them into libpq's buffer.
        if (PQconsumeInput(conn_) == 0) {
            fail_libpq("reading from");
        }
        co_await wait(true);
    }
}

asio::awaitable<pg_result*> connection::next_result() {
    // Input is consumed before every wait: Asio's reactor is edge-triggered, so data that
    // arrived while nobody waited raises no new event.
    while (PQisBusy(conn_) != 0) {
        if (PQconsumeInput(conn_) == 0) {
            // The connection failed; what arrived before it may still complete a result.
            if (PQisBusy(conn_) == 0) break;
            fail_libpq("reading from");
        }
        if (PQisBusy(conn_) == 0) break;
        co_await wait(false);
    }
    co_return PQgetResult(conn_);
}

asio::awaitable<std::vector<result>> connection::run(std::span<const query> queries) {
    std::vector<result> results;
    co_await run_into(queries, results);
    co_return results;
}

asio::awaitable<void> connection::run_into(std::span<const query> queries, std::vector<result>& results) {
    if (broken_ || conn_ == nullptr) throw db::error(errc::connection_lost, "the connection is closed");
    const auto started = clock::now();
    try {
        co_await run_unchecked(queries, true, results);
        if (settings_->observer && settings_->observer->query) {
            settings_->observer->query(std::chrono::duration<double>(clock::now() - started).count());
        }
    } catch (const db::error&) {
        if (settings_->observer && settings_->observer->query) {
            settings_->observer->query(std::chrono::duration<double>(clock::now() - started).count());
        }
        needs_reset_ = true;
        throw;
    }
}

asio::awaitable<void> connection::run_unchecked(
    std::span<const query> queries, bool allow_prepared, std::vector<result>& results
) {
    // What was sent, in order: each Parse (prepare) and each Execute produces one result.
    struct command {
        int query_index;
        const std::string* prepared_name;  // set for a Parse of a new statement
        bool plan_setting = false;         // the SET plan_cache_mode before query_index
    };
    std::vector<command> commands;
    commands.reserve(queries.size() * 2);
    std::vector<const char*> values;
    const bool use_prepared = allow_prepared && settings_->options.prepared_statements;
    // Plan modes are session state, changed only when the next statement needs another
    // (never with unnamed statements: those are planned at every execution anyway).
    const bool manage_plans = use_prepared && settings_->options.generic_plans;
    std::optional<plan_mode> mode = session_plan_;
    bool mode_changed = false;

    begin_io(queries.size());
    for (std::size_t i = 0; i < queries.size(); ++i) {
        const query& q = queries[i];
        // A statement without parameters has one plan whatever the mode.
        if (manage_plans && !q.params.empty() && mode != q.plan) {
            const char* set = q.plan == plan_mode::generic ? k_set_generic_plans : k_set_automatic_plans;
            if (PQsendQueryParams(conn_, set, 0, nullptr, nullptr, nullptr, nullptr, 1) != 1) {
                fail_libpq("sending to");
            }
            commands.push_back({static_cast<int>(i), nullptr, true});
            mode = q.plan;
            if (!mode_changed) session_plan_.reset();  // unknown until this round trip succeeds
            mode_changed = true;
        }
        values.clear();
        for (const param& p : q.params) values.push_back(p.is_null() ? nullptr : p.text().c_str());
        const int count = static_cast<int>(values.size());
        int sent = 0;
        if (use_prepared) {
            auto found = prepared_.find(q.sql);
            if (found == prepared_.end()) {
                std::string name = "s" + std::to_string(next_statement_id_++);
                found = prepared_.emplace(std::string(q.sql), std::move(name)).first;
                if (PQsendPrepare(conn_, found->second.c_str(), found->first.c_str(), count, nullptr) != 1) {
                    prepared_.erase(found);
                    fail_libpq("sending to");
                }
                commands.push_back({static_cast<int>(i), &found->second});
            }
            sent =
                PQsendQueryPrepared(conn_, found->second.c_str(), count, values.data(), nullptr, nullptr, 1);
        } else {
            const std::string sql(q.sql);
            sent = PQsendQueryParams(conn_, sql.c_str(), count, nullptr, values.data(), nullptr, nullptr, 1);
        }
        if (sent != 1) {
            fail_libpq("sending to");
        }
        commands.push_back({static_cast<int>(i), nullptr});
        if (q.flush_after && PQsendFlushRequest(conn_) != 1) {
            fail_libpq("sending to");
        }
    }
    if (PQpipelineSync(conn_) != 1) {
        fail_libpq("sending to");
    }
    co_await flush();

    results.reserve(results.size() + queries.size());
    std::optional<db::error> first_error;
    for (const command& c : commands) {
        PGresult* raw = co_await next_result();
        if (raw == nullptr) fail_connection("protocol out of step with " + settings_->redacted_url);
        result owned(raw);
        const ExecStatusType status = PQresultStatus(raw);
        const bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
        if (c.prepared_name != nullptr) {
            // A Parse that failed or was skipped created no statement: forget the name.
            if (!ok) {
                for (auto it = prepared_.begin(); it != prepared_.end(); ++it) {
                    if (&it->second == c.prepared_name) {
                        prepared_.erase(it);
                        break;
                    }
                }
            }
        } else if (ok && !c.plan_setting) {
            results.push_back(std::move(owned));
        }
        if (!ok && status != PGRES_PIPELINE_ABORTED && !first_error) {
            first_error = error_from_result(raw, conn_, c.query_index);
        }
        // Each command's results end with a null result.
        while (PGresult* extra = co_await next_result()) PQclear(extra);
    }
    // The sync point. Only a null result may come first (libpq's end-of-command marker); a
    // second one in a row means the protocol is out of step: drop the connection.
    for (int nulls = 0;;) {
        PGresult* raw = co_await next_result();
        if (raw == nullptr) {
            if (PQstatus(conn_) == CONNECTION_BAD) break;
            if (++nulls > 1) fail_connection("protocol out of step with " + settings_->redacted_url);
            continue;
        }
        nulls = 0;
        const ExecStatusType status = PQresultStatus(raw);
        if (status == PGRES_PIPELINE_SYNC) {
            PQclear(raw);
            break;
        }
        if (status == PGRES_FATAL_ERROR && !first_error) first_error = error_from_result(raw, conn_, -1);
        PQclear(raw);
        if (PQstatus(conn_) == CONNECTION_BAD) break;
    }
    end_io();
    if (PQstatus(conn_) == CONNECTION_BAD) {
        broken_ = true;
        if (!first_error || first_error->code() != errc::connection_lost) {
            throw db::error(errc::connection_lost, "lost the connection to " + settings_->redacted_url);
        }
    }
    if (first_error) {
        if (first_error->code() == errc::connection_lost) broken_ = true;
        // An error inside an explicit transaction leaves it aborted: end it here, so the
        // connection is clean for the next statement and the work is certainly rolled back.
        if (!broken_ && PQtransactionStatus(conn_) == PQTRANS_INERROR) {
            const query rollback{"ROLLBACK", {}};
            std::vector<result> ignored;
            co_await run_unchecked(std::span(&rollback, 1), false, ignored);
        }
        throw *first_error;
    }
    // A SET inside a transaction still open may yet be rolled back: then the mode is unknown.
    if (mode_changed && PQtransactionStatus(conn_) == PQTRANS_IDLE) session_plan_ = mode;
}

asio::awaitable<void> connection::reset() {
    if (broken_ || conn_ == nullptr) throw db::error(errc::connection_lost, "the connection is closed");
    const query q{in_transaction() ? "ROLLBACK" : "SELECT 1", {}};
    std::vector<result> ignored;
    co_await run_unchecked(std::span(&q, 1), false, ignored);
    needs_reset_ = false;
}

}  // namespace svc::db::pg
