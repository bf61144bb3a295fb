#pragma once
// Typed statement parameters for PostgreSQL. A `param` is encoded to PostgreSQL's text
// format when it is built, so a parameter list owns everything it needs and may outlive the
// values it was built from. The server infers each parameter's type from the statement
// (write `$1::text[]`, `$2::int8[]` where the SQL alone does not say).

#include <chrono>
#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace svc::db::pg {

// timestamptz as microseconds since the Unix epoch, UTC (the contract's precision).
using timestamp = std::chrono::sys_time<std::chrono::microseconds>;

class param {
public:
    // SQL NULL.
    param(std::nullptr_t) : null_(true) {}  // NOLINT(google-explicit-constructor): reads like SQL
    // bool → boolean. Only an actual bool: integers never silently become booleans.
    template <typename T>
    requires std::same_as<T, bool> param(T value)
        : text_(value ? "t" : "f") {}  // NOLINT(google-explicit-constructor)
    // Any integer type → int8 text.
    template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>) param(T value)
        : text_(std::to_string(value)) {}  // NOLINT(google-explicit-constructor)
    // Text (also uuid, varchar, …). NUL bytes cannot travel in the text protocol: the store
    // must refuse them before (the contract's 400/422).
    param(std::string value) : text_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
    param(std::string_view value) : text_(value) {}        // NOLINT(google-explicit-constructor)
    param(const char* value) : text_(value) {}             // NOLINT(google-explicit-constructor)
    param(timestamp value);                                // NOLINT(google-explicit-constructor)
    // Arrays: text[] and int8[] literals, e.g. for `unnest($1::text[], $2::int8[])`.
    param(std::span<const std::string> values);    // NOLINT(google-explicit-constructor)
    param(const std::vector<std::string>& values)  // NOLINT(google-explicit-constructor)
        : param(std::span<const std::string>(values)) {}
    param(std::span<const std::int64_t> values);    // NOLINT(google-explicit-constructor)
    param(const std::vector<std::int64_t>& values)  // NOLINT(google-explicit-constructor)
        : param(std::span<const std::int64_t>(values)) {}
    // An empty optional is NULL.
    template <typename T>
    param(const std::optional<T>& value)  // NOLINT(google-explicit-constructor)
        : param(value ? param(*value) : param(nullptr)) {}

    bool is_null() const { return null_; }
    // The text-format encoding sent to the server; empty for NULL.
    const std::string& text() const { return text_; }

private:
    std::string text_;
    bool null_ = false;
};

using params = std::vector<param>;

// How PostgreSQL may plan a prepared statement (its plan_cache_mode). `automatic` is the
// server's default: custom plans for the parameters at hand until a generic one looks as good.
// `generic` plans once per connection and reuses the plan — for statements written so that
// their best plan does not depend on the parameters (docs/DATABASE.md, "Plans").
enum class plan_mode : std::uint8_t { automatic, generic };

// One statement of a pipeline. `sql` must stay valid until the pipeline completes: use the
// store's named constants.
struct query {
    std::string_view sql;
    pg::params params;
    plan_mode plan = plan_mode::automatic;
    // Ask the server to send the results so far right after this statement (a Flush
    // message), before it runs the next: they reach the client even when the connection dies
    // later in the round trip (pg::commit_checked relies on it).
    bool flush_after = false;
};

// A query from its SQL and arguments: pg::stmt(k_insert_item, order_id, product_id, qty).
template <typename... Args>
requires(std::constructible_from<param, Args&&>&&...) query stmt(std::string_view sql, Args&&... args) {
    query q{sql, {}};
    q.params.reserve(sizeof...(Args));
    (q.params.emplace_back(std::forward<Args>(args)), ...);
    return q;
}

}  // namespace svc::db::pg
