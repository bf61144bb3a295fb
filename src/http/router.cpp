#include "http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace svc::http {

namespace {

bool is_parameter(std::string_view segment) {
    return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

// Splits "/a/b/c" into {"a","b","c"}; "/" gives no segments. An empty segment ("/a//b") is
// kept, so it never matches a template (templates have none).
std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> segments;
    if (path.empty() || path == "/") {
        return segments;
    }
    std::size_t start = path.front() == '/' ? 1 : 0;
    while (true) {
        const auto slash = path.find('/', start);
        segments.push_back(
            path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start)
        );
        if (slash == std::string_view::npos) {
            break;
        }
        start = slash + 1;
    }
    return segments;
}

}  // namespace

const std::string& path_params::at(std::string_view name) const {
    for (const auto& [key, value] : values) {
        if (key == name) {
            return value;
        }
    }
    throw std::out_of_range("no path parameter named " + std::string(name));
}

router::router(std::vector<route> routes) : routes_(std::move(routes)) {
    segments_.reserve(routes_.size());
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        const auto& r = routes_[i];
        const std::string_view path = r.path_template;
        if (path.empty() || path.front() != '/' || (path.size() > 1 && path.back() == '/')) {
            throw std::invalid_argument(
                "route template must start with '/' and not end with one: " + r.path_template
            );
        }
        std::vector<std::string> segments;
        for (const auto segment : split_path(path)) {
            if (segment.empty()) {
                throw std::invalid_argument("route template has an empty segment: " + r.path_template);
            }
            segments.emplace_back(segment);
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (routes_[j].method == r.method && segments_[j] == segments) {
                throw std::invalid_argument(
                    "route declared twice: " + std::string(to_string(r.method)) + " " + r.path_template
                );
            }
        }
        segments_.push_back(std::move(segments));
    }
}

match router::find(method m, std::string_view path) const {
    if (path.size() > 1 && path.back() == '/') {
        path.remove_suffix(1);  // optional trailing slash
    }
    const auto segments = split_path(path);

    match result;
    // Among templates that fit the path, a literal segment beats a parameter at the first
    // position where they differ ("/orders/export" before "/orders/{id}"), whatever the
    // declaration order.
    std::vector<bool> best_shape;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        const auto& templ = segments_[i];
        if (templ.size() != segments.size()) {
            continue;
        }
        std::vector<bool> shape(templ.size());
        bool fits = true;
        for (std::size_t s = 0; s < templ.size() && fits; ++s) {
            shape[s] = !is_parameter(templ[s]);
            fits = shape[s] ? templ[s] == segments[s] : !segments[s].empty();
        }
        if (!fits) {
            continue;
        }

        const auto& r = routes_[i];
        const bool method_fits = r.method == m || (m == method::head && r.method == method::get);
        if (!method_fits) {
            if (std::ranges::find(result.allowed, r.method) == result.allowed.end()) {
                result.allowed.push_back(r.method);
            }
            if (r.method == method::get &&
                std::ranges::find(result.allowed, method::head) == result.allowed.end()) {
                result.allowed.push_back(method::head);
            }
            continue;
        }
        if (result.found != nullptr && !(shape > best_shape)) {
            continue;
        }
        result.found = &r;
        best_shape = std::move(shape);
    }
    if (result.found == nullptr) {
        return result;
    }

    result.allowed.clear();
    const auto& templ = segments_[static_cast<std::size_t>(result.found - routes_.data())];
    for (std::size_t s = 0; s < templ.size(); ++s) {
        if (!is_parameter(templ[s])) {
            continue;
        }
        const std::string_view name = std::string_view(templ[s]).substr(1, templ[s].size() - 2);
        result.params.values.emplace_back(name, std::string(segments[s]));
    }
    return result;
}

}  // namespace svc::http
