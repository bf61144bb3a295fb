#include "http/target.hpp"

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

}  // namespace

bool split_target(std::string_view target, std::string& path, std::string& query) {
    if (target.empty() || target.front() != '/') {
        return false;
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
