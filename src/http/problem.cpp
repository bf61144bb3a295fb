#include "http/problem.hpp"

#include <algorithm>

#include "observability/logging.hpp"

namespace svc::http {

std::string_view default_problem_type(unsigned status) {
    switch (status) {
        case 400:
            return "bad_request";
        case 401:
            return "unauthorized";
        case 403:
            return "forbidden";
        case 404:
            return "not_found";
        case 405:
            return "method_not_allowed";
        case 408:
            return "request_timeout";
        case 409:
            return "conflict";
        case 412:
            return "precondition_failed";
        case 413:
            return "payload_too_large";
        case 415:
            return "unsupported_media_type";
        case 422:
            return "validation_error";
        case 429:
            return "rate_limited";
        case 431:
            return "headers_too_large";
        case 503:
            return "unavailable";
        default:
            return status >= 500 ? "internal_error" : "bad_request";
    }
}

namespace {

bool is_index(std::string_view part) {
    return !part.empty() && part.size() <= 9 &&
           std::ranges::all_of(part, [](char c) { return c >= '0' && c <= '9'; });
}

void append_string(std::string& out, std::string_view text) {
    out += '"';
    obs::append_json_escaped(out, text);  // always valid UTF-8 JSON, whatever `text` holds
    out += '"';
}

}  // namespace

response make_problem_response(const problem& p) {
    response r;
    r.status = p.status;
    r.headers = p.headers;
    // A 500 never carries internals: whatever detail a caller put in, the client sees this.
    const std::string_view detail = p.status >= 500 && p.status != 503 && p.status != 501
                                        ? std::string_view("Internal server error")
                                        : std::string_view(p.detail);
    std::string& body = r.body;
    body.reserve(64 + detail.size());
    body += R"({"detail":)";
    append_string(body, detail);
    body += R"(,"type":)";
    append_string(body, p.type.empty() ? default_problem_type(p.status) : std::string_view(p.type));
    if (!p.errors.empty()) {
        body += R"(,"errors":[)";
        for (std::size_t i = 0; i < p.errors.size(); ++i) {
            const auto& e = p.errors[i];
            if (i > 0) {
                body += ',';
            }
            body += R"({"loc":[)";
            for (std::size_t j = 0; j < e.loc.size(); ++j) {
                if (j > 0) {
                    body += ',';
                }
                if (is_index(e.loc[j])) {
                    body += e.loc[j];
                } else {
                    append_string(body, e.loc[j]);
                }
            }
            body += R"(],"msg":)";
            append_string(body, e.msg);
            body += R"(,"type":)";
            append_string(body, e.type);
            body += '}';
        }
        body += ']';
    }
    body += '}';
    return r;
}

}  // namespace svc::http
