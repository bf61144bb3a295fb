#pragma once
// Beast-free request and response types: what handlers see. The server converts from and
// to Beast's messages in one translation unit, so handlers compile without Beast headers.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace svc::http {

enum class method : std::uint8_t { get, head, post, put, patch, delete_, options, other };

std::string_view to_string(method m);

struct header {
    std::string name;  // as sent; looked up case-insensitively
    std::string value;
};

// Case-insensitive lookup of the first header called `name`.
std::optional<std::string_view> find_header(const std::vector<header>& headers, std::string_view name);

struct request {
    http::method method = method::get;
    std::string target;  // the raw request-target, e.g. "/orders/?limit=5"
    std::string path;    // target up to '?', percent-decoded
    std::string query;   // target after '?', raw (not decoded)
    std::vector<header> headers;
    std::string body;

    std::optional<std::string_view> header_value(std::string_view name) const {
        return find_header(headers, name);
    }
};

struct response {
    unsigned status = 200;
    std::string content_type = "application/json; charset=utf-8";
    std::vector<header> headers;  // besides Content-Type, Content-Length, X-Request-ID
    std::string body;

    response& set_header(std::string name, std::string value) {
        headers.push_back({std::move(name), std::move(value)});
        return *this;
    }
};

}  // namespace svc::http
