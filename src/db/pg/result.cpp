#include "db/pg/result.hpp"

#include <cstring>
#include <stdexcept>

#include <libpq-fe.h>

namespace svc::db::pg {

namespace {

// Type OIDs of the binary formats decoded here (src/include/catalog/pg_type.dat).
constexpr unsigned k_bool = 16;
constexpr unsigned k_name = 19;
constexpr unsigned k_int8 = 20;
constexpr unsigned k_int2 = 21;
constexpr unsigned k_int4 = 23;
constexpr unsigned k_text = 25;
constexpr unsigned k_bpchar = 1042;
constexpr unsigned k_varchar = 1043;
constexpr unsigned k_timestamp = 1114;
constexpr unsigned k_timestamptz = 1184;
constexpr unsigned k_uuid = 2950;

// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 00:00:00 UTC).
constexpr std::int64_t k_postgres_epoch_us = 946'684'800'000'000;

std::uint64_t read_big_endian(const char* data, int bytes) {
    std::uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value = (value << 8U) | static_cast<unsigned char>(data[i]);
    return value;
}

bool is_text_like(unsigned oid) {
    return oid == k_text || oid == k_varchar || oid == k_bpchar || oid == k_name;
}

}  // namespace

void result::deleter::operator()(pg_result* r) const {
    PQclear(r);
}

result::result(pg_result* owned) : result_(owned) {}

int result::rows() const {
    return result_ ? PQntuples(result_.get()) : 0;
}

int result::columns() const {
    return result_ ? PQnfields(result_.get()) : 0;
}

pg::row result::row(int index) const {
    if (index < 0 || index >= rows())
        throw std::out_of_range("pg::result::row: no row " + std::to_string(index));
    return {*this, index};
}

std::int64_t result::affected_rows() const {
    if (!result_) return 0;
    const char* tuples = PQcmdTuples(result_.get());
    return tuples[0] == '\0' ? 0 : std::stoll(tuples);
}

int result::column_index(const char* name) const {
    return result_ ? PQfnumber(result_.get(), name) : -1;
}

bool row::is_null(int column) const {
    if (column < 0 || column >= owner_->columns()) {
        throw std::logic_error("pg::row: no column " + std::to_string(column));
    }
    return PQgetisnull(owner_->result_.get(), index_, column) != 0;
}

const char* row::raw(int column, unsigned expected_oid_a, unsigned expected_oid_b) const {
    if (is_null(column)) {
        throw std::logic_error(
            "pg::row: column " + std::to_string(column) + " is NULL (check is_null first)"
        );
    }
    PGresult* r = owner_->result_.get();
    const unsigned oid = PQftype(r, column);
    if (PQfformat(r, column) != 1) throw std::logic_error("pg::row: result is not in binary format");
    if (expected_oid_a != 0 && oid != expected_oid_a && oid != expected_oid_b) {
        throw std::logic_error(
            "pg::row: column " + std::to_string(column) + " (" + PQfname(r, column) + ") has type oid " +
            std::to_string(oid)
        );
    }
    return PQgetvalue(r, index_, column);
}

std::int64_t row::int64(int column) const {
    PGresult* r = owner_->result_.get();
    const char* data = raw(column, 0);
    const unsigned oid = PQftype(r, column);
    const int length = PQgetlength(r, index_, column);
    if (oid == k_int8 && length == 8) return static_cast<std::int64_t>(read_big_endian(data, 8));
    if (oid == k_int4 && length == 4) return static_cast<std::int32_t>(read_big_endian(data, 4));
    if (oid == k_int2 && length == 2) return static_cast<std::int16_t>(read_big_endian(data, 2));
    throw std::logic_error(
        "pg::row::int64: column " + std::to_string(column) + " (" + PQfname(r, column) + ") is not an integer"
    );
}

bool row::boolean(int column) const {
    return raw(column, k_bool)[0] != 0;
}

std::string_view row::text_view(int column) const {
    PGresult* r = owner_->result_.get();
    const char* data = raw(column, 0);
    if (!is_text_like(PQftype(r, column))) {
        throw std::logic_error(
            "pg::row::text_view: column " + std::to_string(column) + " (" + PQfname(r, column) +
            ") is not text"
        );
    }
    return {data, static_cast<std::size_t>(PQgetlength(r, index_, column))};
}

std::string row::text(int column) const {
    PGresult* r = owner_->result_.get();
    if (is_null(column) || PQftype(r, column) != k_uuid) return std::string(text_view(column));
    const auto* bytes = reinterpret_cast<const unsigned char*>(raw(column, k_uuid));
    // 8-4-4-4-12 lowercase hex, by hand: rows of orders convert one per row (snprintf was a
    // visible share of a page's cost).
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(k_hex[bytes[i] >> 4]);
        out.push_back(k_hex[bytes[i] & 0xf]);
    }
    return out;
}

pg::timestamp row::time(int column) const {
    const char* data = raw(column, k_timestamptz, k_timestamp);
    const auto since_2000 = static_cast<std::int64_t>(read_big_endian(data, 8));
    return pg::timestamp{std::chrono::microseconds{since_2000 + k_postgres_epoch_us}};
}

}  // namespace svc::db::pg
