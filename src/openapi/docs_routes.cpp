#include "openapi/docs_routes.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "http/problem.hpp"
#include "openapi/docs_assets.hpp"

namespace svc::openapi {
namespace json = boost::json;

namespace {

// Swagger UI styles elements inline and its stylesheet embeds data: images; nothing at all
// may come from another origin, which is also what proves the page works offline.
constexpr std::string_view k_page_policy =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
constexpr std::string_view k_page_caching = "no-cache";
constexpr std::string_view k_asset_caching = "public, max-age=86400";

// A response, already complete when the handler is called.
struct static_reply {
    std::string_view content_type;
    std::string_view body;
    std::string_view etag;
    std::string_view cache_control;
    bool is_page = false;
    std::string_view gzip_body{};  // a gzip representation, served when the client accepts it
    std::string_view gzip_etag{};
};

// True when Accept-Encoding admits gzip (RFC 9110 §12.5.3): `gzip` or `*` with a q-value
// above 0, an explicit `gzip` entry deciding over `*`. Codings are case-insensitive.
bool accepts_gzip(std::string_view accept_encoding) {
    std::optional<bool> wildcard;
    while (!accept_encoding.empty()) {
        const auto comma = accept_encoding.find(',');
        std::string entry;
        for (const char c : accept_encoding.substr(0, comma)) {
            if (c != ' ' && c != '\t') {
                entry.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
            }
        }
        const auto semicolon = entry.find(';');
        const std::string_view coding = std::string_view(entry).substr(0, semicolon);
        double quality = 1.0;
        if (const auto q = entry.find(";q="); q != std::string::npos) {
            if (std::from_chars(entry.data() + q + 3, entry.data() + entry.size(), quality).ec !=
                std::errc{}) {
                quality = 0.0;  // unreadable: do not assume acceptance
            }
        }
        if (coding == "gzip") {
            return quality > 0.0;
        }
        if (coding == "*") {
            wildcard = quality > 0.0;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        accept_encoding.remove_prefix(comma + 1);
    }
    return wildcard.value_or(false);
}

// True when If-None-Match lists `etag` (or is `*`). Weak comparison, as RFC 9110 asks for
// If-None-Match: a `W/` prefix on the client's tag is ignored.
bool etag_matches(std::string_view if_none_match, std::string_view etag) {
    while (!if_none_match.empty()) {
        const auto comma = if_none_match.find(',');
        auto candidate = if_none_match.substr(0, comma);
        while (!candidate.empty() && (candidate.front() == ' ' || candidate.front() == '\t')) {
            candidate.remove_prefix(1);
        }
        while (!candidate.empty() && (candidate.back() == ' ' || candidate.back() == '\t')) {
            candidate.remove_suffix(1);
        }
        if (candidate.starts_with("W/")) {
            candidate.remove_prefix(2);
        }
        if (candidate == "*" || candidate == etag) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        if_none_match.remove_prefix(comma + 1);
    }
    return false;
}

http::response make_reply(const http::request& request, const static_reply& reply) {
    http::response out;
    const auto accept_encoding = request.header_value("Accept-Encoding");
    const bool gzip = !reply.gzip_body.empty() && accept_encoding && accepts_gzip(*accept_encoding);
    const std::string_view etag = gzip ? reply.gzip_etag : reply.etag;
    const std::string_view body = gzip ? reply.gzip_body : reply.body;
    out.set_header("ETag", std::string(etag));
    if (!reply.gzip_body.empty()) {
        out.set_header("Vary", "Accept-Encoding");  // two representations
    }
    if (gzip) {
        out.set_header("Content-Encoding", "gzip");
    }
    out.set_header("Cache-Control", std::string(reply.cache_control));
    out.set_header("X-Content-Type-Options", "nosniff");
    if (reply.is_page) {
        out.set_header("Content-Security-Policy", std::string(k_page_policy));
        out.set_header("Referrer-Policy", "no-referrer");
    }
    out.content_type = std::string(reply.content_type);
    if (const auto tags = request.header_value("If-None-Match"); tags && etag_matches(*tags, etag)) {
        out.status = 304;
        return out;
    }
    out.body = std::string(body);
    return out;
}

// The handlers' coroutine: everything it needs arrives by value (see STYLE.md, habit 6).
boost::asio::awaitable<http::response> ready(http::response response) {
    co_return response;
}

// Thrown inside the coroutine, so the caller sees it where it awaits, like any handler's.
boost::asio::awaitable<http::response> no_such_file() {
    throw http::problem_error(404, "No such documentation file");
    co_return http::response{};
}

const docs_asset* find_asset(std::string_view name) {
    const auto assets = docs_assets();
    const auto it = std::ranges::find(assets, name, &docs_asset::name);
    return it == assets.end() ? nullptr : &*it;
}

// FNV-1a: a stable, dependency-free fingerprint of the document for its ETag.
std::string fingerprint(std::string_view text) {
    std::uint64_t hash = 14695981039346656037ULL;
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ULL;
    }
    constexpr std::string_view k_hex = "0123456789abcdef";
    std::string out = "\"";
    for (int shift = 60; shift >= 0; shift -= 4) {
        out.push_back(k_hex[(hash >> shift) & 0xF]);
    }
    out.push_back('"');
    return out;
}

// ---------------------------------------------------------------- route documentation

json::value any_json_object(json::object& /*components*/) {
    return json::object{{"type", "object"}, {"description", "An OpenAPI 3.1 document."}};
}

json::value html_page(json::object& /*components*/) {
    return json::object{{"type", "string"}};
}

json::value asset_file(json::object& /*components*/) {
    return json::object{{"type", "string"}, {"format", "binary"}};
}

// The `{file}` path parameter: exactly the embedded files' names.
json::value asset_path(json::object& /*components*/) {
    json::array names;
    for (const auto& a : docs_assets()) {
        names.emplace_back(a.name);
    }
    return json::object{
        {"type", "object"},
        {"properties", json::object{{"file", json::object{{"type", "string"}, {"enum", std::move(names)}}}}},
    };
}

http::header_doc if_none_match_doc() {
    return {
        "If-None-Match", "An ETag from an earlier response: 304 when it is still current.", nullptr, false};
}

std::vector<http::response_doc> cached_responses(std::string content_type, http::schema_fn body) {
    return {
        {200, "OK", body, {"ETag", "Cache-Control"}, std::move(content_type)},
        {304,
         "Not modified: the copy named in If-None-Match is current.",
         nullptr,
         {"ETag", "Cache-Control"},
         ""},
    };
}

}  // namespace

std::string add_docs_routes(std::vector<http::route>& routes, const document_info& info) {
    // The document must describe its own routes too, so they go in first, with handlers
    // bound afterwards to the text of the finished table.
    const std::size_t first = routes.size();
    routes.push_back({
        .method = http::method::get,
        .path_template = "/openapi.json",
        .access = http::access::public_,
        .handler = nullptr,
        .doc =
            {
                .summary = "This API's OpenAPI 3.1 document",
                .operation_id = "getOpenApiDocument",
                .tag = "system",
                .description =
                    "Generated at start-up from the same route table and type declarations the router "
                    "and the validators use.",
                .headers = {if_none_match_doc()},
                .responses = cached_responses("application/json", &any_json_object),
            },
    });
    routes.push_back({
        .method = http::method::get,
        .path_template = "/docs",
        .access = http::access::public_,
        .handler = nullptr,
        .doc =
            {
                .summary = "Interactive API documentation (Swagger UI)",
                .operation_id = "getDocsPage",
                .tag = "system",
                .description = "Served entirely by this binary; needs no internet access.",
                .headers = {if_none_match_doc()},
                .responses = cached_responses("text/html", &html_page),
            },
    });
    auto asset_responses = cached_responses("application/octet-stream", &asset_file);  // typed below
    for (auto& r : asset_responses) {
        r.headers.insert(r.headers.end(), {"Vary", "Content-Encoding"});
    }
    asset_responses.push_back({404, "No such file", nullptr, {}, ""});
    routes.push_back({
        .method = http::method::get,
        .path_template = "/docs/{file}",
        .access = http::access::public_,
        .handler = nullptr,
        .doc =
            {
                .summary = "A file of the documentation page",
                .operation_id = "getDocsAsset",
                .tag = "system",
                .description =
                    "Scripts, stylesheet, icon and licences of the pinned swagger-ui-dist package, "
                    "embedded at build time. The response's Content-Type is the file's own.",
                .path = &asset_path,
                .headers = {if_none_match_doc()},
                .responses = std::move(asset_responses),
            },
    });

    auto document = build_document(routes, info);
    // One route serves files of several types: list each embedded file's media type.
    json::object media_types;
    for (const auto& a : docs_assets()) {
        media_types[a.content_type.substr(0, a.content_type.find(';'))] =
            json::object{{"schema", asset_file(media_types)}};
    }
    document.at("paths").at("/docs/{file}").at("get").at("responses").at("200").as_object()["content"] =
        std::move(media_types);
    auto text = std::make_shared<const std::string>(to_pretty_json(document));
    auto etag = std::make_shared<const std::string>(fingerprint(*text));

    routes[first].handler = [text, etag](http::route_context& ctx) {
        return ready(
            make_reply(ctx.request, {"application/json; charset=utf-8", *text, *etag, k_page_caching, false})
        );
    };
    routes[first + 1].handler = [](http::route_context& ctx) {
        const auto* page = find_asset("index.html");
        return ready(
            make_reply(ctx.request, {page->content_type, page->body, page->etag, k_page_caching, true})
        );
    };
    routes[first + 2].handler = [](http::route_context& ctx) {
        const auto* asset = find_asset(ctx.params.at("file"));
        if (asset == nullptr) {
            return no_such_file();
        }
        return ready(make_reply(
            ctx.request,
            {asset->content_type,
             asset->body,
             asset->etag,
             k_asset_caching,
             false,
             asset->gzip_body,
             asset->gzip_etag}
        ));
    };
    return *text;
}

std::string document_text(std::vector<http::route> routes, const document_info& info) {
    return add_docs_routes(routes, info);
}

}  // namespace svc::openapi
