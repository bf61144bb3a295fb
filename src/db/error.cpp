#include "db/error.hpp"

namespace svc::db {

std::string_view to_string(errc code) {
    switch (code) {
        case errc::unique_violation:
            return "unique_violation";
        case errc::check_violation:
            return "check_violation";
        case errc::foreign_key_violation:
            return "foreign_key_violation";
        case errc::not_null_violation:
            return "not_null_violation";
        case errc::serialization_failure:
            return "serialization_failure";
        case errc::deadlock:
            return "deadlock";
        case errc::lock_not_available:
            return "lock_not_available";
        case errc::statement_timeout:
            return "statement_timeout";
        case errc::connection_lost:
            return "connection_lost";
        case errc::pool_timeout:
            return "pool_timeout";
        case errc::busy:
            return "busy";
        case errc::shutting_down:
            return "shutting_down";
        case errc::outcome_unknown:
            return "outcome_unknown";
        case errc::other:
            return "other";
    }
    return "unknown";
}

namespace {
class category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "svc.db"; }
    std::string message(int value) const override { return std::string(to_string(static_cast<errc>(value))); }
};
}  // namespace

const std::error_category& error_category() {
    static const category_impl instance;
    return instance;
}

std::error_code make_error_code(errc code) {
    return {static_cast<int>(code), error_category()};
}

error::error(errc code, const std::string& message, std::string constraint, int statement_index)
    : std::runtime_error(std::string(to_string(code)) + ": " + message),
      code_(code),
      constraint_(std::move(constraint)),
      statement_index_(statement_index) {}

bool error::is_unavailable() const {
    switch (code_) {
        case errc::connection_lost:
        case errc::pool_timeout:
        case errc::statement_timeout:
        case errc::busy:
        case errc::shutting_down:
            return true;
        default:
            return false;
    }
}

bool error::is_retryable() const {
    return code_ == errc::serialization_failure || code_ == errc::deadlock;
}

}  // namespace svc::db
