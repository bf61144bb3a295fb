#pragma once
// The rows a statement returned, decoded from PostgreSQL's binary format. Column getters
// check the column's type and throw std::logic_error on a mismatch (a bug in the SQL or the
// store, never a runtime condition): cast in SQL (`sum(x)::int8`) where needed.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "db/pg/param.hpp"

struct pg_result;  // libpq's PGresult

namespace svc::db::pg {

class result;

// One row of a result; valid while the result lives.
class row {
public:
    bool is_null(int column) const;
    // int2, int4 or int8.
    std::int64_t int64(int column) const;
    bool boolean(int column) const;
    // text, varchar, char(n), name: the bytes as stored.
    std::string_view text_view(int column) const;
    // text-like columns as above; uuid formatted as lower-case 8-4-4-4-12.
    std::string text(int column) const;
    // timestamptz or timestamp.
    pg::timestamp time(int column) const;

private:
    friend class result;
    row(const result& owner, int index) : owner_(&owner), index_(index) {}
    const char* raw(int column, unsigned expected_oid_a, unsigned expected_oid_b = 0) const;
    const result* owner_;
    int index_;
};

class result {
public:
    result() = default;  // an empty result: no rows, no columns
    explicit result(pg_result* owned);

    int rows() const;
    int columns() const;
    bool empty() const { return rows() == 0; }
    pg::row row(int index) const;  // 0 <= index < rows(), else std::out_of_range
    pg::row operator[](int index) const { return row(index); }
    // Rows inserted, updated or deleted by the statement (its command tag's count).
    std::int64_t affected_rows() const;
    // Column index of `name`, or -1.
    int column_index(const char* name) const;

private:
    friend class pg::row;
    struct deleter {
        void operator()(pg_result* r) const;
    };
    std::unique_ptr<pg_result, deleter> result_;
};

}  // namespace svc::db::pg
