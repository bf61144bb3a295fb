#include "http/admission.hpp"

#include <string>
#include <utility>

#include "http/wire_format.hpp"

namespace svc::http {

namespace {

problem refusal(unsigned status, std::string detail) {
    return problem{status, std::string(default_problem_type(status)), std::move(detail), {}, {}};
}

admission refused(const route* matched, problem answer) {
    return admission{matched, std::move(answer)};
}

}  // namespace

admission admit(const admission_rules& rules, const admission_request& input) {
    const request& req = input.request;
    auto found = rules.routes.find(req.method, req.path);
    if (found.found == nullptr) {
        if (found.allowed.empty()) return refused(nullptr, refusal(404, "Not found"));
        problem p = refusal(405, "Method not allowed");
        p.headers.push_back({"Allow", allow_header(found.allowed)});
        return refused(nullptr, std::move(p));
    }
    const route& matched = *found.found;
    if (matched.access == access::public_) {
        return admission{
            &matched, route_context{req, std::move(found.params), std::nullopt, input.request_id}};
    }

    auth::result verdict = rules.authenticate(req.header_value("Authorization"));
    if (auto* failure = std::get_if<auth::failure>(&verdict)) {
        problem p = refusal(401, failure->detail.empty() ? "Not authenticated" : std::move(failure->detail));
        p.headers.push_back(
            {"WWW-Authenticate", failure->token_given ? R"(Bearer error="invalid_token")" : "Bearer"}
        );
        return refused(&matched, std::move(p));
    }
    auto& principal = std::get<auth::principal>(verdict);
    if (matched.access == access::admin && !principal.is_admin) {
        return refused(&matched, refusal(403, "Admin role required"));
    }
    if (rules.limiter != nullptr) {
        if (const auto wait = rules.limiter->acquire(principal.subject, input.now)) {
            problem p = refusal(429, rules.limiter->refusal_detail());
            p.headers.push_back({"Retry-After", std::to_string(wait->count())});
            return refused(&matched, std::move(p));
        }
    }
    return admission{
        &matched, route_context{req, std::move(found.params), std::move(principal), input.request_id}};
}

}  // namespace svc::http
