#include "http/message.hpp"

#include <algorithm>
#include <cctype>

namespace svc::http {

std::string_view to_string(method m) {
    switch (m) {
        case method::get:
            return "GET";
        case method::head:
            return "HEAD";
        case method::post:
            return "POST";
        case method::put:
            return "PUT";
        case method::patch:
            return "PATCH";
        case method::delete_:
            return "DELETE";
        case method::options:
            return "OPTIONS";
        case method::other:
            break;
    }
    return "OTHER";
}

std::optional<std::string_view> find_header(const std::vector<header>& headers, std::string_view name) {
    const auto same = [name](const header& h) {
        return std::ranges::equal(h.name, name, [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        });
    };
    if (auto it = std::ranges::find_if(headers, same); it != headers.end()) return it->value;
    return std::nullopt;
}

}  // namespace svc::http
