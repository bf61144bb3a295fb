// build_document on a route table shaped like the service's, and the docs routes' handlers
// run on a real io_context. (The served document over real HTTP, its lint and the rendered
// page are checked by tests/openapi/lint and tests/functional against the binary.)

#include "openapi/document.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "http/problem.hpp"
#include "openapi/docs_assets.hpp"
#include "openapi/docs_routes.hpp"
#include "openapi/schema.hpp"

namespace svc::openapi {
namespace {

namespace bj = boost::json;

struct item_body {
    std::string product_id;
    std::int64_t quantity = 0;
    static constexpr json::field_rule k_rules[] = {{.field = "quantity", .minimum = 1, .maximum = 10000}};
};
BOOST_DESCRIBE_STRUCT(item_body, (), (product_id, quantity))

struct items_body {
    std::vector<item_body> items;
    static constexpr json::field_rule k_rules[] = {{.field = "items", .min_items = 1, .max_items = 100}};
};
BOOST_DESCRIBE_STRUCT(items_body, (), (items))

enum class thing_state { open, shut };
BOOST_DESCRIBE_ENUM(thing_state, open, shut)

struct list_query {
    std::optional<std::int64_t> limit;
    std::optional<std::string> cursor;
    std::optional<thing_state> state;
    static constexpr json::field_rule k_rules[] = {
        {.field = "limit", .minimum = 1, .maximum = 200, .default_integer = 50, .description = "Page size."},
    };
};
BOOST_DESCRIBE_STRUCT(list_query, (), (limit, cursor, state))

struct thing {
    std::string id;
};
BOOST_DESCRIBE_STRUCT(thing, (), (id))

http::handler unused_handler() {
    return [](http::route_context&) -> boost::asio::awaitable<http::response> { co_return http::response{}; };
}

std::vector<http::route> sample_routes() {
    std::vector<http::route> routes;
    routes.push_back(
        {http::method::get,
         "/health",
         http::access::public_,
         unused_handler(),
         {.summary = "Liveness",
          .operation_id = "getHealth",
          .tag = "system",
          .responses =
              {{.status = 200,
                .description = "Alive",
                .body = &schema_of<thing>,
                .example = R"({"id": "t1"})"}}}}
    );
    routes.push_back(
        {http::method::get,
         "/things",
         http::access::user,
         unused_handler(),
         {.summary = "List",
          .operation_id = "listThings",
          .tag = "things",
          .query = &schema_of<list_query>,
          .responses = {{.status = 200, .description = "A page", .body = &schema_of<thing>}}}}
    );
    routes.push_back(
        {http::method::patch,
         "/things/{id}",
         http::access::user,
         unused_handler(),
         {.summary = "Replace items",
          .operation_id = "patchThing",
          .tag = "things",
          .request_body = &schema_of<items_body>,
          .request_example = R"({"items": [{"product_id": "p1", "quantity": 2}]})",
          .headers = {{.name = "If-Match", .description = "The ETag you read."}},
          .responses =
              {{.status = 200, .description = "Changed", .body = &schema_of<thing>, .headers = {"ETag"}}}}}
    );
    routes.push_back(
        {http::method::post,
         "/things/{id}/ship",
         http::access::admin,
         unused_handler(),
         {.summary = "Ship",
          .operation_id = "shipThing",
          .tag = "things",
          .responses =
              {{.status = 200, .description = "Shipped", .body = &schema_of<thing>},
               {.status = 400, .description = "Only paid things ship"}}}}
    );
    return routes;
}

std::vector<std::string> status_keys(const bj::value& operation) {
    std::vector<std::string> keys;
    for (const auto& [status, response] : operation.at("responses").as_object()) keys.emplace_back(status);
    return keys;
}

using statuses = std::vector<std::string>;

TEST(BuildDocument, DerivesTheStatusesEachRouteShapeCanGive) {
    const auto doc = build_document(sample_routes(), service_info());
    const auto& paths = doc.at("paths");
    EXPECT_EQ(status_keys(paths.at("/health").at("get")), (statuses{"200", "413", "429", "431", "500"}));
    EXPECT_EQ(
        status_keys(paths.at("/things").at("get")),
        (statuses{"200", "400", "401", "413", "422", "429", "431", "500", "503"})
    );
    EXPECT_EQ(
        status_keys(paths.at("/things/{id}").at("patch")),
        (statuses{"200", "400", "401", "404", "412", "413", "415", "422", "429", "431", "500", "503"})
    );
    EXPECT_EQ(
        status_keys(paths.at("/things/{id}/ship").at("post")),
        (statuses{"200", "400", "401", "403", "404", "413", "429", "431", "500", "503"})
    );
}

TEST(BuildDocument, ExplicitResponsesWinOverDerivedOnes) {
    const auto doc = build_document(sample_routes(), service_info());
    const auto& bad = doc.at("paths").at("/things/{id}/ship").at("post").at("responses").at("400");
    EXPECT_EQ(bad.at("description"), "Only paid things ship");
    EXPECT_EQ(
        bad.at("content").at("application/json").at("schema"),
        bj::parse(R"({"allOf": [{"$ref": "#/components/schemas/Problem"},
                                {"properties": {"type": {"enum": ["bad_request", "business_error"]}}}]})")
    );
    const auto& ok = doc.at("paths").at("/things/{id}").at("patch").at("responses").at("200");
    EXPECT_EQ(ok.at("headers"), bj::parse(R"({"X-Request-ID": {"$ref": "#/components/headers/XRequestID"},
                                            "ETag": {"$ref": "#/components/headers/ETag"}})"));
}

TEST(BuildDocument, EachErrorStatusPinsTheTypeTheServiceSends) {
    const auto doc = build_document(sample_routes(), service_info());
    const auto& responses = doc.at("components").at("responses");
    for (const auto* name : {"BadRequest", "Unauthorized", "NotFound", "Unavailable", "HeadersTooLarge"}) {
        const auto& media = responses.at(name).at("content").at("application/json");
        const auto& pinned = media.at("schema").at("allOf").at(1).at("properties").at("type").at("const");
        EXPECT_EQ(pinned, media.at("example").at("type")) << name;
    }
    EXPECT_EQ(
        responses.at("NotFound").at("content").at("application/json").at("schema").at("allOf").at(1),
        bj::parse(R"({"properties": {"type": {"const": "not_found"}}})")
    );
}

TEST(BuildDocument, ResponseExamplesAreJson) {
    const auto doc = build_document(sample_routes(), service_info());
    EXPECT_EQ(
        doc.at("paths")
            .at("/health")
            .at("get")
            .at("responses")
            .at("200")
            .at("content")
            .at("application/json")
            .at("example"),
        bj::parse(R"({"id": "t1"})")
    );
}

TEST(BuildDocument, SecurityFollowsAccess) {
    const auto doc = build_document(sample_routes(), service_info());
    EXPECT_EQ(doc.at("security"), bj::parse(R"([{"bearerAuth": []}])"));
    EXPECT_EQ(doc.at("paths").at("/health").at("get").at("security"), bj::array{});
    EXPECT_FALSE(doc.at("paths").at("/things").at("get").as_object().contains("security"));
    const auto& ship = doc.at("paths").at("/things/{id}/ship").at("post");
    EXPECT_NE(ship.at("description").as_string().find("`admin` role"), bj::string::npos);
    EXPECT_EQ(doc.at("components").at("securitySchemes").at("bearerAuth").at("bearerFormat"), "JWT");
}

TEST(BuildDocument, QueryStructBecomesParametersAndIsNotAComponent) {
    const auto doc = build_document(sample_routes(), service_info());
    EXPECT_EQ(doc.at("paths").at("/things").at("get").at("parameters"), bj::parse(R"([
        {"name": "limit", "in": "query", "required": false, "description": "Page size.",
         "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 200, "default": 50}},
        {"name": "cursor", "in": "query", "required": false, "schema": {"type": "string"}},
        {"name": "state", "in": "query", "required": false, "schema": {"type": "string", "enum": ["open", "shut"]}}
    ])"));  // a query value is text: never null
    EXPECT_FALSE(doc.at("components").at("schemas").as_object().contains("ListQuery"));
}

TEST(BuildDocument, PathAndHeaderParametersAndTheRequestBody) {
    const auto doc = build_document(sample_routes(), service_info());
    const auto& patch = doc.at("paths").at("/things/{id}").at("patch");
    EXPECT_EQ(patch.at("parameters"), bj::parse(R"([
        {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
        {"name": "If-Match", "in": "header", "required": false, "description": "The ETag you read.",
         "schema": {"type": "string"}}
    ])"));
    const auto& body = patch.at("requestBody").at("content").at("application/json");
    EXPECT_EQ(body.at("schema"), bj::parse(R"({"$ref": "#/components/schemas/ItemsBody"})"));
    EXPECT_EQ(body.at("example"), bj::parse(R"({"items": [{"product_id": "p1", "quantity": 2}]})"));
    EXPECT_EQ(
        doc.at("components").at("schemas").at("ItemBody").at("properties").at("quantity").at("maximum"), 10000
    );
}

TEST(BuildDocument, ErrorBodiesHaveTheContractShape) {
    const auto doc = build_document(sample_routes(), service_info());
    const auto& components = doc.at("components");
    EXPECT_EQ(components.at("schemas").at("Problem").at("required"), bj::parse(R"(["detail", "type"])"));
    const auto& validation =
        components.at("responses").at("ValidationError").at("content").at("application/json");
    EXPECT_EQ(validation.at("schema"), bj::parse(R"({"$ref": "#/components/schemas/ValidationProblem"})"));
    EXPECT_EQ(validation.at("example").at("type"), "validation_error");
    EXPECT_EQ(
        components.at("responses").at("Unauthorized").at("headers").at("WWW-Authenticate"),
        bj::parse(R"({"$ref": "#/components/headers/WWWAuthenticate"})")
    );
    EXPECT_EQ(
        components.at("responses")
            .at("Unavailable")
            .at("content")
            .at("application/json")
            .at("example")
            .at("type"),
        bj::value(bj::string_view(http::default_problem_type(503)))
    );
}

// Every {"$ref": ...} anywhere in the document names a component that exists.
void expect_refs_resolve(const bj::value& doc, const bj::value& node) {
    if (const auto* obj = node.if_object()) {
        if (const auto* target = obj->if_contains("$ref")) {
            std::string_view path = target->as_string();
            ASSERT_TRUE(path.starts_with("#/"));
            path.remove_prefix(2);
            const bj::value* at = &doc;
            while (!path.empty()) {
                const auto slash = path.find('/');
                const auto key = path.substr(0, slash);
                ASSERT_TRUE(at->is_object() && at->as_object().contains(key)) << target->as_string();
                at = &at->as_object().at(key);
                path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
            }
        }
        for (const auto& [key, child] : *obj) expect_refs_resolve(doc, child);
    } else if (const auto* arr = node.if_array()) {
        for (const auto& child : *arr) expect_refs_resolve(doc, child);
    }
}

TEST(BuildDocument, EveryReferenceResolves) {
    auto routes = sample_routes();
    const bj::value doc = bj::parse(document_text(routes));
    expect_refs_resolve(doc, doc);
}

TEST(BuildDocument, RefusesATableItCannotDocumentTruthfully) {
    auto duplicate_id = sample_routes();
    duplicate_id[1].doc.operation_id = "getHealth";
    EXPECT_THROW(build_document(duplicate_id, service_info()), std::invalid_argument);

    auto unknown_header = sample_routes();
    unknown_header[0].doc.responses[0].headers = {"X-Made-Up"};
    EXPECT_THROW(build_document(unknown_header, service_info()), std::invalid_argument);

    auto bad_example = sample_routes();
    bad_example[2].doc.request_example = "{items: 1}";
    EXPECT_THROW(build_document(bad_example, service_info()), std::invalid_argument);

    auto bad_response_example = sample_routes();
    bad_response_example[0].doc.responses[0].example = "{\"id\": }";
    EXPECT_THROW(build_document(bad_response_example, service_info()), std::invalid_argument);

    auto same_route = sample_routes();
    same_route.push_back(same_route[1]);
    same_route.back().doc.operation_id = "other";
    EXPECT_THROW(build_document(same_route, service_info()), std::invalid_argument);
}

TEST(PrettyJson, RoundTripsAndIndents) {
    const auto doc = build_document(sample_routes(), service_info());
    const std::string text = to_pretty_json(doc);
    EXPECT_EQ(bj::parse(text), bj::value(doc));
    EXPECT_TRUE(text.starts_with("{\n  \"openapi\": \"3.1.0\",\n"));
    EXPECT_TRUE(text.ends_with("}\n"));
}

// ---------------------------------------------------------------- docs routes

struct docs_fixture : ::testing::Test {
    std::vector<http::route> routes = sample_routes();
    std::string document = add_docs_routes(routes);

    const http::route& find(std::string_view path) {
        for (const auto& r : routes)
            if (r.path_template == path) return r;
        throw std::logic_error("no such route");
    }

    // Runs the route's handler to completion on a real io_context.
    http::response call(
        std::string_view path, http::path_params params = {}, std::vector<http::header> headers = {}
    ) {
        http::request request;
        request.path = std::string(path);
        request.headers = std::move(headers);
        http::route_context ctx{request, std::move(params), std::nullopt, "test-request"};
        boost::asio::io_context io;
        auto result =
            boost::asio::co_spawn(io, find(path_template_of(path)).handler(ctx), boost::asio::use_future);
        io.run();
        return result.get();
    }

    static std::string_view path_template_of(std::string_view path) {
        return path.starts_with("/docs/") ? "/docs/{file}" : path;
    }
};

std::optional<std::string_view> header(const http::response& r, std::string_view name) {
    return http::find_header(r.headers, name);
}

TEST_F(docs_fixture, OpenApiJsonServesTheDocumentOfTheWholeTable) {
    const auto r = call("/openapi.json");
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
    EXPECT_EQ(r.body, document);
    const auto doc = bj::parse(r.body);
    for (const auto* path : {"/health", "/things/{id}/ship", "/openapi.json", "/docs", "/docs/{file}"})
        EXPECT_TRUE(doc.at("paths").as_object().contains(path)) << path;
    EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
}

TEST_F(docs_fixture, AMatchingIfNoneMatchGets304WithoutABody) {
    const auto first = call("/openapi.json");
    const auto etag = std::string(header(first, "ETag").value());
    EXPECT_EQ(etag.front(), '"');
    const auto again = call("/openapi.json", {}, {{"If-None-Match", "\"other\", W/" + etag}});
    EXPECT_EQ(again.status, 304U);
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(header(again, "ETag"), etag);
    EXPECT_EQ(call("/openapi.json", {}, {{"If-None-Match", "\"stale\""}}).status, 200U);
}

TEST_F(docs_fixture, DocsPageIsHtmlThatLoadsOnlyItsOwnFiles) {
    const auto r = call("/docs");
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_NE(r.body.find("/docs/swagger-ui-bundle.js"), std::string::npos);
    EXPECT_EQ(r.body.find("://"), std::string::npos) << "no CDN or other absolute URL";
    const auto policy = header(r, "Content-Security-Policy").value();
    EXPECT_NE(policy.find("default-src 'none'"), std::string_view::npos);
    EXPECT_NE(policy.find("script-src 'self'"), std::string_view::npos);
    EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
}

TEST_F(docs_fixture, AssetsHaveTheirContentTypesAndMayBeCached) {
    http::path_params js;
    js.values.emplace_back("file", "swagger-ui-bundle.js");
    const auto r = call("/docs/swagger-ui-bundle.js", js);
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
    EXPECT_GT(r.body.size(), 100'000U);  // the real bundle, not a stub
    EXPECT_EQ(header(r, "Cache-Control"), "public, max-age=86400");
    EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");

    http::path_params css;
    css.values.emplace_back("file", "swagger-ui.css");
    EXPECT_EQ(call("/docs/swagger-ui.css", css).content_type, "text/css; charset=utf-8");
    http::path_params png;
    png.values.emplace_back("file", "favicon-32x32.png");
    const auto icon = call("/docs/favicon-32x32.png", png);
    EXPECT_EQ(icon.content_type, "image/png");
    EXPECT_TRUE(icon.body.starts_with("\x89PNG"));
}

TEST_F(docs_fixture, LargeTextFilesAreServedGzippedToClientsThatAcceptIt) {
    http::path_params js;
    js.values.emplace_back("file", "swagger-ui-bundle.js");
    const auto plain = call("/docs/swagger-ui-bundle.js", js);
    EXPECT_FALSE(header(plain, "Content-Encoding"));
    EXPECT_EQ(header(plain, "Vary"), "Accept-Encoding");

    const auto gzip = call("/docs/swagger-ui-bundle.js", js, {{"Accept-Encoding", "br;q=1.0, GZip;q=0.8"}});
    EXPECT_EQ(header(gzip, "Content-Encoding"), "gzip");
    EXPECT_TRUE(gzip.body.starts_with("\x1f\x8b"));  // the gzip magic
    EXPECT_LT(gzip.body.size(), plain.body.size() / 2);
    EXPECT_NE(header(gzip, "ETag"), header(plain, "ETag"));  // two representations, two tags
    EXPECT_EQ(gzip.content_type, plain.content_type);

    for (const auto* refusing : {"gzip;q=0", "identity", "*;q=0", "br", "gzip;q=0.000, *"}) {
        const auto r = call("/docs/swagger-ui-bundle.js", js, {{"Accept-Encoding", refusing}});
        EXPECT_FALSE(header(r, "Content-Encoding")) << refusing;
    }
    EXPECT_EQ(
        header(call("/docs/swagger-ui-bundle.js", js, {{"Accept-Encoding", "*"}}), "Content-Encoding"), "gzip"
    );

    const auto revalidated = call(
        "/docs/swagger-ui-bundle.js",
        js,
        {{"Accept-Encoding", "gzip"}, {"If-None-Match", std::string(*header(gzip, "ETag"))}}
    );
    EXPECT_EQ(revalidated.status, 304U);

    http::path_params icon;
    icon.values.emplace_back("file", "favicon-32x32.png");  // binary: never compressed
    EXPECT_FALSE(
        header(call("/docs/favicon-32x32.png", icon, {{"Accept-Encoding", "gzip"}}), "Content-Encoding")
    );
}

TEST_F(docs_fixture, UnknownAssetIsA404Problem) {
    http::path_params missing;
    missing.values.emplace_back("file", "nope.js");
    try {
        call("/docs/nope.js", missing);
        FAIL() << "expected a problem_error";
    } catch (const http::problem_error& e) {
        EXPECT_EQ(e.get().status, 404U);
    }
}

TEST_F(docs_fixture, TheAssetPathParameterListsExactlyTheEmbeddedFiles) {
    const auto doc = bj::parse(document);
    const auto& parameter = doc.at("paths").at("/docs/{file}").at("get").at("parameters").at(0);
    EXPECT_EQ(parameter.at("name"), "file");
    const auto& names = parameter.at("schema").at("enum").as_array();
    EXPECT_EQ(names.size(), docs_assets().size());
    for (const auto& a : docs_assets())
        EXPECT_NE(std::ranges::find(names, bj::value(a.name)), names.end()) << a.name;
}

}  // namespace
}  // namespace svc::openapi
