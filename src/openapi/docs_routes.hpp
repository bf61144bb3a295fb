#pragma once
// The routes that publish the API's own documentation:
//   GET /openapi.json   the OpenAPI 3.1 document of the whole route table (these routes too)
//   GET /docs           the Swagger UI page (HTML) rendering that document
//   GET /docs/{file}    the page's scripts, stylesheet, icon and licences
// All public, all answered from memory: the document is built once, when the routes are
// added, and the page's files are embedded in the binary (docs_assets.hpp).
//
// Responses carry a strong ETag and answer a matching If-None-Match with 304. The page is
// `Cache-Control: no-cache` (always revalidated, so an upgrade shows at once) with a
// Content-Security-Policy that allows nothing from other origins; its files may be reused
// for a day without asking.

#include <string>
#include <vector>

#include "http/router.hpp"
#include "openapi/document.hpp"

namespace svc::openapi {

// Appends the three routes above to `routes`, builds the document of the complete table and
// returns its text (what GET /openapi.json serves). Call it once, after every other route is
// in `routes`: a route added later is missing from the document. Throws what build_document
// throws. The handlers share one immutable copy of the text and touch nothing else, so the
// table may serve every event loop at once.
std::string add_docs_routes(std::vector<http::route>& routes, const document_info& info = service_info());

// The document of `routes` plus the docs routes themselves, as printed by
// `orders-service openapi`: exactly the bytes GET /openapi.json serves for the same table.
std::string document_text(std::vector<http::route> routes, const document_info& info = service_info());

}  // namespace svc::openapi
