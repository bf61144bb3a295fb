#include "http/target.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

namespace svc::http {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool is_http_scheme(std::string_view scheme) {
    const auto equals_ignoring_case = [](std::string_view a, std::string_view b) {
        return std::ranges::equal(a, b, [](char x, char y) {
            return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
        });
    };
    return equals_ignoring_case(scheme, "http") || equals_ignoring_case(scheme, "https");
}

// What follows the authority of an absolute-form target — path-abempty and the query, e.g.
// "/orders?x" or "" — or nullopt when `target` is not an http(s) absolute-form target.
std::optional<std::string_view> after_authority(std::string_view target) {
    const auto scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || !is_http_scheme(target.substr(0, scheme_end))) {
        return std::nullopt;
    }
    const auto rest = target.substr(scheme_end + 3);
    const auto authority_end = std::min(rest.find_first_of("/?#"), rest.size());
    if (authority_end == 0 || rest.find('#') != std::string_view::npos) {
        return std::nullopt;
    }
    return rest.substr(authority_end);
}

}  // namespace

bool split_target(std::string_view target, std::string& path, std::string& query) {
    if (target.empty()) {
        return false;
    }
    if (target.front() != '/') {
        const auto origin = after_authority(target);
        if (!origin) {
            return false;
        }
        if (origin->empty() || origin->front() == '?') {
            path.assign("/");
            query.assign(origin->empty() ? std::string_view() : origin->substr(1));
            return true;
        }
        target = *origin;
    }
    const auto question = target.find('?');
    const auto raw_path = target.substr(0, question);
    if (question == std::string_view::npos) {
        query.clear();
    } else {
        query.assign(target.substr(question + 1));
    }
    path.clear();
    path.reserve(raw_path.size());
    for (std::size_t i = 0; i < raw_path.size(); ++i) {
        if (raw_path[i] != '%') {
            path += raw_path[i];
            continue;
        }
        if (i + 2 >= raw_path.size()) {
            return false;
        }
        const int high = hex_value(raw_path[i + 1]);
        const int low = hex_value(raw_path[i + 2]);
        if (high < 0 || low < 0) {
            return false;
        }
        const char decoded = static_cast<char>(high * 16 + low);
        if (decoded == '\0') {
            return false;
        }
        path += decoded;
        i += 2;
    }
    return true;
}

}  // namespace svc::http
