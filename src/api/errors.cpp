#include "api/errors.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include <spdlog/spdlog.h>

namespace svc::api {

namespace {

http::problem make(unsigned status, std::string detail) {
    return http::problem{status, std::string(http::default_problem_type(status)), std::move(detail), {}, {}};
}

}  // namespace

http::problem to_problem(const orders::error& e) {
    if (dynamic_cast<const orders::not_found*>(&e) != nullptr) return make(404, e.what());
    if (dynamic_cast<const orders::business_error*>(&e) != nullptr) {
        auto p = make(400, e.what());
        p.type = "business_error";
        return p;
    }
    if (dynamic_cast<const orders::forbidden*>(&e) != nullptr) return make(403, e.what());
    if (dynamic_cast<const orders::conflict*>(&e) != nullptr) return make(409, e.what());
    if (dynamic_cast<const orders::precondition_failed*>(&e) != nullptr) return make(412, e.what());
    if (dynamic_cast<const orders::idempotency_key_reused*>(&e) != nullptr) {
        auto p = make(422, e.what());
        p.errors.push_back({{"header", "Idempotency-Key"}, e.what(), "idempotency_key_reused"});
        return p;
    }
    if (const auto* down = dynamic_cast<const orders::unavailable*>(&e)) {
        log_unavailable_cause(down->cause(), std::chrono::steady_clock::now());
        auto p = make(503, "Service temporarily unavailable, retry later");
        p.headers.push_back({"Retry-After", std::to_string(down->retry_after_seconds())});
        return p;
    }
    if (const auto* unknown = dynamic_cast<const orders::outcome_unknown*>(&e)) {
        auto p = make(
            503,
            "The change may or may not have been made; retry with the same Idempotency-Key, or read the "
            "resource first"
        );
        p.type = "outcome_unknown";
        p.headers.push_back({"Retry-After", std::to_string(unknown->retry_after_seconds())});
        return p;
    }
    return make(500, "Internal server error");
}

void log_unavailable_cause(const std::string& cause, std::chrono::steady_clock::time_point now) {
    static std::mutex mutex;
    static std::optional<std::chrono::steady_clock::time_point> last_line;  // guarded by mutex
    static std::uint64_t since_last_line = 0;                               // guarded by mutex
    const std::lock_guard lock(mutex);
    ++since_last_line;
    if (last_line && now - *last_line < k_unavailable_log_interval) return;
    spdlog::warn(
        "database unavailable, answered 503: {} ({} such answer(s) since the last line like this)",
        cause.empty() ? std::string_view("no cause reported") : std::string_view(cause),
        since_last_line
    );
    last_line = now;
    since_last_line = 0;
}

http::problem validation_problem(const json::invalid& found) {
    auto p = make(
        422,
        found.truncated ? "Request validation failed; only the first " + std::to_string(json::k_max_issues) +
                              " errors are listed"
                        : std::string("Request validation failed")
    );
    p.errors.reserve(found.issues.size());
    for (const auto& issue : found.issues) {
        http::field_error error{{}, issue.msg, issue.type};
        error.loc.reserve(issue.loc.size());
        for (const auto& segment : issue.loc) {
            // http::make_problem_response writes all-digit parts as JSON numbers: array
            // indices become numbers, member names stay strings.
            error.loc.push_back(std::visit(
                [](const auto& part) -> std::string {
                    if constexpr (std::is_same_v<std::decay_t<decltype(part)>, std::string>) {
                        return part;
                    } else {
                        return std::to_string(part);
                    }
                },
                segment
            ));
        }
        p.errors.push_back(std::move(error));
    }
    return p;
}

http::problem bad_request(std::string detail) {
    return make(400, std::move(detail));
}

}  // namespace svc::api
