#include "http/wire_format.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>

#include <boost/beast/http/status.hpp>
#include <spdlog/spdlog.h>

namespace svc::http {

namespace {

void append_number(std::string& out, std::size_t value) {
    std::array<char, 24> digits{};
    const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), value);
    out.append(digits.data(), result.ptr);
}

std::string_view reason_phrase(unsigned status) {
    const auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
    return reason.empty() ? std::string_view("Unknown") : std::string_view(reason.data(), reason.size());
}

}  // namespace

std::string_view http_date() {
    thread_local std::time_t cached_second = 0;
    thread_local std::array<char, 32> cached{};
    thread_local std::size_t cached_size = 0;
    const std::time_t now = std::time(nullptr);
    if (now != cached_second) {
        std::tm tm{};
        ::gmtime_r(&now, &tm);
        cached_size = std::strftime(cached.data(), cached.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_second = now;
    }
    return {cached.data(), cached_size};
}

std::string allow_header(const std::vector<method>& allowed) {
    static constexpr std::array k_order{
        method::get,
        method::head,
        method::post,
        method::put,
        method::patch,
        method::delete_,
        method::options,
    };
    std::string value;
    for (const auto m : k_order) {
        if (std::ranges::find(allowed, m) == allowed.end()) {
            continue;
        }
        if (!value.empty()) {
            value += ", ";
        }
        value += to_string(m);
    }
    return value;
}

bool is_safe_header(const header& h) {
    const auto safe = [](std::string_view text) {
        return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
    };
    return !h.name.empty() && safe(h.name) && safe(h.value);
}

void serialize_response(
    std::string& out, const response& res, std::string_view request_id, const response_framing& framing
) {
    serialize_response_head(out, res, request_id, framing);
    if (!framing.is_head) {
        out += res.body;
    }
}

void serialize_response_head(
    std::string& out, const response& res, std::string_view request_id, const response_framing& framing
) {
    out.clear();
    out += framing.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    append_number(out, res.status);
    out += ' ';
    out += reason_phrase(res.status);
    out += "\r\nDate: ";
    out += http_date();
    if (!res.content_type.empty() && !res.body.empty()) {
        out += "\r\nContent-Type: ";
        out += res.content_type;
    }
    for (const auto& h : res.headers) {
        if (!is_safe_header(h)) {
            spdlog::error("dropped a response header with CR, LF or NUL: {}", h.name);
            continue;
        }
        out += "\r\n";
        out += h.name;
        out += ": ";
        out += h.value;
    }
    out += "\r\nX-Request-ID: ";
    out += request_id;
    if (res.status >= 200 && res.status != 204 && res.status != 304) {
        out += "\r\nContent-Length: ";
        append_number(out, res.body.size());
    }
    if (!framing.keep_alive) {
        out += "\r\nConnection: close";
    } else if (framing.version == 10) {
        out += "\r\nConnection: keep-alive";
    }
    out += "\r\n\r\n";
}

std::optional<std::size_t> leading_empty_line(std::string_view received) {
    const auto start = received.substr(0, 2);
    if (start.empty() || start == "\r") return std::nullopt;
    if (start == "\r\n") return 2;
    if (start.starts_with('\n')) return 1;
    return 0;
}

}  // namespace svc::http
