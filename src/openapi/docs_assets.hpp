#pragma once
// The /docs page's static files (Swagger UI from the pinned swagger-ui-dist npm package, and
// our own index.html and init script), embedded into the binary at build time by
// embed_assets.cmake so the page needs neither internet access nor files beside the binary.

#include <span>
#include <string_view>

namespace svc::openapi {

struct docs_asset {
    std::string_view name;          // file name under /docs/, e.g. "swagger-ui-bundle.js"
    std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
    std::string_view body;          // the file's bytes, exactly as installed by npm
    std::string_view etag;          // strong validator, quoted: "\"<sha-256 prefix>\""
    std::string_view gzip_body;     // the same file gzip-compressed, or empty (small/binary files)
    std::string_view gzip_etag;     // the gzip representation's own strong validator
};

// Every embedded file, in a fixed order. Static storage: the views stay valid for the whole
// program and may be read from any thread.
std::span<const docs_asset> docs_assets();

}  // namespace svc::openapi
